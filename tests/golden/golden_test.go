// Package golden holds config.json / process.json files that Podman 4.3
// really generated (captured by scripts/capture-golden.sh), and checks them.
package golden_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var goldenFiles = []string{
	"podman-default.json",
	"podman-privileged.json",
	"podman-unconfined.json",
	"podman-restricted-flags.json",
	"podman-cap-add-sys-admin.json",
	"exec-process.json",
	"exec-privileged-process.json",
}

type doc = map[string]any

func load(t *testing.T, name string) doc {
	t.Helper()
	var d doc
	testenv.LoadGolden(t, name, &d)
	return d
}

// get walks a dotted path ("process.capabilities.effective") through maps.
func get(d any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := d.(map[string]any)
		if !ok {
			return nil
		}
		d = m[k]
	}
	return d
}

func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func sameSet(a, b []string) bool { return slices.Equal(sortedCopy(a), sortedCopy(b)) }

// allowedSyscalls counts the syscall names with an SCMP_ACT_ALLOW rule.
func allowedSyscalls(d doc) int {
	n := 0
	for _, r := range get(d, "linux.seccomp.syscalls").([]any) {
		rm := r.(map[string]any)
		if rm["action"] == "SCMP_ACT_ALLOW" {
			n += len(strs(rm["names"]))
		}
	}
	return n
}

func TestGoldenFilesArePodmans(t *testing.T) {
	def := load(t, "podman-default.json")
	defCaps := testenv.PodmanDefaultCaps
	for _, set := range []string{"bounding", "effective", "permitted"} {
		if got := strs(get(def, "process.capabilities."+set)); !sameSet(got, defCaps) {
			t.Errorf("default: %s caps = %v, want %v", set, got, defCaps)
		}
	}
	if a := get(def, "linux.seccomp.defaultAction"); a != "SCMP_ACT_ERRNO" {
		t.Errorf("default: seccomp defaultAction = %v", a)
	}
	if get(def, "process.noNewPrivileges") == true {
		t.Error("default: podman does not set noNewPrivileges by default")
	}
	if len(strs(get(def, "linux.maskedPaths"))) == 0 || len(strs(get(def, "linux.readonlyPaths"))) == 0 {
		t.Error("default: maskedPaths/readonlyPaths missing")
	}
	var nsTypes []string
	for _, n := range get(def, "linux.namespaces").([]any) {
		nsTypes = append(nsTypes, fmt.Sprint(n.(map[string]any)["type"]))
	}
	if !sameSet(nsTypes, []string{"pid", "network", "ipc", "uts", "mount"}) {
		t.Errorf("default: namespaces = %v", nsTypes)
	}
	if rl := fmt.Sprint(get(def, "process.rlimits")); !strings.Contains(rl, "RLIMIT_NOFILE") || !strings.Contains(rl, "1024") {
		t.Errorf("default: rlimits = %s (containers.conf.in sets nofile/nproc 1024)", rl)
	}

	priv := load(t, "podman-privileged.json")
	if get(priv, "linux.seccomp") != nil || get(priv, "linux.maskedPaths") != nil || get(priv, "linux.readonlyPaths") != nil {
		t.Error("privileged: seccomp/maskedPaths/readonlyPaths should be absent")
	}
	privCaps := strs(get(priv, "process.capabilities.effective"))
	if len(privCaps) < 38 || !slices.Contains(privCaps, "CAP_SYS_ADMIN") {
		t.Errorf("privileged: effective caps = %v", privCaps)
	}

	unc := load(t, "podman-unconfined.json")
	if get(unc, "linux.seccomp") != nil {
		t.Error("unconfined: seccomp should be absent")
	}
	if got := strs(get(unc, "process.capabilities.effective")); !sameSet(got, defCaps) {
		t.Errorf("unconfined: effective caps = %v", got)
	}

	res := load(t, "podman-restricted-flags.json")
	if got := strs(get(res, "process.capabilities.effective")); len(got) != 0 {
		t.Errorf("restricted: effective caps = %v, want none", got)
	}
	if get(res, "root.readonly") != true {
		t.Error("restricted: root.readonly should be true")
	}
	if got := fmt.Sprint(get(res, "linux.resources.pids.limit")); got != "100" {
		t.Errorf("restricted: pids.limit = %s", got)
	}
	if got := fmt.Sprint(get(res, "linux.resources.memory.limit")); got != "268435456" {
		t.Errorf("restricted: memory.limit = %s", got)
	}
	if get(res, "linux.seccomp") == nil {
		t.Error("restricted: seccomp should be present")
	}

	add := load(t, "podman-cap-add-sys-admin.json")
	if got := strs(get(add, "process.capabilities.effective")); !sameSet(got, append(slices.Clone(defCaps), "CAP_SYS_ADMIN")) {
		t.Errorf("cap-add: effective caps = %v", got)
	}
	// Podman's seccomp profile opens more syscalls (mount, ...) with CAP_SYS_ADMIN.
	if a, d := allowedSyscalls(add), allowedSyscalls(def); a <= d {
		t.Errorf("cap-add: %d allowed syscalls, default %d: want more", a, d)
	}

	ex := load(t, "exec-process.json")
	if got := strs(get(ex, "capabilities.effective")); len(got) != 0 {
		t.Errorf("exec into --cap-drop=ALL: effective caps = %v, want none", got)
	}
	if got := strs(ex["args"]); !slices.Equal(got, []string{"true"}) {
		t.Errorf("exec: args = %v", got)
	}
	exp := load(t, "exec-privileged-process.json")
	if got := strs(get(exp, "capabilities.effective")); !sameSet(got, privCaps) {
		t.Errorf("exec --privileged: effective caps = %v, want the privileged set %v", got, privCaps)
	}
}

var (
	reID    = regexp.MustCompile(`[0-9a-f]{64}`)
	reNetns = regexp.MustCompile(`netns-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	reTmp   = regexp.MustCompile(`/tmp/[^/"' ]+`)
)

// normalize replaces the per-run values of a captured document (IDs,
// hostname, creation time, netns and temp paths) by placeholders and sorts
// the lists whose order Podman does not keep stable (mounts, env).
func normalize(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e, k)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = normalize(e, key)
		}
		// --privileged copies the host's /dev nodes with their current owner
		// and mode: host state, not Podman's doing. Keep what identifies them.
		if key == "devices" {
			for i, e := range a {
				if m, ok := e.(map[string]any); ok && m["path"] != nil {
					a[i] = map[string]any{"path": m["path"], "type": m["type"], "major": m["major"], "minor": m["minor"]}
				}
			}
		}
		// Podman emits mounts and env in a varying order (Go map iteration).
		if key == "mounts" || key == "env" || key == "devices" {
			sort.SliceStable(a, func(i, j int) bool { return fmt.Sprint(a[i]) < fmt.Sprint(a[j]) })
		}
		return a
	case string:
		switch {
		case key == "hostname":
			return "<HOST>"
		case key == "io.kubernetes.cri-o.Created":
			return "<TIME>"
		case strings.HasPrefix(x, "HOSTNAME="):
			return "HOSTNAME=<HOST>"
		}
		x = reID.ReplaceAllString(x, "<ID>")
		x = reNetns.ReplaceAllString(x, "netns-<UUID>")
		return reTmp.ReplaceAllString(x, "/tmp/<TMP>")
	}
	return v
}

func diff(path string, a, b any, out *[]string) {
	if len(*out) >= 30 {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			diff(path+"."+k, am[k], bm[k], out)
		}
		return
	}
	aa, aok := a.([]any)
	ba, bok := b.([]any)
	if aok && bok && len(aa) == len(ba) {
		for i := range aa {
			diff(fmt.Sprintf("%s[%d]", path, i), aa[i], ba[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		sa, sb := fmt.Sprint(a), fmt.Sprint(b)
		if len(sa) > 200 {
			sa = sa[:200] + "..."
		}
		if len(sb) > 200 {
			sb = sb[:200] + "..."
		}
		*out = append(*out, fmt.Sprintf("%s: golden %s, fresh %s", path, sa, sb))
	}
}

// argvShapes returns the "## Shapes" section of an ARGV.md.
func argvShapes(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "## Shapes"), strings.Index(s, "## Environment")
	if i < 0 || j < i {
		t.Fatalf("%s: no Shapes section", path)
	}
	return s[i:j]
}

// TestGoldenMatchesFreshCapture re-runs scripts/capture-golden.sh into a temp
// dir and compares every document, per-run values normalised, and the argv
// shapes of ARGV.md. Needs root and podman; ~20 s; skipped with -short.
func TestGoldenMatchesFreshCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not re-capturing golden files")
	}
	testenv.Require(t)
	testenv.EnsureImage(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "capture-golden.sh"), "--out", out)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("capture-golden.sh: %v\n%s", err, b)
	}
	for _, name := range goldenFiles {
		var fresh doc
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := jsonUnmarshalNumber(b, &fresh); err != nil {
			t.Fatalf("fresh %s: %v", name, err)
		}
		g, f := normalize(load(t, name), ""), normalize(fresh, "")
		var d []string
		diff(strings.TrimSuffix(name, ".json"), g, f, &d)
		if len(d) > 0 {
			t.Errorf("%s differs from a fresh capture (re-run scripts/capture-golden.sh if Podman changed):\n  %s", name, strings.Join(d, "\n  "))
		}
	}
	if g, f := argvShapes(t, testenv.GoldenPath(t, "ARGV.md")), argvShapes(t, filepath.Join(out, "ARGV.md")); g != f {
		t.Errorf("ARGV.md shapes differ from a fresh capture:\n--- golden\n%s\n--- fresh\n%s", g, f)
	}
}
