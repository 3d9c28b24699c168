package hardening

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// DefaultProfile is the profile of a container that asks for none when the
// config names none: baseline, because restricted (non-root, read-only
// root) breaks most images that were not built for it, while baseline
// breaks only what no container should do.
const DefaultProfile = "baseline"

// BuiltinProfiles are the profiles secshim ships, weakest first.
var BuiltinProfiles = []string{"privileged", "baseline", "restricted"}

// PodmanDefaultCaps is Podman's default capability set (containers.conf
// default_capabilities), the baseline's allowlist.
var PodmanDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP",
	"CAP_SETUID", "CAP_SYS_CHROOT",
}

// DangerousCaps are never kept outside the privileged profile: each one is
// a known container-escape or host-tampering primitive.
var DangerousCaps = []string{
	"CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO",
	"CAP_SYS_BOOT", "CAP_SYS_TIME", "CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN",
	"CAP_NET_RAW", "CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_BPF",
	"CAP_PERFMON", "CAP_SYSLOG", "CAP_LINUX_IMMUTABLE", "CAP_AUDIT_CONTROL",
	"CAP_CHECKPOINT_RESTORE", "CAP_MKNOD", "CAP_SYS_PACCT", "CAP_SYS_TTY_CONFIG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_IPC_LOCK", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_LEASE", "CAP_AUDIT_READ", "CAP_NET_BROADCAST",
	"CAP_IPC_OWNER",
}

// builtin returns a fresh copy of a built-in profile (uncompiled).
func builtin(name string) (*Policy, bool) {
	switch name {
	case "privileged":
		return &Policy{
			Name:        "privileged",
			Description: "Pass-through: secshim changes nothing. For the rare container that needs the host; logged as such.",
			Mode:        Enforce,
			PassThrough: true,
		}, true
	case "baseline":
		return baseline(), true
	case "restricted":
		p := baseline()
		p.Name, p.Extends = "restricted", "baseline"
		p.Description = "Kubernetes Pod Security Standards Restricted: no capability but NET_BIND_SERVICE, seccomp, no_new_privileges, non-root, read-only root with writable tmpfs."
		p.Capabilities.Allow = []string{"CAP_NET_BIND_SERVICE"}
		p.User = UserPolicy{NonRoot: true, UID: 65534, GID: 65534, NoRootGroup: true}
		p.RootFS.ReadOnly = true
		p.Memory = MemoryPolicy{Default: 512 << 20, Max: 8 << 30, SwapEqualsMemory: true}
		// RLIMIT_NPROC counts per host uid, and every restricted container runs
		// as 65534: a low value would be shared by all of them. The pids
		// cgroup bounds each container.
		p.Rlimits = RlimitPolicy{Nofile: Limit{1024, 65536}, Nproc: Limit{4096, 65536}, NoCore: true}
		p.CPU = CPUPolicy{Period: 100000, Quota: Limit{Max: 400000}}
		return p, true
	}
	return nil, false
}

// baseline is the Kubernetes Pod Security Standards Baseline level plus
// the CIS Docker Benchmark section 5 runtime checks.
func baseline() *Policy {
	return &Policy{
		Name:        "baseline",
		Description: "Kubernetes Pod Security Standards Baseline plus CIS Docker Benchmark section 5: Podman's default capabilities at most, seccomp, no_new_privileges, no host namespaces, devices, sensitive mounts or unsafe sysctls, resource limits.",
		Mode:        Enforce,
		Capabilities: CapabilityPolicy{
			Allow: slices.Clone(PodmanDefaultCaps),
			Deny:  slices.Clone(DangerousCaps),
		},
		NoNewPrivileges: true,
		Seccomp:         SeccompPolicy{Profile: "default", KeepEngine: true},
		SELinux: SELinuxPolicy{
			Enable: true, User: "system_u", Role: "system_r", Type: "container_t", MountType: "container_file_t",
			RefuseTypes: []string{"spc_t", "unconfined_t"},
		},
		AppArmor: AppArmorPolicy{Enable: true, Profile: "containers-default-0.50.1", RefuseUnconfined: true},
		RootFS: RootFSPolicy{
			Tmpfs:        []string{"/tmp", "/run", "/var/tmp"},
			TmpfsSize:    "64m",
			TmpfsOptions: []string{"nosuid", "nodev", "noexec"},
		},
		Namespaces: NamespacePolicy{Require: []string{"pid", "network", "ipc", "uts", "mount"}, Add: []string{"cgroup"}, RefuseHost: true},
		Mounts: MountPolicy{
			DenyHostPaths: []string{
				"/", "/boot", "/dev", "/etc", "/proc", "/sys", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/root",
				"/var/lib/containers", "/var/lib/docker", "/var/lib/containerd", "/var/lib/kubelet", "/run/containerd",
				"/var/run/docker.sock", "/run/docker.sock", "/run/podman", "/var/run/podman",
				"/run/containerd/containerd.sock", "/var/run/crio", "/run/crio",
				// The system bus and systemd's sockets control the host; the
				// runtimes' state directories hold every container's state.
				"/run/dbus", "/var/run/dbus", "/run/systemd", "/run/runc", "/run/crun", "/run/runsc",
			},
			AllowHostPaths: []string{
				"/var/lib/containers/storage", "/run/containers/storage", "/run/libpod",
				"/var/lib/containerd/io.containerd.grpc.v1.cri", "/run/containerd/io.containerd.runtime.v2.task",
				"/var/lib/docker/containers", "/var/lib/kubelet/pods",
				"/var/lib/docker/volumes", "/run/containerd/io.containerd.grpc.v1.cri",
			},
			BindOptions:             []string{"nosuid", "nodev"},
			RefuseSharedPropagation: true,
			ReadOnlySysfs:           true,
		},
		Devices: DevicePolicy{Restrict: true},
		Paths: PathPolicy{
			Masked: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
				"/sys/firmware", "/sys/fs/selinux", "/sys/dev/block", "/sys/devices/virtual/powercap",
			},
			ReadOnly: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
		Sysctls: SysctlPolicy{
			Restrict: true,
			// The Pod Security Standards' safe set.
			Allow: []string{
				"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
				"net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
				"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
				"net.ipv4.tcp_keepalive_probes",
			},
		},
		Pids:       Limit{Default: 2048, Max: 32768},
		Memory:     MemoryPolicy{SwapEqualsMemory: true},
		Rlimits:    RlimitPolicy{Nofile: Limit{Default: 1024, Max: 1048576}, Nproc: Limit{Default: 4096, Max: 65536}},
		Privileged: PrivilegedPolicy{Action: "neutralise"},
		Secrets: SecretsPolicy{
			Action:   "report",
			Patterns: []string{"*PASSWORD*", "*PASSWD*", "*SECRET*", "*TOKEN*", "*API_KEY*", "*APIKEY*", "*PRIVATE_KEY*", "*ACCESS_KEY*", "*CREDENTIAL*"},
		},
	}
}

// Profiles resolves profiles: the built-in ones, overridden and extended
// by the [profiles.NAME] tables of a config file.
type Profiles struct {
	// User holds each [profiles.NAME] table as decoded TOML.
	User map[string]map[string]any
}

// Names lists every profile, built-in and user-defined, sorted.
func (ps *Profiles) Names() []string {
	names := slices.Clone(BuiltinProfiles)
	for n := range ps.User {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Chain is the profile and its ancestors, the profile itself first.
func (ps *Profiles) Chain(name string) ([]string, error) {
	if name == "" {
		return nil, fmt.Errorf("no profile named")
	}
	var chain []string
	for cur := name; cur != ""; {
		if slices.Contains(chain, cur) {
			return nil, fmt.Errorf("profiles.%s: extends forms a cycle: %s", name, strings.Join(append(chain, cur), " -> "))
		}
		chain = append(chain, cur)
		next, err := ps.parent(cur)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return chain, nil
}

// parent is the profile name extends: a user table's extends key, or the
// built-in's own parent. A user table named like a built-in overrides it.
func (ps *Profiles) parent(name string) (string, error) {
	if t, ok := ps.User[name]; ok {
		if v, ok := t["extends"]; ok {
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("profiles.%s.extends: not a string", name)
			}
			if s == name {
				return "", fmt.Errorf("profiles.%s.extends: a profile cannot extend itself", name)
			}
			if _, isUser := ps.User[s]; !isUser {
				if !isBuiltin(s) {
					return "", fmt.Errorf("profiles.%s.extends: no profile %q", name, s)
				}
			}
			return s, nil
		}
		if isBuiltin(name) {
			return builtinParent(name), nil
		}
		return "", fmt.Errorf("profiles.%s: extends is required (one of %s or another profile)", name, strings.Join(BuiltinProfiles, ", "))
	}
	if isBuiltin(name) {
		return builtinParent(name), nil
	}
	return "", fmt.Errorf("no profile %q (known: %s)", name, strings.Join(ps.Names(), ", "))
}

// isBuiltin reports a built-in profile name without building the profile.
func isBuiltin(name string) bool { return slices.Contains(BuiltinProfiles, name) }

func builtinParent(name string) string {
	if name == "restricted" {
		return "baseline"
	}
	return ""
}

// Resolve builds a profile: its oldest ancestor's built-in content, then
// each user table on the chain laid over it, a key at a time. A key left
// out keeps the ancestor's value; a list replaces the list.
func (ps *Profiles) Resolve(name string) (*Policy, error) {
	chain, err := ps.Chain(name)
	if err != nil {
		return nil, err
	}
	var p *Policy
	for i := len(chain) - 1; i >= 0; i-- {
		n := chain[i]
		if p == nil {
			if b, ok := builtin(n); ok {
				p = b
			} else {
				p = &Policy{}
			}
		} else if b, ok := builtin(n); ok && builtinParent(n) == chain[i+1] {
			// A built-in extending its own built-in parent: its content.
			p = b
		}
		if t, ok := ps.User[n]; ok {
			if err := overlay(p, n, t); err != nil {
				return nil, err
			}
		}
		p.Name = n
		if i+1 < len(chain) {
			p.Extends = chain[i+1]
		}
	}
	if err := p.Compile(); err != nil {
		return nil, fmt.Errorf("profiles.%s: %w", name, err)
	}
	return p, nil
}

// overlay decodes one [profiles.NAME] table over p.
func overlay(p *Policy, name string, table map[string]any) error {
	b, err := toml.Marshal(table)
	if err != nil {
		return fmt.Errorf("profiles.%s: %w", name, err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			keys := make([]string, len(strict.Errors))
			for i, e := range strict.Errors {
				keys[i] = "profiles." + name + "." + strings.Join(e.Key(), ".")
			}
			return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
		}
		return fmt.Errorf("profiles.%s: %w", name, err)
	}
	return nil
}

// AtLeast reports whether profile name is floor or extends it, directly
// or through others. (An override in a descendant can still loosen a
// control; that is why a container's floor profile is applied before the
// profile it asks for, see runtimes.)
func (ps *Profiles) AtLeast(name, floor string) bool {
	chain, err := ps.Chain(name)
	return err == nil && slices.Contains(chain, floor)
}

// Default returns the built-in default profile, compiled.
func Default() *Policy {
	p, _ := builtin(DefaultProfile)
	if err := p.Compile(); err != nil {
		panic(err) // the built-in profile is a constant
	}
	return p
}
