package hardening

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/secshim/secshim/spec"
)

// fakeHost answers like a host with the given LSMs, whose namespaces are
// the files /proc/1/ns/* and secshim's own /proc/self/ns/*; any other
// namespace path is a pod's, except missing and unreadable ones.
func fakeHost(selinux, apparmor bool, loaded map[string]string) *Host {
	return &Host{
		SELinuxEnabled:  func() bool { return selinux },
		AppArmorEnabled: func() bool { return apparmor },
		AppArmorProfileMode: func(name string) (string, error) {
			if loaded == nil {
				return "", errors.New("no profile list")
			}
			return loaded[name], nil
		},
		NamespaceID: func(path string) (NSID, error) {
			switch {
			case strings.HasPrefix(path, "/proc/1/ns/"):
				return NSID{1, uint64(len(path))}, nil
			case strings.HasPrefix(path, "/proc/self/ns/"):
				return NSID{3, uint64(len(path))}, nil
			case strings.Contains(path, "missing"):
				return NSID{}, fmt.Errorf("stat %s: %w", path, os.ErrNotExist)
			case strings.Contains(path, "denied"):
				return NSID{}, fmt.Errorf("stat %s: %w", path, os.ErrPermission)
			}
			return NSID{2, uint64(len(path))}, nil
		},
		HostNamespace: func(typ string) (NSID, error) {
			return NSID{1, uint64(len("/proc/1/ns/" + ProcNSName(typ)))}, nil
		},
		RuntimeNamespace: func(typ string) (NSID, error) {
			return NSID{3, uint64(len("/proc/self/ns/" + ProcNSName(typ)))}, nil
		},
	}
}

func selinuxPolicy(t *testing.T, mutate func(*Policy)) *Policy {
	t.Helper()
	p, _ := builtin("baseline")
	p.SELinux.Force = true
	if mutate != nil {
		mutate(p)
	}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

// applyOne runs one control over in, as Harden would, and returns the
// document and the findings.
func applyOne(t *testing.T, r Rule, p *Policy, in string, env Env) (*spec.Object, *Context, error) {
	t.Helper()
	doc, err := spec.ParseObject([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Apply(p, []Rule{r}, doc, env)
	return doc, c, err
}

var labelRE = regexp.MustCompile(`^system_u:system_r:container_t:s0:c(\d+),c(\d+)$`)

func pairOf(t *testing.T, label string) mcsPair {
	t.Helper()
	i := strings.LastIndex(label, ":s0:")
	if i < 0 {
		t.Fatalf("no level in %q", label)
	}
	p, ok, err := parseLevel(label[i+1:])
	if err != nil || !ok {
		t.Fatalf("level of %q: %v", label, err)
	}
	return p
}

func readTable(t *testing.T, dir string) map[mcsPair]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, mcsFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	tab, err := parseMCSTable("table", data)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestSELinuxLabelsAndReserves(t *testing.T) {
	dir := t.TempDir()
	env := Env{ContainerID: "ctr-a", StateDir: dir, Host: fakeHost(false, false, nil)}
	doc, c, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), `{"process":{"args":["sh"]},"linux":{"x":1}}`, env)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, doc.Bytes())
	label, _ := get(m, "process", "selinuxLabel").(string)
	sub := labelRE.FindStringSubmatch(label)
	if sub == nil {
		t.Fatalf("process.selinuxLabel = %q", label)
	}
	lo, _ := strconv.Atoi(sub[1])
	hi, _ := strconv.Atoi(sub[2])
	if lo >= hi || hi >= 1024 {
		t.Errorf("pair c%d,c%d is not two ordered categories below 1024", lo, hi)
	}
	pair := fmt.Sprintf("s0:c%d,c%d", lo, hi)
	if got := get(m, "linux", "mountLabel"); got != "system_u:object_r:container_file_t:"+pair {
		t.Errorf("linux.mountLabel = %v, want the process's pair %s", got, pair)
	}
	if get(m, "linux", "x") == nil || get(m, "process", "args") == nil {
		t.Error("unknown fields lost")
	}
	if len(c.Changes) != 2 {
		t.Errorf("changes = %v", c.Changes)
	}
	if tab := readTable(t, dir); len(tab) != 1 || tab[mcsPair{lo, hi}] != "ctr-a" {
		t.Errorf("reservations = %v", tab)
	}

	// Idempotent: a second pass (the chosen profile after the floor)
	// changes nothing.
	out := doc.Bytes()
	doc2, c2, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), string(out), env)
	if err != nil || len(c2.Changes) != 0 || string(doc2.Bytes()) != string(out) {
		t.Errorf("second pass: err %v, changes %v", err, c2.Changes)
	}
	// The same container created again from a fresh spec gets its pair back.
	doc3, _, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), `{}`, env)
	if err != nil || get(decode(t, doc3.Bytes()), "process", "selinuxLabel") != label {
		t.Errorf("re-create: err %v, label %v, want %s", err, get(decode(t, doc3.Bytes()), "process", "selinuxLabel"), label)
	}
	// Another container gets another pair.
	doc4, _, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), `{}`, Env{ContainerID: "ctr-b", StateDir: dir, Host: env.Host})
	if err != nil || get(decode(t, doc4.Bytes()), "process", "selinuxLabel") == label {
		t.Errorf("second container: err %v, same label %s", err, label)
	}
	if err := ReleaseMCS(dir, "ctr-a"); err != nil {
		t.Fatal(err)
	}
	tab := readTable(t, dir)
	if len(tab) != 1 {
		t.Errorf("after release: %v", tab)
	}
	for _, owner := range tab {
		if owner != "ctr-b" {
			t.Errorf("after releasing ctr-a: %v", tab)
		}
	}
	if err := ReleaseMCS(filepath.Join(dir, "none"), "x"); err != nil {
		t.Errorf("release without a table: %v", err)
	}
}

func TestSELinuxEngineLabels(t *testing.T) {
	cases := []struct {
		name, proc, mount string
		held              map[mcsPair]string // reservations made beforehand
		wantProc          string             // regexp; "" = refused
		wantMount         string
		refusal           string
	}{
		{name: "engine pair kept and reserved", proc: "system_u:system_r:container_t:s0:c5,c7", mount: "system_u:object_r:container_file_t:s0:c5,c7",
			wantProc: `^system_u:system_r:container_t:s0:c5,c7$`, wantMount: `^system_u:object_r:container_file_t:s0:c5,c7$`},
		{name: "allowed custom type kept", proc: "system_u:system_r:container_init_t:s0:c7,c5",
			wantProc: `^system_u:system_r:container_init_t:s0:c5,c7$`, wantMount: `^system_u:object_r:container_file_t:s0:c5,c7$`},
		{name: "plain s0 gets a pair", proc: "system_u:system_r:container_t:s0",
			wantProc: `^system_u:system_r:container_t:s0:c\d+,c\d+$`, wantMount: `^system_u:object_r:container_file_t:s0:c\d+,c\d+$`},
		{name: "mount label alone gives the pair", mount: "system_u:object_r:container_file_t:s0:c1,c2",
			wantProc: `^system_u:system_r:container_t:s0:c1,c2$`, wantMount: `^system_u:object_r:container_file_t:s0:c1,c2$`},
		{name: "mount label follows the process", proc: "system_u:system_r:container_t:s0:c3,c4", mount: "system_u:object_r:container_file_t:s0:c8,c9",
			wantProc: `c3,c4$`, wantMount: `^system_u:object_r:container_file_t:s0:c3,c4$`},
		{name: "spc_t refused", proc: "system_u:system_r:spc_t:s0", refusal: "type spc_t is not allowed"},
		{name: "unconfined_t refused", proc: "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", refusal: "type unconfined_t is not allowed"},
		{name: "custom user refused", proc: "staff_u:system_r:container_t:s0:c1,c2", refusal: "SELinux user staff_u"},
		{name: "custom role refused", proc: "system_u:staff_r:container_t:s0:c1,c2", refusal: "SELinux role staff_r"},
		{name: "all categories refused", proc: "system_u:system_r:container_t:s0-s0:c0.c1023", refusal: "not s0 with one MCS category pair"},
		{name: "one category refused", proc: "system_u:system_r:container_t:s0:c1", refusal: "not s0 with one MCS category pair"},
		{name: "same category twice refused", proc: "system_u:system_r:container_t:s0:c1,c1", refusal: "not s0 with one MCS category pair"},
		{name: "pair held by another container refused", proc: "system_u:system_r:container_t:s0:c5,c7",
			held: map[mcsPair]string{{5, 7}: "other"}, refusal: "c5,c7 is already held by running container other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.held != nil {
				if err := os.WriteFile(filepath.Join(dir, mcsFile), formatMCSTable(tc.held), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			proc, linux := `{}`, `{}`
			if tc.proc != "" {
				proc = `{"selinuxLabel":"` + tc.proc + `"}`
			}
			if tc.mount != "" {
				linux = `{"mountLabel":"` + tc.mount + `"}`
			}
			in := `{"process":` + proc + `,"linux":` + linux + `}`
			env := Env{ContainerID: "me", StateDir: dir, Host: fakeHost(true, false, nil)}
			p, _ := builtin("baseline")
			if err := p.Compile(); err != nil {
				t.Fatal(err)
			}
			doc, _, err := applyOne(t, selinuxControl, p, in, env)
			if tc.refusal != "" {
				var d *DeniedError
				if !errors.As(err, &d) || !strings.Contains(err.Error(), tc.refusal) || !strings.Contains(err.Error(), "process.selinuxLabel") {
					t.Fatalf("err = %v, want a refusal of process.selinuxLabel saying %q", err, tc.refusal)
				}
				if doc.Changed() {
					t.Error("a refused spec was edited")
				}
				if tab := readTable(t, dir); len(tab) != len(tc.held) {
					t.Errorf("a refused container reserved a pair: %v", tab)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, doc.Bytes())
			gotProc, _ := get(m, "process", "selinuxLabel").(string)
			gotMount, _ := get(m, "linux", "mountLabel").(string)
			if !regexp.MustCompile(tc.wantProc).MatchString(gotProc) || !regexp.MustCompile(tc.wantMount).MatchString(gotMount) {
				t.Errorf("labels %q / %q, want %s / %s", gotProc, gotMount, tc.wantProc, tc.wantMount)
			}
			if tab := readTable(t, dir); tab[pairOf(t, gotProc)] != "me" {
				t.Errorf("pair of %s not reserved: %v", gotProc, tab)
			}
			again, c, err := applyOne(t, selinuxControl, p, string(doc.Bytes()), env)
			if err != nil || len(c.Changes) != 0 || again.Changed() {
				t.Errorf("not idempotent: %v %v", err, c.Changes)
			}
		})
	}
}

func TestSELinuxMalformed(t *testing.T) {
	for in, want := range map[string]string{
		`{"process":{"selinuxLabel":"container_t"}}`: "process.selinuxLabel",
		`{"process":{"selinuxLabel":7}}`:             "process.selinuxLabel",
		`{"linux":{"mountLabel":"a:b"}}`:             "linux.mountLabel",
		`{"process":[]}`:                             "process",
	} {
		_, _, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), in, Env{ContainerID: "x", StateDir: t.TempDir()})
		var d *DeniedError
		if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want an error naming %s", in, err, want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, mcsFile), []byte("1 2 a\nbogus\n"), 0o600)
	if _, _, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), `{}`, Env{ContainerID: "x", StateDir: dir}); err == nil || !strings.Contains(err.Error(), "malformed reservation") {
		t.Errorf("corrupt table: err %v", err)
	}
	if _, _, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), `{}`, Env{ContainerID: "a b", StateDir: t.TempDir()}); err == nil {
		t.Error("an ID with a space was recorded")
	}
}

// SELinux disabled and not forced: the fields have no effect, and nothing
// is changed, refused or reserved.
func TestSELinuxDisabledHost(t *testing.T) {
	p, _ := builtin("baseline")
	p.Compile()
	for _, in := range []string{`{}`, `{"process":{"selinuxLabel":"system_u:system_r:spc_t:s0"}}`} {
		dir := t.TempDir()
		doc, c, err := applyOne(t, selinuxControl, p, in, Env{ContainerID: "x", StateDir: dir, Host: fakeHost(false, true, nil)})
		if err != nil || doc.Changed() || len(c.Changes) != 0 {
			t.Errorf("%s: err %v, changes %v", in, err, c.Changes)
		}
		if _, err := os.Stat(filepath.Join(dir, mcsFile)); err == nil {
			t.Errorf("%s: a pair was reserved", in)
		}
	}
	// The same spec on an SELinux host is labelled: the test can fail.
	doc, _, err := applyOne(t, selinuxControl, p, `{}`, Env{ContainerID: "x", StateDir: t.TempDir(), Host: fakeHost(true, false, nil)})
	if err != nil || !doc.Changed() {
		t.Errorf("enabled host: err %v, changed %v", err, doc.Changed())
	}
}

// Audit and deny run the rule on a copy: the host's reservations must not
// change either, yet a pair held by another container is still found.
func TestSELinuxModesReserveNothing(t *testing.T) {
	for _, mode := range []Mode{Audit, Deny} {
		dir := t.TempDir()
		p := selinuxPolicy(t, func(p *Policy) { p.Modes = map[string]Mode{"selinux": mode} })
		doc, c, err := applyOne(t, selinuxControl, p, `{}`, Env{ContainerID: "x", StateDir: dir})
		if doc.Changed() || len(c.Changes) != 2 {
			t.Errorf("%s: changed %v, findings %v", mode, doc.Changed(), c.Changes)
		}
		if (mode == Deny) != (err != nil) {
			t.Errorf("%s: err %v", mode, err)
		}
		if tab := readTable(t, dir); len(tab) != 0 {
			t.Errorf("%s reserved %v", mode, tab)
		}
		os.WriteFile(filepath.Join(dir, mcsFile), formatMCSTable(map[mcsPair]string{{1, 2}: "y"}), 0o600)
		_, c, _ = applyOne(t, selinuxControl, p, `{"process":{"selinuxLabel":"system_u:system_r:container_t:s0:c1,c2"}}`, Env{ContainerID: "x", StateDir: dir})
		if len(c.Changes) != 1 || !strings.Contains(c.Changes[0].To, "held by running container y") {
			t.Errorf("%s: held pair not found: %v", mode, c.Changes)
		}
	}
}

func TestSELinuxOnPodmanConfigs(t *testing.T) {
	dir := t.TempDir()
	seen := map[mcsPair]string{}
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			env := Env{ContainerID: name, StateDir: dir, Host: fakeHost(true, false, nil)}
			doc, _, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), string(golden(t, name)), env)
			if err != nil {
				t.Fatal(err)
			}
			out := doc.Bytes()
			label, _ := get(decode(t, out), "process", "selinuxLabel").(string)
			if !labelRE.MatchString(label) {
				t.Fatalf("label %q", label)
			}
			if other, ok := seen[pairOf(t, label)]; ok {
				t.Errorf("pair of %s shared with %s", label, other)
			}
			seen[pairOf(t, label)] = name
			again, c, err := applyOne(t, selinuxControl, selinuxPolicy(t, nil), string(out), env)
			if err != nil || len(c.Changes) != 0 || string(again.Bytes()) != string(out) {
				t.Errorf("not idempotent: %v %v", err, c.Changes)
			}
		})
	}
}

func TestSELinuxPolicyErrors(t *testing.T) {
	for field, mutate := range map[string]func(*Policy){
		"selinux.type":         func(p *Policy) { p.SELinux.Type = "" },
		"selinux.user":         func(p *Policy) { p.SELinux.User = "system_u:x" },
		"selinux.mount_type":   func(p *Policy) { p.SELinux.MountType = "a b" },
		"selinux.refuse_types": func(p *Policy) { p.SELinux.RefuseTypes = []string{""} },
	} {
		p, _ := builtin("baseline")
		mutate(p)
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("err %v, want one naming %s", err, field)
		}
	}
	p, _ := builtin("baseline")
	p.SELinux.Type = "spc_t"
	if err := p.Compile(); err == nil || !strings.Contains(err.Error(), "selinux.type") {
		t.Errorf("a refused type as the policy's: %v", err)
	}
}

// shrinkMCS makes the pair space small enough that unsynchronised
// reservations would collide at once: 21 categories give 210 pairs.
func shrinkMCS(t *testing.T) {
	old := mcsCategories
	mcsCategories = 21
	t.Cleanup(func() { mcsCategories = old })
}

func TestMCSConcurrentGoroutines(t *testing.T) {
	shrinkMCS(t)
	dir := t.TempDir()
	const n = 200
	pairs := make([]mcsPair, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { pairs[i], errs[i] = reserveMCS(dir, fmt.Sprintf("g%d", i), mcsPair{}, false, true) })
	}
	wg.Wait()
	owner := map[mcsPair]int{}
	for i, p := range pairs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if j, ok := owner[p]; ok {
			t.Errorf("g%d and g%d share %s", i, j, p)
		}
		owner[p] = i
	}
	if tab := readTable(t, dir); len(tab) != n {
		t.Errorf("table holds %d reservations, want %d", len(tab), n)
	}
	// 200 of 210 pairs are taken: the rest are found, then none.
	for i := range 10 {
		if _, err := reserveMCS(dir, fmt.Sprintf("x%d", i), mcsPair{}, false, true); err != nil {
			t.Fatalf("pair %d of the last 10: %v", i, err)
		}
	}
	if _, err := reserveMCS(dir, "full", mcsPair{}, false, true); err == nil {
		t.Error("a pair was handed out from a full table")
	}
}

// TestMCSHelperProcess is the child of TestMCSConcurrentProcesses.
func TestMCSHelperProcess(t *testing.T) {
	dir, prefix := os.Getenv("SECSHIM_MCS_DIR"), os.Getenv("SECSHIM_MCS_PREFIX")
	if dir == "" {
		t.Skip("helper process for TestMCSConcurrentProcesses")
	}
	shrinkMCS(t)
	for i := range 40 {
		id := fmt.Sprintf("%s-%d", prefix, i)
		p, err := reserveMCS(dir, id, mcsPair{}, false, true)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("PAIR %s %d %d\n", id, p.lo, p.hi)
	}
}

// Separate secshim processes starting containers at once never hand out
// the same pair: five processes reserve 40 pairs each out of 210.
func TestMCSConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	const procs = 5
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMCSHelperProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "SECSHIM_MCS_DIR="+dir, fmt.Sprintf("SECSHIM_MCS_PREFIX=p%d", i))
		wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
	}
	wg.Wait()
	owner := map[mcsPair]string{}
	for i := range procs {
		if errs[i] != nil {
			t.Fatalf("child %d: %v\n%s", i, errs[i], outs[i])
		}
		n := 0
		for _, line := range strings.Split(string(outs[i]), "\n") {
			var id string
			var p mcsPair
			if _, err := fmt.Sscanf(line, "PAIR %s %d %d", &id, &p.lo, &p.hi); err != nil {
				continue
			}
			n++
			if o, ok := owner[p]; ok {
				t.Errorf("%s and %s share c%d,c%d", id, o, p.lo, p.hi)
			}
			owner[p] = id
		}
		if n != 40 {
			t.Errorf("child %d reported %d pairs:\n%s", i, n, outs[i])
		}
	}
	tab := readTable(t, dir)
	if len(tab) != procs*40 {
		t.Errorf("table holds %d reservations, want %d (lost updates)", len(tab), procs*40)
	}
	for p, id := range owner {
		if tab[p] != id {
			t.Errorf("c%d,c%d: table says %q, process said %q", p.lo, p.hi, tab[p], id)
		}
	}
}
