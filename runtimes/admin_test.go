package runtimes

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/hardening"
)

var update = flag.Bool("update", false, "rewrite the expected outputs in tests/explain and tests/policies")

// shadowed lists the verbs (as "family:verb") that some backend's flag
// table knows, as a verb or a verb alias.
func shadowed(verbs []string) []string {
	var out []string
	for _, fam := range []Family{FamilyRunc, FamilyRunsc} {
		fs := families[fam]
		for _, v := range verbs {
			_, isVerb := fs.verbs()[v]
			if isVerb || fs.canonicalVerb(v) != v {
				out = append(out, fam.String()+":"+v)
			}
		}
	}
	return out
}

func TestAdminVerbsShadowNoBackendVerb(t *testing.T) {
	if got := shadowed(adminVerbs); len(got) != 0 {
		t.Errorf("admin verbs that are backend verbs, which secshim would shadow: %v", got)
	}
	// The check finds a backend verb where there is one: runsc alone has
	// install, runc's "h" is an alias of help.
	if got := shadowed([]string{"install", "h", "create"}); !reflect.DeepEqual(got, []string{
		FamilyRunc.String() + ":h", FamilyRunc.String() + ":create", FamilyRunsc.String() + ":install", FamilyRunsc.String() + ":create",
	}) {
		t.Errorf("shadowed(install, h, create) = %v", got)
	}
}

// fakeHost has neither SELinux nor AppArmor (unless asked; its profiles
// are then loaded in enforce mode), no namespace path refers to the
// host's, and its kernel has no x32 ABI. It starts from the real host so that a question added to Host
// later gets an answer rather than a nil func.
func fakeHost(selinux, apparmor bool) *hardening.Host {
	h := hardening.DefaultHost()
	h.SELinuxEnabled = func() bool { return selinux }
	h.AppArmorEnabled = func() bool { return apparmor }
	h.AppArmorProfileMode = func(string) (string, error) { return "enforce", nil }
	h.NamespaceID = func(path string) (hardening.NSID, error) {
		return hardening.NSID{Dev: 4, Ino: uint64(1000 + len(path))}, nil
	}
	h.HostNamespace = func(nsType string) (hardening.NSID, error) {
		return hardening.NSID{Dev: 4, Ino: uint64(len(nsType))}, nil
	}
	// The kernel most distributions ship: the x32 ABI is not built in.
	h.InertSeccompArches = func() []string { return []string{"SCMP_ARCH_X32"} }
	return h
}

// fakeBackend resolves like Config.Backend without looking at the host.
func fakeBackend(c *Config, name string) (*Backend, error) {
	if name == "" {
		name = c.DefaultBackend
	}
	if name == "" {
		name = "crun"
	}
	bc, ok := c.Backends[name]
	if !ok {
		return nil, fmt.Errorf("unknown backend %q", name)
	}
	return &Backend{Name: name, Path: "/usr/bin/" + bc.Path, Args: bc.Args}, nil
}

// runAdmin runs an admin verb in-process on the fake host.
func runAdmin(t *testing.T, host *hardening.Host, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &admin{stdout: &out, stderr: &errOut, host: host, backend: fakeBackend}
	code = a.run(args)
	return out.String(), errOut.String(), code
}

const explainConfig = "../tests/explain/secshim.toml"

var goldenSpecs = []string{
	"podman-default", "podman-privileged", "podman-unconfined",
	"podman-restricted-flags", "podman-cap-add-sys-admin",
}

// checkExpected compares got with the file, or rewrites it under -update.
func checkExpected(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it, then review it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (review, then -update):\n%s", file, lineDiff(string(want), got))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order or count)\n--- got:\n" + got
	}
	return b.String()
}

func TestExplainGolden(t *testing.T) {
	type tc struct {
		spec, profile string // profile "": the default, no --profile
		json          bool
		code          int
	}
	var cases []tc
	for _, s := range goldenSpecs {
		cases = append(cases, tc{spec: s}, tc{spec: s, profile: "restricted"})
	}
	cases = append(cases,
		tc{spec: "podman-default", profile: "restricted", json: true},
		tc{spec: "podman-privileged", profile: "privileged"},
		tc{spec: "podman-privileged", profile: "audited"},
		tc{spec: "podman-privileged", profile: "refusing", code: 1},
		tc{spec: "podman-privileged", profile: "refusing", json: true, code: 1},
	)
	for _, c := range cases {
		name := c.spec + "." + c.profile
		if c.profile == "" {
			name = c.spec + ".baseline"
		}
		ext := ".txt"
		if c.json {
			ext = ".json"
		}
		t.Run(name+ext, func(t *testing.T) {
			args := []string{"explain", "--config", explainConfig}
			if c.profile != "" {
				args = append(args, "--profile", c.profile)
			}
			if c.json {
				args = append(args, "--json")
			}
			args = append(args, "../tests/golden/"+c.spec+".json")
			out, errOut, code := runAdmin(t, fakeHost(false, false), args...)
			if code != c.code || errOut != "" {
				t.Fatalf("exit %d (want %d), stderr %q\n%s", code, c.code, errOut, out)
			}
			checkExpected(t, filepath.Join("../tests/explain", name+ext), out)
		})
	}
}

// The properties the reviewed goldens were checked for, asserted on the
// live output so that a regenerated golden cannot silently lose them.
func TestExplainProperties(t *testing.T) {
	for _, s := range goldenSpecs {
		t.Run(s, func(t *testing.T) {
			x := explainJSON(t, 0, "--profile", "restricted", "../tests/golden/"+s+".json")
			if x.Profile != (explainProfile{"restricted", "flag", "--profile restricted"}) {
				t.Errorf("profile: %+v", x.Profile)
			}
			if x.Floor == nil || *x.Floor != (explainFloor{"baseline", true}) {
				t.Errorf("floor: %+v", x.Floor)
			}
			if len(x.Stages) != 2 || x.Stages[0].Stage != "floor" || x.Stages[1].Profile != "restricted" {
				t.Fatalf("stages: %+v", x.Stages)
			}
			if x.Backend == nil || x.Backend.Name != "runc" || x.Backend.Reason != "default_backend" {
				t.Errorf("backend: %+v", x.Backend)
			}
			after := diffMap(x.Diff)
			// Whatever the spec had, restricted leaves at most
			// NET_BIND_SERVICE in the bounding set.
			for _, e := range x.Diff {
				if e.Path == "process.capabilities.bounding" && e.Op == "add" {
					t.Errorf("restricted added a capability: %+v", e)
				}
			}
			if v, ok := after["process.noNewPrivileges"]; ok && v != true {
				t.Errorf("noNewPrivileges ends %v", v)
			}
			for _, st := range x.Stages {
				for _, c := range st.Changes {
					if c.Mode != "" {
						t.Errorf("an enforce profile reported a %s change: %v", c.Mode, c)
					}
				}
			}
		})
	}
	// Audit changes nothing: the spec ends as the (enforcing) floor left
	// it, and every finding of the profile is tagged audit.
	x := explainJSON(t, 0, "--profile", "audited", "../tests/golden/podman-privileged.json")
	floorOnly := explainJSON(t, 0, "--profile", "baseline", "../tests/golden/podman-privileged.json")
	if len(x.Diff) == 0 || !reflect.DeepEqual(x.Diff, floorOnly.Diff) {
		t.Errorf("audit profile changed the spec beyond its floor:\n%s", lineDiff(strings.Join(diffLines(floorOnly.Diff), "\n"), strings.Join(diffLines(x.Diff), "\n")))
	}
	audited := 0
	for _, c := range x.Stages[len(x.Stages)-1].Changes {
		if c.Mode != hardening.Audit {
			t.Errorf("finding of the audit profile not tagged audit: %v", c)
		}
		audited++
	}
	if audited == 0 {
		t.Error("the audit profile found nothing in a --privileged spec")
	}
	// Deny refuses: no diff, a reason naming a control.
	x = explainJSON(t, 1, "--profile", "refusing", "../tests/golden/podman-privileged.json")
	last := x.Stages[len(x.Stages)-1]
	if x.Start || len(x.Diff) != 0 || !strings.Contains(x.Refused, "profile refusing denies this container") ||
		!strings.HasPrefix(last.Error, "policy denies this container: capabilities: ") {
		t.Errorf("deny profile: start %v, diff %d entries, refused %q, stage error %q", x.Start, len(x.Diff), x.Refused, last.Error)
	}
	for _, c := range last.Changes {
		if c.Mode != hardening.Deny {
			t.Errorf("finding of the deny profile not tagged deny: %v", c)
		}
	}
}

// diffMap is the "to" of every set/change entry, by path.
func diffMap(diff []diffEntry) map[string]any {
	m := map[string]any{}
	for _, e := range diff {
		if e.Op == "set" || e.Op == "change" {
			m[e.Path] = e.To
		}
	}
	return m
}

func explainJSON(t *testing.T, wantCode int, args ...string) *explanation {
	t.Helper()
	full := append([]string{"explain", "--config", explainConfig, "--json"}, args...)
	out, errOut, code := runAdmin(t, fakeHost(false, false), full...)
	if code != wantCode {
		t.Fatalf("explain %v: exit %d, want %d; stderr %q\n%s", args, code, wantCode, errOut, out)
	}
	var x explanation
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		t.Fatalf("explain --json output does not match the documented schema: %v\n%s", err, out)
	}
	return &x
}

// bundle writes a bundle directory whose config.json is the golden
// podman-default.json with the given annotations.
func bundle(t *testing.T, ann map[string]string) string {
	t.Helper()
	data, err := os.ReadFile("../tests/golden/podman-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	a, _ := doc["annotations"].(map[string]any)
	if a == nil {
		a = map[string]any{}
	}
	for k, v := range ann {
		a[k] = v
	}
	doc["annotations"] = a
	out, _ := json.Marshal(doc)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExplainSelection(t *testing.T) {
	x := explainJSON(t, 0, bundle(t, map[string]string{AnnotationProfile: "restricted"}))
	if x.Profile != (explainProfile{"restricted", "annotation", "io.secshim.profile=restricted"}) || !x.Floor.Applied {
		t.Errorf("annotation: profile %+v floor %+v", x.Profile, x.Floor)
	}
	if !strings.HasSuffix(x.Spec, "/config.json") {
		t.Errorf("a bundle directory is explained through its config.json, got %q", x.Spec)
	}

	x = explainJSON(t, 0, bundle(t, nil))
	if x.Profile != (explainProfile{"baseline", "default", "policy.profile"}) || x.Floor.Applied {
		t.Errorf("default: profile %+v floor %+v", x.Profile, x.Floor)
	}

	x = explainJSON(t, 1, bundle(t, map[string]string{AnnotationProfile: "refusing"}))
	if x.Start || !strings.Contains(x.Refused, "profile not selectable") || len(x.Stages) != 0 {
		t.Errorf("a non-selectable annotation must be refused before any rule runs: %+v", x)
	}

	x = explainJSON(t, 0, "--profile", "refusing", "--profile", "baseline", bundle(t, map[string]string{AnnotationProfile: "restricted"}))
	if x.Profile != (explainProfile{"baseline", "flag", "--profile baseline, overriding io.secshim.profile=restricted"}) {
		t.Errorf("--profile over an annotation: %+v", x.Profile)
	}

	x = explainJSON(t, 1, "--profile", "refusing", bundle(t, nil))
	if len(x.Notes) != 1 || !strings.Contains(x.Notes[0], "not in policy.selectable") {
		t.Errorf("--profile of a non-selectable profile must say so: %q", x.Notes)
	}

	x = explainJSON(t, 0, bundle(t, map[string]string{AnnotationIsolation: "sandbox"}))
	if *x.Backend != (explainBackend{"runsc", "/usr/bin/runsc", "annotation", "io.secshim.isolation=sandbox"}) {
		t.Errorf("isolation: %+v", x.Backend)
	}
	x = explainJSON(t, 1, bundle(t, map[string]string{AnnotationIsolation: "moon"}))
	if !strings.Contains(x.Refused, "unknown isolation") {
		t.Errorf("unknown isolation: %q", x.Refused)
	}
}

// Without any config file explain uses the built-in config, as create does.
func TestExplainBuiltinConfig(t *testing.T) {
	if _, err := os.Stat(DefaultConfigPath); err == nil {
		t.Skipf("%s exists on this host: the built-in config is not in use", DefaultConfigPath)
	}
	t.Setenv("SECSHIM_CONFIG", "")
	out, errOut, code := runAdmin(t, fakeHost(false, false), "explain", "--json", "../tests/golden/podman-default.json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	var x explanation
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		t.Fatal(err)
	}
	if x.Config != "" || x.Profile != (explainProfile{hardening.DefaultProfile, "default", "built-in default profile"}) ||
		*x.Floor != (explainFloor{hardening.DefaultProfile, false}) || x.Backend.Reason != "auto" {
		t.Errorf("built-in config: %+v %+v %+v %+v", x.Config, x.Profile, x.Floor, x.Backend)
	}
	out, _, code = runAdmin(t, fakeHost(false, false), "explain", "--profile", "restricted", "../tests/golden/podman-default.json")
	if code != 0 || !strings.Contains(out, "floor:   baseline (applied first)") {
		t.Errorf("built-in config, --profile restricted: exit %d\n%s", code, out)
	}
}

// explain reads, hardens in memory and prints: it must leave the bundle
// byte-identical and create nothing (no MCS reservation, no state record,
// no decision log), even on a host where SELinux and AppArmor are on.
func TestExplainWritesNothing(t *testing.T) {
	dir := t.TempDir()
	state, logFile := filepath.Join(dir, "state"), filepath.Join(dir, "log", "secshim.log")
	cfgPath := filepath.Join(dir, "secshim.toml")
	cfg := fmt.Sprintf("default_backend = \"runc\"\nstate_dir = %q\n[log]\nfile = %q\nlevel = \"debug\"\n", state, logFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	b := bundle(t, map[string]string{AnnotationProfile: "restricted"})
	specPath := filepath.Join(b, "config.json")
	before, _ := os.ReadFile(specPath)
	st0, _ := os.Stat(specPath)

	// A rule that wrote relative to an empty state dir would write here.
	cwd := t.TempDir()
	old, _ := os.Getwd()
	if err := os.Chdir(cwd); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(old)

	for _, args := range [][]string{
		{"explain", "--config", cfgPath, b},
		{"explain", "--config", cfgPath, "--json", "--profile", "privileged", specPath},
	} {
		out, errOut, code := runAdmin(t, fakeHost(true, true), args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q\n%s", args, code, errOut, out)
		}
	}
	after, _ := os.ReadFile(specPath)
	st1, _ := os.Stat(specPath)
	if !bytes.Equal(before, after) || !st0.ModTime().Equal(st1.ModTime()) {
		t.Error("explain modified config.json")
	}
	for _, p := range []string{state, filepath.Dir(logFile)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("explain created %s", p)
		}
	}
	if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
		t.Errorf("explain wrote into its working directory: %v", ents)
	}
	if ents, _ := os.ReadDir(b); len(ents) != 1 {
		t.Errorf("explain wrote into the bundle: %v", ents)
	}
}

func TestExplainUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[policy]\nprofile = \"nope\"\n"), 0o644)
	notJSON := filepath.Join(dir, "config.json")
	os.WriteFile(notJSON, []byte("{\"process\": "), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string // in stderr (exit 2) or stdout
	}{
		{[]string{"explain"}, 2, "expected one bundle"},
		{[]string{"explain", "a", "b"}, 2, "expected one bundle"},
		{[]string{"explain", "--bogus", "x"}, 2, "unknown flag --bogus"},
		{[]string{"explain", "--json=yes", "x"}, 2, "takes no value"},
		{[]string{"explain", "x", "--profile"}, 2, "needs a value"},
		{[]string{"explain", "--config", explainConfig, filepath.Join(dir, "missing")}, 2, "no such file"},
		{[]string{"explain", "--config", explainConfig, dir + "/sub"}, 2, "no such file"},
		{[]string{"explain", "--config", bad, "../tests/golden/podman-default.json"}, 2, `no profile "nope"`},
		{[]string{"explain", "--config", explainConfig, "--profile", "nope", "../tests/golden/podman-default.json"}, 2, `no profile "nope"`},
		{[]string{"explain", "--config", explainConfig, notJSON}, 1, "would be refused"},
		{[]string{"explain", "--help"}, 0, "usage: secshim explain"},
		{[]string{"policy"}, 2, "expected the subcommand check"},
		{[]string{"policy", "lint"}, 2, "expected the subcommand check"},
		{[]string{"policy", "check", "a", "b"}, 2, "at most one file"},
		{[]string{"policy", "check", filepath.Join(dir, "missing.toml")}, 2, "no such file"},
		{[]string{"policy", "check", "--help"}, 0, "usage: secshim policy check"},
	} {
		out, errOut, code := runAdmin(t, fakeHost(false, false), c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr %q (want %q)", c.args, code, c.code, out, errOut, c.want)
		}
		if code == 2 && out != "" {
			t.Errorf("%v: a usage error printed to stdout: %q", c.args, out)
		}
	}
}

func TestDiff(t *testing.T) {
	before := `{"process":{"noNewPrivileges":false,"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"]},"args":["a","b"]},
		"mounts":[{"destination":"/proc","type":"proc"},{"destination":"/sys","type":"sysfs","options":["rw"]},{"destination":"/dev/shm","type":"tmpfs"}],
		"linux":{"sysctl":{"net.ipv4.ip_forward":"1"},"devices":[{"path":"/dev/kvm","type":"c"}],"resources":{"devices":[{"allow":true,"access":"rwm"}]}},
		"annotations":{"keep":"x"},"gone":1}`
	after := `{"process":{"noNewPrivileges":true,"capabilities":{"bounding":["CAP_CHOWN"]},"args":["b","a"]},
		"mounts":[{"destination":"/proc","type":"proc"},{"destination":"/sys","type":"sysfs","options":["ro"]},{"destination":"/tmp","type":"tmpfs"}],
		"linux":{"sysctl":{},"devices":[],"resources":{"devices":[{"allow":false,"access":"rwm"}]},"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read"]}]}},
		"annotations":{"keep":"x"},"root":{"readonly":true}}`
	a, err := decodeJSON([]byte(before))
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeJSON([]byte(after))
	if err != nil {
		t.Fatal(err)
	}
	var d []diffEntry
	diffValues("", a, b, &d)
	want := []string{
		`gone: 1 -> (unset)`,
		`linux.devices: -/dev/kvm`,
		`linux.resources.devices: -{"access":"rwm","allow":true} +{"access":"rwm","allow":false}`,
		`linux.seccomp: (unset) -> defaultAction SCMP_ACT_ERRNO, 1 architectures, 1 syscall rules`,
		`linux.sysctl["net.ipv4.ip_forward"]: 1 -> (unset)`,
		`mounts: -{"destination":"/dev/shm","type":"tmpfs"} +{"destination":"/tmp","type":"tmpfs"}`,
		`mounts[/sys].options: -rw +ro`,
		`process.args: reordered`,
		`process.capabilities.bounding: -CAP_SYS_ADMIN`,
		`process.noNewPrivileges: false -> true`,
		`root: (unset) -> {"readonly":true}`,
	}
	// The removed mount shows its identity only.
	want[5] = `mounts: -/dev/shm +{"destination":"/tmp","type":"tmpfs"}`
	if got := diffLines(d); !reflect.DeepEqual(got, want) {
		t.Errorf("diff lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var none []diffEntry
	diffValues("", a, a, &none)
	if len(none) != 0 {
		t.Errorf("a document differs from itself: %+v", none)
	}
	// A mount list that only changed order says so.
	var re []diffEntry
	x, _ := decodeJSON([]byte(`{"mounts":[{"destination":"/a"},{"destination":"/b"}]}`))
	y, _ := decodeJSON([]byte(`{"mounts":[{"destination":"/b"},{"destination":"/a"}]}`))
	diffValues("", x, y, &re)
	if got := diffLines(re); !reflect.DeepEqual(got, []string{"mounts: reordered"}) {
		t.Errorf("reordered mounts: %q", got)
	}
}

func TestTOMLIndex(t *testing.T) {
	doc := `# comment
default_backend = "runc"
[policy]
profile = "baseline"
isolation = { sandbox = "runsc",
  vm = "kata" }

[profiles.web]
extends = "restricted"
pids.max = 10
capabilities = { allow = ["CAP_CHOWN"] }
[profiles."we.ird"]
description = """
multi
line"""
mode = "audit"
`
	idx := indexTOML([]byte(doc))
	for _, c := range []struct {
		path       []string
		line, deep int
	}{
		{[]string{"default_backend"}, 2, 1},
		{[]string{"policy"}, 3, 1},
		{[]string{"policy", "isolation", "vm"}, 6, 3},
		{[]string{"profiles", "web"}, 8, 2},
		{[]string{"profiles", "web", "pids", "max"}, 10, 4},
		{[]string{"profiles", "web", "pids", "default"}, 10, 3},
		{[]string{"profiles", "web", "capabilities", "allow"}, 11, 4},
		{[]string{"profiles", "web", "seccomp", "profile"}, 8, 2},
		{[]string{"profiles", "we.ird", "mode"}, 16, 3},
		{[]string{"nothing"}, 0, 0},
	} {
		line, deep := idx.locate(c.path)
		if line != c.line || deep != c.deep {
			t.Errorf("locate %q = line %d depth %d, want %d %d", c.path, line, deep, c.line, c.deep)
		}
	}
}

// copyPolicy copies a tests/policies file into dir, with @DIR@ replaced by
// the absolute path of tests/policies (custom seccomp profiles must be
// absolute paths).
func copyPolicy(t *testing.T, src, dir string) string {
	t.Helper()
	abs, err := filepath.Abs("../tests/policies")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, bytes.ReplaceAll(data, []byte("@DIR@"), []byte(abs)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestPolicyCheck(t *testing.T) {
	files, _ := filepath.Glob("../tests/policies/*.toml")
	if len(files) < 10 {
		t.Fatalf("found %d policies in tests/policies", len(files))
	}
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			dir := t.TempDir()
			p := copyPolicy(t, f, dir)
			out, errOut, code := runAdmin(t, nil, "policy", "check", p)
			out = strings.ReplaceAll(out, dir+"/", "")
			abs, _ := filepath.Abs("../tests/policies")
			out = strings.ReplaceAll(out, abs, "@DIR@")
			if errOut != "" {
				t.Errorf("stderr: %q", errOut)
			}
			if strings.HasPrefix(base, "ok-") {
				if code != 0 || !strings.HasPrefix(out, "ok: "+base+": ") {
					t.Errorf("valid policy: exit %d\n%s", code, out)
				}
				return
			}
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			checkExpected(t, strings.TrimSuffix(f, ".toml")+".err", out)
			// Whatever secshim itself would refuse, check reports.
			data, _ := os.ReadFile(p)
			if _, err := ParseConfig(p, data); err != nil && out == "" {
				t.Errorf("ParseConfig refuses it (%v) but check is silent", err)
			}
		})
	}
}

// Every broken policy has exactly the errors listed: no line without
// FILE:LINE, each line number pointing into the file.
func TestPolicyErrorsHaveLines(t *testing.T) {
	files, _ := filepath.Glob("../tests/policies/*.err")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		toml, _ := os.ReadFile(strings.TrimSuffix(f, ".err") + ".toml")
		lines := bytes.Count(toml, []byte("\n")) + 1
		base := strings.TrimSuffix(filepath.Base(f), ".err") + ".toml:"
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			var n int
			if !strings.HasPrefix(l, base) {
				t.Errorf("%s: %q does not start with %s", f, l, base)
				continue
			}
			if _, err := fmt.Sscanf(strings.TrimPrefix(l, base), "%d:", &n); err != nil || n < 1 || n > lines {
				t.Errorf("%s: %q has no line within the file", f, l)
			}
		}
	}
}

func TestPolicyCheckPackaged(t *testing.T) {
	data, err := os.ReadFile("../packaging/secshim.toml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "secshim.toml")
	os.WriteFile(p, bytes.ReplaceAll(data, []byte("@DEFAULT_BACKEND@"), []byte("runc")), 0o644)
	out, errOut, code := runAdmin(t, nil, "policy", "check", p)
	if code != 0 || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("packaging/secshim.toml: exit %d\n%s%s", code, out, errOut)
	}
	// The unsubstituted template names no real backend: check must say so.
	p2 := filepath.Join(t.TempDir(), "secshim.toml")
	os.WriteFile(p2, data, 0o644)
	if out, _, code := runAdmin(t, nil, "policy", "check", p2); code != 1 || !strings.Contains(out, "default_backend: unknown backend") {
		t.Errorf("the @DEFAULT_BACKEND@ template passed: exit %d\n%s", code, out)
	}
}

func TestPolicyCheckSource(t *testing.T) {
	errs, n := checkPolicyData("", nil)
	if len(errs) != 0 || n != len(hardening.BuiltinProfiles) {
		t.Errorf("built-in config: %d profiles, errors %v", n, errs)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "env.toml")
	os.WriteFile(p, []byte("[profiles.web]\nextends = \"restricted\"\n"), 0o644)
	t.Setenv("SECSHIM_CONFIG", p)
	out, _, code := runAdmin(t, nil, "policy", "check")
	if code != 0 || out != "ok: "+p+": 4 profiles\n" {
		t.Errorf("SECSHIM_CONFIG: exit %d %q", code, out)
	}
	t.Setenv("SECSHIM_CONFIG", filepath.Join(dir, "missing.toml"))
	if _, errOut, code := runAdmin(t, nil, "policy", "check"); code != 2 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("a missing SECSHIM_CONFIG: exit %d %q", code, errOut)
	}
}

// Main hands admin verbs to adminMain before parsing a runtime command
// line, and they print to stdout.
func TestMainDispatchesAdmin(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("[policy]\nprofile = \"restricted\"\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"policy", "check", p}, 0, "ok: " + p + ": 3 profiles\n"},
		{[]string{"policy", "check", "../tests/policies/unknown-keys.toml"}, 1, "../tests/policies/unknown-keys.toml:"},
		// (Not a full explain: in-process Main asks the real host, whose
		// AppArmor state would decide the outcome.)
		{[]string{"explain", "--help"}, 0, "usage: secshim explain"},
	} {
		out, code := captureStdout(t, func() int { return Main("secshim", c.args) })
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("Main %v: exit %d (want %d)\n%s", c.args, code, c.code, out)
		}
	}
}

func captureStdout(t *testing.T, f func() int) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	code := f()
	os.Stdout = old
	w.Close()
	return <-done, code
}

func TestFriendlyTypeError(t *testing.T) {
	for in, want := range map[string]string{
		"cannot decode TOML string into struct field hardening.Limit.Max of type int64":                                   "expected an integer, found a TOML string",
		"cannot decode TOML integer into struct field runtimes.Config.Backends of type map[string]runtimes.BackendConfig": "expected a table, found a TOML integer",
		"cannot decode TOML array into a value of type bool":                                                              "expected a boolean, found a TOML array",
		"cannot decode TOML string into x of type []string":                                                               "expected an array, found a TOML string",
		"cannot decode TOML some-thing into x of type int":                                                                "cannot decode TOML some-thing into x of type int",
		"cannot decode TOML string into x of type two words":                                                              "cannot decode TOML string into x of type two words",
		"expected newline": "expected newline",
	} {
		if got := friendlyTypeError(in); got != want {
			t.Errorf("friendlyTypeError(%q) = %q, want %q", in, got, want)
		}
	}
}
