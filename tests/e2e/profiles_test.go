package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

// restrictedChecks runs inside a container and prints one line per check,
// so one container start answers them all.
const restrictedChecks = `cat /proc/self/status
echo uid: $(id -u)
touch /rootfs-write 2>/dev/null && echo root_writable: yes || echo root_writable: no
unshare -Ur true 2>/dev/null && echo unshare: yes || echo unshare: no
echo kcore_bytes: $(head -c 16 /proc/kcore 2>/dev/null | wc -c)
echo timer_list_bytes: $(head -c 16 /proc/timer_list 2>/dev/null | wc -c)
setpriv -d 2>/dev/null | grep no_new_privs`

// Everything the restricted profile promises, read from inside a container
// that asked for nothing special.
func TestRestrictedProfile(t *testing.T) {
	s := newSetup(t, backends()[0], "[policy]\nprofile = \"restricted\"\n")
	out := s.pm.MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", restrictedChecks)...)
	assertRestricted(t, testenv.ProcStatus(out))

	// Control: the same checks on runc alone come out the other way, so
	// each of them can fail.
	raw := testenv.ProcStatus(s.env.Podman().WithRuntime("runc").MustRun(append(s.runArgs("--security-opt", "unmask=ALL"), testenv.Image, "sh", "-c", restrictedChecks)...))
	for k, v := range map[string]string{"uid": "0", "root_writable": "yes", "NoNewPrivs": "0"} {
		if raw[k] != v {
			t.Errorf("control on runc alone: %s = %q, want %q", k, raw[k], v)
		}
	}
	if raw["timer_list_bytes"] == "0" {
		t.Error("control on runc alone: /proc/timer_list is empty even unmasked; the masking check proves nothing")
	}
}

func assertRestricted(t *testing.T, st map[string]string) {
	t.Helper()
	allowed := testenv.MustCapMask("CAP_NET_BIND_SERVICE")
	for _, key := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if m := capMask(t, st, key); m&^allowed != 0 {
			t.Errorf("%s = %v, want nothing but NET_BIND_SERVICE", key, testenv.CapsOfMask(m))
		}
	}
	// /proc/kcore is missing on some kernels (this CI's among them), so
	// /proc/timer_list, which every kernel has, shows the masking too.
	want := map[string]string{"NoNewPrivs": "1", "Seccomp": "2", "root_writable": "no", "unshare": "no", "kcore_bytes": "0", "timer_list_bytes": "0"}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s = %q, want %q", k, st[k], v)
		}
	}
	if st["uid"] == "0" || st["uid"] == "" {
		t.Errorf("uid = %q, want non-root", st["uid"])
	}
}

// A container picks a stricter profile with an annotation; one that is not
// selectable is refused; the floor holds under any choice.
func TestProfileAnnotation(t *testing.T) {
	s := newSetup(t, backends()[0], "[policy]\nselectable = [\"baseline\", \"restricted\", \"privileged\"]\n")
	t.Run("restricted by annotation", func(t *testing.T) {
		out := s.pm.MustRun(append(s.runArgs("--annotation", "io.secshim.profile=restricted"), testenv.Image, "sh", "-c", restrictedChecks)...)
		assertRestricted(t, testenv.ProcStatus(out))
		log, _ := os.ReadFile(s.logFile())
		if !strings.Contains(string(log), `"profile":"restricted"`) {
			t.Errorf("decision log does not name the profile:\n%s", log)
		}
	})
	t.Run("privileged by annotation still gets the floor", func(t *testing.T) {
		assertHardened(t, s.status(t, "--privileged", "--annotation", "io.secshim.profile=privileged"), "privileged annotation")
	})
	t.Run("unselectable profile refused", func(t *testing.T) {
		_, stderr, code := s.pm.Run(append(s.runArgs("--annotation", "io.secshim.profile=web"), testenv.Image, "true")...)
		if code == 0 || !strings.Contains(stderr, "not selectable") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})
}

// io.secshim.isolation=sandbox routes a container to gVisor, and every
// later verb for it follows.
func TestIsolationRouting(t *testing.T) {
	testenv.RequireRuntime(t, "runsc")
	s := newSetup(t, backends()[0], "[backends.runsc]\npath = \"runsc\"\nargs = [\"--oci-seccomp\", \"--network=none\"]\n")
	restoreDevNullOwner(t)
	name := testenv.Name()
	s.pm.RemoveOnCleanup(name)
	s.pm.MustRun(append([]string{"run", "-d", "--name", name, "--network=none", "--annotation", "io.secshim.isolation=sandbox"},
		append(ulimits, testenv.Image, "sleep", "1000")...)...)
	id := s.pm.MustRun("inspect", "-f", "{{.Id}}", name)
	dmesg := s.pm.MustRun("exec", name, "dmesg")
	if !strings.Contains(dmesg, "gVisor") {
		t.Errorf("the container does not run on gVisor; dmesg:\n%s", dmesg)
	}
	records, _ := filepath.Glob(filepath.Join(s.stateDir(), "*", id))
	if len(records) != 1 {
		t.Fatalf("records: %v", records)
	}
	rec, _ := os.ReadFile(records[0])
	if !strings.Contains(string(rec), "backend runsc\n") {
		t.Errorf("record does not stick to runsc:\n%s", rec)
	}
	// The container's own process: gVisor applies the filter to it, but
	// runsc (20221219) does not apply the OCI seccomp filter to processes
	// started by `runsc exec`, with or without secshim, so exec'd
	// processes are checked for capabilities only.
	assertHardened(t, testenv.ProcStatus(s.pm.MustRun("exec", name, "sh", "-c", "cat /proc/1/status; setpriv -d | grep no_new_privs")), "the routed container")
	st := testenv.ProcStatus(s.pm.MustRun("exec", "--privileged", name, "sh", "-c", statusCmd))
	if m := capMask(t, st, "CapBnd"); m&dangerous != 0 || m&^podmanDefault != 0 {
		t.Errorf("exec --privileged on the routed container: CapBnd %v", testenv.CapsOfMask(m))
	}
	s.pm.MustRun("rm", "-f", name)
}
