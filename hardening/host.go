package hardening

import (
	"strings"
	"syscall"

	"github.com/secshim/secshim/spec"
)

// Host answers the questions rules ask about the machine. DefaultHost asks
// the real one; tests build a Host with fixed answers.
type Host struct {
	// SELinuxEnabled reports whether SELinux is enabled.
	SELinuxEnabled func() bool
	// AppArmorEnabled reports whether AppArmor is enabled.
	AppArmorEnabled func() bool
	// AppArmorProfileMode is the mode ("enforce", "complain", "kill",
	// "unconfined"...) of a loaded AppArmor profile, "" when no profile
	// of that name is loaded.
	AppArmorProfileMode func(name string) (string, error)
	// NamespaceID identifies the namespace a path refers to (a
	// /proc/PID/ns/TYPE link or a bind-mounted namespace file).
	NamespaceID func(path string) (NSID, error)
	// HostNamespace identifies the host's (PID 1's) namespace of a
	// runtime-spec type ("network", "pid", ...).
	HostNamespace func(nsType string) (NSID, error)
	// RuntimeNamespace identifies secshim's own namespace of a type: the
	// one a container without that namespace would share (the runtime
	// spec's "inherit"), and the host's whenever PID 1's cannot be read
	// (some sandboxes deny it even to root).
	RuntimeNamespace func(nsType string) (NSID, error)
	// InertSeccompArches are the seccomp architectures (SCMP_ARCH_*) the
	// kernel has no system call entry for (abi.go); nil is none.
	InertSeccompArches func() []string
}

// NSID identifies a namespace: device and inode of its nsfs file.
type NSID struct{ Dev, Ino uint64 }

// ProcNSName is the /proc/PID/ns name of a runtime-spec namespace type
// ("network" is "net"), "" for an unknown type.
func ProcNSName(nsType string) string {
	switch nsType {
	case "pid", "ipc", "uts", "cgroup", "user", "time":
		return nsType
	case "network":
		return "net"
	case "mount":
		return "mnt"
	}
	return ""
}

// DefaultHost is the machine secshim runs on.
func DefaultHost() *Host {
	return &Host{
		SELinuxEnabled: func() bool {
			b, err := spec.ReadFile("/sys/fs/selinux/enforce")
			return err == nil && len(b) > 0
		},
		AppArmorEnabled: func() bool {
			b, err := spec.ReadFile("/sys/module/apparmor/parameters/enabled")
			return err == nil && strings.HasPrefix(string(b), "Y")
		},
		AppArmorProfileMode: func(name string) (string, error) {
			b, err := spec.ReadFile("/sys/kernel/security/apparmor/profiles")
			if err != nil {
				return "", err
			}
			return apparmorMode(b, name), nil
		},
		NamespaceID: statNS,
		HostNamespace: func(nsType string) (NSID, error) {
			return statNS("/proc/1/ns/" + ProcNSName(nsType))
		},
		RuntimeNamespace: func(nsType string) (NSID, error) {
			return statNS("/proc/self/ns/" + ProcNSName(nsType))
		},
		InertSeccompArches: kernelInertArches,
	}
}

func statNS(path string) (NSID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return NSID{}, err
	}
	return NSID{uint64(st.Dev), st.Ino}, nil
}

// apparmorMode finds a profile in the kernel's list of loaded profiles, one
// "NAME (MODE)" a line; names may contain spaces and parentheses.
func apparmorMode(list []byte, name string) string {
	for _, line := range strings.Split(string(list), "\n") {
		i := strings.LastIndex(line, " (")
		if i >= 0 && line[:i] == name && strings.HasSuffix(line, ")") {
			return line[i+2 : len(line)-1]
		}
	}
	return ""
}
