package runtimes_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

// TestPreEntryMatchesGo runs the binary `make build` ships (whose
// pass-through verbs may be served by runtimes/preentry/preentry.c before
// the Go runtime starts) and the same build without the pre-entry (Go's
// fast path) over the same cases, each on a fresh copy of the same
// fixture, and requires the same output, exit status and files after.
// It also requires that the pre-entry served exactly the cases marked
// fast: with GODEBUG=inittrace=1, a Go runtime that started says so on
// stderr, and the stub backend is a shell script.
func TestPreEntryMatchesGo(t *testing.T) {
	f := newPreFixture(t)
	dir, root, runc, crun, rec, conf := f.dir, f.root, f.runc, f.crun, f.rec, f.conf
	rk := "state/" + preKey(root) + "/"
	c1 := map[string]string{"state/default/c1": rec(runc)} // c1's record, no --root
	rootC1 := map[string]string{rk + "c1": rec(runc)}      // with --root ROOT
	withConf := func(state string) string {
		return strings.Replace(conf, "state_dir = \""+dir+"/state\"", state, 1)
	}
	cases := []preCase{
		{name: "state", args: []string{"state", "c1"}, files: c1, fast: true},
		{name: "state --root", args: []string{"--root", root, "state", "c1"}, files: rootC1, fast: true},
		{name: "state --root=", args: []string{"--root=" + root, "state", "c1"}, files: rootC1, fast: true},
		{name: "every global", args: []string{"--debug", "--log", dir + "/runc.log", "--log-format=json", "--log-level", "info", "--systemd-cgroup",
			"--rootless", "auto", "--cgroup-manager", "cgroupfs", "--criu", "/usr/sbin/criu", "--root", root, "state", "c1"},
			files: rootC1, fast: true},
		{name: "empty --root=", args: []string{"--root=", "kill", "c1"}, files: c1, fast: true},
		{name: "the last --root", args: []string{"--root", "/elsewhere", "--root", root, "state", "c1"}, files: rootC1, fast: true},
		{name: "kill", args: []string{"kill", "c1"}, files: c1, fast: true},
		{name: "kill signal", args: []string{"kill", "c1", "KILL"}, files: c1, fast: true},
		{name: "kill --all", args: []string{"kill", "--all", "c1", "TERM"}, files: c1, fast: true},
		{name: "kill -a", args: []string{"kill", "-a", "c1"}, files: c1, fast: true},
		{name: "start", args: []string{"start", "c1"}, files: c1, fast: true},
		{name: "pause", args: []string{"pause", "c1"}, files: c1, fast: true},
		{name: "resume", args: []string{"resume", "c1"}, files: c1, fast: true},
		{name: "backend args", args: []string{"--root", root, "kill", "c1", "9"},
			files: map[string]string{rk + "c1": rec(runc, "arg --systemd-cgroup\narg --log-level=warning\n")}, fast: true},
		{name: "a tombstone serves", args: []string{"state", "c1"}, files: map[string]string{"state/default/deleted@/c1": rec(runc)}, fast: true},
		{name: "single-quoted state_dir", args: []string{"state", "c1"}, config: withConf("state_dir = '" + dir + "/state'"),
			files: c1, fast: true},
		{name: "CRLF record", args: []string{"state", "c1"}, files: map[string]string{"state/default/c1": strings.ReplaceAll(rec(runc), "\n", "\r\n")}, fast: true},
		{name: "duplicate environment", args: []string{"state", "c1"}, env: []string{"FOO=1", "", "FOO=2", "BARE", "SECSHIM_CONFIG=/nonexistent"},
			files: c1, fast: true},

		{name: "delete", args: []string{"--root", root, "delete", "c1"}, dirs: []string{"root/c1", "root/c3"},
			files: map[string]string{rk + "c1": rec(runc), rk + "deleted@/c2": rec(runc), rk + "deleted@/c3": rec(runc)}, fast: true},
		{name: "delete, first tombstone", args: []string{"--root", root, "delete", "--force", "c1"}, dirs: []string{"root/c1"},
			files: rootC1, fast: true},
		{name: "delete -f again", args: []string{"--root", root, "delete", "-f", "c1"}, dirs: []string{"root/c1"},
			files: map[string]string{rk + "deleted@/c1": rec(runc)}, fast: true},
		{name: "delete, default root", ns: true, args: []string{"delete", "c1"},
			files: map[string]string{"state/default/c1": rec(crun), "state/default/deleted@/c2": rec(crun),
				"state/default/deleted@/c3": rec(crun), "state/default/deleted@/c4": rec(dir + "/bin/other"), "state/default/deleted@/c5": "caps zz\n"},
			fast: true},
		{name: "delete, container gone", args: []string{"--root", root, "delete", "c1"}, files: rootC1},
		{name: "delete, SELinux pairs", args: []string{"--root", root, "delete", "c1"}, dirs: []string{"root/c1"},
			files: map[string]string{rk + "c1": rec(runc), "state/selinux-mcs": ""}},
		{name: "delete, backend --root", args: []string{"--root", root, "delete", "c1"}, dirs: []string{"root/c1"},
			files: map[string]string{rk + "c1": rec(runc, "arg --root=/x\n")}},
		{name: "delete, unclean --root", args: []string{"--root", root + "/", "delete", "c1"}, dirs: []string{"root/c1"},
			files: map[string]string{"state/" + preKey(root+"/") + "/c1": rec(runc)}},

		{name: "no record", args: []string{"state", "c1"}},
		{name: "attested start", args: []string{"start", "c1"}, files: map[string]string{"state/default/c1": rec(runc, "attest audit\npromise --nnp\n")}},
		{name: "runsc backend", args: []string{"state", "c1"}, files: map[string]string{"state/default/c1": rec(dir + "/bin/runsc")}},
		{name: "bad caps", args: []string{"state", "c1"}, files: map[string]string{"state/default/c1": rec(runc, "caps 1x\n")}},
		{name: "relative backend", args: []string{"state", "c1"}, files: map[string]string{"state/default/c1": rec("bin/runc")}},
		{name: "debug log", args: []string{"state", "c1"}, config: conf + "level = \"debug\"\n", files: c1},
		{name: "state_dir with a comment", args: []string{"state", "c1"}, config: withConf("state_dir = \"" + dir + "/state\" # here"),
			files: c1},
		{name: "unclean state_dir", args: []string{"state", "c1"}, config: withConf("state_dir = \"" + dir + "/x/../state\""),
			files: c1},
		{name: "large config", args: []string{"state", "c1"}, config: conf + strings.Repeat("# padding\n", 4000),
			files: c1},
		{name: "no config", args: []string{"state", "c1"}, config: "-", files: c1},
		{name: "unknown global", args: []string{"--bogus", "state", "c1"}, files: c1},
		{name: "single-dash global", args: []string{"-root", root, "state", "c1"}, files: rootC1},
		{name: "bool global with a value", args: []string{"--debug=true", "state", "c1"}, files: c1},
		{name: "value global at the end", args: []string{"--root"}},
		{name: "help", args: []string{"state", "--help"}, files: c1},
		{name: "dashes", args: []string{"kill", "--", "c1"}, files: c1},
		{name: "flag after the ID", args: []string{"kill", "c1", "-9"}, files: c1},
		{name: "extra argument", args: []string{"state", "c1", "c2"}, files: c1},
		{name: "bad ID", args: []string{"state", "c:1"}},
		{name: "other verb", args: []string{"ps", "c1"}, files: c1},
		{name: "runsc dialect", argv0: "runsc-secshim", args: []string{"state", "c1"}, files: c1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := f.compare(t, c)
			if a.wentGo == c.fast {
				t.Errorf("pre-entry served it: %v, want %v (exit %d: %s%s)", !a.wentGo, c.fast, a.status, a.stdout, a.stderr)
			}
			if c.fast && !strings.Contains(a.stdout, "argv0="+a.backend) {
				t.Errorf("the backend did not run: %s", a.stdout)
			}
		})
	}
}

// TestPreEntryMatchesGoRandom compares the two builds as
// TestPreEntryMatchesGo does, over command lines drawn slot by slot
// (globals, verb, verb flags, ID, the rest) from tokens either parser
// treats specially, now and then with one token anywhere replaced, on a
// fixture where c1 has a record in both record directories, c2 only a
// tombstone and c3 nothing.
func TestPreEntryMatchesGoRandom(t *testing.T) {
	f := newPreFixture(t)
	r := f.root
	globals := [][]string{{"--root", r}, {"--root=" + r}, {"--root="}, {"--debug"}, {"--systemd-cgroup"}, {"--log-format=json"},
		{"--log", "runc.log"}, {"--bogus"}, {"-root", r}, {"--debug=true"}, {"--rootless"}, {"--root", r + "/"}}
	verbs := []string{"state", "kill", "delete", "start", "pause", "resume", "state", "kill", "delete", "ps", "create", "--help", ""}
	flags := [][]string{{"-f"}, {"--force"}, {"-a"}, {"--all"}, {"--help"}, {"--"}, {"-x"}, {"--force=1"}}
	ids := []string{"c1", "c1", "c1", "c1", "c2", "c2", "c3", "c:1", "-", ""}
	rest := [][]string{{"KILL"}, {"-9"}, {"c2"}, {"KILL", "TERM"}}
	files := map[string]string{
		"state/default/c1": f.rec(f.runc), "state/" + preKey(r) + "/c1": f.rec(f.crun, "arg --systemd-cgroup\n"),
		"state/default/deleted@/c2": f.rec(f.runc), "state/" + preKey(r) + "/deleted@/c2": f.rec(f.runc),
	}
	rng := rand.New(rand.NewPCG(4, 2))
	n := 300
	if testing.Short() {
		n = 40
	}
	served := 0
	for i := range n {
		var args []string
		for range rng.IntN(3) {
			args = append(args, globals[rng.IntN(len(globals))]...)
		}
		args = append(args, verbs[rng.IntN(len(verbs))])
		if rng.IntN(4) == 0 {
			args = append(args, flags[rng.IntN(len(flags))]...)
		}
		args = append(args, ids[rng.IntN(len(ids))])
		if rng.IntN(4) == 0 {
			args = append(args, rest[rng.IntN(len(rest))]...)
		}
		if rng.IntN(10) == 0 {
			all := slices.Concat(append(slices.Concat(globals...), verbs...), slices.Concat(flags...), ids, slices.Concat(rest...))
			args[rng.IntN(len(args))] = all[rng.IntN(len(all))]
		}
		c := preCase{name: fmt.Sprint(i), args: args, config: f.conf, files: files, dirs: []string{"root/c1", "root/c2"}}
		t.Run(c.name, func(t *testing.T) {
			if a, _ := f.compare(t, c); !a.wentGo {
				served++
			}
		})
	}
	// The draw is fixed: a change in how many it serves is a change in
	// what the pre-entry accepts.
	t.Logf("the pre-entry served %d of %d", served, n)
	if served < n/10 {
		t.Errorf("the pre-entry served %d of %d: the comparison covered mostly Go against Go", served, n)
	}
}

// preFixture is what both tests share: the two builds and a fixture dir.
type preFixture struct {
	pre, goOnly           string
	dir, root, runc, crun string
	conf                  string
}

func newPreFixture(t *testing.T) *preFixture {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the pre-entry is built on linux/amd64 only")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tombstone of delete applies to root's runc and crun only")
	}
	for _, tool := range []string{"make", "gcc", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testenv.Strict() {
				t.Fatalf("%s not found (scripts/install-deps.sh)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
	f := &preFixture{pre: testenv.BuildSecshim(t, "1"), goOnly: testenv.BuildSecshim(t, "0"), dir: t.TempDir()}
	f.root = filepath.Join(f.dir, "root")
	f.runc = filepath.Join(f.dir, "bin", "runc")
	f.crun = filepath.Join(f.dir, "bin", "crun")
	f.conf = "default_backend = \"stub\"\nstate_dir = \"" + f.dir + "/state\"\n[log]\nfile = \"" + f.dir + "/decisions.log\"\n[backends.stub]\npath = \"" + f.runc + "\"\n"
	return f
}

// rec is a record for a container on the backend at path.
func (f *preFixture) rec(path string, extra ...string) string {
	return "backend stub\npath " + path + "\nprofile baseline\ncaps a80425fb\nnnp true\nrootmapped false\n" + strings.Join(extra, "")
}

// preKey is RecordPath's directory for a --root.
func preKey(root string) string {
	sum := sha256.Sum256([]byte(root))
	return hex.EncodeToString(sum[:8])
}

// compare runs c with both builds and requires the same exit status,
// output and files after; it returns both results (pre-entry first).
func (f *preFixture) compare(t *testing.T, c preCase) (preResult, preResult) {
	t.Helper()
	if c.config == "" {
		c.config = f.conf
	}
	a := c.run(t, f.dir, f.pre)
	b := c.run(t, f.dir, f.goOnly)
	if a.status != b.status || a.stdout != b.stdout || a.stderr != b.stderr {
		t.Errorf("%q\npre-entry: exit %d\n%s%s\nGo: exit %d\n%s%s", c.args, a.status, a.stdout, a.stderr, b.status, b.stdout, b.stderr)
	}
	if !slices.Equal(a.files, b.files) {
		t.Errorf("%q\nfiles after the pre-entry:\n%s\nafter Go:\n%s", c.args, strings.Join(a.files, "\n"), strings.Join(b.files, "\n"))
	}
	if !b.wentGo {
		t.Fatal("the Go-only build shows no Go runtime start: the check cannot tell")
	}
	return a, b
}

type preCase struct {
	name   string
	argv0  string            // run the binary under this name (a symlink)
	args   []string          // argv[1:]
	config string            // the config file ("-": none at SECSHIM_CONFIG)
	files  map[string]string // files under the fixture
	dirs   []string          // directories under the fixture
	env    []string          // more environment, after SECSHIM_CONFIG
	ns     bool              // in a mount namespace with a tmpfs /run/crun holding c1 and c3
	fast   bool              // the pre-entry serves it
}

type preResult struct {
	status         int
	stdout, stderr string
	files          []string
	wentGo         bool
	backend        string
}

var logTime = regexp.MustCompile(`(time=|"time":)"[^"]*"`)

// stub is the backend: it prints its argv and environment as it got them.
const stub = `#!/bin/sh
echo "argv0=$0"
for a in "$@"; do echo "arg=$a"; done
tr '\0' '\n' < /proc/$$/environ | sed 's/^/env=/'
`

func (c *preCase) run(t *testing.T, dir, bin string) preResult {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	write := func(rel, content string, mode fs.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"runc", "crun", "runsc", "other"} {
		write("bin/"+b, stub, 0o755)
	}
	for rel, content := range c.files {
		write(rel, content, 0o600)
	}
	for _, d := range c.dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(dir, "secshim.toml")
	if c.config != "-" {
		write("secshim.toml", c.config, 0o644)
	}
	argv0 := bin
	if c.argv0 != "" {
		argv0 = filepath.Join(dir, "bin", c.argv0)
		if err := os.Symlink(bin, argv0); err != nil {
			t.Fatal(err)
		}
	}
	argv := append([]string{argv0}, c.args...)
	if c.ns {
		script := `mkdir -p /run/crun && mount -t tmpfs tmpfs /run/crun && mkdir /run/crun/c1 /run/crun/c3 && exec "$0" "$@"`
		argv = append([]string{"unshare", "--mount", "--propagation", "private", "sh", "-c", script}, argv...)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	env := append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GODEBUG=inittrace=1", "SECSHIM_CONFIG=" + confPath}, c.env...)
	outF, errF := filepath.Join(t.TempDir(), "out"), filepath.Join(t.TempDir(), "err")
	files := make([]*os.File, 3)
	if files[0], err = os.Open(os.DevNull); err != nil {
		t.Fatal(err)
	}
	if files[1], err = os.Create(outF); err != nil {
		t.Fatal(err)
	}
	if files[2], err = os.Create(errF); err != nil {
		t.Fatal(err)
	}
	// os.StartProcess, not os/exec: exec.Cmd would drop the duplicate
	// environment entries whose handling is under test.
	p, err := os.StartProcess(path, argv, &os.ProcAttr{Dir: dir, Env: env, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		f.Close()
	}
	stdout, _ := os.ReadFile(outF)
	stderr, _ := os.ReadFile(errF)
	var r preResult
	r.status = st.ExitCode()
	r.stdout = string(stdout)
	var keep []string
	for line := range strings.Lines(string(stderr)) {
		if strings.HasPrefix(line, "init ") && strings.Contains(line, " ms clock") {
			r.wentGo = true
			continue
		}
		keep = append(keep, line)
	}
	r.stderr = strings.Join(keep, "")
	r.backend = filepath.Join(dir, "bin")
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		switch {
		case err != nil:
			r.files = append(r.files, rel+": "+err.Error())
		case rel == "bin" || rel == "decisions.log":
			if d.IsDir() {
				return filepath.SkipDir
			}
		case d.IsDir():
			r.files = append(r.files, rel+"/")
		default:
			// Log lines (an engine log given with --log) carry the time.
			data, _ := os.ReadFile(p)
			data = logTime.ReplaceAll(bytes.TrimSpace(data), []byte(`${1}"T"`))
			r.files = append(r.files, rel+": "+string(data))
		}
		return nil
	})
	return r
}
