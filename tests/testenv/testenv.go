// Package testenv sets up end-to-end tests of secshim under real Podman.
//
// Typical use:
//
//	func TestMain(m *testing.M) { testenv.Main(m) } // removes the built binary at exit
//
//	func TestSomething(t *testing.T) {
//		testenv.Require(t)                     // root + podman + runc, else skip (fail under CI)
//		env := testenv.New(t).WithConfig(`...secshim TOML...`)
//		pm := env.Podman().WithRuntime("secshim")
//		out := pm.MustRun("run", "--rm", testenv.Image, "cat", "/proc/self/status")
//		st := testenv.ProcStatus(out)
//		// st["CapEff"], st["Seccomp"], ...
//	}
//
// New builds secshim once per test process (go build ./cmd/secshim, or takes
// $SECSHIM_BIN), writes a per-test containers.conf that registers the runtime
// "secshim" as a wrapper script
//
//	#!/bin/sh
//	SECSHIM_CONFIG=<Env.ConfigPath> exec <secshim binary> "$@"
//
// (the environment of podman does not reach the OCI runtime, so the config
// path is baked into the runtime path), and builds the test image if needed.
// Podman is run with CONTAINERS_CONF=<Env.ConfPath>, which podman 4.3 honours
// and which replaces the system containers.conf (see containers.conf.in).
//
// Prerequisites are checked by Require/RequireRuntime: a missing one skips the
// test, except when CI=true or SECSHIM_E2E=1, where it fails it.
package testenv

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Image is the test image built by scripts/build-image.sh (static busybox).
const Image = "localhost/secshim-busybox:latest"

//go:embed containers.conf.in
var containersConfTemplate string

// ContainersConfTemplate returns the containers.conf template shared with
// scripts/capture-golden.sh (placeholders @SECSHIM@ @RUNC@ @CRUN@ @RUNSC@).
func ContainersConfTemplate() string { return containersConfTemplate }

// Strict reports whether missing prerequisites must fail rather than skip
// tests: CI=true or SECSHIM_E2E=1.
func Strict() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SECSHIM_E2E") == "1"
}

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("%s (CI=true or SECSHIM_E2E=1: missing prerequisites are failures; run scripts/install-deps.sh as root)", msg)
	}
	t.Skipf("%s (set SECSHIM_E2E=1 to make this a failure)", msg)
}

// Require skips the test, with the reason, unless it runs as root with podman
// and runc installed. Under CI=true or SECSHIM_E2E=1 it fails instead.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, fmt.Sprintf("not root (euid %d)", os.Geteuid()))
	}
	for _, b := range []string{"podman", "runc", "conmon"} {
		if _, err := LookPath(b); err != nil {
			missing = append(missing, b+" not installed")
		}
	}
	if len(missing) > 0 {
		skipOrFail(t, "end-to-end test needs root, podman, runc and conmon: %s", strings.Join(missing, "; "))
	}
}

// RequireRuntime is Require plus the OCI runtime binary name ("crun",
// "runsc"), with the same skip/fail policy.
func RequireRuntime(t testing.TB, name string) {
	t.Helper()
	Require(t)
	if _, err := LookPath(name); err != nil {
		skipOrFail(t, "end-to-end test needs OCI runtime %s: not installed", name)
	}
}

// LookPath finds a program in $PATH or, failing that, in the sbin/bin
// directories (go test may run with a PATH without /usr/sbin, where runc is).
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return filepath.Abs(p)
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("testenv: %s not found", name)
}

func lookPathOr(name, fallback string) string {
	if p, err := LookPath(name); err == nil {
		return p
	}
	return fallback
}

var repoRoot struct {
	once sync.Once
	dir  string
	err  error
}

// RepoRoot returns the directory of the secshim module (from `go env GOMOD`).
func RepoRoot() (string, error) {
	repoRoot.once.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			repoRoot.err = fmt.Errorf("testenv: go env GOMOD: %w", err)
			return
		}
		mod := strings.TrimSpace(string(out))
		if mod == "" || mod == os.DevNull {
			repoRoot.err = fmt.Errorf("testenv: not inside the secshim module (go env GOMOD = %q)", mod)
			return
		}
		repoRoot.dir = filepath.Dir(mod)
	})
	return repoRoot.dir, repoRoot.err
}

var build struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string // by PREENTRY value, "" for the Makefile's default
}

// SecshimBin returns the secshim binary: $SECSHIM_BIN if set, else the one
// `make build` makes (with the pre-entry fast path on linux/amd64), built
// once per test process into a temporary directory. Fails the test if the
// build fails.
func SecshimBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SECSHIM_BIN"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("testenv: SECSHIM_BIN=%q: %v", p, err)
		}
		if fi, err := os.Stat(abs); err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("testenv: SECSHIM_BIN=%q is not an executable file (%v)", p, err)
		}
		return abs
	}
	return BuildSecshim(t, "")
}

// BuildSecshim builds secshim as `make build PREENTRY=preentry` does ("":
// the Makefile's default), once per test process and value.
func BuildSecshim(t testing.TB, preentry string) string {
	t.Helper()
	build.mu.Lock()
	defer build.mu.Unlock()
	if bin, ok := build.bins[preentry]; ok {
		return bin
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if build.dir == "" {
		if build.dir, err = os.MkdirTemp("", "secshim-testbin-"); err != nil {
			t.Fatal(err)
		}
		build.bins = map[string]string{}
	}
	bin := filepath.Join(build.dir, "secshim-"+preentry)
	args := []string{"-s", "build", "OUT=" + bin}
	if preentry != "" {
		args = append(args, "PREENTRY="+preentry)
	}
	cmd := exec.Command("make", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: make %s (in %s): %v\n%s", strings.Join(args, " "), root, err, out)
	}
	build.bins[preentry] = bin
	return bin
}

// Main runs the tests and then removes what testenv left for the whole
// process (the built secshim binary). Use as: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

var image struct {
	mu    sync.Mutex
	ready bool
}

// EnsureImage builds Image with scripts/build-image.sh unless podman already
// has it. Fails the test on error.
func EnsureImage(t testing.TB) {
	t.Helper()
	image.mu.Lock()
	defer image.mu.Unlock()
	if image.ready {
		return
	}
	podman := lookPathOr("podman", "podman")
	if exec.Command(podman, "image", "exists", Image).Run() != nil {
		root, err := RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", filepath.Join(root, "scripts", "build-image.sh"))
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("testenv: scripts/build-image.sh: %v\n%s", err, out)
		}
		t.Logf("testenv: %s", strings.TrimSpace(string(out)))
	}
	image.ready = true
}

// Env is one test's podman setup. Its files live in a t.TempDir().
type Env struct {
	t testing.TB

	// Dir is the per-test directory holding the files below.
	Dir string
	// ConfPath is the containers.conf given to podman via CONTAINERS_CONF.
	ConfPath string
	// ConfigPath is the secshim TOML config (SECSHIM_CONFIG); WithConfig
	// writes it. It starts out empty.
	ConfigPath string
	// WrapperPath is the script registered as OCI runtime "secshim".
	WrapperPath string
	// Bin is the secshim binary the wrapper execs ("" with WithoutSecshim).
	Bin string
	// ArgvLog is the file the wrapper appends each call's argv to (WithArgvLog), else "".
	ArgvLog string
	// GoStartLog is the file the wrapper appends each call and its stderr
	// to, with Go's init trace on (WithGoStartLog), else "".
	GoStartLog string
	// Runtimes maps runtime names to the absolute paths in containers.conf.
	Runtimes map[string]string
}

type options struct {
	noSecshim bool
	bin       string
	argvLog   bool
	goStart   bool
	noImage   bool
}

// Option configures New.
type Option func(*options)

// WithoutSecshim does not build or need secshim: the runtime "secshim" is
// still registered but its wrapper fails. For tests of podman and the
// backends alone.
func WithoutSecshim() Option { return func(o *options) { o.noSecshim = true } }

// WithBinary makes the wrapper exec path instead of the built secshim (e.g.
// a fake runtime in a test of testenv itself).
func WithBinary(path string) Option { return func(o *options) { o.bin = path } }

// WithArgvLog makes the wrapper append the argv of each call to Env.ArgvLog;
// read them with Env.Calls.
func WithArgvLog() Option { return func(o *options) { o.argvLog = true } }

// WithGoStartLog makes the wrapper run secshim with GODEBUG=inittrace=1 and
// its stderr (and the backend's) appended to Env.GoStartLog, after a line
// naming the call; read it with Env.GoStarts. Podman then sees no stderr
// of the runtime. With crun as the backend (C), an init trace means that
// secshim's Go runtime started.
func WithGoStartLog() Option { return func(o *options) { o.goStart = true } }

// WithoutImage skips EnsureImage.
func WithoutImage() Option { return func(o *options) { o.noImage = true } }

// New prepares a test's podman environment (see the package doc). It calls
// Require first, so it skips (or fails under CI) without prerequisites.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	Require(t)
	var o options
	for _, f := range opts {
		f(&o)
	}
	e := &Env{t: t, Dir: t.TempDir()}
	e.ConfPath = filepath.Join(e.Dir, "containers.conf")
	e.ConfigPath = filepath.Join(e.Dir, "secshim.toml")
	e.WrapperPath = filepath.Join(e.Dir, "secshim")
	if o.argvLog {
		e.ArgvLog = filepath.Join(e.Dir, "argv.log")
	}
	if o.goStart {
		e.GoStartLog = filepath.Join(e.Dir, "gostart.log")
	}
	switch {
	case o.bin != "":
		abs, err := filepath.Abs(o.bin)
		if err != nil {
			t.Fatal(err)
		}
		e.Bin = abs
	case !o.noSecshim:
		e.Bin = SecshimBin(t)
	}
	e.Runtimes = map[string]string{
		"runc":    lookPathOr("runc", "/usr/sbin/runc"),
		"crun":    lookPathOr("crun", "/usr/bin/crun"),
		"runsc":   lookPathOr("runsc", "/usr/bin/runsc"),
		"secshim": e.WrapperPath,
	}
	must(t, os.WriteFile(e.ConfigPath, nil, 0o644))
	must(t, os.WriteFile(e.WrapperPath, []byte(e.wrapperScript()), 0o755))
	must(t, os.WriteFile(e.ConfPath, []byte(RenderContainersConf(e.Runtimes)), 0o644))
	if !o.noImage {
		EnsureImage(t)
	}
	return e
}

// RenderContainersConf fills the containers.conf template with the runtime
// paths of rt (keys "secshim", "runc", "crun", "runsc").
func RenderContainersConf(rt map[string]string) string {
	return strings.NewReplacer(
		"@SECSHIM@", tomlEscape(rt["secshim"]),
		"@RUNC@", tomlEscape(rt["runc"]),
		"@CRUN@", tomlEscape(rt["crun"]),
		"@RUNSC@", tomlEscape(rt["runsc"]),
	).Replace(containersConfTemplate)
}

func tomlEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// wrapperScript is the OCI runtime "secshim". Podman runs kill/delete with no
// PATH at all, so everything is absolute or a shell builtin.
func (e *Env) wrapperScript() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# secshim test wrapper, generated by tests/testenv\n")
	if e.ArgvLog != "" {
		// One line per call: the arguments separated by \037 (unit separator).
		b.WriteString(`l=''; for a in "$0" "$@"; do l="$l$a$(printf '\037')"; done; printf '%s\n' "$l" >> ` + shQuote(e.ArgvLog) + "\n")
	}
	if e.Bin == "" {
		b.WriteString("echo 'testenv: secshim was not built (testenv.WithoutSecshim)' >&2\nexit 127\n")
	} else {
		if e.GoStartLog != "" {
			b.WriteString(`printf '\036%s\n' "$*" >> ` + shQuote(e.GoStartLog) + "\n")
			b.WriteString("exec 2>>" + shQuote(e.GoStartLog) + "\nexport GODEBUG=inittrace=1\n")
		}
		b.WriteString("SECSHIM_CONFIG=" + shQuote(e.ConfigPath) + " exec " + shQuote(e.Bin) + " \"$@\"\n")
	}
	return b.String()
}

// WithConfig writes toml (the secshim configuration, opaque to testenv) to
// ConfigPath, which every later runtime call of this Env reads. Returns e.
func (e *Env) WithConfig(toml string) *Env {
	e.t.Helper()
	must(e.t, os.WriteFile(e.ConfigPath, []byte(toml), 0o644))
	return e
}

// Podman returns a helper running podman with this Env's containers.conf
// (runtime "runc" by default; use WithRuntime to choose).
func (e *Env) Podman() *Podman {
	return &Podman{
		t:    e.t,
		Path: lookPathOr("podman", "podman"),
		Env:  setEnv(os.Environ(), "CONTAINERS_CONF", e.ConfPath),
		Dir:  e.Dir,
	}
}

// CrunPodman returns Podman().In(CrunNamespace(t)): podman inside the crun
// mount namespace (runtime still to be chosen, e.g. WithRuntime("crun") or
// WithRuntime("secshim") with a crun backend).
func (e *Env) CrunPodman() *Podman {
	e.t.Helper()
	RequireRuntime(e.t, "crun")
	return e.Podman().In(CrunNamespace(e.t))
}

// Calls returns the argv (argv[0] first) of each call of the wrapper so far;
// needs WithArgvLog.
func (e *Env) Calls() [][]string {
	e.t.Helper()
	b := e.readLog(e.ArgvLog, "Env.Calls", "WithArgvLog")
	var calls [][]string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		calls = append(calls, strings.Split(strings.TrimSuffix(line, "\x1f"), "\x1f"))
	}
	return calls
}

// readLog reads a log the wrapper appends to; nothing when no call was
// made. A log the options did not ask for fails the test.
func (e *Env) readLog(path, reader, option string) []byte {
	e.t.Helper()
	if path == "" {
		e.t.Fatalf("testenv: %s needs testenv.%s()", reader, option)
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	must(e.t, err)
	return b
}

// GoStart is one call of the runtime as WithGoStartLog saw it.
type GoStart struct {
	Args    []string // argv[1:], split on spaces
	Started bool     // a Go runtime's init trace appeared on its stderr
	Stderr  string   // the rest of its stderr
}

// GoStarts reads Env.GoStartLog.
func (e *Env) GoStarts() []GoStart {
	e.t.Helper()
	b := e.readLog(e.GoStartLog, "Env.GoStarts", "WithGoStartLog")
	var calls []GoStart
	for _, block := range strings.Split(string(b), "\x1e")[1:] {
		args, rest, _ := strings.Cut(block, "\n")
		c := GoStart{Args: strings.Fields(args)}
		for line := range strings.Lines(rest) {
			if strings.HasPrefix(line, "init ") && strings.Contains(line, " ms clock") {
				c.Started = true
			} else {
				c.Stderr += line
			}
		}
		calls = append(calls, c)
	}
	return calls
}

// GoldenPath returns the path of tests/golden/name.
func GoldenPath(t testing.TB, name string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "tests", "golden", name)
}

// LoadGolden reads and decodes the golden JSON tests/golden/name (e.g.
// "podman-default.json") into v (numbers as json.Number when v is *any or a
// map). Fails the test on error.
func LoadGolden(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(GoldenPath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		t.Fatalf("testenv: %s: %v", name, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
