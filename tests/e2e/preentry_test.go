package e2e

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/secshim/secshim/runtimes"
	"github.com/secshim/secshim/tests/testenv"
)

// TestPodmanPassThroughBeforeGo: the calls Podman makes for a container's
// start, pause, resume, state, kill and delete are served by the
// pre-entry (runtimes/preentry): secshim's Go runtime never starts for
// them, while it does for create. The backend is crun, a C program, so any
// Go init trace in the runtime's stderr is secshim's. Attestation is off:
// an attested start is Go's (its check reads the container's process).
func TestPodmanPassThroughBeforeGo(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the pre-entry is built on linux/amd64 only")
	}
	testenv.RequireRuntime(t, "crun")
	env := testenv.New(t, testenv.WithGoStartLog())
	state := filepath.Join(env.Dir, "state")
	env.WithConfig(fmt.Sprintf("default_backend = \"crun\"\nstate_dir = %q\n[log]\nfile = %q\n[policy]\nattest = \"off\"\n", state, filepath.Join(env.Dir, "decisions.log")))
	pm := env.CrunPodman().WithRuntime("secshim")
	name := "secshim-preentry"
	pm.RemoveOnCleanup(name)
	pm.MustRun(append(append([]string{"run", "-d", "--name", name}, ulimits...), testenv.Image, "sleep", "1000")...)
	pm.MustRun("pause", name)
	pm.MustRun("unpause", name)
	pm.MustRun("stop", "-t", "0", name)
	pm.MustRun("rm", name)

	seen := map[string]bool{}
	for _, c := range env.GoStarts() {
		t.Logf("%v: Go started %v", c.Args, c.Started)
		inv, err := runtimes.Parse(c.Args, runtimes.FamilyRunc)
		if err != nil {
			t.Fatalf("Podman's call %v: %v", c.Args, err)
		}
		verb := inv.Verb
		seen[verb] = true
		switch verb {
		case "create":
			if !c.Started {
				t.Errorf("create %v: no Go init trace, so the check cannot tell", c.Args)
			}
		case "start", "pause", "resume", "state", "kill", "delete":
			if c.Started {
				t.Errorf("%v: secshim's Go runtime started (stderr: %q)", c.Args, c.Stderr)
			}
		}
	}
	for _, v := range []string{"create", "start", "pause", "resume", "kill", "delete"} {
		if !seen[v] {
			t.Errorf("Podman made no %s call (calls: %v)", v, env.GoStarts())
		}
	}
}
