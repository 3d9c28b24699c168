package hardening

import (
	"fmt"
	"math/bits"
	"strings"
)

// capNames lists the capabilities the kernel knows, indexed by number
// (linux/capability.h up to CAP_CHECKPOINT_RESTORE).
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapSet is a set of capabilities as a bit mask, bit N for capability N.
type CapSet uint64

// CapNumber returns the number of a capability name; the CAP_ prefix and
// case are optional ("net_raw", "CAP_NET_RAW").
func CapNumber(name string) (int, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// ParseCapSet builds a set from policy names; an unknown name is an error,
// so that a typo never silently weakens a deny-list. "ALL" means every
// capability.
func ParseCapSet(field string, names []string) (CapSet, error) {
	var s CapSet
	for _, name := range names {
		if strings.EqualFold(name, "ALL") {
			s = AllCaps
			continue
		}
		n, ok := CapNumber(name)
		if !ok {
			return 0, fmt.Errorf("%s: unknown capability %q", field, name)
		}
		s |= 1 << n
	}
	return s, nil
}

// AllCaps holds every capability in capNames.
const AllCaps = CapSet(1)<<len(capNames) - 1

// Has reports whether the set holds the named capability (exact spec
// spelling, e.g. "CAP_SYS_ADMIN"); unknown names are never held.
func (s CapSet) Has(name string) bool {
	n, ok := CapNumber(name)
	return ok && s&(1<<n) != 0
}

// Names lists the set in capability-number order with the CAP_ prefix.
func (s CapSet) Names() []string {
	out := make([]string, 0, bits.OnesCount64(uint64(s)))
	for i, c := range capNames {
		if s&(1<<i) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// capSetOf is the set named by a spec list; unknown names are ignored.
func capSetOf(names []string) CapSet {
	var s CapSet
	for _, name := range names {
		if n, ok := CapNumber(name); ok {
			s |= 1 << n
		}
	}
	return s
}
