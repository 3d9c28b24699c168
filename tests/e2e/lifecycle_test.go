// Package e2e drives real Podman through secshim onto real runtimes and
// reads the result from inside the containers, as the kernel reports it.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// ulimits: this host's hard RLIMIT_NOFILE is below Podman's defaults.
var ulimits = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

// dangerous capabilities must never reach a container under the baseline.
var dangerous = testenv.MustCapMask("CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_NET_RAW",
	"CAP_SYS_RAWIO", "CAP_NET_ADMIN", "CAP_DAC_READ_SEARCH", "CAP_BPF", "CAP_SYS_BOOT", "CAP_MKNOD")

// podmanDefault is Podman's default capability set, the baseline's ceiling.
var podmanDefault = testenv.MustCapMask("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT")

// statusCmd prints the process's status; gVisor's /proc/self/status has
// no NoNewPrivs or CapAmb lines, so busybox setpriv reports those too.
const statusCmd = "cat /proc/self/status; setpriv -d 2>/dev/null | grep no_new_privs"

// backendCase is one backend the lifecycle runs on.
type backendCase struct {
	name   string
	config string   // extra TOML for the secshim config
	runArg []string // extra podman run flags
	podman func(*testenv.Env) *testenv.Podman
	update bool // the backend implements `update`
	// execTTY: runsc has no `exec --tty`, so `podman exec -t` fails on
	// runsc alone as well.
	execTTY bool
}

func backends() []backendCase {
	return []backendCase{
		{name: "runc", podman: (*testenv.Env).Podman, update: true, execTTY: true},
		{name: "crun", podman: (*testenv.Env).CrunPodman, update: true, execTTY: true},
		{
			name: "runsc",
			// Here runsc needs --network=none; --oci-seccomp (the built-in
			// args) makes it apply the filter secshim writes.
			config: "[backends.runsc]\npath = \"runsc\"\nargs = [\"--oci-seccomp\", \"--network=none\"]\n",
			runArg: []string{"--network=none"},
			podman: (*testenv.Env).Podman,
		},
	}
}

// setup is one test's environment with secshim on the given backend.
type setup struct {
	env *testenv.Env
	pm  *testenv.Podman
	bc  backendCase
}

func (s *setup) stateDir() string { return filepath.Join(s.env.Dir, "state") }
func (s *setup) logFile() string  { return filepath.Join(s.env.Dir, "decisions.log") }

func newSetup(t *testing.T, bc backendCase, policy string) *setup {
	t.Helper()
	testenv.RequireRuntime(t, bc.name)
	env := testenv.New(t)
	s := &setup{env: env, bc: bc}
	env.WithConfig(fmt.Sprintf("default_backend = %q\nstate_dir = %q\n[log]\nfile = %q\nlevel = \"info\"\n%s\n%s",
		bc.name, s.stateDir(), s.logFile(), bc.config, policy))
	s.pm = bc.podman(env).WithRuntime("secshim")
	if bc.name == "runsc" {
		restoreDevNullOwner(t)
	}
	return s
}

// restoreDevNullOwner undoes a runsc quirk: handed /dev/null as a stdio fd
// (conmon does that), runsc chowns it to the sandbox user, the host's
// /dev/null included. It happens with or without secshim.
func restoreDevNullOwner(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/null", &st); err != nil {
		return
	}
	t.Cleanup(func() { os.Chown("/dev/null", int(st.Uid), int(st.Gid)) })
}

// run is `podman run --rm` with the flags every container here needs.
func (s *setup) runArgs(flags ...string) []string {
	args := append([]string{"run", "--rm"}, ulimits...)
	args = append(args, s.bc.runArg...)
	return append(args, flags...)
}

func (s *setup) status(t *testing.T, flags ...string) map[string]string {
	t.Helper()
	args := append(s.runArgs(flags...), testenv.Image, "sh", "-c", statusCmd)
	return testenv.ProcStatus(s.pm.MustRun(args...))
}

func capMask(t *testing.T, st map[string]string, key string) uint64 {
	t.Helper()
	m, err := testenv.ParseCapHex(st[key])
	if err != nil {
		t.Fatalf("%s: %v (status %v)", key, err, st)
	}
	return m
}

// assertHardened checks what the baseline promises, read from the kernel.
func assertHardened(t *testing.T, st map[string]string, what string) {
	t.Helper()
	for _, key := range []string{"CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"} {
		if _, ok := st[key]; !ok && key == "CapAmb" {
			continue // gVisor does not report it
		}
		m := capMask(t, st, key)
		if m&dangerous != 0 {
			t.Errorf("%s: %s holds dangerous %v", what, key, testenv.CapsOfMask(m&dangerous))
		}
		if m&^podmanDefault != 0 {
			t.Errorf("%s: %s holds %v beyond Podman's default set", what, key, testenv.CapsOfMask(m&^podmanDefault))
		}
	}
	if st["NoNewPrivs"] != "1" && st["no_new_privs"] != "1" {
		t.Errorf("%s: NoNewPrivs = %q (setpriv: %q), want 1", what, st["NoNewPrivs"], st["no_new_privs"])
	}
	if st["Seccomp"] != "2" {
		t.Errorf("%s: Seccomp = %q, want 2 (filter)", what, st["Seccomp"])
	}
}

func TestLifecycle(t *testing.T) {
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) { lifecycle(t, bc) })
	}
}

func lifecycle(t *testing.T, bc backendCase) {
	s := newSetup(t, bc, "")
	pm := s.pm

	t.Run("default container is hardened", func(t *testing.T) {
		assertHardened(t, s.status(t), "default")
	})
	t.Run("privileged container is hardened", func(t *testing.T) {
		st := s.status(t, "--privileged")
		assertHardened(t, st, "--privileged")
		// The same container on the backend alone keeps dangerous
		// capabilities: the difference is secshim's doing. (runsc alone
		// cannot start a --privileged container here; --cap-add shows the
		// same for it.)
		direct, flags := bc.podman(s.env).WithRuntime(bc.name), []string{"--privileged"}
		if bc.name == "runsc" {
			direct, flags = bc.podman(s.env).WithRuntime("runsc", "network=none"), []string{"--cap-add=SYS_ADMIN"}
		}
		out, _, code := direct.Run(append(s.runArgs(flags...), testenv.Image, "sh", "-c", statusCmd)...)
		if raw := testenv.ProcStatus(out); code != 0 || capMask(t, raw, "CapBnd")&dangerous == 0 {
			t.Errorf("control: %v on %s alone (exit %d) has no dangerous capability; the test proves nothing", flags, bc.name, code)
		}
	})
	t.Run("cap-add SYS_ADMIN is dropped", func(t *testing.T) {
		assertHardened(t, s.status(t, "--cap-add=SYS_ADMIN", "--security-opt", "seccomp=unconfined"), "--cap-add=SYS_ADMIN")
	})
	t.Run("exit status passes through", func(t *testing.T) {
		_, _, code := pm.Run(append(s.runArgs(), testenv.Image, "sh", "-c", "exit 42")...)
		if code != 42 {
			t.Errorf("exit = %d, want 42", code)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		cmd := pm.Command(t.Context(), append(s.runArgs("-i"), testenv.Image, "sh", "-c", "read l; echo got:$l")...)
		cmd.Stdin = strings.NewReader("hello\n")
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "got:hello" {
			t.Errorf("stdin: %q, %v", out, err)
		}
	})
	t.Run("tty", func(t *testing.T) {
		out := pm.MustRun(append(s.runArgs("-t"), testenv.Image, "sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty")...)
		if !strings.Contains(out, "is-a-tty") {
			t.Errorf("no tty inside: %q", out)
		}
	})

	name := testenv.Name()
	pm.RemoveOnCleanup(name)
	pm.MustRun(append([]string{"run", "-d", "--name", name, "--cap-drop=ALL"}, append(ulimits, append(bc.runArg, testenv.Image, "sleep", "1000")...)...)...)
	id := pm.MustRun("inspect", "-f", "{{.Id}}", name)
	execStatus := func(t *testing.T, flags ...string) map[string]string {
		t.Helper()
		args := append(append([]string{"exec"}, flags...), name, "sh", "-c", statusCmd)
		return testenv.ProcStatus(pm.MustRun(args...))
	}

	t.Run("record and decision log", func(t *testing.T) {
		entries, _ := filepath.Glob(filepath.Join(s.stateDir(), "*", id))
		if len(entries) != 1 {
			t.Errorf("sticky records for %s: %v", id, entries)
		}
		log, err := os.ReadFile(s.logFile())
		if err != nil || !strings.Contains(string(log), `"id":"`+id+`","verb":"create","backend":"`+bc.name+`"`) {
			t.Errorf("no create decision for %s in the log (%v):\n%s", id, err, log)
		}
	})
	t.Run("exec stays within the container", func(t *testing.T) {
		st := execStatus(t)
		if m := capMask(t, st, "CapEff"); m != 0 {
			t.Errorf("exec into --cap-drop=ALL: CapEff %v", testenv.CapsOfMask(m))
		}
	})
	t.Run("exec --privileged is clamped", func(t *testing.T) {
		st := execStatus(t, "--privileged")
		for _, key := range []string{"CapEff", "CapBnd", "CapPrm"} {
			if m := capMask(t, st, key); m != 0 {
				t.Errorf("exec --privileged into --cap-drop=ALL: %s %v", key, testenv.CapsOfMask(m))
			}
		}
		if st["NoNewPrivs"] != "1" && st["no_new_privs"] != "1" {
			t.Errorf("exec --privileged: NoNewPrivs %q", st["NoNewPrivs"])
		}
	})
	t.Run("exec -t", func(t *testing.T) {
		if !bc.execTTY {
			t.Skipf("%s has no exec --tty", bc.name)
		}
		out := pm.MustRun("exec", "-t", name, "sh", "-c", "test -t 0 && echo is-a-tty")
		if !strings.Contains(out, "is-a-tty") {
			t.Errorf("exec -t: %q", out)
		}
	})
	t.Run("pause and resume", func(t *testing.T) {
		pm.MustRun("pause", name)
		if got := pm.MustRun("inspect", "-f", "{{.State.Status}}", name); got != "paused" {
			t.Errorf("after pause: %s", got)
		}
		pm.MustRun("unpause", name)
		pm.MustRun("exec", name, "true")
	})
	if bc.update {
		t.Run("update", func(t *testing.T) {
			// The baseline has no memory ceiling: an update goes through.
			pm.MustRun("update", "--memory", "300m", name)
			if got := memoryLimit(t, pm, name); got != 300<<20 {
				t.Errorf("memory limit after update: %d", got)
			}
		})
	}
	t.Run("stop, start, kill, rm", func(t *testing.T) {
		pm.MustRun("stop", "-t", "1", name)
		if got := pm.MustRun("inspect", "-f", "{{.State.Status}}", name); got != "exited" {
			t.Errorf("after stop: %s", got)
		}
		pm.MustRun("start", name)
		pm.MustRun("kill", name)
		pm.MustRun("rm", "-f", name)
		// A tombstone (runc, crun) lasts until the next delete's sweep.
		entries, _ := filepath.Glob(filepath.Join(s.stateDir(), "*", id))
		if len(entries) != 0 {
			t.Errorf("record left after rm: %v", entries)
		}
	})
}

// memoryLimit reads the container's memory limit from its cgroup on the
// host (cgroup v1 memory controller, or the unified hierarchy).
func memoryLimit(t *testing.T, pm *testenv.Podman, name string) int64 {
	t.Helper()
	pid := pm.MustRun("inspect", "-f", "{{.State.Pid}}", name)
	cg, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		case parts[1] == "" && parts[0] == "0" && !strings.Contains(string(cg), "memory"):
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		default:
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var n int64
		fmt.Sscan(string(b), &n)
		return n
	}
	t.Fatalf("no memory cgroup in %s", cg)
	return 0
}

// A container secshim refuses shows the reason in Podman's own error.
func TestRefusalReachesPodman(t *testing.T) {
	s := newSetup(t, backends()[0], "[profiles.baseline]\nmode = \"deny\"\n")
	_, stderr, code := s.pm.Run(append(s.runArgs("--privileged"), testenv.Image, "true")...)
	if code == 0 {
		t.Fatal("a --privileged container ran under a deny policy")
	}
	for _, want := range []string{"secshim", "policy denies this container", "process.capabilities.bounding"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("podman's error does not say %q:\n%s", want, stderr)
		}
	}
	// Per-control modes: deny for the controls a default Podman container
	// already satisfies, enforce for the rest, so it starts; a deny
	// control it violates (--cap-add) still refuses it.
	modes := "[profiles.baseline]\nmode = \"deny\"\n[profiles.baseline.modes]\n" +
		"no_new_privileges = \"enforce\"\nnamespaces = \"enforce\"\nmounts = \"enforce\"\npaths = \"enforce\"\n" +
		"seccomp = \"enforce\"\nrlimits = \"enforce\"\nsysctls = \"enforce\"\nmemory = \"enforce\"\npids = \"enforce\"\n"
	s2 := newSetup(t, backends()[0], modes)
	s2.pm.MustRun(append(s2.runArgs(), testenv.Image, "true")...)
	_, stderr, code = s2.pm.Run(append(s2.runArgs("--cap-add=SYS_ADMIN"), testenv.Image, "true")...)
	if code == 0 || !strings.Contains(stderr, "capabilities: process.capabilities.bounding: -CAP_SYS_ADMIN") {
		t.Errorf("--cap-add=SYS_ADMIN under a deny capabilities control: exit %d\n%s", code, stderr)
	}
}

// Podman's --cgroups=disabled would drop the policy's limits: refused.
func TestCgroupsDisabledRefused(t *testing.T) {
	s := newSetup(t, backends()[0], "")
	_, stderr, code := s.pm.Run(append(s.runArgs("--cgroups=disabled"), testenv.Image, "true")...)
	if code == 0 || !strings.Contains(stderr, "would drop the policy's pids and memory limits") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}

// podman update cannot lift a limit above the policy's maximum.
func TestPodmanUpdateClamped(t *testing.T) {
	s := newSetup(t, backends()[0], "[profiles.baseline.memory]\nmax = 268435456\n")
	name := testenv.Name()
	s.pm.RemoveOnCleanup(name)
	s.pm.MustRun(append([]string{"run", "-d", "--name", name}, append(ulimits, testenv.Image, "sleep", "1000")...)...)
	if got := memoryLimit(t, s.pm, name); got != 256<<20 {
		t.Errorf("memory limit at create = %d, want the policy max %d", got, 256<<20)
	}
	s.pm.MustRun("update", "--memory", "128m", name)
	if got := memoryLimit(t, s.pm, name); got != 128<<20 {
		t.Errorf("memory limit after update 128m = %d", got)
	}
	s.pm.MustRun("update", "--memory", "512m", "--memory-swap", "1g", name)
	if got := memoryLimit(t, s.pm, name); got != 256<<20 {
		t.Errorf("memory limit after update 512m = %d, want the policy max %d", got, 256<<20)
	}
	log, _ := os.ReadFile(s.logFile())
	if !strings.Contains(string(log), `"verb":"update"`) || !strings.Contains(string(log), `"to":"268435456"`) {
		t.Errorf("no update decision logged:\n%s", log)
	}
}
