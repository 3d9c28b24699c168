package hardening

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secshim/secshim/spec"
)

func hostWithInert(inert ...string) *Host {
	h := DefaultHost()
	h.InertSeccompArches = func() []string { return inert }
	return h
}

// A rendered profile lists the architectures the kernel runs and no
// other; what it lists for those is unchanged. The disk cache keeps the
// two renders apart: a state dir filled on one kernel serves another
// its own.
func TestInertArchesLeftOut(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the default profile lists x32 on amd64 only")
	}
	state := t.TempDir()
	p := seccompPolicy(t, SeccompPolicy{Profile: "default"})
	render := func(h *Host) (*specs.LinuxSeccomp, *Context) {
		t.Helper()
		doc, err := spec.ParseObject(specWithSeccomp(t, PodmanDefaultCaps, nil))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Apply(p, []Rule{seccompControl}, doc, Env{Host: h, StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		return seccompOf(t, doc), c
	}
	every, _ := render(hostWithInert())
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}; !slices.Equal(every.Architectures, want) {
		t.Fatalf("every ABI: architectures %v, want %v", every.Architectures, want)
	}
	noX32, c := render(hostWithInert(string(specs.ArchX32)))
	if len(c.Changes) != 1 || !strings.HasSuffix(c.Changes[0].To, ", without SCMP_ARCH_X32 (no such ABI in this kernel)") {
		t.Errorf("the change does not say x32 is left out: %v", c.Changes)
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86}; !slices.Equal(noX32.Architectures, want) {
		t.Errorf("no x32: architectures %v, want %v", noX32.Architectures, want)
	}
	noX32.Architectures = every.Architectures
	if !slices.EqualFunc(noX32.Syscalls, every.Syscalls, func(a, b specs.LinuxSyscall) bool {
		return slices.Equal(a.Names, b.Names) && a.Action == b.Action && len(a.Args) == len(b.Args)
	}) || noX32.DefaultAction != every.DefaultAction {
		t.Error("leaving x32 out changed the rules")
	}
	if again, _ := render(hostWithInert()); !slices.Equal(again.Architectures, every.Architectures) {
		t.Errorf("every ABI, from the cache: architectures %v", again.Architectures)
	}
}

// A profile that lists nothing but inert architectures keeps them: left
// with none, a filter would cover the native one instead.
func TestDropInertArchesKeepsALastOne(t *testing.T) {
	s := &specs.LinuxSeccomp{Architectures: []specs.Arch{specs.ArchX32}}
	dropInertArches(s, []string{string(specs.ArchX32)})
	if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX32}) {
		t.Errorf("architectures %v", s.Architectures)
	}
	s.Architectures = []specs.Arch{specs.ArchX86_64, specs.ArchX32, specs.ArchX86}
	dropInertArches(s, []string{string(specs.ArchX32)})
	if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
		t.Errorf("architectures %v", s.Architectures)
	}
}

// An engine profile that lists an inert architecture the policy's leaves
// out lets nothing more through for it; a live one it does.
func TestEngineLooserInertArch(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the default profile lists x32 on amd64 only")
	}
	inert := []string{string(specs.ArchX32)}
	pol, err := renderPolicy(SeccompPolicy{Profile: "default"}, PodmanDefaultCaps, inert)
	if err != nil {
		t.Fatal(err)
	}
	engine := rendered4(t, "default", PodmanDefaultCaps) // x86_64, x86 and x32
	doc, err := spec.ParseObject(specWithSeccomp(t, PodmanDefaultCaps, engine))
	if err != nil {
		t.Fatal(err)
	}
	linux, _, _ := doc.Object("linux")
	sec, _, _ := linux.Object("seccomp")
	if why, err := engineLooser(sec, pol.index, inert); err != nil || why != "" {
		t.Errorf("x32 inert: %q, %v; want not looser", why, err)
	}
	if why, _ := engineLooser(sec, pol.index, nil); why != "covers architecture SCMP_ARCH_X32, which the policy's does not" {
		t.Errorf("x32 live: %q", why)
	}
	// Kept by the rule on a kernel without x32: the engine's rules as it
	// sent them, without x32. With keep_inert_arches, whole.
	for _, keep := range []bool{false, true} {
		p := seccompPolicy(t, SeccompPolicy{Profile: "default", KeepEngine: true, KeepInertArches: keep})
		out, c := limTwiceOn(t, p, seccompControl, hostWithInert(inert...), doc.Bytes())
		got := seccompOf(t, out)
		if keep {
			if len(c.Changes) != 0 || out.Changed() {
				t.Errorf("keep_inert_arches: engine profile changed: %v", c.Changes)
			}
			continue
		}
		if len(c.Changes) != 1 || c.Changes[0].Field != "linux.seccomp.architectures" {
			t.Errorf("changes %v, want one, to linux.seccomp.architectures", c.Changes)
		}
		if !slices.Equal(got.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
			t.Errorf("architectures %v, want x86_64 and x86", got.Architectures)
		}
		want, _ := sec.Raw("syscalls")
		linux, _, _ := out.Object("linux")
		kept, _, _ := linux.Object("seccomp")
		if have, _ := kept.Raw("syscalls"); !bytes.Equal(have, want) {
			t.Error("the engine's rules were not kept as it sent them")
		}
	}
}

// keep_inert_arches renders every architecture the profile names.
func TestKeepInertArches(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the default profile lists x32 on amd64 only")
	}
	for _, keep := range []bool{false, true} {
		p := seccompPolicy(t, SeccompPolicy{Profile: "default", KeepInertArches: keep})
		doc, _, err := applyOne(t, seccompControl, p, string(specWithSeccomp(t, PodmanDefaultCaps, nil)), Env{Host: hostWithInert(string(specs.ArchX32)), StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(seccompOf(t, doc).Architectures, specs.ArchX32); got != keep {
			t.Errorf("keep_inert_arches = %v: x32 listed %v", keep, got)
		}
	}
}
