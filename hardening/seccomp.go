package hardening

//go:generate go run gen_syscalls.go

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secshim/secshim/spec"
)

var seccompControl = Rule{Control: "seccomp", Apply: seccompRule, Validate: validateSeccomp}

// seccompRule makes sure an enforcing seccomp filter is always present.
// The policy's profile is rendered against the final bounding set, since
// Docker-format profiles grant syscalls per capability. An engine's own
// profile is kept when the policy says so and it is at least as strict as
// the rendered one (see engineLooser); a missing one (--privileged,
// seccomp=unconfined) or one that lets unlisted syscalls through is
// always replaced.
func seccompRule(c *Context) error {
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	bounding := []string{}
	proc, ok, err := c.Doc.Object("process")
	if err != nil {
		return err
	}
	if ok {
		if bounding, err = boundingOf(proc); err != nil {
			return err
		}
	}
	sp := c.Policy.Seccomp
	var inert []string
	if !sp.KeepInertArches {
		inert = inertArchesOf(hostOf(c))
	}
	dc := newSeccompDiskCache(c.Env.StateDir, sp, bounding, inert)
	sec, present, err := linux.Object("seccomp")
	if err != nil {
		return err
	}
	// want is the policy's rendered profile once known: from a sealed cache
	// entry or the encoder, valid JSON either way, and this rule's own.
	var want []byte
	from := ""
	if present {
		have := sec.Bytes()
		action, _, err := sec.String("defaultAction")
		if err != nil {
			return err
		}
		from = "defaultAction " + orNone(action)
		if sp.KeepEngine && !sp.Audit && denying(action) {
			// One cache entry decides, and holds the replacement.
			why, rendered, cached := dc.verdict(have)
			if !cached {
				r, err := renderPolicy(sp, bounding, inert)
				if err != nil {
					return err
				}
				if !bytes.Equal(have, r.json) {
					if why, err = engineLooser(sec, r.index, inert); err != nil {
						return err
					}
				}
				rendered = r.json
				dc.storeVerdict(have, why, rendered)
			}
			if why == "" {
				return dropInertFromEngine(c, sec, inert)
			}
			from, want = "engine profile "+why, rendered
		}
	}
	if want == nil {
		if want = dc.rendered(); want == nil {
			r, err := renderPolicy(sp, bounding, inert)
			if err != nil {
				return err
			}
			want = r.json
			dc.storeRendered(want)
		}
		if present && bytes.Equal(sec.Bytes(), want) {
			return nil
		}
	}
	to := "profile " + sp.Profile
	if sp.Audit {
		to += " (audit: default action SCMP_ACT_LOG)"
	}
	for _, a := range inert {
		if !bytes.Contains(want, []byte(`"`+a+`"`)) {
			to += ", without " + a + " (no such ABI in this kernel)"
		}
	}
	c.changed("seccomp", "linux.seccomp", from, to)
	return linux.SetValidated("seccomp", want)
}

// dropInertFromEngine leaves the inert architectures (abi.go) out of an
// engine profile that is kept; its rules stay as the engine sent them.
func dropInertFromEngine(c *Context, sec *spec.Object, inert []string) error {
	if len(inert) == 0 {
		return nil
	}
	arches, _, err := sec.Strings("architectures")
	if err != nil {
		return err
	}
	var kept, dropped []string
	for _, a := range arches {
		if slices.Contains(inert, a) {
			dropped = append(dropped, a)
		} else {
			kept = append(kept, a)
		}
	}
	if len(dropped) == 0 || len(kept) == 0 {
		return nil
	}
	c.changed("seccomp", "linux.seccomp.architectures", strings.Join(arches, ","),
		strings.Join(kept, ",")+" (engine profile kept, without "+strings.Join(dropped, ",")+": no such ABI in this kernel)")
	return sec.SetStrings("architectures", kept)
}

// denying reports whether an action refuses the syscall: an error, a
// signal or death. ALLOW and LOG let it through; TRACE and NOTIFY hand
// the decision to a tracer or supervisor, which may let it through too.
func denying(a string) bool {
	switch specs.LinuxSeccompAction(a) {
	case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap:
		return true
	}
	return false
}

func knownAction(a specs.LinuxSeccompAction) bool {
	switch a {
	case specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActAllow, specs.ActLog, specs.ActTrace, specs.ActNotify:
		return true
	}
	return false
}

// boundingOf reads process.capabilities.bounding; absent means empty.
func boundingOf(proc *spec.Object) ([]string, error) {
	caps, ok, err := proc.Object("capabilities")
	if err != nil || !ok {
		return []string{}, err
	}
	b, ok, err := caps.Strings("bounding")
	if err != nil {
		return nil, err
	}
	if !ok {
		b = []string{}
	}
	return b, nil
}

// RenderSeccomp turns a Docker/Podman-format profile ("default" for the
// built-in one, or a file path) into the runtime-spec form for the given
// bounding set, on this machine.
func RenderSeccomp(profile string, bounding []string) ([]byte, error) {
	r, err := renderPolicy(SeccompPolicy{Profile: profile}, bounding, kernelInertArches())
	if err != nil {
		return nil, err
	}
	return r.json, nil
}

// renderedProfile is a policy profile in runtime-spec form, as JSON and
// indexed for the strictness check.
type renderedProfile struct {
	json  []byte
	index *profileIndex
}

type renderKey struct {
	profile  string
	audit    bool
	bounding string
	inert    string
}

// rendered caches rendered profiles for the life of the process: a create
// hardens with the floor profile and then the chosen one, and a bounding
// set is usually the same for both.
var rendered struct {
	sync.Mutex
	m map[renderKey]*renderedProfile
}

// renderPolicy renders sp for a bounding set, leaving out the inert
// architectures (abi.go).
func renderPolicy(sp SeccompPolicy, bounding []string, inert []string) (*renderedProfile, error) {
	if sp.Profile == "" {
		sp.Profile = "default"
	}
	key := renderKey{sp.Profile, sp.Audit, strings.Join(bounding, "\x00"), inertKey(inert)}
	rendered.Lock()
	defer rendered.Unlock()
	if r, ok := rendered.m[key]; ok {
		return r, nil
	}
	out, err := renderSpec(sp.Profile, bounding)
	if err != nil {
		return nil, err
	}
	if sp.Audit {
		out.DefaultAction, out.DefaultErrnoRet = specs.ActLog, nil
	}
	dropInertArches(out, inert)
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	r := &renderedProfile{json: b, index: indexRendered(out)}
	if rendered.m == nil {
		rendered.m = map[renderKey]*renderedProfile{}
	}
	rendered.m[key] = r
	return r, nil
}

func renderSpec(profile string, bounding []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
	var (
		out *specs.LinuxSeccomp
		err error
	)
	if profile == "default" {
		out, err = seccomp.GetDefaultProfile(rs)
	} else {
		var body string
		if body, err = customProfile(profile); err != nil {
			return nil, err
		}
		out, err = seccomp.LoadProfile(body, rs)
	}
	if err != nil {
		return nil, fmt.Errorf("policy seccomp.profile %s: %w", profile, err)
	}
	if out == nil || !denying(string(out.DefaultAction)) {
		return nil, fmt.Errorf("policy seccomp.profile %s: does not enforce (default action %q)", profile, actionOf(out))
	}
	return out, nil
}

func actionOf(s *specs.LinuxSeccomp) string {
	if s == nil {
		return ""
	}
	return string(s.DefaultAction)
}

// customProfiles holds custom profile files read and checked once, so
// that what Validate checked is what Apply renders.
var customProfiles struct {
	sync.Mutex
	m map[string]string
}

func customProfile(path string) (string, error) {
	customProfiles.Lock()
	defer customProfiles.Unlock()
	if body, ok := customProfiles.m[path]; ok {
		return body, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("seccomp.profile: %w", err)
	}
	if err := checkProfile(b); err != nil {
		return "", fmt.Errorf("seccomp.profile %s: %w", path, err)
	}
	if customProfiles.m == nil {
		customProfiles.m = map[string]string{}
	}
	customProfiles.m[path] = string(b)
	return string(b), nil
}

func validateSeccomp(p *Policy) error {
	if p.Seccomp.Profile == "" || p.Seccomp.Profile == "default" {
		return nil
	}
	_, err := customProfile(p.Seccomp.Profile)
	return err
}

// checkProfile checks a Docker/Podman-format profile. It is strict where
// leniency would loosen the filter without a word: an unknown key (a
// misspelt "excludes" makes a rule unconditional), an unknown syscall
// name (runc silently skips those, so a denial would vanish), a
// capability or architecture condition that can never match.
func checkProfile(body []byte) error {
	var p podmanProfile
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	if !denying(string(p.DefaultAction)) {
		return fmt.Errorf("defaultAction %q does not refuse the syscalls the profile does not list", p.DefaultAction)
	}
	if p.DefaultErrno != "" && p.DefaultErrnoRet == nil {
		return fmt.Errorf("defaultErrno %q: only defaultErrnoRet is applied; set it", p.DefaultErrno)
	}
	for i, a := range p.Architectures {
		if !knownArch(a) {
			return fmt.Errorf("architectures[%d]: unknown architecture %q", i, a)
		}
	}
	for i, m := range p.ArchMap {
		if !knownArch(m.Arch) {
			return fmt.Errorf("archMap[%d].architecture: unknown architecture %q", i, m.Arch)
		}
		for j, a := range m.SubArches {
			if !knownArch(a) {
				return fmt.Errorf("archMap[%d].subArchitectures[%d]: unknown architecture %q", i, j, a)
			}
		}
	}
	for i, f := range p.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			return fmt.Errorf("flags[%d]: unknown flag %q", i, f)
		}
	}
	for i, s := range p.Syscalls {
		if s == nil {
			return fmt.Errorf("syscalls[%d]: null", i)
		}
		if s.Errno != "" && s.ErrnoRet == nil {
			return fmt.Errorf("syscalls[%d].errno %q: only errnoRet is applied; set it", i, s.Errno)
		}
		names := s.Names
		if s.Name != "" {
			names = append(names, s.Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("syscalls[%d]: no names", i)
		}
		for j, n := range names {
			if !KnownSyscall(n) {
				return fmt.Errorf("syscalls[%d].names[%d]: unknown syscall %q", i, j, n)
			}
		}
		if !knownAction(s.Action) {
			return fmt.Errorf("syscalls[%d].action: unknown action %q", i, s.Action)
		}
		for j, a := range s.Args {
			if a.Index > 5 {
				return fmt.Errorf("syscalls[%d].args[%d].index: %d is not an argument (0-5)", i, j, a.Index)
			}
			switch a.Op {
			case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
				specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
			default:
				return fmt.Errorf("syscalls[%d].args[%d].op: unknown operator %q", i, j, a.Op)
			}
		}
		for _, f := range []struct {
			key string
			f   *seccomp.Filter
		}{{"includes", s.Includes}, {"excludes", s.Excludes}} {
			if f.f == nil {
				continue
			}
			for j, c := range f.f.Caps {
				if n, ok := CapNumber(c); !ok || capNames[n] != c {
					return fmt.Errorf("syscalls[%d].%s.caps[%d]: %q is not a capability as specs spell it (e.g. CAP_SYS_ADMIN)", i, f.key, j, c)
				}
			}
			for j, a := range f.f.Arches {
				if !slices.Contains(profileArches, a) {
					return fmt.Errorf("syscalls[%d].%s.arches[%d]: unknown architecture %q (known: %s)", i, f.key, j, a, strings.Join(profileArches, ", "))
				}
			}
		}
	}
	return nil
}

// podmanProfile is the Docker profile format with the two fields
// containers/common adds (errno names, for reading; the numbers in
// errnoRet and defaultErrnoRet are what is applied).
type podmanProfile struct {
	seccomp.Seccomp
	DefaultErrno string           `json:"defaultErrno,omitempty"`
	Syscalls     []*podmanSyscall `json:"syscalls"`
}

type podmanSyscall struct {
	seccomp.Syscall
	Errno string `json:"errno,omitempty"`
}

// profileArches are the architecture names of includes/excludes filters
// (libseccomp's native names, as moby/profiles matches them).
var profileArches = []string{
	"x86", "amd64", "x32", "arm", "arm64", "loongarch64", "mips", "mipsel", "mips64", "mips64n32",
	"mipsel64", "mipsel64n32", "mips3l64n32", "ppc", "ppc64", "ppc64le", "riscv64", "s390", "s390x",
	"parisc", "parisc64",
}

func knownArch(a specs.Arch) bool {
	switch a {
	case specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64, specs.ArchMIPS,
		specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
		specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X, specs.ArchPARISC,
		specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB:
		return true
	}
	return false
}

// KnownSyscall reports whether name is a Linux syscall on some
// architecture (zsyscalls.go). libseccomp resolves every such name on
// every architecture (as a pseudo-syscall where it does not exist), so
// this is the name check libseccomp would make, without cgo.
func KnownSyscall(name string) bool {
	_, ok := syscallRow(name)
	return ok
}

// SyscallNumber is name's number on a GOARCH, if it has one there.
func SyscallNumber(goarch, name string) (int, bool) {
	col := slices.Index(syscallArches[:], goarch)
	row, ok := syscallRow(name)
	if col < 0 || !ok || syscallTable[row].nr[col] < 0 {
		return 0, false
	}
	return int(syscallTable[row].nr[col]), true
}

func syscallRow(name string) (int, bool) {
	i := sort.Search(len(syscallTable), func(i int) bool { return syscallTable[i].name >= name })
	return i, i < len(syscallTable) && syscallTable[i].name == name
}

// profileIndex is what the strictness check needs of the policy's profile.
type profileIndex struct {
	arches []string
	flags  []string
	// open are the syscalls every call of which goes through: an
	// unconditional ALLOW or LOG rule, and no rule that refuses.
	open map[string]bool
	// rules are the canonical forms (ruleKey) of every rule naming each
	// other syscall the profile lists, sorted and without duplicates.
	rules map[string][]string
}

func indexRendered(s *specs.LinuxSeccomp) *profileIndex {
	x := &profileIndex{rules: map[string][]string{}}
	for _, a := range s.Architectures {
		x.arches = append(x.arches, string(a))
	}
	for _, f := range s.Flags {
		x.flags = append(x.flags, string(f))
	}
	total := 0
	closed := map[string]bool{}
	for _, r := range s.Syscalls {
		total += len(r.Names)
		if r.Action != specs.ActAllow && r.Action != specs.ActLog {
			for _, n := range r.Names {
				closed[n] = true
			}
		}
	}
	x.open = make(map[string]bool, total)
	for _, r := range s.Syscalls {
		passes := r.Action == specs.ActAllow || r.Action == specs.ActLog
		if passes && len(r.Args) == 0 {
			for _, n := range r.Names {
				if !closed[n] {
					x.open[n] = true
				}
			}
		}
	}
	for _, r := range s.Syscalls {
		var key string
		for _, n := range r.Names {
			if x.open[n] {
				continue
			}
			if key == "" {
				args := make([]string, len(r.Args))
				for i, a := range r.Args {
					args[i] = argKey(uint64(a.Index), a.Value, a.ValueTwo, string(a.Op))
				}
				key = ruleKey(string(r.Action), r.ErrnoRet != nil, uint64(ptrVal(r.ErrnoRet)), args)
			}
			x.rules[n] = append(x.rules[n], key)
		}
	}
	for n, rs := range x.rules {
		x.rules[n] = sortedUnique(rs)
	}
	return x
}

func ptrVal(p *uint) uint {
	if p == nil {
		return 0
	}
	return *p
}

func argKey(index, value, valueTwo uint64, op string) string {
	return strconv.FormatUint(index, 10) + " " + op + " " + strconv.FormatUint(value, 10) + " " + strconv.FormatUint(valueTwo, 10)
}

// ruleKey is a rule's canonical form: its arguments are a conjunction,
// so their order does not matter.
func ruleKey(action string, hasErrno bool, errno uint64, args []string) string {
	slices.Sort(args)
	e := "-"
	if hasErrno {
		e = strconv.FormatUint(errno, 10)
	}
	return action + "|" + e + "|" + strings.Join(args, ";")
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// engineLooser compares an engine's profile (whose default action
// refuses) with the policy's, and says how the engine's lets more
// through, or "" when it is at least as strict:
//   - its architectures are among the policy's (a filter refuses the
//     architectures it does not list), inert ones aside (abi.go), and
//     its flags add none beyond
//     TSYNC and LOG (SPEC_ALLOW turns off a mitigation);
//   - every syscall one of its rules may let through (ALLOW, LOG, TRACE,
//     NOTIFY, or an unknown action) is one the policy lets through
//     always, or one for which both profiles have exactly the same rules.
//
// Rules that refuse can only make the engine's stricter, so they are
// only read for syscalls whose rules must match. The check is sound but
// not complete: an engine profile that is stricter in a way it cannot
// see (a narrower argument condition) is replaced by the policy's, which
// is still within the policy.
func engineLooser(sec *spec.Object, pol *profileIndex, inert []string) (string, error) {
	arches, _, err := sec.Strings("architectures")
	if err != nil {
		return "", err
	}
	for _, a := range arches {
		if !slices.Contains(pol.arches, a) && !slices.Contains(inert, a) {
			return "covers architecture " + a + ", which the policy's does not", nil
		}
	}
	flags, _, err := sec.Strings("flags")
	if err != nil {
		return "", err
	}
	for _, f := range flags {
		if f != "SECCOMP_FILTER_FLAG_TSYNC" && f != string(specs.LinuxSeccompFlagLog) && !slices.Contains(pol.flags, f) {
			return "sets flag " + f + ", which the policy's does not", nil
		}
	}
	rules, _, err := sec.Array("syscalls")
	if err != nil {
		return "", err
	}
	var (
		mine map[string][]string // the engine's rules for syscalls that must match
		must []string
	)
	for i, raw := range rules {
		where := func() string { return fmt.Sprintf("linux.seccomp.syscalls[%d]", i) }
		r, err := spec.ParseElement(raw)
		if err != nil {
			return "", fmt.Errorf("%s: %w", where(), err)
		}
		names, _, err := r.Strings("names")
		if err != nil {
			return "", fmt.Errorf("%s: %w", where(), err)
		}
		action, _, err := r.String("action")
		if err != nil {
			return "", fmt.Errorf("%s: %w", where(), err)
		}
		passes := !denying(action)
		key := ""
		for _, n := range names {
			if pol.open[n] {
				continue
			}
			if _, listed := pol.rules[n]; passes && !listed {
				return "allows " + n + ", which the policy's refuses", nil
			}
			if key == "" {
				if key, err = engineRuleKey(r, action); err != nil {
					return "", fmt.Errorf("%s: %w", where(), err)
				}
			}
			if mine == nil {
				mine = map[string][]string{}
			}
			mine[n] = append(mine[n], key)
			if passes {
				must = append(must, n)
			}
		}
	}
	for _, n := range sortedUnique(must) {
		if !slices.Equal(sortedUnique(mine[n]), pol.rules[n]) {
			return "allows " + n + " under other conditions than the policy's", nil
		}
	}
	return "", nil
}

// engineRuleKey is ruleKey for a rule of a runtime-spec profile.
func engineRuleKey(r *spec.Object, action string) (string, error) {
	errno, hasErrno, err := uintMember(r, "errnoRet")
	if err != nil {
		return "", err
	}
	raws, _, err := r.Array("args")
	if err != nil {
		return "", err
	}
	args := make([]string, len(raws))
	for i, raw := range raws {
		a, err := spec.ParseElement(raw)
		if err != nil {
			return "", fmt.Errorf("args[%d]: %w", i, err)
		}
		index, _, err1 := uintMember(a, "index")
		value, _, err2 := uintMember(a, "value")
		two, _, err3 := uintMember(a, "valueTwo")
		op, _, err4 := a.String("op")
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return "", fmt.Errorf("args[%d]: %w", i, err)
		}
		args[i] = argKey(index, value, two, op)
	}
	return ruleKey(action, hasErrno, errno, args), nil
}

// uintMember reads an unsigned integer member (seccomp values use the
// whole uint64 range, beyond what Int64 reads).
func uintMember(o *spec.Object, key string) (uint64, bool, error) {
	raw, ok := o.Raw(key)
	if !ok || string(raw) == "null" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s: expected an unsigned integer, found %.20s", key, raw)
	}
	return n, true, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
