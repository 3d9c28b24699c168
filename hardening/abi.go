package hardening

import (
	"slices"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A seccomp filter compiles a branch for every architecture it lists, and
// the backend pays for each at every container start: on amd64, libseccomp
// 2.5 (runc 1.1's) compiles the default profile in about 3 ms for x86_64
// alone, 12 ms with x86 and 20 ms with x86 and x32. An architecture the
// running kernel has no system call entry for is inert: its calls fail
// with ENOSYS whatever the filter says. The profiles secshim renders or
// keeps leave inert architectures out (unless keep_inert_arches), so the
// filter lets through exactly what it did; a call from a left-out
// architecture kills the calling thread (SIGSYS) instead of failing with
// ENOSYS, as a call from any architecture a filter does not list does. An
// engine's profile that lists one is not looser for it, and loses it when
// kept. docs/profiles.md has the whole trade-off.

var kernelABIs struct {
	once  sync.Once
	inert []string
}

// kernelInertArches is Host.InertSeccompArches on the real machine: the
// probe runs once per process.
func kernelInertArches() []string {
	kernelABIs.once.Do(func() { kernelABIs.inert = inertArchesOfKernel() })
	return kernelABIs.inert
}

// inertArchesOf is h's answer, none when it has no way to tell.
func inertArchesOf(h *Host) []string {
	if h == nil || h.InertSeccompArches == nil {
		return nil
	}
	return h.InertSeccompArches()
}

// dropInertArches leaves the inert architectures out of a rendered
// profile, unless that would leave none: a profile that lists nothing
// but inert ones is left as it is.
func dropInertArches(s *specs.LinuxSeccomp, inert []string) {
	kept := slices.DeleteFunc(slices.Clone(s.Architectures), func(a specs.Arch) bool { return slices.Contains(inert, string(a)) })
	if len(kept) > 0 {
		s.Architectures = kept
	}
}

// inertKey names a set of inert architectures in cache keys.
func inertKey(inert []string) string { return strings.Join(inert, ",") }
