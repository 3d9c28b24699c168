package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

// checkOut is the part of `secshim check --json` the e2e tests read; the
// unit tests validate the full schema, checkConforms the shape here.
type checkOut struct {
	Target struct {
		Kind, ID, Backend, Status string
		Pid                       int
	} `json:"target"`
	Checks []struct {
		ID        string `json:"id"`
		Title     string `json:"title"`
		Reference *struct {
			CIS *string `json:"cis"`
			PSS *string `json:"pss"`
		} `json:"reference"`
		Verdict string  `json:"verdict"`
		Detail  *string `json:"detail"`
	} `json:"checks"`
	Summary *struct {
		Pass, Warn, Fail *int
		Verdict          string
	} `json:"summary"`
}

// checkConforms is a hand check of docs/check.schema.json's required
// members and enums on one report.
func checkConforms(t *testing.T, r *checkOut) {
	t.Helper()
	verdicts := []string{"pass", "warn", "fail"}
	if r.Target.Kind != "container" || r.Summary == nil || r.Summary.Pass == nil || r.Summary.Warn == nil ||
		r.Summary.Fail == nil || !slices.Contains(verdicts, r.Summary.Verdict) || len(r.Checks) == 0 {
		t.Fatalf("report does not conform: %+v", r)
	}
	for _, c := range r.Checks {
		if c.ID == "" || c.Title == "" || c.Reference == nil || c.Reference.CIS == nil || c.Reference.PSS == nil ||
			c.Detail == nil || !slices.Contains(verdicts, c.Verdict) {
			t.Errorf("check does not conform: %+v", c)
		}
	}
}

// secshimCheck runs `secshim check --json ARGS` with the test's config.
func (s *setup) secshimCheck(t *testing.T, wantCode int, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testenv.SecshimBin(t), append([]string{"check", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), "SECSHIM_CONFIG="+s.env.ConfigPath)
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != wantCode {
		t.Fatalf("secshim check %v: exit %d, want %d\nstderr: %s\n%s", args, code, wantCode, errOut.String(), out)
	}
	return out
}

func verdictsOf(r *checkOut) map[string]string {
	m := map[string]string{}
	for _, c := range r.Checks {
		m[c.ID] = c.Verdict
	}
	return m
}

// secshim check on real containers started through Podman, read back
// from their records, their backend's state and /proc.
func TestCheckRunningContainers(t *testing.T) {
	s := newSetup(t, backends()[0], "")
	start := func(flags ...string) string {
		name := testenv.Name()
		s.pm.RemoveOnCleanup(name)
		args := append([]string{"run", "-d", "--name", name}, ulimits...)
		args = append(append(args, flags...), testenv.Image, "sleep", "1000")
		s.pm.MustRun(args...)
		return s.pm.MustRun("inspect", "-f", "{{.Id}}", name)
	}
	cases := []struct {
		name  string
		flags []string
		code  int
		want  map[string]string
	}{
		{"privileged", []string{"--privileged"}, 1, map[string]string{
			// baseline takes the pattern apart: what remains is root.
			"privileged": "pass", "capabilities": "pass", "seccomp": "pass", "devices": "pass",
			"no_new_privileges": "pass", "user": "fail",
			"capabilities.live": "pass", "seccomp.live": "pass", "no_new_privileges.live": "pass",
			"namespaces.live": "pass", "user.live": "fail", "masked_paths": "pass", "pids.live": "pass",
		}},
		{"default", nil, 1, map[string]string{
			"user": "fail", "rootfs": "warn", "capabilities": "pass", "seccomp": "pass",
			"user.live": "fail", "rootfs.live": "warn", "seccomp.live": "pass", "no_new_privileges.live": "pass",
			"pids.live": "pass", "memory.live": "warn", "sysctls": "pass",
		}},
		{"restricted", []string{"--annotation", "io.secshim.profile=restricted"}, 0, map[string]string{
			"user": "pass", "rootfs": "pass", "capabilities": "pass", "privileged": "pass", "seccomp": "pass",
			"no_new_privileges": "pass", "memory": "pass", "pids": "pass",
			"user.live": "pass", "rootfs.live": "pass", "capabilities.live": "pass", "seccomp.live": "pass",
			"no_new_privileges.live": "pass", "namespaces.live": "pass", "pids.live": "pass", "memory.live": "pass",
			"masked_paths": "pass", "sysctls": "pass",
		}},
	}
	ids := map[string]string{}
	for _, c := range cases {
		ids[c.name] = start(c.flags...)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := s.secshimCheck(t, c.code, ids[c.name])
			var r checkOut
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			checkConforms(t, &r)
			if r.Target.ID != ids[c.name] || r.Target.Backend != s.bc.name || r.Target.Status != "running" || r.Target.Pid <= 0 {
				t.Errorf("target = %+v", r.Target)
			}
			got := verdictsOf(&r)
			for id, v := range c.want {
				if got[id] != v {
					t.Errorf("%s = %q, want %q\n%s", id, got[id], v, out)
				}
			}
		})
	}
	t.Run("all", func(t *testing.T) {
		out := s.secshimCheck(t, 1, "--all")
		var all struct{ Reports []checkOut }
		if err := json.Unmarshal(out, &all); err != nil {
			t.Fatal(err)
		}
		var seen []string
		for i := range all.Reports {
			checkConforms(t, &all.Reports[i])
			seen = append(seen, all.Reports[i].Target.ID)
		}
		for name, id := range ids {
			if !slices.Contains(seen, id) {
				t.Errorf("--all lacks the %s container %s", name, id)
			}
		}
	})
	// The record is where check finds the container: a wrong --root
	// names none.
	s.secshimCheck(t, 2, "--root", filepath.Join(s.env.Dir, "elsewhere"), ids["default"])
}

// On runsc the pid the backend reports is the sandbox: the report says
// the guest's state was not verified instead of passing it.
func TestCheckSandbox(t *testing.T) {
	s := newSetup(t, backends()[2], "")
	name := testenv.Name()
	s.pm.RemoveOnCleanup(name)
	args := append([]string{"run", "-d", "--name", name}, ulimits...)
	s.pm.MustRun(append(append(args, s.bc.runArg...), testenv.Image, "sleep", "1000")...)
	id := s.pm.MustRun("inspect", "-f", "{{.Id}}", name)
	var r checkOut
	out := s.secshimCheck(t, 1, id)
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	checkConforms(t, &r)
	got := verdictsOf(&r)
	if got["live"] != "warn" || got["seccomp.live"] != "" || got["capabilities.live"] != "" {
		t.Errorf("runsc: verdicts %v, want one live warning and no kernel checks\n%s", got, out)
	}
	if got["seccomp"] != "pass" || got["capabilities"] != "pass" {
		t.Errorf("runsc: config.json checks %v\n%s", got, out)
	}
	for _, c := range r.Checks {
		if c.ID == "live" && (c.Detail == nil || !strings.Contains(*c.Detail, "not visible from the host")) {
			t.Errorf("live detail does not say the guest is not visible: %v", c.Detail)
		}
	}
}
