// Package hardening holds secshim's policy model and its rules: one small
// rule per control, each reading and editing only the spec fields it owns.
package hardening

import (
	"fmt"
	"strings"
)

// Mode says what a rule's findings do.
type Mode string

const (
	// Enforce rewrites the spec so that it complies.
	Enforce Mode = "enforce"
	// Deny refuses a spec that does not comply.
	Deny Mode = "deny"
	// Audit changes nothing and only logs what enforce would have changed.
	Audit Mode = "audit"
)

// Policy is one profile's content: the hardening a container gets. Its zero
// value hardens nothing; the built-in profiles are in profiles.go.
type Policy struct {
	// Name is the profile's name; Extends the profile it builds on.
	Name    string `toml:"-"`
	Extends string `toml:"extends"`
	// Description says what the profile is for.
	Description string `toml:"description"`
	// Mode applies to every control; Modes overrides it per control
	// (keys are control names, e.g. "seccomp").
	Mode  Mode            `toml:"mode"`
	Modes map[string]Mode `toml:"modes"`
	// PassThrough applies no rule at all (the privileged profile); such
	// containers are logged as such.
	PassThrough bool `toml:"pass_through"`
	// Backend routes containers with this profile to a backend ("" keeps
	// the default).
	Backend string `toml:"backend"`

	Capabilities    CapabilityPolicy `toml:"capabilities"`
	NoNewPrivileges bool             `toml:"no_new_privileges"`
	Seccomp         SeccompPolicy    `toml:"seccomp"`
	SELinux         SELinuxPolicy    `toml:"selinux"`
	AppArmor        AppArmorPolicy   `toml:"apparmor"`
	RootFS          RootFSPolicy     `toml:"rootfs"`
	User            UserPolicy       `toml:"user"`
	Namespaces      NamespacePolicy  `toml:"namespaces"`
	Mounts          MountPolicy      `toml:"mounts"`
	Devices         DevicePolicy     `toml:"devices"`
	Paths           PathPolicy       `toml:"paths"`
	Sysctls         SysctlPolicy     `toml:"sysctls"`
	Pids            Limit            `toml:"pids"`
	Memory          MemoryPolicy     `toml:"memory"`
	CPU             CPUPolicy        `toml:"cpu"`
	Rlimits         RlimitPolicy     `toml:"rlimits"`
	Privileged      PrivilegedPolicy `toml:"privileged"`
	Secrets         SecretsPolicy    `toml:"secrets"`

	allowed CapSet // Capabilities.Allow minus Deny, set by Compile
	ambient CapSet // Capabilities.Ambient minus Deny, set by Compile
}

// CapabilityPolicy: every set is cut to Allow; Deny wins over Allow;
// inheritable and ambient keep only what Ambient lists.
type CapabilityPolicy struct {
	Allow   []string `toml:"allow"`
	Deny    []string `toml:"deny"`
	Ambient []string `toml:"ambient"`
}

// SeccompPolicy chooses the filter.
type SeccompPolicy struct {
	// Profile is "default" (the Docker/Moby default profile built into
	// secshim) or the path of a Docker/Podman-format JSON profile.
	Profile string `toml:"profile"`
	// KeepEngine keeps a profile the engine sent when it is at least as
	// strict as Profile; otherwise, and when the engine sent none,
	// Profile is rendered.
	KeepEngine bool `toml:"keep_engine"`
	// Audit renders Profile with SCMP_ACT_LOG as its default action, to
	// profile an application's syscalls (never outside audit use).
	Audit bool `toml:"audit"`
}

// SELinuxPolicy labels containers when SELinux is enabled (or Force).
type SELinuxPolicy struct {
	// Enable labels containers whenever the host has SELinux enabled.
	Enable bool `toml:"enable"`
	// Force labels even where the host reports SELinux disabled.
	Force bool `toml:"force"`
	// Type is the process type, MountType the file type; User and Role
	// complete the label.
	User      string `toml:"user"`
	Role      string `toml:"role"`
	Type      string `toml:"type"`
	MountType string `toml:"mount_type"`
	// RefuseTypes are process types that are never allowed.
	RefuseTypes []string `toml:"refuse_types"`
}

// AppArmorPolicy confines containers when AppArmor is enabled.
type AppArmorPolicy struct {
	Enable bool `toml:"enable"`
	// Profile is applied when the spec names none.
	Profile string `toml:"profile"`
	// RefuseUnconfined refuses "unconfined".
	RefuseUnconfined bool `toml:"refuse_unconfined"`
}

// RootFSPolicy: a read-only root with writable tmpfs where apps need it.
type RootFSPolicy struct {
	ReadOnly bool `toml:"read_only"`
	// Tmpfs are the writable paths mounted over a read-only root.
	Tmpfs []string `toml:"tmpfs"`
	// TmpfsSize is each tmpfs's size (mount option syntax, e.g. "64m").
	TmpfsSize string `toml:"tmpfs_size"`
	// TmpfsOptions are the tmpfs mount options besides size.
	TmpfsOptions []string `toml:"tmpfs_options"`
}

// UserPolicy: who the container's process runs as.
type UserPolicy struct {
	// NonRoot requires uid != 0, unless a user namespace maps container
	// root to a non-zero host uid.
	NonRoot bool `toml:"non_root"`
	// UID and GID replace root in enforce mode.
	UID uint32 `toml:"uid"`
	GID uint32 `toml:"gid"`
	// NoRootGroup refuses gid 0 in additionalGids.
	NoRootGroup bool `toml:"no_root_group"`
}

// NamespacePolicy: which namespaces a container must have of its own.
type NamespacePolicy struct {
	// Require lists namespaces the container must have (pid, network,
	// ipc, uts, mount, cgroup); one missing is added.
	Require []string `toml:"require"`
	// RefuseHost refuses joining a host namespace (a path whose inode is
	// the host's /proc/1/ns/*); a pod sandbox's is fine.
	RefuseHost bool `toml:"refuse_host"`
}

// MountPolicy: what may be mounted from the host, and how.
type MountPolicy struct {
	// DenyHostPaths are host paths (and everything under them) that may
	// not be bind-mounted...
	DenyHostPaths []string `toml:"deny_host_paths"`
	// ...unless under one of AllowHostPaths (engine storage).
	AllowHostPaths []string `toml:"allow_host_paths"`
	// BindOptions are forced on every bind mount (nosuid, nodev).
	BindOptions []string `toml:"bind_options"`
	// RefuseSharedPropagation refuses shared and rshared mounts.
	RefuseSharedPropagation bool `toml:"refuse_shared_propagation"`
	// ReadOnlySysfs makes /sys and cgroupfs read-only.
	ReadOnlySysfs bool `toml:"read_only_sysfs"`
}

// PathPolicy: the /proc and /sys paths hidden or read-only.
type PathPolicy struct {
	Masked   []string `toml:"masked"`
	ReadOnly []string `toml:"read_only"`
}

// SysctlPolicy: which sysctls a container may set.
type SysctlPolicy struct {
	// Allow lists allowed sysctl names; an entry ending in "*" is a prefix.
	Allow []string `toml:"allow"`
	// Restrict removes (enforce) or refuses (deny) anything not allowed.
	Restrict bool `toml:"restrict"`
}

// Limit is a resource limit: Default is set when the spec has none (or
// asks for unlimited), Max clamps larger values. Zero disables either.
type Limit struct {
	Default int64 `toml:"default"`
	Max     int64 `toml:"max"`
}

// MemoryPolicy: a memory limit in bytes; SwapEqualsMemory sets the swap
// limit to the memory limit (no swap beyond memory).
type MemoryPolicy struct {
	Default          int64 `toml:"default"`
	Max              int64 `toml:"max"`
	SwapEqualsMemory bool  `toml:"swap_equals_memory"`
}

// Limit returns the memory limit as a plain Limit.
func (m MemoryPolicy) Limit() Limit { return Limit{m.Default, m.Max} }

// CPUPolicy: CPU quota (per period, microseconds) and shares.
type CPUPolicy struct {
	Period int64 `toml:"period"`
	Quota  Limit `toml:"quota"`
	Shares Limit `toml:"shares"`
}

// RlimitPolicy: process rlimits (soft and hard set to the value).
type RlimitPolicy struct {
	Nofile Limit `toml:"nofile"`
	Nproc  Limit `toml:"nproc"`
	Core   Limit `toml:"core"`
	// NoCore sets RLIMIT_CORE to 0: no core dumps (they leak memory
	// contents to the host).
	NoCore bool `toml:"no_core"`
}

// PrivilegedPolicy: what to do with the privileged pattern (all
// capabilities, no seccomp, host devices, unmasked /proc, writable /sys).
type PrivilegedPolicy struct {
	// Action is "neutralise" (the other rules take it apart) or "refuse".
	Action string `toml:"action"`
}

// SecretsPolicy: credentials in process.env.
type SecretsPolicy struct {
	// Action is "ignore", "report" or "refuse".
	Action string `toml:"action"`
	// Patterns are glob patterns of variable names (e.g. "*PASSWORD*").
	Patterns []string `toml:"patterns"`
}

// Controls are the names of every control, as used in Modes and logs.
var Controls = []string{
	"privileged", "capabilities", "no_new_privileges", "user", "namespaces",
	"rootfs", "mounts", "paths", "devices", "sysctls", "pids", "memory", "cpu",
	"rlimits", "selinux", "apparmor", "secrets", "seccomp",
}

// ModeOf is the mode of one control.
func (p *Policy) ModeOf(control string) Mode {
	if m, ok := p.Modes[control]; ok {
		return m
	}
	return p.Mode
}

// Compile validates the policy and precomputes what rules need. Every
// error names the field.
func (p *Policy) Compile() error {
	if p.Mode == "" {
		p.Mode = Enforce
	}
	if err := checkMode("mode", p.Mode); err != nil {
		return err
	}
	for control, m := range p.Modes {
		if !contains(Controls, control) {
			return fmt.Errorf("modes: unknown control %q (known: %s)", control, strings.Join(Controls, ", "))
		}
		if err := checkMode("modes."+control, m); err != nil {
			return err
		}
	}
	allow, err := ParseCapSet("capabilities.allow", p.Capabilities.Allow)
	if err != nil {
		return err
	}
	deny, err := ParseCapSet("capabilities.deny", p.Capabilities.Deny)
	if err != nil {
		return err
	}
	amb, err := ParseCapSet("capabilities.ambient", p.Capabilities.Ambient)
	if err != nil {
		return err
	}
	p.allowed, p.ambient = allow&^deny, amb&^deny
	if p.Seccomp.Profile == "" {
		p.Seccomp.Profile = "default"
	}
	if p.Seccomp.Profile != "default" && !strings.HasPrefix(p.Seccomp.Profile, "/") {
		return fmt.Errorf("seccomp.profile: %q is neither \"default\" nor an absolute path", p.Seccomp.Profile)
	}
	limits := []struct {
		name string
		v    Limit
	}{
		{"pids", p.Pids}, {"memory", p.Memory.Limit()}, {"cpu.quota", p.CPU.Quota}, {"cpu.shares", p.CPU.Shares},
		{"rlimits.nofile", p.Rlimits.Nofile}, {"rlimits.nproc", p.Rlimits.Nproc}, {"rlimits.core", p.Rlimits.Core},
	}
	for _, l := range limits {
		if l.v.Default < 0 || l.v.Max < 0 {
			return fmt.Errorf("%s: limits must not be negative", l.name)
		}
		if l.v.Max > 0 && l.v.Default > l.v.Max {
			return fmt.Errorf("%s: default %d is above max %d", l.name, l.v.Default, l.v.Max)
		}
	}
	for _, d := range p.Devices.Allow {
		if !strings.HasPrefix(d, "/dev/") {
			return fmt.Errorf("devices.allow: %q is not a path under /dev/", d)
		}
	}
	switch p.Privileged.Action {
	case "", "neutralise", "refuse":
	default:
		return fmt.Errorf("privileged.action: %q is not one of neutralise, refuse", p.Privileged.Action)
	}
	switch p.Secrets.Action {
	case "", "ignore", "report", "refuse":
	default:
		return fmt.Errorf("secrets.action: %q is not one of ignore, report, refuse", p.Secrets.Action)
	}
	for _, ns := range p.Namespaces.Require {
		if !contains(namespaceTypes, ns) {
			return fmt.Errorf("namespaces.require: unknown namespace %q (known: %s)", ns, strings.Join(namespaceTypes, ", "))
		}
	}
	for _, r := range CreateRules {
		if r.Validate != nil {
			if err := r.Validate(p); err != nil {
				return fmt.Errorf("%s: %w", r.Control, err)
			}
		}
	}
	return nil
}

// namespaceTypes are the runtime-spec namespace names a policy may require.
var namespaceTypes = []string{"pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"}

func checkMode(field string, m Mode) error {
	switch m {
	case Enforce, Deny, Audit:
		return nil
	}
	return fmt.Errorf("%s: %q is not one of enforce, deny, audit", field, m)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// AllowedCaps is the most any process of a container may hold.
func (p *Policy) AllowedCaps() CapSet { return p.allowed }
