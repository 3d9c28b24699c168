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

// SeccompPolicy chooses linux.seccomp. A container always gets an
// enforcing filter (default action ERRNO, KILL* or TRAP): a missing one
// (--privileged, seccomp=unconfined) or one whose default action lets
// unlisted syscalls through (ALLOW, LOG, TRACE, NOTIFY) is replaced. The
// profile is rendered for the final bounding set, after the capabilities
// rule, since Docker-format profiles grant syscalls per capability.
type SeccompPolicy struct {
	// Profile is "default" (the Docker/Moby default profile built into
	// secshim) or the absolute path of a Docker/Podman-format JSON
	// profile. A file is checked when the policy loads: unknown keys,
	// syscall names unknown on every architecture, unknown actions,
	// operators, architectures and capability names, and a default action
	// that does not refuse, are errors.
	Profile string `toml:"profile"`
	// KeepEngine keeps the profile the engine sent when it is at least
	// as strict as Profile rendered for the container: its default action
	// refuses, its architectures and flags add nothing (TSYNC and LOG
	// aside), and every syscall it may let through is one Profile lets
	// through unconditionally, or one both profiles have exactly the same
	// rules for. Otherwise Profile replaces it.
	KeepEngine bool `toml:"keep_engine"`
	// Audit renders Profile with SCMP_ACT_LOG as its default action (its
	// rules unchanged), to find the syscalls an application needs: the
	// unlisted ones are logged by the kernel's audit instead of refused.
	// It replaces whatever the engine sent, KeepEngine or not. This turns
	// the filter into a logging one: for profiling, not production.
	Audit bool `toml:"audit"`
	// KeepInertArches keeps every architecture Profile names, and every
	// one a kept engine profile lists, those the kernel has no system call
	// entry for too (abi.go). Off, they are left out: the filter lets
	// through the same calls and compiles faster, and a call from a
	// left-out architecture kills the calling thread instead of failing
	// with ENOSYS.
	KeepInertArches bool `toml:"keep_inert_arches"`
}

// SELinuxPolicy labels containers when SELinux is enabled (or Force):
// process.selinuxLabel User:Role:Type:s0:cX,cY and linux.mountLabel
// User:object_r:MountType:s0:cX,cY, where cX,cY is an MCS category pair no
// other running container holds (reserved under state_dir, released on
// delete). An engine's label is kept when its user and role are the
// policy's and its type is not refused, with its own pair, which must be
// free. On a host without SELinux (and no Force) nothing is changed: the
// fields have no effect there.
type SELinuxPolicy struct {
	// Enable labels containers whenever the host has SELinux enabled.
	Enable bool `toml:"enable"`
	// Force labels even where the host reports SELinux disabled.
	Force bool `toml:"force"`
	// User and Role must be those of any label the engine sets (custom
	// users and roles are refused); Type is the process type given to a
	// container without a label, MountType the file type of its mounts.
	User      string `toml:"user"`
	Role      string `toml:"role"`
	Type      string `toml:"type"`
	MountType string `toml:"mount_type"`
	// RefuseTypes are process types that are never allowed (spc_t and
	// unconfined_t run unconfined).
	RefuseTypes []string `toml:"refuse_types"`
}

// AppArmorPolicy confines containers when AppArmor is enabled.
type AppArmorPolicy struct {
	// Enable sets Profile on a container that names none, where the host
	// has AppArmor enabled; the profile must be loaded, or the container
	// is refused (it would run unconfined). An engine's profile is kept.
	Enable bool `toml:"enable"`
	// Profile is applied when the spec names none.
	Profile string `toml:"profile"`
	// RefuseUnconfined refuses process.apparmorProfile "unconfined", on
	// any host (engines send no profile where AppArmor is disabled).
	RefuseUnconfined bool `toml:"refuse_unconfined"`
}

// RootFSPolicy: a read-only root with writable tmpfs where apps need it
// (control "rootfs"). Nothing applies unless ReadOnly is set.
type RootFSPolicy struct {
	// ReadOnly sets root.readonly: the image cannot be altered, so a
	// compromised process cannot plant binaries or edit configuration.
	ReadOnly bool `toml:"read_only"`
	// Tmpfs are the writable paths mounted over a read-only root (clean
	// absolute paths, not "/"). A path the spec already mounts something
	// on (podman --tmpfs, -v, --read-only-tmpfs) keeps that mount.
	Tmpfs []string `toml:"tmpfs"`
	// TmpfsSize is each tmpfs's size, in the kernel's syntax: "64m",
	// "1g", "1048576" or "10%" of RAM. Required when ReadOnly is set and
	// Tmpfs lists paths; "0" (unlimited) is refused.
	TmpfsSize string `toml:"tmpfs_size"`
	// TmpfsOptions are the tmpfs mount options besides size (e.g.
	// nosuid, nodev, noexec, mode=0755, uid=1000). /tmp and /var/tmp also
	// get mode=1777 unless a mode is given; other paths get the tmpfs
	// default, which is also 1777.
	TmpfsOptions []string `toml:"tmpfs_options"`
}

// UserPolicy: who the container's process runs as, at create
// (process.user) and at exec (process.json's user, exec --user and
// --additional-gids).
type UserPolicy struct {
	// NonRoot requires process.user.uid != 0, unless the container has a
	// user namespace of its own that maps uid 0 to a non-zero host uid
	// and maps no host uid 0 at all.
	NonRoot bool `toml:"non_root"`
	// UID and GID replace root in enforce mode (uid, gid, and no
	// additionalGids: those were root's). UID must not be 0.
	UID uint32 `toml:"uid"`
	GID uint32 `toml:"gid"`
	// NoRootGroup removes gid 0 from additionalGids and, with NonRoot,
	// replaces a primary gid 0 with GID (same user namespace exception).
	NoRootGroup bool `toml:"no_root_group"`
}

// NamespacePolicy: which namespaces a container must have of its own
// (linux.namespaces). A type with no entry is the host's.
type NamespacePolicy struct {
	// Require lists namespaces the container must have (pid, network,
	// ipc, uts, mount, cgroup, user, time). One missing is refused in
	// every mode but audit: engines leave a namespace out on request
	// (`--network=host`, `--pid=host`), and adding it back would silently
	// cut the container off from what it asked to share.
	Require []string `toml:"require"`
	// Add lists namespaces added (an entry without a path) when missing:
	// those engines leave out by default rather than on request, such as
	// the cgroup namespace on cgroup v1 hosts. One of pid, network, ipc,
	// uts, mount, cgroup.
	Add []string `toml:"add"`
	// RefuseHost refuses joining a host namespace (a path whose inode is
	// the host's /proc/1/ns/* or secshim's own /proc/self/ns/*), in every
	// mode but audit; a pod sandbox's is fine.
	RefuseHost bool `toml:"refuse_host"`
}

// MountPolicy: what may be mounted from the host, and how (control
// "mounts"). A bind mount is a mount of type "bind" or with a "bind" or
// "rbind" option, whatever its type.
type MountPolicy struct {
	// DenyHostPaths are host paths that may not be bind-mounted: neither
	// the path, nor anything under it, nor a directory holding it (a bind
	// of /run would hand over /run/podman). "/" denies the host root
	// itself only, or nothing could be mounted. The source is judged as
	// written (cleaned, so "/var/../etc" is /etc) and with its symlinks
	// resolved; so are these paths. Refused in enforce mode too: no
	// rewrite of a mount source is safe. secshim's state_dir is always
	// denied.
	DenyHostPaths []string `toml:"deny_host_paths"`
	// AllowHostPaths excuse the paths strictly below them (engine
	// storage) from the deny entries they lie in; the more specific entry
	// wins, so a deny entry inside an allowed tree still holds, and the
	// allowed directory itself stays denied.
	AllowHostPaths []string `toml:"allow_host_paths"`
	// BindOptions are forced on every bind mount, replacing the options
	// that undo them (suid, dev, exec, rw and their recursive r* forms).
	// Any of nosuid, nodev, noexec, ro.
	BindOptions []string `toml:"bind_options"`
	// RefuseSharedPropagation refuses mounts with shared or rshared
	// options, and linux.rootfsPropagation shared or rshared: mounts
	// would cross between the container and the host.
	RefuseSharedPropagation bool `toml:"refuse_shared_propagation"`
	// ReadOnlySysfs makes every sysfs mount (/sys) and every cgroup or
	// cgroup2 mount read-only ("ro", replacing "rw"); podman --privileged
	// asks for them writable.
	ReadOnlySysfs bool `toml:"read_only_sysfs"`
}

// PathPolicy: the /proc and /sys paths hidden or read-only (control
// "paths"). linux.maskedPaths and linux.readonlyPaths end up holding at
// least these lists: missing entries are appended, the engine's own extra
// entries kept (podman --privileged and --security-opt unmask=ALL send
// none). Runtimes skip paths the host kernel does not have.
type PathPolicy struct {
	// Masked paths are hidden: a file reads as /dev/null, a directory
	// as an empty read-only tmpfs.
	Masked []string `toml:"masked"`
	// ReadOnly paths are remounted read-only.
	ReadOnly []string `toml:"read_only"`
}

// SysctlPolicy: which sysctls a container may set (control "sysctls").
type SysctlPolicy struct {
	// Allow lists allowed sysctl names; an entry ending in "*" is a
	// prefix ("net.ipv4.tcp_*"; "*" alone allows everything). A key
	// written with slashes (kernel/msgmax) is matched as its dotted form;
	// a key with an empty component never matches a prefix.
	Allow []string `toml:"allow"`
	// Restrict removes (enforce) or refuses (deny) every linux.sysctl key
	// not allowed; without it any sysctl passes.
	Restrict bool `toml:"restrict"`
}

// Limit is a resource limit: Default is set when the spec has none (or
// asks for unlimited), Max clamps larger values. Zero disables either.
type Limit struct {
	Default int64 `toml:"default"`
	Max     int64 `toml:"max"`
}

// MemoryPolicy bounds linux.resources.memory.limit, in bytes, like a
// Limit: Default when the spec has none or asks for unlimited, Max
// clamps larger values (in an update: a missing limit stays unchanged,
// unlimited gets Max).
type MemoryPolicy struct {
	Default int64 `toml:"default"`
	Max     int64 `toml:"max"`
	// SwapEqualsMemory sets linux.resources.memory.swap (memory plus
	// swap, as runc reads it) to a positive memory limit: no swap beyond
	// memory, so the limit cannot be dodged by paging out. In an update
	// that sets a limit, swap follows it; one that sets swap alone has
	// the swap dropped (it cannot be checked against the limit).
	SwapEqualsMemory bool `toml:"swap_equals_memory"`
}

// Limit returns the memory limit as a plain Limit.
func (m MemoryPolicy) Limit() Limit { return Limit{m.Default, m.Max} }

// CPUPolicy bounds linux.resources.cpu.
type CPUPolicy struct {
	// Period is the CFS period in microseconds (1000-1000000; 0 means
	// the kernel's 100000) that Quota is counted against. Whenever a
	// quota is set, the container's period is set to it; a quota the
	// spec gives per another period is first rescaled to the same number
	// of CPUs, so Max always means Max/Period CPUs.
	Period int64 `toml:"period"`
	// Quota is cpu.quota in microseconds per Period (at least 1000): a
	// Limit (default when missing or unlimited, clamped above max).
	Quota Limit `toml:"quota"`
	// Shares is cpu.shares (2-262144), the weight under contention: a
	// Limit, so a container cannot outbid others beyond Max.
	Shares Limit `toml:"shares"`
}

// RlimitPolicy bounds process.rlimits. Each Limit applies to the hard
// limit: a type the spec leaves out is added with soft = hard = Default
// (Max if no Default); RLIM_INFINITY counts as unlimited and gets the
// Default; a hard limit above Max is cut to it; a soft limit is never left
// above its hard one. Other rlimit types are left alone.
type RlimitPolicy struct {
	// Nofile is RLIMIT_NOFILE (open files). A hard limit above what the
	// runtime may set (the host's own hard limit, without
	// CAP_SYS_RESOURCE) makes the container fail to start.
	Nofile Limit `toml:"nofile"`
	// Nproc is RLIMIT_NPROC, counted by the kernel per host uid across
	// every container and host process of that uid.
	Nproc Limit `toml:"nproc"`
	// Core is RLIMIT_CORE, in bytes.
	Core Limit `toml:"core"`
	// NoCore sets RLIMIT_CORE to 0/0 whatever Core says: no core dumps
	// (they write process memory, secrets included, where the host's
	// core_pattern says).
	NoCore bool `toml:"no_core"`
}

// PrivilegedPolicy: what to do with the privileged pattern. A spec shows
// it when at least three of five indicators hold: all or nearly all
// capabilities in the bounding set (at most three missing), no seccomp
// filter or one whose default action lets syscalls through, host devices
// in linux.devices or an allow-all device cgroup, no maskedPaths and no
// readonlyPaths, /sys mounted without "ro". The rule runs first, records
// it for the others (Context.State["privileged"]) and reports it, naming
// the indicators; it never edits the spec.
type PrivilegedPolicy struct {
	// Action is "neutralise" (the default: the other rules take each
	// indicator apart) or "refuse" (the spec is refused).
	Action string `toml:"action"`
}

// SecretsPolicy: credentials in process.env, where every process of the
// container and anyone who may inspect it can read them. An entry counts
// when its name matches a pattern and its value is not empty. Findings
// name the variable, never its value. The spec is never edited.
type SecretsPolicy struct {
	// Action is "ignore", "report" (log each finding) or "refuse".
	Action string `toml:"action"`
	// Patterns are glob patterns of variable names, matched without
	// regard to case: "*" is any run of characters, "?" any one.
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
