package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/tests/testenv"
)

const restrictedPolicy = "[policy]\nprofile = \"restricted\"\n"

// userChecks prints the process's identity and whether it can make a user
// namespace of its own, one "key: value" line each.
const userChecks = `echo uid: $(id -u)
echo gid: $(id -g)
echo groups: $(id -G)
unshare -Ur true 2>/dev/null && echo unshare: yes || echo unshare: no`

// Under restricted the container's process is not root and cannot make a
// user namespace, on every backend; the same container on the backend
// alone runs as root and can.
func TestConfineRestrictedUser(t *testing.T) {
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) {
			s := newSetup(t, bc, restrictedPolicy)
			st := testenv.ProcStatus(s.pm.MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", userChecks)...))
			if st["uid"] == "0" || st["uid"] == "" || st["gid"] == "0" || st["gid"] == "" {
				t.Errorf("uid %q gid %q, want non-root", st["uid"], st["gid"])
			}
			for _, g := range strings.Fields(st["groups"]) {
				if g == "0" {
					t.Errorf("groups %q include root's", st["groups"])
				}
			}
			if st["unshare"] != "no" {
				t.Errorf("unshare -Ur: %q, want it to fail", st["unshare"])
			}
			if bc.name != "runc" {
				return
			}
			raw := testenv.ProcStatus(bc.podman(s.env).WithRuntime(bc.name).MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", userChecks)...))
			if raw["uid"] != "0" || raw["unshare"] != "yes" {
				t.Errorf("control: on %s alone uid %q, unshare %q; the test proves nothing", bc.name, raw["uid"], raw["unshare"])
			}
		})
	}
}

// podman exec into a restricted container runs as the policy's user, not
// as the root Podman asks for.
func TestConfineExecUser(t *testing.T) {
	s := newSetup(t, backends()[0], restrictedPolicy)
	name := testenv.Name()
	s.pm.RemoveOnCleanup(name)
	s.pm.MustRun(append([]string{"run", "-d", "--name", name}, append(ulimits, testenv.Image, "sleep", "1000")...)...)
	for _, flags := range [][]string{nil, {"--user", "0:0"}, {"--privileged"}} {
		args := append(append([]string{"exec"}, flags...), name, "sh", "-c", userChecks)
		st := testenv.ProcStatus(s.pm.MustRun(args...))
		if st["uid"] == "0" || st["gid"] == "0" {
			t.Errorf("exec %v: uid %q gid %q, want non-root", flags, st["uid"], st["gid"])
		}
	}
}

// A user namespace that maps container root to an unprivileged host uid
// satisfies non_root: root inside is kept, and it is not root outside.
func TestConfineUserNamespaceRoot(t *testing.T) {
	s := newSetup(t, backends()[0], restrictedPolicy)
	name := testenv.Name()
	s.pm.RemoveOnCleanup(name)
	s.pm.MustRun(append([]string{"run", "-d", "--name", name, "--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536"},
		append(ulimits, testenv.Image, "sh", "-c", "echo uid: $(id -u); exec sleep 1000")...)...)
	var uid string
	for deadline := time.Now().Add(10 * time.Second); uid == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		uid = testenv.ProcStatus(s.pm.MustRun("logs", name))["uid"]
	}
	if uid != "0" {
		t.Errorf("uid inside %q, want root kept", uid)
	}
	pid := s.pm.MustRun("inspect", "-f", "{{.State.Pid}}", name)
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if uids := testenv.ProcStatus(string(st))["Uid"]; !strings.HasPrefix(uids, "200000") {
		t.Errorf("host uid of the container's process: %q, want 200000", uids)
	}
}

// Sharing a host namespace is refused under the baseline, whether Podman
// leaves the namespace out (--network=host, --pid=host) or joins it by
// path; the reason reaches Podman's error.
func TestConfineHostNamespacesRefused(t *testing.T) {
	s := newSetup(t, backends()[0], "")
	for _, tc := range []struct {
		flag string
		want []string
	}{
		{"--network=host", []string{"linux.namespaces", "network", "--network=host"}},
		{"--pid=host", []string{"linux.namespaces", "pid", "--pid=host"}},
		{"--ipc=host", []string{"linux.namespaces", "ipc"}},
		{"--network=ns:/proc/self/ns/net", []string{"linux.namespaces[", "joins the host's network namespace"}},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			_, stderr, code := s.pm.Run(append(s.runArgs(tc.flag), testenv.Image, "true")...)
			if code == 0 {
				t.Fatalf("a container with %s ran under the baseline", tc.flag)
			}
			for _, w := range append([]string{"secshim", "policy denies this container"}, tc.want...) {
				if !strings.Contains(stderr, w) {
					t.Errorf("podman's error does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
	// Podman itself starts such containers, and the privileged profile
	// lets them through: the refusal is the baseline's.
	p := newSetup(t, backends()[0], "[policy]\nprofile = \"privileged\"\n")
	p.pm.MustRun(append(p.runArgs("--network=host", "--pid=host"), testenv.Image, "true")...)
}

// The cgroup namespace the baseline adds (Podman shares the host's on
// cgroup v1) starts on every backend: the container sees its own cgroup
// as the root.
func TestConfineCgroupNamespace(t *testing.T) {
	hostNS, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Skipf("no cgroup namespace here: %v", err)
	}
	for _, bc := range backends() {
		t.Run(bc.name, func(t *testing.T) {
			s := newSetup(t, bc, "")
			out := s.pm.MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", "echo ns: $(readlink /proc/self/ns/cgroup); cat /proc/self/cgroup")...)
			log, _ := os.ReadFile(s.logFile())
			if !strings.Contains(string(log), `"field":"linux.namespaces"`) || !strings.Contains(string(log), "+cgroup") {
				t.Errorf("no cgroup namespace added in the decision log:\n%s", log)
			}
			if bc.name == "runsc" {
				return // gVisor's /proc shows its own cgroups, not the host's
			}
			if ns := testenv.ProcStatus(out)["ns"]; ns == "" || ns == hostNS {
				t.Errorf("cgroup namespace inside %q, host's %q", ns, hostNS)
			}
			for _, line := range strings.Split(out, "\n") {
				if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && strings.Contains(parts[2], "libpod") {
					t.Errorf("the container sees the host's cgroup path: %s", line)
				}
			}
		})
	}
}

// Containers in a Podman pod join the infra container's namespaces by
// path: allowed, and they share them.
func TestConfinePod(t *testing.T) {
	s := newSetup(t, backends()[0], "")
	pod := testenv.Name()
	q := *s.pm
	q.Quiet = true
	t.Cleanup(func() { q.Run("pod", "rm", "-f", "-t", "0", pod) })
	s.pm.MustRun("pod", "create", "--name", pod)
	read := "for n in net uts ipc; do readlink /proc/self/ns/$n; done"
	a := s.pm.MustRun(append(s.runArgs("--pod", pod), testenv.Image, "sh", "-c", read)...)
	b := s.pm.MustRun(append(s.runArgs("--pod", pod), testenv.Image, "sh", "-c", read)...)
	if a == "" || a != b {
		t.Errorf("two containers of a pod do not share namespaces:\n%s\n--\n%s", a, b)
	}
	alone := s.pm.MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", read)...)
	if alone == a {
		t.Errorf("a container outside the pod shares its namespaces: the test proves nothing")
	}
	log, _ := os.ReadFile(s.logFile())
	if strings.Contains(string(log), "joins the host's") {
		t.Errorf("a pod join was refused:\n%s", log)
	}
}

// This host has neither SELinux nor AppArmor: the label and profile the
// rules would set have no effect here, and hardening's unit tests cover
// them with a fake host.
func TestConfineLSM(t *testing.T) {
	h := hardening.DefaultHost()
	if !h.SELinuxEnabled() {
		t.Run("selinux", func(t *testing.T) {
			t.Skip("SELinux is disabled on this host (/sys/fs/selinux/enforce unreadable): labels would have no effect")
		})
	}
	if !h.AppArmorEnabled() {
		t.Run("apparmor", func(t *testing.T) {
			t.Skip("AppArmor is disabled on this host (/sys/module/apparmor/parameters/enabled): profiles would have no effect")
		})
	}
	if !h.SELinuxEnabled() && !h.AppArmorEnabled() {
		return
	}
	s := newSetup(t, backends()[0], "")
	if h.SELinuxEnabled() {
		t.Run("selinux", func(t *testing.T) {
			out := s.pm.MustRun(append(s.runArgs(), testenv.Image, "cat", "/proc/self/attr/current")...)
			if !strings.Contains(out, ":container_t:s0:c") {
				t.Errorf("process label %q", out)
			}
			_, stderr, code := s.pm.Run(append(s.runArgs("--security-opt", "label=type:spc_t"), testenv.Image, "true")...)
			if code == 0 || !strings.Contains(stderr, "spc_t") {
				t.Errorf("spc_t: exit %d, %s", code, stderr)
			}
		})
	}
	if h.AppArmorEnabled() {
		t.Run("apparmor", func(t *testing.T) {
			_, stderr, code := s.pm.Run(append(s.runArgs("--security-opt", "apparmor=unconfined"), testenv.Image, "true")...)
			if code == 0 || !strings.Contains(stderr, "apparmorProfile") {
				t.Errorf("apparmor=unconfined: exit %d, %s", code, stderr)
			}
		})
	}
}
