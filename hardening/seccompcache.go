package hardening

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/spec"
)

// seccompDiskCache keeps, across secshim processes, the two costly results
// of the seccomp rule: the policy's profile rendered for a bounding set,
// and the verdict on whether an engine's profile is at least as strict.
// Each secshim process is short-lived, so the in-process cache alone
// would pay both (reflection-heavy JSON work) on every container start.
//
// Entries live under StateDir/seccomp-cache (root's, 0700), named by a
// hash of everything the result depends on: this binary (its identity on
// disk), the kernel release (the default profile has kernel-version
// conditions), the architecture and the ABIs the kernel lacks (abi.go),
// the policy's profile (and the identity of a custom profile file), the
// audit variant and the bounding set; a verdict also by the engine
// profile's bytes. A verdict that replaces the engine's profile holds the
// rendered profile too, so that a create reads one entry. Every entry is
// sealed with its length and SHA-256: a missing, unreadable, truncated or
// damaged entry is recomputed, so the cache can only save time, and a
// profile read back from a sealed entry is the very JSON that was
// validated before it was stored. The seal guards against damage, not
// against root: whoever can write the state dir (root's, 0700) can write
// the records that clamp exec as well.
type seccompDiskCache struct {
	dir string
	key string
}

// newSeccompDiskCache returns nil (no caching) without a state dir, as in
// `secshim explain`, which must write nothing.
func newSeccompDiskCache(stateDir string, sp SeccompPolicy, bounding, inert []string) *seccompDiskCache {
	if stateDir == "" {
		return nil
	}
	// Built by hand: fmt would be the first formatting on create's path.
	b := make([]byte, 0, 256)
	b = append(append(b, "exe "...), selfIdentity()...)
	b = append(append(b, "\nkernel "...), kernelRelease()...)
	b = append(append(b, "\narch "...), runtime.GOARCH...)
	b = append(append(b, "\ninert "...), inertKey(inert)...)
	b = append(append(b, "\nprofile "...), sp.Profile...)
	b = strconv.AppendBool(append(b, "\naudit "...), sp.Audit)
	b = append(b, "\nbounding "...)
	for i, c := range bounding {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c...)
	}
	b = append(b, '\n')
	if sp.Profile != "default" {
		id := fileIdentity(sp.Profile)
		if id == "" {
			return nil
		}
		b = append(append(append(b, "file "...), id...), '\n')
	}
	sum := sha256.Sum256(b)
	return &seccompDiskCache{dir: filepath.Join(stateDir, "seccomp-cache"), key: hex.EncodeToString(sum[:])}
}

// rendered is the cached rendered profile, or nil.
func (dc *seccompDiskCache) rendered() []byte {
	if dc == nil {
		return nil
	}
	b, _ := dc.load(dc.key + ".json")
	if len(b) == 0 || b[0] != '{' {
		return nil
	}
	return b
}

func (dc *seccompDiskCache) storeRendered(b []byte) {
	if dc != nil {
		dc.store(dc.key+".json", b)
	}
}

// verdict is the cached strictness verdict on an engine profile: why ""
// to keep it, else why it is looser and the rendered profile to put in
// its place.
func (dc *seccompDiskCache) verdict(engine []byte) (why string, rendered []byte, ok bool) {
	if dc == nil {
		return "", nil, false
	}
	b, ok := dc.load(dc.verdictName(engine))
	if !ok {
		return "", nil, false
	}
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	switch {
	case string(line) == "keep":
		return "", nil, true
	case bytes.HasPrefix(line, []byte("replace ")):
		why, err := strconv.Unquote(string(line[len("replace "):]))
		if err != nil || why == "" || len(rest) == 0 || rest[0] != '{' {
			return "", nil, false
		}
		return why, rest, true
	}
	return "", nil, false
}

func (dc *seccompDiskCache) storeVerdict(engine []byte, why string, rendered []byte) {
	if dc == nil {
		return
	}
	content := []byte("keep")
	if why != "" {
		content = append(append([]byte("replace "+strconv.Quote(why)), '\n'), rendered...)
	}
	dc.store(dc.verdictName(engine), content)
}

func (dc *seccompDiskCache) verdictName(engine []byte) string {
	h := sha256.New()
	h.Write([]byte(dc.key + "\n"))
	h.Write(engine)
	return "verdict-" + hex.EncodeToString(h.Sum(nil))
}

// sealMagic starts every entry: "secshim-cache2 LEN SHA256\n" and LEN
// bytes. SHA-256 because create's path uses it anyway: a CRC table would be
// built on every create (hash/crc32 builds its CRC-32C tables from 1.5 MB
// of CRC work, 0.6 to 0.8 ms on the development VM).
const sealMagic = "secshim-cache2 "

func sealSum(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

func seal(payload []byte) []byte {
	b := make([]byte, 0, len(sealMagic)+88+len(payload))
	b = append(b, sealMagic...)
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	b = append(b, sealSum(payload)...)
	b = append(b, '\n')
	return append(b, payload...)
}

// unseal returns an entry's payload, or false when it is not exactly what
// seal wrote.
func unseal(b []byte) ([]byte, bool) {
	head, payload, ok := bytes.Cut(b, []byte("\n"))
	if !ok || !bytes.HasPrefix(head, []byte(sealMagic)) {
		return nil, false
	}
	n, sum, ok := strings.Cut(string(head[len(sealMagic):]), " ")
	size, err := strconv.Atoi(n)
	if !ok || err != nil || size != len(payload) || sum != sealSum(payload) {
		return nil, false
	}
	return payload, true
}

func (dc *seccompDiskCache) load(name string) ([]byte, bool) {
	b, err := spec.ReadFile(filepath.Join(dc.dir, name))
	if err != nil {
		return nil, false
	}
	return unseal(b)
}

// store writes an entry atomically; failing to is not an error.
func (dc *seccompDiskCache) store(name string, payload []byte) {
	if os.MkdirAll(dc.dir, 0o700) == nil {
		spec.WriteAtomic(filepath.Join(dc.dir, name), seal(payload), 0o600)
	}
}

// SelfExe is this binary's stat, read once per process: the seccomp
// cache's key and the check that a backend is not secshim itself both
// need it, and /proc/self/exe is one of the dearer stats.
var SelfExe = sync.OnceValues(func() (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return nil, err
	}
	return &st, nil
})

func selfIdentity() string {
	st, err := SelfExe()
	if err != nil {
		return ""
	}
	return statIdentity(st)
}

// fileIdentity names a file's current content cheaply: device, inode,
// size and modification time; "" when it cannot be read.
func fileIdentity(path string) string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return ""
	}
	return statIdentity(&st)
}

func statIdentity(st *unix.Stat_t) string {
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, st.Dev, 10)
	b = strconv.AppendUint(append(b, ':'), st.Ino, 10)
	b = strconv.AppendInt(append(b, ':'), st.Size, 10)
	b = strconv.AppendInt(append(b, ':'), st.Mtim.Sec, 10)
	b = strconv.AppendInt(append(b, '.'), st.Mtim.Nsec, 10)
	return string(b)
}

func kernelRelease() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}
