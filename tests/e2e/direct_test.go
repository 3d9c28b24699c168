package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

// direct calls secshim the way an engine does, with no Podman in between.
type direct struct {
	t      *testing.T
	bin    string
	dir    string
	root   string // --root for runc state
	config string
	bundle string
}

func newDirect(t *testing.T, config string) *direct {
	t.Helper()
	testenv.Require(t)
	d := &direct{t: t, bin: testenv.SecshimBin(t), dir: t.TempDir()}
	d.root = filepath.Join(d.dir, "runc-root")
	d.config = filepath.Join(d.dir, "secshim.toml")
	d.writeConfig(config)
	d.bundle = filepath.Join(d.dir, "bundle")
	rootfs := filepath.Join(d.bundle, "rootfs")
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", filepath.Join(root, "scripts", "build-image.sh"), "--rootfs", rootfs).CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh --rootfs: %v\n%s", err, out)
	}
	cmd := exec.Command(runcPath(t), "spec")
	cmd.Dir = d.bundle
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	d.editSpec(func(m map[string]any) {
		p := m["process"].(map[string]any)
		p["terminal"] = false
		p["args"] = []any{"sleep", "1000"}
	})
	return d
}

func (d *direct) writeConfig(extra string) {
	d.t.Helper()
	cfg := fmt.Sprintf("default_backend = \"runc\"\nstate_dir = %q\n[log]\nfile = %q\n%s\n",
		filepath.Join(d.dir, "state"), filepath.Join(d.dir, "decisions.log"), extra)
	if err := os.WriteFile(d.config, []byte(cfg), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

func (d *direct) specPath() string { return filepath.Join(d.bundle, "config.json") }

func (d *direct) editSpec(f func(map[string]any)) {
	d.t.Helper()
	b, err := os.ReadFile(d.specPath())
	if err != nil {
		d.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		d.t.Fatal(err)
	}
	f(m)
	if b, err = json.MarshalIndent(m, "", "\t"); err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(d.specPath(), b, 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// run calls secshim with args and stdin. Output goes through files: a
// created container inherits them and would hold pipes open.
func (d *direct) run(stdin string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	cmd := exec.Command(d.bin, args...)
	cmd.Env = append(os.Environ(), "SECSHIM_CONFIG="+d.config)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	o, err1 := os.CreateTemp(d.dir, "stdout-")
	e, err2 := os.CreateTemp(d.dir, "stderr-")
	if err1 != nil || err2 != nil {
		d.t.Fatal(err1, err2)
	}
	defer o.Close()
	defer e.Close()
	cmd.Stdout, cmd.Stderr = o, e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code == -1 {
		d.t.Fatalf("secshim %v: %v", args, err)
	}
	ob, _ := os.ReadFile(o.Name())
	eb, _ := os.ReadFile(e.Name())
	d.t.Logf("$ secshim %s  [exit %d]\n%s%s", strings.Join(args, " "), code, ob, eb)
	return string(ob), string(eb), code
}

func (d *direct) mustRun(stdin string, args ...string) string {
	d.t.Helper()
	out, errOut, code := d.run(stdin, args...)
	if code != 0 {
		d.t.Fatalf("secshim %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func (d *direct) runc(args ...string) (string, int) {
	d.t.Helper()
	cmd := exec.Command(runcPath(d.t), append([]string{"--root", d.root}, args...)...)
	out, _ := cmd.Output()
	return string(out), cmd.ProcessState.ExitCode()
}

// cgroupValue reads a v1 controller file of a container from the host.
func cgroupValue(t *testing.T, pid, controller, file string) string {
	t.Helper()
	cg, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ","+controller+",") {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", controller, parts[2], file))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no %s cgroup in %s", controller, cg)
	return ""
}

func TestDirectLifecycle(t *testing.T) {
	d := newDirect(t, "[profiles.baseline.pids]\ndefault = 100\nmax = 500\n")
	id := fmt.Sprintf("secshim-direct-%d", os.Getpid())
	t.Cleanup(func() { d.runc("delete", "--force", id) })

	d.mustRun("", "--root", d.root, "--log", filepath.Join(d.dir, "log.json"), "--log-format", "json", "create", "--bundle", d.bundle, id)
	d.mustRun("", "--root", d.root, "start", id)

	t.Run("state is the backend's stdout, byte for byte", func(t *testing.T) {
		got := d.mustRun("", "--root", d.root, "state", id)
		want, _ := d.runc("state", id)
		if got != want {
			t.Errorf("state through secshim:\n%s\nrunc:\n%s", got, want)
		}
	})
	var state struct{ Pid int }
	json.Unmarshal([]byte(d.mustRun("", "--root", d.root, "state", id)), &state)
	pid := fmt.Sprint(state.Pid)

	t.Run("pids default applied", func(t *testing.T) {
		if got := cgroupValue(t, pid, "pids", "pids.max"); got != "100" {
			t.Errorf("pids.max = %s, want the policy default 100", got)
		}
	})
	t.Run("update flag clamped to the maximum", func(t *testing.T) {
		d.mustRun("", "--root", d.root, "update", "--pids-limit", "99999", id)
		if got := cgroupValue(t, pid, "pids", "pids.max"); got != "500" {
			t.Errorf("pids.max = %s, want the policy max 500", got)
		}
		d.mustRun("", "--root", d.root, "update", "--pids-limit", "200", id)
		if got := cgroupValue(t, pid, "pids", "pids.max"); got != "200" {
			t.Errorf("pids.max = %s, want 200 (within the max)", got)
		}
	})
	t.Run("update on stdin clamped", func(t *testing.T) {
		d.mustRun(`{"pids":{"limit":-1}}`, "--root", d.root, "update", "--resources", "-", id)
		if got := cgroupValue(t, pid, "pids", "pids.max"); got != "500" {
			t.Errorf("pids.max = %s, want the policy max 500 instead of unlimited", got)
		}
	})
	t.Run("update file clamped", func(t *testing.T) {
		f := filepath.Join(d.dir, "resources.json")
		os.WriteFile(f, []byte(`{"pids":{"limit":100000},"x-unknown":1}`), 0o600)
		d.mustRun("", "--root", d.root, "update", "--resources="+f, id)
		if got := cgroupValue(t, pid, "pids", "pids.max"); got != "500" {
			t.Errorf("pids.max = %s, want 500", got)
		}
		b, _ := os.ReadFile(f)
		if !strings.Contains(string(b), `"x-unknown":1`) {
			t.Errorf("unknown field lost from the resources file: %s", b)
		}
	})
	t.Run("inline exec --cap clamped", func(t *testing.T) {
		out := d.mustRun("", "--root", d.root, "exec", "--cap", "CAP_SYS_ADMIN", "--cap", "CAP_KILL", id, "cat", "/proc/self/status")
		st := testenv.ProcStatus(out)
		m, _ := testenv.ParseCapHex(st["CapBnd"])
		if m&testenv.MustCapMask("CAP_SYS_ADMIN") != 0 {
			t.Errorf("exec --cap CAP_SYS_ADMIN reached the process: %v", testenv.CapsOfMask(m))
		}
		if st["NoNewPrivs"] != "1" {
			t.Errorf("inline exec: NoNewPrivs %q", st["NoNewPrivs"])
		}
	})
	t.Run("exit status of a failing pass-through verb", func(t *testing.T) {
		_, _, code := d.run("", "--root", d.root, "state", "no-such-container")
		_, want := d.runc("state", "no-such-container")
		if code != want || code == 0 {
			t.Errorf("exit %d, runc's %d", code, want)
		}
	})
	t.Run("delete leaves no record once the container is gone", func(t *testing.T) {
		records, _ := filepath.Glob(filepath.Join(d.dir, "state", "*", id))
		if len(records) != 1 {
			t.Fatalf("records before delete: %v", records)
		}
		d.mustRun("", "--root", d.root, "delete", "--force", id)
		if _, code := d.runc("state", id); code == 0 {
			t.Error("container still exists after delete")
		}
		// delete is an exec on runc: the record became a tombstone, which
		// the next delete sweeps now that the container is gone.
		if records, _ = filepath.Glob(filepath.Join(d.dir, "state", "*", id)); len(records) != 0 {
			t.Errorf("record left: %v", records)
		}
		tombs, _ := filepath.Glob(filepath.Join(d.dir, "state", "*", "deleted@", id))
		if len(tombs) != 1 {
			t.Fatalf("tombstones: %v", tombs)
		}
		other := id + "-other"
		d.mustRun("", "--root", d.root, "create", "--bundle", d.bundle, other)
		d.mustRun("", "--root", d.root, "delete", "--force", other)
		if _, err := os.Stat(tombs[0]); !os.IsNotExist(err) {
			t.Errorf("tombstone of a deleted container not swept: %v", err)
		}
	})
}

// TestDeleteFailedKeepsRecord: a delete the backend refuses (a running
// container, no --force) must not cost the container its record: later
// verbs still go to its backend and exec is still clamped to what it was
// allowed; a sweep leaves its tombstone alone while it exists.
func TestDeleteFailedKeepsRecord(t *testing.T) {
	// Default baseline; this container asks for restricted, so only its
	// record says it may not have CAP_CHOWN (baseline allows it).
	d := newDirect(t, "[policy]\nprofile = \"baseline\"\nselectable = [\"baseline\", \"restricted\"]\n")
	d.editSpec(func(m map[string]any) {
		m["annotations"] = map[string]any{"io.secshim.profile": "restricted"}
	})
	id := fmt.Sprintf("secshim-tomb-%d", os.Getpid())
	t.Cleanup(func() { d.runc("delete", "--force", id) })
	d.mustRun("", "--root", d.root, "create", "--bundle", d.bundle, id)
	d.mustRun("", "--root", d.root, "start", id)
	if _, _, code := d.run("", "--root", d.root, "delete", id); code == 0 {
		t.Fatal("runc deleted a running container without --force")
	}
	if st, _ := d.runc("state", id); !strings.Contains(st, `"running"`) {
		t.Fatalf("not running: %s", st)
	}
	// Another delete's sweep: the container exists, its tombstone stays.
	other := id + "-other"
	d.mustRun("", "--root", d.root, "create", "--bundle", d.bundle, other)
	d.mustRun("", "--root", d.root, "delete", "--force", other)
	if tombs, _ := filepath.Glob(filepath.Join(d.dir, "state", "*", "deleted@", id)); len(tombs) != 1 {
		t.Fatalf("tombstone of a running container: %v", tombs)
	}
	// exec is clamped by the record (restricted), not by the default
	// profile (baseline, which allows CAP_CHOWN).
	out := d.mustRun("", "--root", d.root, "exec", "--cap", "CAP_CHOWN", "--cap", "CAP_NET_BIND_SERVICE", id, "cat", "/proc/self/status")
	m, _ := testenv.ParseCapHex(testenv.ProcStatus(out)["CapBnd"])
	if m&testenv.MustCapMask("CAP_CHOWN") != 0 {
		t.Errorf("exec after a failed delete got %v", testenv.CapsOfMask(m))
	}
	// Control: a container without a record (another --root) gets
	// CAP_CHOWN from the default profile.
	ctl := id + "-ctl"
	ctlRoot := filepath.Join(d.dir, "ctl-root")
	t.Cleanup(func() { exec.Command(runcPath(t), "--root", ctlRoot, "delete", "--force", ctl).Run() })
	d.editSpec(func(m map[string]any) { delete(m, "annotations") })
	d.mustRun("", "--root", ctlRoot, "create", "--bundle", d.bundle, ctl)
	d.mustRun("", "--root", ctlRoot, "start", ctl)
	os.Remove(mustGlob(t, filepath.Join(d.dir, "state", "*", ctl)))
	out = d.mustRun("", "--root", ctlRoot, "exec", "--cap", "CAP_CHOWN", ctl, "cat", "/proc/self/status")
	if m, _ := testenv.ParseCapHex(testenv.ProcStatus(out)["CapBnd"]); m&testenv.MustCapMask("CAP_CHOWN") == 0 {
		t.Errorf("control: exec without a record did not get CAP_CHOWN: %v", testenv.CapsOfMask(m))
	}
	// Now deleted for real: the next sweep removes it.
	d.mustRun("", "--root", d.root, "delete", "--force", id)
	d.mustRun("", "--root", d.root, "create", "--bundle", d.bundle, other)
	d.mustRun("", "--root", d.root, "delete", "--force", other)
	if tombs, _ := filepath.Glob(filepath.Join(d.dir, "state", "*", "deleted@", id)); len(tombs) != 0 {
		t.Errorf("tombstone left after the delete: %v", tombs)
	}
}

func TestVersion(t *testing.T) {
	d := newDirect(t, "")
	out := d.mustRun("", "--version")
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "secshim version ") || !strings.HasPrefix(lines[1], "commit: ") || !strings.HasPrefix(lines[2], "spec: ") {
		t.Errorf("version shape:\n%s", out)
	}
	if !strings.Contains(out, "runc version") {
		t.Errorf("backend version missing:\n%s", out)
	}
}

// Every refusal exits non-zero with a message naming the problem, reports
// it in the engine's log in its format, and leaves config.json as it was.
func TestFailClosed(t *testing.T) {
	cases := []struct {
		name   string
		config string                 // extra TOML; "!" + text replaces the whole file
		setup  func(d *direct) string // returns the bundle to use
		want   string
	}{
		{name: "malformed config.json", setup: func(d *direct) string {
			os.WriteFile(d.specPath(), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
			return d.bundle
		}, want: "config.json"},
		{name: "duplicate key in config.json", setup: func(d *direct) string {
			os.WriteFile(d.specPath(), []byte(`{"process":{"noNewPrivileges":true,"NoNewPrivileges":false},"root":{"path":"rootfs"}}`), 0o644)
			return d.bundle
		}, want: "noNewPrivileges"},
		{name: "symlinked config.json", setup: func(d *direct) string {
			real := filepath.Join(d.dir, "elsewhere.json")
			b, _ := os.ReadFile(d.specPath())
			os.WriteFile(real, b, 0o644)
			os.Remove(d.specPath())
			os.Symlink(real, d.specPath())
			return d.bundle
		}, want: "symlink"},
		{name: "missing bundle", setup: func(d *direct) string { return filepath.Join(d.dir, "nope") }, want: "nope"},
		{name: "malformed config file", config: "!default_backend = runc", want: "secshim.toml"},
		{name: "unknown key in config file", config: "[profiles.baseline]\nno_new_privs = true", want: "no_new_privs"},
		{name: "unknown capability in policy", config: "[profiles.baseline.capabilities]\nallow = [\"CAP_CHOWN\", \"CAP_NOPE\"]", want: "CAP_NOPE"},
		{name: "unknown backend", config: "!default_backend = \"nope\"", want: "nope"},
		{name: "backend binary missing", config: "[backends.runc]\npath = \"/nonexistent/runc\"", want: "/nonexistent/runc"},
		{name: "backend is secshim itself", config: "[backends.runc]\npath = \"@SELF@\"", want: "secshim itself"},
		{name: "deny mode refuses a privileged spec", config: "[profiles.baseline]\nmode = \"deny\"", setup: func(d *direct) string {
			d.editSpec(func(m map[string]any) {
				caps := m["process"].(map[string]any)["capabilities"].(map[string]any)
				caps["bounding"] = append(caps["bounding"].([]any), "CAP_SYS_ADMIN")
			})
			return d.bundle
		}, want: "process.capabilities.bounding"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirect(t, "")
			switch {
			case strings.HasPrefix(tc.config, "!"):
				os.WriteFile(d.config, []byte(tc.config[1:]), 0o644)
			case tc.config != "":
				d.writeConfig(strings.ReplaceAll(tc.config, "@SELF@", d.bin))
			}
			bundle := d.bundle
			if tc.setup != nil {
				bundle = tc.setup(d)
			}
			before, _ := os.ReadFile(d.specPath())
			logFile := filepath.Join(d.dir, "oci-log")
			id := "failclosed"
			_, stderr, code := d.run("", "--root", d.root, "--log-format=json", "--log", logFile, "create", "--bundle", bundle, id)
			t.Cleanup(func() { d.runc("delete", "--force", id) })
			if code == 0 {
				t.Fatal("secshim accepted it")
			}
			if !strings.Contains(stderr, tc.want) || !strings.HasPrefix(stderr, "secshim: ") {
				t.Errorf("stderr %q does not name %q", stderr, tc.want)
			}
			after, _ := os.ReadFile(d.specPath())
			if !bytes.Equal(before, after) {
				t.Errorf("config.json changed:\n%s\n->\n%s", before, after)
			}
			log, _ := os.ReadFile(logFile)
			var line struct{ Level, Msg string }
			if err := json.Unmarshal(bytes.TrimSpace(log), &line); err != nil || line.Level != "error" || !strings.Contains(line.Msg, tc.want) {
				t.Errorf("engine log %q: %v", log, err)
			}
			if _, code := d.runc("state", id); code == 0 {
				t.Error("the container exists")
			}
		})
	}
}

func TestArgumentErrors(t *testing.T) {
	d := newDirect(t, "")
	before, _ := os.ReadFile(d.specPath())
	for _, args := range [][]string{
		{"create", "--bundle", d.bundle, "id", "--bundle", "/"},
		{"--bogus-global", "create", "--bundle", d.bundle, "id"},
		{"create", "--bogus", d.bundle, "id"},
		{"create", "--bundle"},
		{"create", "--bundle", d.bundle, "../id"},
		{"frobnicate", "id"},
	} {
		_, stderr, code := d.run("", args...)
		if code == 0 || !strings.HasPrefix(stderr, "secshim: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if after, _ := os.ReadFile(d.specPath()); !bytes.Equal(before, after) {
		t.Error("config.json changed")
	}
}

func runcPath(t *testing.T) string {
	p, err := testenv.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s: %v", pattern, m)
	}
	return m[0]
}
