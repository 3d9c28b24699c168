//go:build amd64

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/tests/testenv"
)

// buildABIProbe compiles testdata/abiprobe.c, static (the image has no
// libc), into a temporary dir. C, not Go: the probe must be
// single-threaded (see there).
func buildABIProbe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "abiprobe")
	if out, err := exec.Command("gcc", "-static", "-O2", "-o", bin, "testdata/abiprobe.c").CombinedOutput(); err != nil {
		t.Fatalf("gcc abiprobe.c (scripts/install-deps.sh installs gcc and libc6-dev): %v\n%s", err, out)
	}
	return bin
}

// The seccomp filter secshim renders covers the system call ABIs the
// kernel runs and no other (hardening/abi.go). From inside a container,
// getpid through the native and the 32-bit x86 ABI answers as it does
// under Podman's own profile. Through x32, on a kernel without it, the
// call kills the process (SIGSYS) where Podman's profile, which lists
// x32, let the kernel answer ENOSYS; on a kernel with x32 it answers. The
// same for a profile the policy renders and for Podman's, kept.
func TestSeccompCoversTheKernelsABIs(t *testing.T) {
	if mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil || mode != 0 {
		t.Skip("the tests run under a seccomp filter: it decides x32's answer, not the kernel")
	}
	_, _, errno := unix.RawSyscall(0x40000000|unix.SYS_GETPID, 0, 0, 0)
	x32Live := errno != unix.ENOSYS
	probe := buildABIProbe(t)
	type policyCase struct{ name, policy, logged string }
	cases := []policyCase{{"rendered", "", `"field":"linux.seccomp"`}}
	// Podman's own profile file as the policy's: Podman's profile is kept,
	// without the architectures the kernel lacks.
	if _, err := os.Stat(podmanSeccomp); err == nil {
		logged := `"field":"linux.seccomp.architectures"`
		if x32Live {
			logged = "" // nothing to leave out
		}
		cases = append(cases, policyCase{"kept", fmt.Sprintf("[profiles.podmanfile]\nextends = \"baseline\"\n[profiles.podmanfile.seccomp]\nprofile = %q\n[policy]\nprofile = \"podmanfile\"\n", podmanSeccomp),
			logged})
	} else {
		t.Logf("no %s (containers-common): the kept-profile case is skipped", podmanSeccomp)
	}
	for _, bc := range backends()[:2] {
		for _, pc := range cases {
			t.Run(bc.name+"/"+pc.name, func(t *testing.T) {
				probeABIs(t, bc, pc.policy, pc.logged, probe, x32Live)
			})
		}
	}
}

const podmanSeccomp = "/usr/share/containers/seccomp.json"

// probeABIs runs the probe through secshim with policy on bc, and on bc
// alone as the control; logged is the change the decision log must show.
func probeABIs(t *testing.T, bc backendCase, policy, logged, probe string, x32Live bool) {
	s := newSetup(t, bc, policy)
	run := func(pm *testenv.Podman) (map[string]string, int) {
		out, _, code := pm.Run(append(s.runArgs("-v", probe+":/abiprobe:ro"), testenv.Image, "/abiprobe")...)
		return testenv.ProcStatus(out), code
	}
	// Control: the backend alone, Podman's profile (x86_64, x86, x32).
	ctl, code := run(bc.podman(s.env).WithRuntime(bc.name))
	if code != 0 || ctl["x86"] != ctl["x86_64"] || ctl["x32"] == "" {
		t.Fatalf("control on %s alone: exit %d, %v; want every ABI to answer", bc.name, code, ctl)
	}
	got, code := run(s.pm)
	if got["x86_64"] == "" || got["x86"] != got["x86_64"] {
		t.Errorf("x86_64 getpid %q, x86 getpid %q: the filter must let both through", got["x86_64"], got["x86"])
	}
	switch {
	case x32Live && (code != 0 || got["x32"] != got["x86_64"]):
		t.Errorf("kernel with x32: exit %d, x32 getpid %q; want it answered", code, got["x32"])
	case !x32Live && (code != 128+int(unix.SIGSYS) || got["x32"] != ""):
		t.Errorf("kernel without x32: exit %d, x32 getpid %q; want the process killed by SIGSYS (exit %d) at that call",
			code, got["x32"], 128+int(unix.SIGSYS))
	}
	if !x32Live && ctl["x32"] != "errno "+strconv.Itoa(int(unix.ENOSYS)) {
		t.Errorf("control: x32 getpid %q, want ENOSYS from a kernel without x32", ctl["x32"])
	}
	if b, err := os.ReadFile(s.logFile()); logged != "" && (err != nil || !strings.Contains(string(b), logged)) {
		t.Errorf("decision log has no change with %s (%v)", logged, err)
	}
}
