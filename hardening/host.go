package hardening

import (
	"os"
	"strings"
	"syscall"
)

// Host answers the questions rules ask about the machine. DefaultHost asks
// the real one; tests build a Host with fixed answers.
type Host struct {
	// SELinuxEnabled reports whether SELinux is enabled.
	SELinuxEnabled func() bool
	// AppArmorEnabled reports whether AppArmor is enabled.
	AppArmorEnabled func() bool
	// NamespaceID identifies the namespace a path refers to (a
	// /proc/PID/ns/TYPE link or a bind-mounted namespace file).
	NamespaceID func(path string) (NSID, error)
	// HostNamespace identifies the host's (PID 1's) namespace of a
	// runtime-spec type ("network", "pid", ...).
	HostNamespace func(nsType string) (NSID, error)
}

// NSID identifies a namespace: device and inode of its nsfs file.
type NSID struct{ Dev, Ino uint64 }

// procNSName maps runtime-spec namespace types to /proc/PID/ns names.
var procNSName = map[string]string{
	"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
	"cgroup": "cgroup", "user": "user", "time": "time",
}

// DefaultHost is the machine secshim runs on.
func DefaultHost() *Host {
	return &Host{
		SELinuxEnabled: func() bool {
			b, err := os.ReadFile("/sys/fs/selinux/enforce")
			return err == nil && len(b) > 0
		},
		AppArmorEnabled: func() bool {
			b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
			return err == nil && strings.HasPrefix(string(b), "Y")
		},
		NamespaceID: statNS,
		HostNamespace: func(nsType string) (NSID, error) {
			return statNS("/proc/1/ns/" + procNSName[nsType])
		},
	}
}

func statNS(path string) (NSID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return NSID{}, err
	}
	return NSID{uint64(st.Dev), st.Ino}, nil
}
