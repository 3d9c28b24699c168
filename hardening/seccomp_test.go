package hardening

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secshim/secshim/spec"
)

func testdataPath(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seccompPolicy is the baseline with its seccomp part replaced.
func seccompPolicy(t testing.TB, sp SeccompPolicy) *Policy {
	t.Helper()
	p, _ := builtin("baseline")
	p.Seccomp = sp
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

// limRule runs one rule through Apply (so the control's mode applies),
// on a kernel that runs every ABI.
func limRule(t testing.TB, p *Policy, r Rule, in []byte) (*spec.Object, *Context, error) {
	t.Helper()
	return limRuleOn(t, p, r, everyABIHost(), in)
}

// limRuleOn is limRule on a given host.
func limRuleOn(t testing.TB, p *Policy, r Rule, h *Host, in []byte) (*spec.Object, *Context, error) {
	t.Helper()
	doc, err := spec.ParseObject(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Apply(p, []Rule{r}, doc, Env{Host: h})
	return doc, c, err
}

// everyABIHost is this machine, but with a kernel that runs every ABI, so
// that what a test renders does not depend on the kernel it runs on.
func everyABIHost() *Host {
	h := DefaultHost()
	h.InertSeccompArches = nil
	return h
}

// limTwice applies r, then applies it again to the result and fails the
// test if the second pass changes or reports a change; on a kernel that
// runs every ABI.
func limTwice(t testing.TB, p *Policy, r Rule, in []byte) (*spec.Object, *Context) {
	t.Helper()
	return limTwiceOn(t, p, r, everyABIHost(), in)
}

// limTwiceOn is limTwice on a given host.
func limTwiceOn(t testing.TB, p *Policy, r Rule, h *Host, in []byte) (*spec.Object, *Context) {
	t.Helper()
	doc, c, err := limRuleOn(t, p, r, h, in)
	if err != nil {
		t.Fatalf("%s: %v", r.Control, err)
	}
	out := doc.Bytes()
	again, c2, err := limRuleOn(t, p, r, h, out)
	if err != nil || len(c2.Changes) != 0 || string(again.Bytes()) != string(out) {
		t.Errorf("%s not idempotent: second pass changed %v (err %v)", r.Control, c2.Changes, err)
	}
	return doc, c
}

func seccompOf(t testing.TB, doc *spec.Object) *specs.LinuxSeccomp {
	t.Helper()
	var s struct {
		Linux struct {
			Seccomp *specs.LinuxSeccomp `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal(doc.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	return s.Linux.Seccomp
}

// allowedAlways lists the syscalls a profile allows with no condition.
func allowedAlways(s *specs.LinuxSeccomp) []string {
	var out []string
	for _, r := range s.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			out = append(out, r.Names...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func specWithSeccomp(t testing.TB, bounding []string, sec any) []byte {
	t.Helper()
	m := map[string]any{
		"process": map[string]any{"capabilities": map[string]any{"bounding": bounding}},
		"linux":   map[string]any{},
	}
	if sec != nil {
		m["linux"] = map[string]any{"seccomp": sec}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rendered4 renders for a kernel that runs every ABI, whatever this
// one runs.
func rendered4(t testing.TB, profile string, bounding []string) *specs.LinuxSeccomp {
	t.Helper()
	r, err := renderPolicy(SeccompPolicy{Profile: profile}, bounding, nil)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(r.json, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// The custom profile renders per capability and architecture, and its
// filter stays within what it lists.
func TestSeccompCustomProfile(t *testing.T) {
	custom := testdataPath(t, "seccomp-custom.json")
	base := rendered4(t, custom, PodmanDefaultCaps)
	if base.DefaultAction != specs.ActErrno || !slices.Equal(base.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Errorf("default %s, architectures %v", base.DefaultAction, base.Architectures)
	}
	always := allowedAlways(base)
	for _, want := range []string{"read", "chroot", "arch_prctl"} {
		if !slices.Contains(always, want) {
			t.Errorf("baseline bounding: %s not allowed", want)
		}
	}
	for _, never := range []string{"mount", "unshare", "setns", "bpf"} {
		if slices.Contains(always, never) {
			t.Errorf("baseline bounding: %s allowed", never)
		}
	}
	restricted := allowedAlways(rendered4(t, custom, []string{"CAP_NET_BIND_SERVICE"}))
	if slices.Contains(restricted, "chroot") {
		t.Error("chroot allowed without CAP_SYS_CHROOT")
	}
	admin := allowedAlways(rendered4(t, custom, append(slices.Clone(PodmanDefaultCaps), "CAP_SYS_ADMIN")))
	if !slices.Contains(admin, "mount") || !slices.Contains(admin, "unshare") {
		t.Error("CAP_SYS_ADMIN does not bring mount and unshare")
	}

	// Through the rule, on every golden config: the custom profile is what
	// the container gets, and a second pass changes nothing.
	p := seccompPolicy(t, SeccompPolicy{Profile: custom, KeepEngine: true})
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			doc, c := limTwice(t, p, seccompControl, golden(t, name))
			got := seccompOf(t, doc)
			if got == nil || got.DefaultAction != specs.ActErrno || slices.Contains(allowedAlways(got), "fsconfig") {
				t.Errorf("not the custom profile: %+v", got)
			}
			if len(c.Changes) != 1 || !strings.Contains(c.Changes[0].To, custom) {
				t.Errorf("changes %v", c.Changes)
			}
		})
	}
}

func TestSeccompProfileValidation(t *testing.T) {
	good, err := os.ReadFile(testdataPath(t, "seccomp-custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(from, to string) string {
		if !strings.Contains(string(good), from) {
			t.Fatalf("testdata has no %q", from)
		}
		return strings.Replace(string(good), from, to, 1)
	}
	cases := []struct{ name, body, want string }{
		{"unknown syscall", edit(`"openat"`, `"opne_at"`), `unknown syscall "opne_at"`},
		{"allow by default", edit(`"defaultAction": "SCMP_ACT_ERRNO"`, `"defaultAction": "SCMP_ACT_ALLOW"`), "defaultAction"},
		{"log by default", edit(`"defaultAction": "SCMP_ACT_ERRNO"`, `"defaultAction": "SCMP_ACT_LOG"`), "defaultAction"},
		{"misspelt key", edit(`"excludes": {"caps": ["CAP_SYS_ADMIN"]}`, `"exclude": {"caps": ["CAP_SYS_ADMIN"]}`), `unknown field "exclude"`},
		{"capability without prefix", edit(`"includes": {"caps": ["CAP_SYS_CHROOT"]}`, `"includes": {"caps": ["SYS_CHROOT"]}`), "includes.caps[0]"},
		{"unknown arch filter", edit(`"arches": ["s390", "s390x"]`, `"arches": ["s390", "sparc"]`), `unknown architecture "sparc"`},
		{"unknown action", edit(`"SCMP_ACT_KILL_PROCESS"`, `"SCMP_ACT_KILL_ALL"`), "unknown action"},
		{"unknown operator", edit(`"SCMP_CMP_NE"`, `"SCMP_CMP_NEQ"`), "unknown operator"},
		{"errno name only", edit(`"errnoRet": 38`, `"errno": "ENOSYS"`), "errnoRet"},
		{"not JSON", "{", "unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "profile.json")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			p, _ := builtin("baseline")
			p.Seccomp.Profile = path
			err := p.Compile()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "seccomp.profile") {
				t.Errorf("Compile = %v, want an error naming seccomp.profile and %q", err, tc.want)
			}
		})
	}
	p, _ := builtin("baseline")
	p.Seccomp.Profile = filepath.Join(t.TempDir(), "missing.json")
	if err := p.Compile(); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	// Both real profiles pass: Podman's own (containers/common format) and
	// the one written for these tests.
	for _, name := range []string{"seccomp-custom.json", "podman-seccomp.json"} {
		seccompPolicy(t, SeccompPolicy{Profile: testdataPath(t, name)})
	}
}

// Every name in the profiles secshim renders or keeps is in the table.
func TestSyscallNamesKnown(t *testing.T) {
	var names []string
	for _, s := range seccomp.DefaultProfile().Syscalls {
		names = append(names, s.Names...)
	}
	for _, g := range goldens {
		var d struct {
			Linux struct {
				Seccomp *specs.LinuxSeccomp `json:"seccomp"`
			} `json:"linux"`
		}
		if err := json.Unmarshal(golden(t, g), &d); err != nil {
			t.Fatal(err)
		}
		if d.Linux.Seccomp != nil {
			for _, r := range d.Linux.Seccomp.Syscalls {
				names = append(names, r.Names...)
			}
		}
	}
	for _, n := range names {
		if !KnownSyscall(n) {
			t.Errorf("%s is not in the syscall table", n)
		}
	}
	for _, tc := range []struct {
		arch, name string
		nr         int
	}{{"amd64", "read", 0}, {"amd64", "openat", 257}, {"arm64", "openat", 56}, {"386", "socketcall", 102}, {"arm", "breakpoint", 0x0f0001}} {
		if nr, ok := SyscallNumber(tc.arch, tc.name); !ok || nr != tc.nr {
			t.Errorf("SyscallNumber(%s, %s) = %d, %v; want %d", tc.arch, tc.name, nr, ok, tc.nr)
		}
	}
	for _, bad := range []string{"", "opne", "READ", "socketcall "} {
		if KnownSyscall(bad) {
			t.Errorf("%q is known", bad)
		}
	}
	if _, ok := SyscallNumber("amd64", "socketcall"); ok {
		t.Error("socketcall has a number on amd64")
	}
}

// mutate returns a copy of a rendered profile changed by f.
func mutate(s *specs.LinuxSeccomp, f func(*specs.LinuxSeccomp)) *specs.LinuxSeccomp {
	b, _ := json.Marshal(s)
	var c specs.LinuxSeccomp
	_ = json.Unmarshal(b, &c)
	f(&c)
	return &c
}

func removeName(s *specs.LinuxSeccomp, name string) {
	for i := range s.Syscalls {
		s.Syscalls[i].Names = slices.DeleteFunc(s.Syscalls[i].Names, func(n string) bool { return n == name })
	}
	s.Syscalls = slices.DeleteFunc(s.Syscalls, func(r specs.LinuxSyscall) bool { return len(r.Names) == 0 })
}

// splitRules is the profile with one rule per syscall name, in reverse
// order, and each rule's arguments reversed: the same filter.
func splitRules(s *specs.LinuxSeccomp) {
	var out []specs.LinuxSyscall
	for _, r := range s.Syscalls {
		for _, n := range r.Names {
			c := r
			c.Names = []string{n}
			c.Args = slices.Clone(r.Args)
			slices.Reverse(c.Args)
			out = append(out, c)
		}
	}
	slices.Reverse(out)
	s.Syscalls = out
}

// KeepEngine keeps an engine profile exactly when it lets nothing through
// that the policy's would refuse.
func TestSeccompKeepEngine(t *testing.T) {
	bounding := PodmanDefaultCaps
	pol := rendered4(t, "default", bounding)
	uint1 := uint(1)
	cases := []struct {
		name string
		sec  any
		keep bool
		why  string
	}{
		{"the policy's own", pol, true, ""},
		{"one rule per syscall, reordered", mutate(pol, splitRules), true, ""},
		{"without one syscall", mutate(pol, func(s *specs.LinuxSeccomp) { removeName(s, "read") }), true, ""},
		{"kill instead of errno", mutate(pol, func(s *specs.LinuxSeccomp) { s.DefaultAction, s.DefaultErrnoRet = specs.ActKillProcess, nil }), true, ""},
		{"an extra refusal", mutate(pol, func(s *specs.LinuxSeccomp) {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"ptrace"}, Action: specs.ActErrno, ErrnoRet: &uint1})
		}), true, ""},
		{"only native arch", mutate(pol, func(s *specs.LinuxSeccomp) { s.Architectures = nil }), true, ""},
		{"TSYNC flag", mutate(pol, func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"} }), true, ""},

		{"an extra syscall", mutate(pol, func(s *specs.LinuxSeccomp) {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"unshare"}, Action: specs.ActAllow})
		}), false, "allows unshare"},
		{"a syscall the policy denies with ENOSYS", mutate(pol, func(s *specs.LinuxSeccomp) {
			removeName(s, "clone3")
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActAllow})
		}), false, "clone3"},
		{"an argument condition dropped", mutate(pol, func(s *specs.LinuxSeccomp) {
			removeName(s, "personality")
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow})
		}), false, "personality"},
		{"an argument condition changed", mutate(pol, func(s *specs.LinuxSeccomp) {
			for i := range s.Syscalls {
				if slices.Contains(s.Syscalls[i].Names, "clone") && len(s.Syscalls[i].Args) > 0 {
					s.Syscalls[i].Args[0].Value = 0
				}
			}
		}), false, "clone"},
		{"logged, not allowed", mutate(pol, func(s *specs.LinuxSeccomp) {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"kexec_load"}, Action: specs.ActLog})
		}), false, "kexec_load"},
		{"handed to a supervisor", mutate(pol, func(s *specs.LinuxSeccomp) {
			s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"mount"}, Action: specs.ActNotify})
		}), false, "mount"},
		{"allow by default", mutate(pol, func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActAllow }), false, "SCMP_ACT_ALLOW"},
		{"notify by default", mutate(pol, func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActNotify }), false, "SCMP_ACT_NOTIFY"},
		{"trace by default", mutate(pol, func(s *specs.LinuxSeccomp) { s.DefaultAction = specs.ActTrace }), false, "SCMP_ACT_TRACE"},
		{"an extra architecture", mutate(pol, func(s *specs.LinuxSeccomp) { s.Architectures = append(s.Architectures, specs.ArchAARCH64) }), false, "SCMP_ARCH_AARCH64"},
		{"speculation mitigation off", mutate(pol, func(s *specs.LinuxSeccomp) { s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow} }), false, "SPEC_ALLOW"},
		{"none", nil, false, ""},
	}
	p := seccompPolicy(t, SeccompPolicy{Profile: "default", KeepEngine: true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := specWithSeccomp(t, bounding, tc.sec)
			doc, c := limTwice(t, p, seccompControl, in)
			if tc.keep {
				if doc.Changed() || len(c.Changes) != 0 {
					t.Errorf("engine profile replaced: %v", c.Changes)
				}
				return
			}
			if len(c.Changes) != 1 || !strings.Contains(c.Changes[0].From, tc.why) {
				t.Fatalf("changes %v, want one naming %q", c.Changes, tc.why)
			}
			if got := seccompOf(t, doc); !slices.Equal(allowedAlways(got), allowedAlways(pol)) || got.DefaultAction != pol.DefaultAction {
				t.Error("not replaced by the policy's profile")
			}
		})
	}
	// Without KeepEngine, anything but the policy's own is replaced.
	strict := seccompPolicy(t, SeccompPolicy{Profile: "default"})
	doc, c := limTwice(t, strict, seccompControl, specWithSeccomp(t, bounding, mutate(pol, splitRules)))
	if len(c.Changes) != 1 || !doc.Changed() {
		t.Errorf("keep_engine off kept the engine's: %v", c.Changes)
	}
	if _, c := limTwice(t, strict, seccompControl, specWithSeccomp(t, bounding, pol)); len(c.Changes) != 0 {
		t.Errorf("the policy's own profile replaced: %v", c.Changes)
	}
}

// On real Podman configs: Podman's profile allows what the Docker default
// refuses (fsconfig, unshare...), so the baseline replaces it; against
// Podman's own profile file it is kept, unless a capability it was
// rendered for has been dropped since.
func TestSeccompKeepEngineGoldens(t *testing.T) {
	podman := testdataPath(t, "podman-seccomp.json")
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			in := golden(t, name)
			engine := seccompOf(t, mustParse(t, in))

			doc, c := limTwice(t, Default(), seccompControl, in)
			if len(c.Changes) != 1 || seccompOf(t, doc).DefaultAction != specs.ActErrno {
				t.Errorf("baseline: changes %v", c.Changes)
			}
			if engine != nil && !strings.Contains(c.Changes[0].From, "engine profile allows") {
				t.Errorf("baseline: %v does not say what the engine's allows", c.Changes)
			}

			own := seccompPolicy(t, SeccompPolicy{Profile: podman, KeepEngine: true})
			doc, c = limTwice(t, own, seccompControl, in)
			if engine != nil && (len(c.Changes) != 0 || doc.Changed()) {
				t.Errorf("Podman's profile against itself replaced: %v", c.Changes)
			}
			if engine == nil && len(c.Changes) != 1 {
				t.Errorf("no profile and nothing rendered: %v", c.Changes)
			}
		})
	}
	// --cap-add=SYS_ADMIN: Podman rendered bpf, sethostname... for it; once
	// the capability is dropped, that profile is looser than the policy's.
	p := seccompPolicy(t, SeccompPolicy{Profile: podman, KeepEngine: true})
	out, _ := harden(t, p, golden(t, "podman-cap-add-sys-admin.json"))
	sec := seccompOf(t, mustParse(t, out))
	for _, n := range []string{"bpf", "sethostname", "quotactl"} {
		if slices.Contains(allowedAlways(sec), n) {
			t.Errorf("%s still allowed after CAP_SYS_ADMIN was dropped", n)
		}
	}
}

func mustParse(t testing.TB, b []byte) *spec.Object {
	t.Helper()
	doc, err := spec.ParseObject(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSeccompAudit(t *testing.T) {
	p := seccompPolicy(t, SeccompPolicy{Profile: "default", KeepEngine: true, Audit: true})
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			doc, c := limTwice(t, p, seccompControl, golden(t, name))
			got := seccompOf(t, doc)
			if got.DefaultAction != specs.ActLog || got.DefaultErrnoRet != nil {
				t.Errorf("default %s errno %v, want SCMP_ACT_LOG", got.DefaultAction, got.DefaultErrnoRet)
			}
			if len(c.Changes) != 1 || !strings.Contains(c.Changes[0].To, "audit") {
				t.Errorf("changes %v", c.Changes)
			}
			// The rules are the enforcing profile's: only unlisted
			// syscalls are logged instead of refused.
			bounding, _ := boundingOf(mustObject(t, doc, "process"))
			enforcing := rendered4(t, "default", bounding)
			if !slices.Equal(allowedAlways(got), allowedAlways(enforcing)) || len(got.Syscalls) != len(enforcing.Syscalls) {
				t.Error("audit rules differ from the enforcing profile's")
			}
		})
	}
}

func mustObject(t testing.TB, doc *spec.Object, key string) *spec.Object {
	t.Helper()
	o, ok, err := doc.Object(key)
	if err != nil || !ok {
		t.Fatalf("%s: %v", key, err)
	}
	return o
}

// A malformed engine profile is an error naming the field, not a reason
// to keep or silently replace it.
func TestSeccompMalformedEngineProfile(t *testing.T) {
	p := seccompPolicy(t, SeccompPolicy{Profile: "default", KeepEngine: true})
	for _, sec := range []string{
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":{}}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}`,
		`{"defaultAction":7}`,
		`[]`,
	} {
		in := `{"process":{"capabilities":{"bounding":[]}},"linux":{"seccomp":` + sec + `}}`
		if _, _, err := limRule(t, p, seccompControl, []byte(in)); err == nil || !strings.Contains(err.Error(), "seccomp") {
			t.Errorf("%s: err %v", sec, err)
		}
	}
}

// Podman's default config (~10 KB of seccomp rules) against the baseline:
// the check runs on every create.
func BenchmarkSeccompRule(b *testing.B) {
	podman, err := os.ReadFile(filepath.Join("..", "tests", "golden", "podman-default.json"))
	if err != nil {
		b.Fatal(err)
	}
	own := testdataPath(b, "podman-seccomp.json")
	keepOwn := seccompPolicy(b, SeccompPolicy{Profile: own, KeepEngine: true})
	bounding := PodmanDefaultCaps
	pol := rendered4(b, "default", bounding)
	split := specWithSeccomp(b, bounding, mutate(pol, splitRules))
	same := specWithSeccomp(b, bounding, pol)
	cases := []struct {
		name string
		p    *Policy
		in   []byte
	}{
		{"podman-default/baseline(replaced)", Default(), podman},
		{"podman-default/own-profile(kept)", keepOwn, podman},
		{"rendered/baseline(bytes-equal)", Default(), same},
		{"split-rules/baseline(kept)", Default(), split},
	}
	for _, tc := range cases {
		for _, cold := range []bool{false, true} {
			name := tc.name + "/warm"
			if cold {
				name = tc.name + "/cold"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if cold {
						rendered.Lock()
						rendered.m = nil
						rendered.Unlock()
					}
					doc, _ := spec.ParseObject(tc.in)
					c := &Context{Policy: tc.p, Doc: doc, State: map[string]any{}}
					if err := seccompRule(c); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
