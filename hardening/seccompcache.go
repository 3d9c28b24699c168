package hardening

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

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
// conditions), the architecture, the policy's profile (and the identity
// of a custom profile file), the audit variant and the bounding set; a
// verdict also by the engine profile's bytes. A missing, unreadable or
// malformed entry is recomputed, so the cache can only save time.
type seccompDiskCache struct {
	dir string
	key string
}

// newSeccompDiskCache returns nil (no caching) without a state dir, as in
// `secshim explain`, which must write nothing.
func newSeccompDiskCache(stateDir string, sp SeccompPolicy, bounding []string) *seccompDiskCache {
	if stateDir == "" {
		return nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "exe %s\nkernel %s\narch %s\nprofile %s\naudit %t\nbounding %s\n",
		fileIdentity("/proc/self/exe"), kernelRelease(), runtime.GOARCH, sp.Profile, sp.Audit, strings.Join(bounding, ","))
	if sp.Profile != "default" {
		id := fileIdentity(sp.Profile)
		if id == "" {
			return nil
		}
		fmt.Fprintf(h, "file %s\n", id)
	}
	return &seccompDiskCache{dir: filepath.Join(stateDir, "seccomp-cache"), key: hex.EncodeToString(h.Sum(nil))}
}

// rendered is the cached rendered profile, or nil.
func (dc *seccompDiskCache) rendered() []byte {
	if dc == nil {
		return nil
	}
	b, err := spec.ReadFile(filepath.Join(dc.dir, dc.key+".json"))
	// Validated where it is used (spec.Object.Set, with a fallback to
	// rendering): validating here too would cost a second pass.
	if err != nil || len(b) == 0 || b[0] != '{' {
		return nil
	}
	return b
}

func (dc *seccompDiskCache) storeRendered(b []byte) {
	if dc != nil {
		dc.store(dc.key+".json", b)
	}
}

// verdict is the cached strictness verdict on an engine profile: "" to
// keep it, else why it is looser.
func (dc *seccompDiskCache) verdict(engine []byte) (why string, ok bool) {
	if dc == nil {
		return "", false
	}
	b, err := spec.ReadFile(filepath.Join(dc.dir, dc.verdictName(engine)))
	if err != nil {
		return "", false
	}
	switch s := string(b); {
	case s == "keep":
		return "", true
	case strings.HasPrefix(s, "replace\n") && len(s) > len("replace\n"):
		return s[len("replace\n"):], true
	}
	return "", false
}

func (dc *seccompDiskCache) storeVerdict(engine []byte, why string) {
	if dc == nil {
		return
	}
	content := "keep"
	if why != "" {
		content = "replace\n" + why
	}
	dc.store(dc.verdictName(engine), []byte(content))
}

func (dc *seccompDiskCache) verdictName(engine []byte) string {
	h := sha256.New()
	h.Write([]byte(dc.key + "\n"))
	h.Write(engine)
	return "verdict-" + hex.EncodeToString(h.Sum(nil))
}

// store writes an entry atomically; failing to is not an error.
func (dc *seccompDiskCache) store(name string, b []byte) {
	if os.MkdirAll(dc.dir, 0o700) == nil {
		spec.WriteAtomic(filepath.Join(dc.dir, name), b, 0o600)
	}
}

// fileIdentity names a file's current content cheaply: device, inode,
// size and modification time; "" when it cannot be read.
func fileIdentity(path string) string {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return ""
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
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
