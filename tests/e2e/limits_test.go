package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secshim/secshim/tests/testenv"
)

// limDecision is one line of the decision log.
type limDecision struct {
	ID      string `json:"id"`
	Verb    string `json:"verb"`
	Profile string `json:"profile"`
	Refused string `json:"refused"`
	Changes []struct {
		Control string `json:"control"`
		Field   string `json:"field"`
		From    string `json:"from"`
		To      string `json:"to"`
	} `json:"changes"`
}

// limCreates reads the create decisions of the setup's log.
func limCreates(t *testing.T, s *setup) ([]limDecision, string) {
	t.Helper()
	raw, err := os.ReadFile(s.logFile())
	if err != nil {
		t.Fatalf("decision log: %v", err)
	}
	var out []limDecision
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d limDecision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		if d.Verb == "create" {
			out = append(out, d)
		}
	}
	return out, string(raw)
}

// limChange finds a change of a control (and field, if given) in the
// create decisions.
func limChange(ds []limDecision, control, field string) (from, to string, ok bool) {
	for _, d := range ds {
		for _, c := range d.Changes {
			if c.Control == control && (field == "" || c.Field == field) {
				return c.From, c.To, true
			}
		}
	}
	return "", "", false
}

// limCgroupDir is the directory of a process's cgroup in a v1 hierarchy
// (cgroups v1 or hybrid), "" when the controller has none.
func limCgroupDir(pid, controller string) string {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && slices.Contains(strings.Split(parts[1], ","), controller) {
			return filepath.Join("/sys/fs/cgroup", controller, parts[2])
		}
	}
	return ""
}

// A fork bomb in a container that asked for no pids limit is held to the
// policy's 64 (Podman sends its own default of 2048, which the policy
// cuts), the host stays responsive, and the container goes away.
//
// The bomb is the classic one with the function named f, and each shell
// then holding its pid: busybox sh, like dash, refuses ":" as a function
// name ("bad function name"), so `:(){ :|:& };:` would not fork at all;
// and a busybox shell whose fork fails exits, so the bare bomb collapses
// within milliseconds of reaching the limit, too fast to watch. Here each
// shell, once it has forked its two children, waits on a FIFO with the
// builtin read (no process needed), so the bomb fills every pid it may
// and keeps them while the host is checked.
func TestLimitsForkBomb(t *testing.T) {
	s := newSetup(t, backends()[0], "[profiles.baseline.pids]\ndefault = 64\nmax = 64\n")
	name := testenv.Name()
	s.pm.RemoveOnCleanup(name)
	script := `mkfifo /tmp/p; timeout 5 sh -c 'f(){ f|f& read -t 10 x <> /tmp/p; }; f' 2>/dev/null; echo done`
	s.pm.MustRun(append(s.runArgs("-d", "--name", name), testenv.Image, "sh", "-c", script)...)
	pid := s.pm.MustRun("inspect", "-f", "{{.State.Pid}}", name)
	dir := limCgroupDir(pid, "pids")
	if dir == "" {
		t.Skipf("no cgroup v1 pids hierarchy for pid %s (this test reads pids.current from it)", pid)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pids.max")); err != nil || strings.TrimSpace(string(b)) != "64" {
		t.Errorf("pids.max = %q (%v), want 64", b, err)
	}

	peak, samples := 0, 0
	var hostTook time.Duration
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(dir, "pids.current"))
		if err != nil {
			break // the cgroup is gone: the container has ended
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		peak = max(peak, n)
		samples++
		if n >= 48 && hostTook == 0 {
			start := time.Now()
			if out, err := exec.Command("sh", "-c", "ls / >/dev/null && cat /proc/loadavg").CombinedOutput(); err != nil {
				t.Errorf("host command during the bomb: %v %s", err, out)
			}
			hostTook = time.Since(start)
			t.Logf("host command during the bomb (pids.current %d): %v", n, hostTook)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("pids.current peaked at %d over %d samples", peak, samples)
	if peak > 64 {
		t.Errorf("pids.current reached %d, above the policy's 64", peak)
	}
	if peak < 48 {
		t.Errorf("pids.current peaked at %d: the bomb never reached the limit, so the test proves nothing", peak)
	}
	if hostTook == 0 || hostTook > 3*time.Second {
		t.Errorf("host command took %v during the bomb (0: never ran)", hostTook)
	}

	// The container ends (timeout, then its init exits and takes the pid
	// namespace with it) and is removed, cgroup included.
	gone := false
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		_, _, code := s.pm.Run("container", "exists", name)
		if _, err := os.Stat(dir); code == 1 && os.IsNotExist(err) {
			gone = true
			break
		}
	}
	if !gone {
		t.Errorf("container %s or its cgroup %s still there after the bomb", name, dir)
	}
	ds, _ := limCreates(t, s)
	if from, to, ok := limChange(ds, "pids", "linux.resources.pids.limit"); !ok || to != "64" {
		t.Errorf("no pids change to 64 in the decision log (from %q to %q)", from, to)
	}
}

// A memory hog is OOM-killed at the policy's limit (no swap to spill to:
// swap equals memory), while the same hog under a bigger limit completes.
func TestLimitsMemoryHog(t *testing.T) {
	const hog = "dd if=/dev/zero bs=1M count=200 2>/dev/null | tail >/dev/null"
	const show = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max; "
	for _, tc := range []struct {
		limit int64
		exit  int
	}{{64 << 20, 137}, {512 << 20, 0}} {
		t.Run(fmt.Sprintf("%dMiB", tc.limit>>20), func(t *testing.T) {
			s := newSetup(t, backends()[0], fmt.Sprintf("[profiles.baseline.memory]\ndefault = %d\nmax = %d\n", tc.limit, tc.limit))
			out, _, code := s.pm.Run(append(s.runArgs(), testenv.Image, "sh", "-c", show+hog)...)
			if code != tc.exit {
				t.Errorf("exit %d, want %d", code, tc.exit)
			}
			lines := strings.Fields(out)
			want := strconv.FormatInt(tc.limit, 10)
			switch {
			case len(lines) >= 2 && lines[0] == want && lines[1] == want:
				// cgroup v1: memory and memory+swap both at the limit
			case len(lines) >= 2 && lines[0] == want && lines[1] == "0":
				// cgroup v2: no swap at all
			default:
				t.Errorf("limits seen inside: %q, want memory %s and no swap beyond it", lines, want)
			}
		})
	}
}

// standardDev is what /dev holds in a container with no host device.
var standardDev = []string{"console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}

const privScript = `grep CapBnd /proc/self/status; mkdir -p /tmp/m; mount -t tmpfs x /tmp/m 2>&1 && echo MOUNTED; ` +
	`echo junk > /tmp/m.ko; insmod /tmp/m.ko 2>&1; echo insmod=$?; modprobe dummy 2>&1; echo modprobe=$?; echo DEV: $(ls /dev)`

type privResult struct {
	capBnd               uint64
	mounted              bool
	insmod               string // insmod's message
	insmodOK, modprobeOK bool
	dev                  []string
}

func parsePriv(t *testing.T, out string) privResult {
	t.Helper()
	var r privResult
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "CapBnd:"):
			m, err := testenv.ParseCapHex(strings.TrimSpace(strings.TrimPrefix(line, "CapBnd:")))
			if err != nil {
				t.Fatalf("CapBnd: %v", err)
			}
			r.capBnd = m
		case line == "MOUNTED":
			r.mounted = true
		case strings.HasPrefix(line, "insmod:"):
			r.insmod = line
		case strings.HasPrefix(line, "insmod="):
			r.insmodOK = line == "insmod=0"
		case strings.HasPrefix(line, "modprobe="):
			r.modprobeOK = line == "modprobe=0"
		case strings.HasPrefix(line, "DEV:"):
			r.dev = strings.Fields(strings.TrimPrefix(line, "DEV:"))
		}
	}
	if r.dev == nil {
		t.Fatalf("no /dev listing in %q", out)
	}
	return r
}

// Under the baseline, `--privileged --cap-add=SYS_ADMIN` cannot mount, load
// modules or see host devices, and the log names the privileged pattern.
// The same container on runc alone can do the first and sees host devices,
// so each check means something here.
func TestLimitsPrivilegedBaseline(t *testing.T) {
	s := newSetup(t, backends()[0], "")
	flags := []string{"--privileged", "--cap-add=SYS_ADMIN"}
	out, _, code := s.pm.Run(append(s.runArgs(flags...), testenv.Image, "sh", "-c", privScript)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	got := parsePriv(t, out)
	sysModule := testenv.MustCapMask("CAP_SYS_MODULE")
	sysAdmin := testenv.MustCapMask("CAP_SYS_ADMIN")
	if got.capBnd&(sysModule|sysAdmin) != 0 {
		t.Errorf("CapBnd %v holds SYS_MODULE or SYS_ADMIN", testenv.CapsOfMask(got.capBnd))
	}
	if got.mounted {
		t.Error("mount -t tmpfs succeeded")
	}
	// Refused by the policy (EPERM), before the kernel could say anything
	// about the module.
	if got.insmodOK || !strings.Contains(got.insmod, "not permitted") {
		t.Errorf("insmod: %q (ok %v), want Operation not permitted", got.insmod, got.insmodOK)
	}
	if got.modprobeOK {
		t.Error("modprobe succeeded")
	}
	for _, d := range got.dev {
		if !slices.Contains(standardDev, d) {
			t.Errorf("/dev/%s visible", d)
		}
	}

	ds, _ := limCreates(t, s)
	from, _, ok := limChange(ds, "privileged", "")
	if !ok || !strings.Contains(from, "capabilities in the bounding set") || !strings.Contains(from, "host devices") {
		t.Errorf("no privileged pattern in the decision log: %q", from)
	}
	for _, control := range []string{"capabilities", "devices", "seccomp"} {
		if _, _, ok := limChange(ds, control, ""); !ok {
			t.Errorf("no %s change in the decision log", control)
		}
	}

	direct := s.bc.podman(s.env).WithRuntime(s.bc.name)
	out, _, code = direct.Run(append(s.runArgs(flags...), testenv.Image, "sh", "-c", privScript)...)
	if code != 0 {
		t.Fatalf("control on %s alone: exit %d", s.bc.name, code)
	}
	ctl := parsePriv(t, out)
	extra := 0
	for _, d := range ctl.dev {
		if !slices.Contains(standardDev, d) {
			extra++
		}
	}
	if !ctl.mounted || ctl.capBnd&sysModule == 0 || extra == 0 || strings.Contains(ctl.insmod, "not permitted") {
		t.Errorf("control on %s alone: mounted %v, CapBnd %x, %d host devices, insmod %q: the checks above prove nothing",
			s.bc.name, ctl.mounted, ctl.capBnd, extra, ctl.insmod)
	}
}

// A credential in the environment is reported by name, never by value,
// and the container still runs with it (the baseline reports, it does not
// refuse).
func TestLimitsSecretReported(t *testing.T) {
	s := newSetup(t, backends()[0], "")
	out := s.pm.MustRun(append(s.runArgs("-e", "DB_PASSWORD=hunter2"), testenv.Image, "sh", "-c", "echo got:$DB_PASSWORD")...)
	if !strings.Contains(out, "got:hunter2") {
		t.Errorf("the container does not see its variable: %q", out)
	}
	ds, raw := limCreates(t, s)
	if from, _, ok := limChange(ds, "secrets", "process.env"); !ok || from != "DB_PASSWORD" {
		t.Errorf("DB_PASSWORD not reported (found %q):\n%s", from, raw)
	}
	if strings.Contains(raw, "hunter2") {
		t.Errorf("the value reached the decision log:\n%s", raw)
	}
}
