package testenv

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// ProcStatus parses the text of /proc/<pid>/status ("Key:\tvalue" lines) into
// a map from key to its trimmed value, e.g. m["CapEff"] == "00000000800405fb",
// m["Seccomp"] == "2", m["NoNewPrivs"] == "0". Lines without a colon are
// ignored; a repeated key keeps its last value.
func ProcStatus(text string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// capNames holds the Linux capability names by number (0..40, as of Linux 5.9+).
var capNames = [...]string{
	0:  "CAP_CHOWN",
	1:  "CAP_DAC_OVERRIDE",
	2:  "CAP_DAC_READ_SEARCH",
	3:  "CAP_FOWNER",
	4:  "CAP_FSETID",
	5:  "CAP_KILL",
	6:  "CAP_SETGID",
	7:  "CAP_SETUID",
	8:  "CAP_SETPCAP",
	9:  "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE",
	11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN",
	13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK",
	15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE",
	17: "CAP_SYS_RAWIO",
	18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT",
	21: "CAP_SYS_ADMIN",
	22: "CAP_SYS_BOOT",
	23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE",
	25: "CAP_SYS_TIME",
	26: "CAP_SYS_TTY_CONFIG",
	27: "CAP_MKNOD",
	28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE",
	30: "CAP_AUDIT_CONTROL",
	31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG",
	35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND",
	37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON",
	39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// LastCap is the highest capability number testenv knows (CAP_CHECKPOINT_RESTORE).
const LastCap = len(capNames) - 1

// PodmanDefaultCaps are the capabilities Debian's podman 4.3 gives a container
// by default (default_capabilities of /usr/share/containers/containers.conf,
// repeated in containers.conf.in), in capability-number order.
var PodmanDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_SETFCAP",
}

// PodmanDefaultCapEff is CapEff (as /proc/self/status prints it) of a default
// podman container: the mask of PodmanDefaultCaps.
const PodmanDefaultCapEff = "00000000800405fb"

// CapNumber returns the number of a capability name. The name may be given
// with or without the CAP_ prefix, in any case ("sys_admin", "CAP_SYS_ADMIN");
// "CAP_41"-style numeric names are accepted too.
func CapNumber(name string) (int, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, nil
		}
	}
	if v, err := strconv.Atoi(strings.TrimPrefix(n, "CAP_")); err == nil && v >= 0 && v < 64 {
		return v, nil
	}
	return 0, fmt.Errorf("testenv: unknown capability %q", name)
}

// CapName returns the CAP_* name of capability number n, or "CAP_<n>" for a
// number testenv does not know.
func CapName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return "CAP_" + strconv.Itoa(n)
}

// CapMask returns the bit mask of the named capabilities (see CapNumber for
// the accepted spellings).
func CapMask(names ...string) (uint64, error) {
	var m uint64
	for _, name := range names {
		n, err := CapNumber(name)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(n)
	}
	return m, nil
}

// MustCapMask is CapMask that panics on an unknown name (for test tables).
func MustCapMask(names ...string) uint64 {
	m, err := CapMask(names...)
	if err != nil {
		panic(err)
	}
	return m
}

// CapHex formats a mask the way /proc/<pid>/status does: 16 hex digits.
func CapHex(mask uint64) string { return fmt.Sprintf("%016x", mask) }

// ParseCapHex parses a CapEff/CapPrm/CapBnd/... value such as "00000000800405fb".
func ParseCapHex(hex string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("testenv: bad capability mask %q: %v", hex, err)
	}
	return v, nil
}

// CapsOfMask lists the capability names set in mask, in number order (unknown
// bits as "CAP_<n>").
func CapsOfMask(mask uint64) []string {
	names := make([]string, 0, bits.OnesCount64(mask))
	for n := 0; n < 64; n++ {
		if mask&(1<<uint(n)) != 0 {
			names = append(names, CapName(n))
		}
	}
	return names
}

// DecodeCaps decodes a hex mask from /proc/<pid>/status (CapEff etc.) into
// capability names in number order: DecodeCaps("00000000800405fb") returns
// PodmanDefaultCaps.
func DecodeCaps(hex string) ([]string, error) {
	m, err := ParseCapHex(hex)
	if err != nil {
		return nil, err
	}
	return CapsOfMask(m), nil
}
