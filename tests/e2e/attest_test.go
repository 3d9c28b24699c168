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

// attestLine is the attestation verdict line of the decision log.
type attestLine struct {
	ID      string `json:"id"`
	Verb    string `json:"verb"`
	Backend string `json:"backend"`
	Attest  struct {
		Verdict    string `json:"verdict"`
		Mode       string `json:"mode"`
		Action     string `json:"action"`
		Reason     string `json:"reason"`
		Pid        int    `json:"pid"`
		Mismatches []struct {
			Field, Promised, Got string
		} `json:"mismatches"`
		Unchecked []string `json:"unchecked"`
	} `json:"attest"`
}

// attestLines reads the verdicts of one container from the log.
func attestLines(t *testing.T, logFile, id string) []attestLine {
	t.Helper()
	var out []attestLine
	for _, l := range logLines(t, logFile, id) {
		if l.Verb == "attest" {
			out = append(out, l)
		}
	}
	return out
}

// logLines reads every decision line of one container from the log.
func logLines(t *testing.T, logFile, id string) []attestLine {
	t.Helper()
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("decision log: %v", err)
	}
	var out []attestLine
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var l attestLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.ID == id {
			out = append(out, l)
		}
	}
	return out
}

// runNamed runs a container with --cidfile and returns its ID, output and
// exit status.
func runNamed(t *testing.T, pm *testenv.Podman, args []string, cmd ...string) (id, stdout, stderr string, code int) {
	t.Helper()
	cid := filepath.Join(t.TempDir(), "cid")
	name := testenv.Name()
	pm.RemoveOnCleanup(name)
	all := append(append(args, "--name", name, "--cidfile", cid, testenv.Image), cmd...)
	stdout, stderr, code = pm.Run(all...)
	b, _ := os.ReadFile(cid)
	return strings.TrimSpace(string(b)), stdout, stderr, code
}

// TestAttestPasses: a normal container passes attestation on each native
// backend. runc runs the hook during create (the init process waits on
// its exec fifo with everything applied), crun during start after the
// execve: a pass on both proves the hook reads at a moment the promised
// settings are in force. The containers live long enough (sleep) that the
// hook finds them running: one already gone is logged "exited", not "pass".
func TestAttestPasses(t *testing.T) {
	for _, bc := range backends() {
		if bc.name == "runsc" {
			continue
		}
		t.Run(bc.name, func(t *testing.T) {
			s := newSetup(t, bc, "")
			id, out, errOut, code := runNamed(t, s.pm, s.runArgs(), "sh", "-c", statusCmd+"; sleep 0.5")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			assertHardened(t, testenv.ProcStatus(out), "attested container")
			ls := attestLines(t, s.logFile(), id)
			if len(ls) != 1 {
				t.Fatalf("%d attest lines for %s, want 1", len(ls), id)
			}
			if l := ls[0]; l.Attest.Verdict != "pass" || l.Attest.Mode != "enforce" || l.Backend != bc.name || l.Attest.Pid <= 0 {
				t.Errorf("verdict %+v", l)
			}
			if all := logLines(t, s.logFile(), id); len(all) < 2 || all[0].Verb != "create" || all[0].Attest.Verdict != "pending" {
				t.Errorf("the create line does not say attestation is pending: %+v", all)
			}
			// restricted also promises a read-only root (mountinfo)
			// and a non-root user.
			rs := newSetup(t, bc, "[policy]\nprofile = \"restricted\"\n")
			id, out, errOut, code = runNamed(t, rs.pm, rs.runArgs(), "sh", "-c", "touch /x 2>/dev/null && echo root-writable; sleep 0.5")
			if code != 0 || strings.Contains(out, "root-writable") {
				t.Fatalf("restricted: exit %d\n%s%s", code, out, errOut)
			}
			if ls := attestLines(t, rs.logFile(), id); len(ls) != 1 || ls[0].Attest.Verdict != "pass" {
				t.Errorf("restricted: attest lines %+v", ls)
			}
			// A command that ends at once may be exiting when it is read
			// (namespaces gone, cgroup the root's): exited, never a failure.
			n := 5
			if bc.name == "crun" { // the process runs before it is read
				n = 20
			}
			for i := 0; i < n; i++ {
				id, out, errOut, code := runNamed(t, s.pm, s.runArgs(), "true")
				if code != 0 {
					t.Fatalf("short-lived container %d: exit %d\n%s%s", i, code, out, errOut)
				}
				if ls := attestLines(t, s.logFile(), id); len(ls) != 1 || ls[0].Attest.Verdict != "pass" && ls[0].Attest.Verdict != "exited" {
					t.Errorf("short-lived container %d: attest lines %+v", i, ls)
				}
			}
		})
	}
}

// stripper writes a backend that does not apply the spec: it removes
// noNewPrivileges and seccomp from config.json, then runs the runtime.
func stripper(t *testing.T, runtime string) string {
	return stripperWith(t, runtime, "del(.process.noNewPrivileges) | del(.linux.seccomp)")
}

// stripperWith writes a backend that applies a jq filter to config.json
// before running the runtime.
func stripperWith(t *testing.T, runtime, filter string) string {
	t.Helper()
	testenv.RequireRuntime(t, runtime)
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq not installed")
	}
	runc, err := exec.LookPath(runtime)
	if err != nil {
		t.Skip(runtime + " not installed")
	}
	// Named after the runtime it wraps: secshim knows runc's init holds
	// everything before start (attest.go, finalBeforeStart).
	path := filepath.Join(t.TempDir(), runtime)
	script := `#!/bin/sh
# A runtime that ignores noNewPrivileges and seccomp: strips them, runs the real one.
bundle=.
prev=
verb=
for a in "$@"; do
	case "$prev" in --bundle|-b) bundle=$a ;; esac
	case "$a" in --bundle=*) bundle=${a#--bundle=} ;; create|run) [ -z "$verb" ] && verb=$a ;; esac
	prev=$a
done
if [ -n "$verb" ]; then
	` + jq + ` '` + filter + `' "$bundle/config.json" > "$bundle/config.json.strip" &&
		mv "$bundle/config.json.strip" "$bundle/config.json" || exit 1
fi
exec ` + runc + ` "$@"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// stripperSetup is secshim with the stripper (over runc, or crun in its
// mount namespace) as its default backend.
func stripperSetup(t *testing.T, mode, runtime string) *setup {
	t.Helper()
	return stripperSetupWith(t, mode, runtime, stripper(t, runtime))
}

func stripperSetupWith(t *testing.T, mode, runtime, script string) *setup {
	t.Helper()
	env := testenv.New(t)
	bc := backendCase{name: "stripper", podman: (*testenv.Env).Podman}
	if runtime == "crun" {
		bc.podman = (*testenv.Env).CrunPodman
	}
	s := &setup{env: env, bc: bc}
	env.WithConfig(fmt.Sprintf("default_backend = \"stripper\"\nstate_dir = %q\n[log]\nfile = %q\nlevel = \"info\"\n"+
		"[backends.stripper]\npath = %q\n[policy]\nattest = %q\n", s.stateDir(), s.logFile(), script, mode))
	s.pm = bc.podman(env).WithRuntime("secshim")
	return s
}

// TestAttestCatchesStripper: a backend that drops noNewPrivileges and
// seccomp is caught. enforce: the container is killed and podman run
// fails naming each mismatch; audit: it runs, the log has the mismatch.
func TestAttestCatchesStripper(t *testing.T) {
	t.Run("enforce", func(t *testing.T) {
		s := stripperSetup(t, "enforce", "runc")
		marks := t.TempDir()
		id, out, errOut, code := runNamed(t, s.pm, s.runArgs("-v", marks+":/marks"), "sh", "-c", "touch /marks/ran; sleep 30")
		if code == 0 {
			t.Fatalf("podman run succeeded on a backend that ignores the spec\n%s", out)
		}
		for _, want := range []string{"attestation failed", "container killed", "NoNewPrivs is 0, promised 1", "Seccomp is 0, promised 2 (filter)"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("podman's error lacks %q:\n%s", want, errOut)
			}
		}
		// On runc the check runs before start: the user's process never ran.
		if _, err := os.Stat(filepath.Join(marks, "ran")); err == nil {
			t.Error("the user process ran")
		}
		// Control: the same container on runc alone leaves the mark.
		ctl := s.env.Podman().WithRuntime("runc")
		name := testenv.Name()
		ctl.RemoveOnCleanup(name)
		ctl.MustRun(append(s.runArgs("-v", marks+":/marks", "--name", name), testenv.Image, "touch", "/marks/ran")...)
		if _, err := os.Stat(filepath.Join(marks, "ran")); err != nil {
			t.Errorf("control: no mark: %v", err)
		}
		ls := attestLines(t, s.logFile(), id)
		if len(ls) != 1 || ls[0].Attest.Verdict != "fail" || ls[0].Attest.Action != "killed" || len(ls[0].Attest.Mismatches) != 2 {
			t.Fatalf("attest lines %+v", ls)
		}
		// Nothing of it is left running.
		if ps := s.pm.MustRun("ps", "-a", "--filter", "id="+id, "--format", "{{.State}}"); strings.Contains(ps, "running") {
			t.Errorf("container still running: %q", ps)
		}
	})
	// crun runs the hook inside start, after the execve, and only warns
	// when it fails: secshim's start must fail, with the hook's message.
	t.Run("enforce-crun", func(t *testing.T) {
		s := stripperSetup(t, "enforce", "crun")
		id, out, errOut, code := runNamed(t, s.pm, s.runArgs(), "sh", "-c", "sleep 30")
		if code == 0 {
			t.Fatalf("podman run succeeded on a backend that ignores the spec\n%s", out)
		}
		for _, want := range []string{"attestation failed", "container killed", "NoNewPrivs is 0, promised 1", "Seccomp is 0, promised 2 (filter)"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("podman's error lacks %q:\n%s", want, errOut)
			}
		}
		ls := attestLines(t, s.logFile(), id)
		if len(ls) != 1 || ls[0].Attest.Verdict != "fail" || ls[0].Attest.Action != "killed" {
			t.Fatalf("attest lines %+v", ls)
		}
		if ps := s.pm.MustRun("ps", "-a", "--filter", "id="+id, "--format", "{{.State}}"); strings.Contains(ps, "running") {
			t.Errorf("container still running: %q", ps)
		}
	})
	t.Run("audit", func(t *testing.T) {
		s := stripperSetup(t, "audit", "runc")
		id, out, errOut, code := runNamed(t, s.pm, s.runArgs(), "sh", "-c", statusCmd)
		if code != 0 {
			t.Fatalf("audit: exit %d\n%s%s", code, out, errOut)
		}
		// Control: the stripper did strip, so the test proves something.
		if st := testenv.ProcStatus(out); st["NoNewPrivs"] != "0" || st["Seccomp"] != "0" {
			t.Fatalf("the stripper did not strip: NoNewPrivs %q Seccomp %q", st["NoNewPrivs"], st["Seccomp"])
		}
		ls := attestLines(t, s.logFile(), id)
		if len(ls) != 1 || ls[0].Attest.Verdict != "fail" || ls[0].Attest.Action != "logged" || ls[0].Attest.Mode != "audit" {
			t.Fatalf("attest lines %+v", ls)
		}
		var fields []string
		for _, m := range ls[0].Attest.Mismatches {
			fields = append(fields, m.Field)
		}
		if strings.Join(fields, ",") != "NoNewPrivs,Seccomp" {
			t.Errorf("mismatches %v, want NoNewPrivs,Seccomp", fields)
		}
	})
}

// TestAttestSandbox: on runsc the host cannot read the guest's state; the
// create line says so explicitly, no hook runs, and the container runs.
func TestAttestSandbox(t *testing.T) {
	bc := backends()[2]
	s := newSetup(t, bc, "")
	id, out, errOut, code := runNamed(t, s.pm, s.runArgs(), "true")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if ls := attestLines(t, s.logFile(), id); len(ls) != 0 {
		t.Errorf("a hook ran on runsc: %+v", ls)
	}
	var create *attestLine
	for _, l := range logLines(t, s.logFile(), id) {
		if l.Verb == "create" {
			create = &l
		}
	}
	if create == nil {
		t.Fatal("no create line")
	}
	if create.Attest.Verdict != "not_attestable" || !strings.Contains(create.Attest.Reason, "not attestable on sandbox backend runsc") {
		t.Errorf("create line's attestation %+v", create.Attest)
	}
}

// TestAttestDirect: secshim called as an engine without Podman. Without
// --pid-file, start finds the pid through the backend's state; `run`
// (create and start in one call) is attested by the poststart hook, which
// fails runc's run on a backend that drops the promise.
func TestAttestDirect(t *testing.T) {
	d := newDirect(t, "")
	id := testenv.Name()
	t.Cleanup(func() { d.runc("delete", "--force", id) })
	root := []string{"--root", d.root}
	d.mustRun("", append(root, "create", "--bundle", d.bundle, id)...)
	d.mustRun("", append(root, "start", id)...)
	if st, _ := d.runc("state", id); !strings.Contains(st, `"running"`) {
		t.Fatalf("not running: %s", st)
	}
	ls := attestLines(t, filepath.Join(d.dir, "decisions.log"), id)
	if len(ls) != 1 || ls[0].Attest.Verdict != "pass" || ls[0].Attest.Pid <= 0 {
		t.Errorf("attest lines %+v", ls)
	}

	// run: the hook, on a backend that strips the promise.
	script := stripper(t, "runc")
	os.WriteFile(d.config, []byte(fmt.Sprintf("default_backend = \"stripper\"\nstate_dir = %q\n[log]\nfile = %q\n[backends.stripper]\npath = %q\n",
		filepath.Join(d.dir, "state"), filepath.Join(d.dir, "decisions.log"), script)), 0o644)
	id2 := testenv.Name()
	t.Cleanup(func() { d.runc("delete", "--force", id2) })
	_, errOut, code := d.run("", append(root, "run", "--detach", "--bundle", d.bundle, id2)...)
	if code == 0 || !strings.Contains(errOut, "attestation failed, container killed") || !strings.Contains(errOut, "NoNewPrivs is 0, promised 1") {
		t.Errorf("run on the stripper: exit %d, %q", code, errOut)
	}
	if ls := attestLines(t, filepath.Join(d.dir, "decisions.log"), id2); len(ls) != 1 || ls[0].Attest.Verdict != "fail" || ls[0].Attest.Action != "killed" {
		t.Errorf("run: attest lines %+v", ls)
	}
	if st, _ := d.runc("state", id2); strings.Contains(st, `"running"`) {
		t.Errorf("run: still running: %s", st)
	}
}

// TestAttestCatchesNamespacesAndLimits: a backend that drops the pid
// namespace and the pids and memory limits leaves the container in the
// host's pid namespace with unlimited cgroups: each is caught from
// /proc/<pid>/ns and the container's cgroup.
func TestAttestCatchesNamespacesAndLimits(t *testing.T) {
	script := stripperWith(t, "runc", `del(.linux.resources.pids) | del(.linux.resources.memory) | .linux.namespaces |= map(select(.type != "pid"))`)
	s := stripperSetupWith(t, "audit", "runc", script)
	id, out, errOut, code := runNamed(t, s.pm, s.runArgs("--memory", "64m"), "sh", "-c", "echo pid=$$; sleep 0.3")
	if code != 0 {
		t.Fatalf("audit: exit %d\n%s%s", code, out, errOut)
	}
	// Control: the stripper did strip (pid 1 would be the container's own).
	if strings.Contains(out, "pid=1\n") {
		t.Fatalf("the container has its own pid namespace: %q", out)
	}
	ls := attestLines(t, s.logFile(), id)
	if len(ls) != 1 || ls[0].Attest.Verdict != "fail" {
		t.Fatalf("attest lines %+v", ls)
	}
	got := map[string]string{}
	for _, m := range ls[0].Attest.Mismatches {
		got[m.Field] = m.Got
	}
	if got["ns/pid"] != "the host's (the runtime's own)" || got["pids.max"] != "unlimited" || got["memory limit"] != "unlimited" || len(got) != 3 {
		t.Errorf("mismatches %+v, want ns/pid, pids.max and memory limit", ls[0].Attest.Mismatches)
	}
}

// TestAttestLSMLabel: where the host enforces SELinux or AppArmor, the
// label the spec promises is the one the process holds.
func TestAttestLSMLabel(t *testing.T) {
	selinux, _ := os.ReadFile("/sys/fs/selinux/enforce")
	apparmor, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if len(selinux) == 0 && !strings.HasPrefix(string(apparmor), "Y") {
		t.Skip("neither SELinux nor AppArmor is enabled on this host: the label check is covered by runtimes' unit tests (TestReadAndCompareLive)")
	}
	s := newSetup(t, backends()[0], "")
	id, out, errOut, code := runNamed(t, s.pm, s.runArgs(), "sh", "-c", "cat /proc/self/attr/current; sleep 0.5")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	ls := attestLines(t, s.logFile(), id)
	if len(ls) != 1 || ls[0].Attest.Verdict != "pass" || len(ls[0].Attest.Unchecked) != 0 {
		t.Fatalf("attest lines %+v", ls)
	}
}
