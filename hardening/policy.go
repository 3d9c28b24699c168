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

// Policy is the hardening a container gets. Its zero value hardens
// nothing; Default is the built-in baseline used when no config exists.
type Policy struct {
	Mode            Mode             `toml:"mode"`
	Capabilities    CapabilityPolicy `toml:"capabilities"`
	NoNewPrivileges bool             `toml:"no_new_privileges"`
	Seccomp         SeccompPolicy    `toml:"seccomp"`
	Pids            Limit            `toml:"pids"`
	Memory          Limit            `toml:"memory"`
	Devices         DevicePolicy     `toml:"devices"`

	allowed CapSet // Allow minus Deny, set by Compile
	ambient CapSet // Ambient minus Deny, set by Compile
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
	// KeepEngine keeps a profile the engine sent when it enforces (its
	// default action neither allows nor only logs); otherwise, and when
	// the engine sent none, Profile is rendered.
	KeepEngine bool `toml:"keep_engine"`
}

// Limit is a resource limit: Default is set when the spec has none (or
// asks for unlimited), Max clamps larger values. Zero disables either.
type Limit struct {
	Default int64 `toml:"default"`
	Max     int64 `toml:"max"`
}

// DevicePolicy limits linux.devices and the device cgroup.
type DevicePolicy struct {
	// Restrict keeps only the standard devices plus Allow.
	Restrict bool `toml:"restrict"`
	// Allow lists extra device paths (e.g. "/dev/fuse") a container may get.
	Allow []string `toml:"allow"`
}

// PodmanDefaultCaps is Podman's default capability set (containers.conf
// default_capabilities), the baseline's allowlist.
var PodmanDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// DangerousCaps are never kept outside a privileged policy: each one is a
// known container-escape or host-tampering primitive.
var DangerousCaps = []string{
	"CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO",
	"CAP_SYS_BOOT", "CAP_SYS_TIME", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN",
	"CAP_NET_RAW", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_BPF",
	"CAP_PERFMON", "CAP_SYSLOG", "CAP_LINUX_IMMUTABLE", "CAP_AUDIT_CONTROL",
	"CAP_CHECKPOINT_RESTORE",
}

// Default is the policy used when no config file exists: Podman's default
// capabilities at most, the dangerous ones never, no_new_privileges, a
// seccomp filter always, a pids limit and only the standard devices.
func Default() *Policy {
	p := &Policy{
		Mode: Enforce,
		Capabilities: CapabilityPolicy{
			Allow: append([]string(nil), PodmanDefaultCaps...),
			Deny:  append([]string(nil), DangerousCaps...),
		},
		NoNewPrivileges: true,
		Seccomp:         SeccompPolicy{Profile: "default", KeepEngine: true},
		Pids:            Limit{Default: 2048, Max: 32768},
		Devices:         DevicePolicy{Restrict: true},
	}
	if err := p.Compile(); err != nil {
		panic(err) // the built-in policy is a constant
	}
	return p
}

// Compile validates the policy and precomputes what rules need. Every
// error names the field.
func (p *Policy) Compile() error {
	switch p.Mode {
	case "":
		p.Mode = Enforce
	case Enforce, Deny, Audit:
	default:
		return fmt.Errorf("policy.mode: %q is not one of enforce, deny, audit", p.Mode)
	}
	allow, err := ParseCapSet("policy.capabilities.allow", p.Capabilities.Allow)
	if err != nil {
		return err
	}
	deny, err := ParseCapSet("policy.capabilities.deny", p.Capabilities.Deny)
	if err != nil {
		return err
	}
	amb, err := ParseCapSet("policy.capabilities.ambient", p.Capabilities.Ambient)
	if err != nil {
		return err
	}
	p.allowed, p.ambient = allow&^deny, amb&^deny
	if p.Seccomp.Profile == "" {
		p.Seccomp.Profile = "default"
	}
	if p.Seccomp.Profile != "default" && !strings.HasPrefix(p.Seccomp.Profile, "/") {
		return fmt.Errorf("policy.seccomp.profile: %q is neither \"default\" nor an absolute path", p.Seccomp.Profile)
	}
	for _, l := range []struct {
		name string
		v    Limit
	}{{"policy.pids", p.Pids}, {"policy.memory", p.Memory}} {
		if l.v.Default < 0 || l.v.Max < 0 {
			return fmt.Errorf("%s: limits must not be negative", l.name)
		}
		if l.v.Max > 0 && l.v.Default > l.v.Max {
			return fmt.Errorf("%s: default %d is above max %d", l.name, l.v.Default, l.v.Max)
		}
	}
	for _, d := range p.Devices.Allow {
		if !strings.HasPrefix(d, "/dev/") {
			return fmt.Errorf("policy.devices.allow: %q is not a path under /dev/", d)
		}
	}
	return nil
}

// AllowedCaps is the most any process of a container may hold.
func (p *Policy) AllowedCaps() CapSet { return p.allowed }
