package runtimes

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// validateSchema checks v against the subset of JSON Schema that
// docs/check.schema.json uses: $ref (#/$defs/...), oneOf, type, enum,
// required, properties, additionalProperties false, items, minimum,
// minLength.
func validateSchema(root, s map[string]any, v any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/$defs/")
		def, ok := root["$defs"].(map[string]any)[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: unknown $ref %s", at, ref)
		}
		return validateSchema(root, def, v, at)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		var errs []string
		for _, alt := range alts {
			if err := validateSchema(root, alt.(map[string]any), v, at); err != nil {
				errs = append(errs, err.Error())
			} else {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf (%s)", at, n, strings.Join(errs, " | "))
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v not in %v", at, v, enum)
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not an object", at)
		}
		for _, r := range s["required"].([]any) {
			if _, ok := m[r.(string)]; !ok {
				return fmt.Errorf("%s: missing %s", at, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range m {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if s["additionalProperties"] == false {
					return fmt.Errorf("%s: unexpected member %s", at, k)
				}
				continue
			}
			if err := validateSchema(root, ps, val, at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", at)
		}
		for i, e := range a {
			if err := validateSchema(root, s["items"].(map[string]any), e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: not a string", at)
		}
		if min, ok := s["minLength"].(float64); ok && float64(len(str)) < min {
			return fmt.Errorf("%s: shorter than %v", at, min)
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: not an integer", at)
		}
		if min, ok := s["minimum"].(float64); ok && f < min {
			return fmt.Errorf("%s: below %v", at, min)
		}
	}
	return nil
}

func checkSchema(t *testing.T, out string) {
	t.Helper()
	data, err := os.ReadFile("../docs/check.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatalf("schema: %v", err)
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if err := validateSchema(schema, schema, v, "$"); err != nil {
		t.Fatalf("output does not validate: %v\n%s", err, out)
	}
}

func checkJSON(t *testing.T, wantCode int, args ...string) *checkReport {
	t.Helper()
	out, errOut, code := runAdmin(t, fakeHost(false, false), append([]string{"check", "--json"}, args...)...)
	if code != wantCode {
		t.Fatalf("check %v: exit %d, want %d\nstderr: %s\n%s", args, code, wantCode, errOut, out)
	}
	checkSchema(t, out)
	var r checkReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func verdicts(r *checkReport) map[string]string {
	m := map[string]string{}
	for _, c := range r.Checks {
		m[c.ID] = c.Verdict
	}
	return m
}

func wantVerdicts(t *testing.T, what string, got map[string]string, want map[string]string) {
	t.Helper()
	for id, v := range want {
		if got[id] != v {
			t.Errorf("%s: %s = %q, want %q", what, id, got[id], v)
		}
	}
}

func TestCheckGoldenDefault(t *testing.T) {
	r := checkJSON(t, 1, "../tests/golden/podman-default.json")
	wantVerdicts(t, "default", verdicts(r), map[string]string{
		"user": "fail", "rootfs": "warn", "capabilities": "pass", "privileged": "pass",
		"seccomp": "pass", "no_new_privileges": "fail", "devices": "pass", "pids": "pass",
		"memory": "warn", "mounts": "pass", "secrets": "pass", "sysctls": "pass", "masked_paths": "warn",
	})
	for _, c := range r.Checks {
		if c.Reference.CIS == "" && c.Reference.PSS == "" && c.ID != "secrets" {
			t.Errorf("%s has no reference", c.ID)
		}
	}
}

func TestCheckGoldenPrivileged(t *testing.T) {
	r := checkJSON(t, 1, "../tests/golden/podman-privileged.json")
	wantVerdicts(t, "privileged", verdicts(r), map[string]string{
		"capabilities": "fail", "privileged": "fail", "seccomp": "fail", "devices": "fail", "user": "fail",
		"masked_paths": "fail",
	})
}

// hardenedBundle writes the golden hardened with a resolved profile.
func hardenedBundle(t *testing.T, golden, profile string) string {
	t.Helper()
	f, err := spec.Load("../tests/golden/" + golden + ".json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := (&hardening.Profiles{}).Resolve(profile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hardening.Harden(p, f.Root, hardening.Env{Host: fakeHost(false, false)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), f.Root.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckHardenedRestricted(t *testing.T) {
	for _, g := range []string{"podman-default", "podman-privileged"} {
		r := checkJSON(t, 0, hardenedBundle(t, g, "restricted"))
		wantVerdicts(t, g+" restricted", verdicts(r), map[string]string{
			"user": "pass", "rootfs": "pass", "capabilities": "pass", "privileged": "pass",
			"seccomp": "pass", "no_new_privileges": "pass", "devices": "pass", "memory": "pass",
			"pids": "pass", "rlimits": "pass", "mounts": "pass", "masked_paths": "pass", "sysctls": "pass",
		})
		// The warnings left (no LSM on this fake host, no CPU quota)
		// gate a --fail-on warn job.
		checkJSON(t, 1, "--fail-on", "warn", hardenedBundle(t, g, "restricted"))
	}
}

func TestCheckBaselineNeutralisesPrivileged(t *testing.T) {
	r := checkJSON(t, 1, hardenedBundle(t, "podman-privileged", "baseline"))
	wantVerdicts(t, "privileged baseline", verdicts(r), map[string]string{
		"capabilities": "pass", "privileged": "pass", "seccomp": "pass", "devices": "pass",
		"no_new_privileges": "pass", "user": "fail",
	})
}

func TestCheckFindings(t *testing.T) {
	data, err := os.ReadFile("../tests/golden/podman-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal(data, &doc)
	proc := doc["process"].(map[string]any)
	proc["env"] = append(proc["env"].([]any), "DB_PASSWORD=hunter2", "API_TOKEN=")
	proc["apparmorProfile"] = "unconfined"
	doc["mounts"] = append(doc["mounts"].([]any),
		map[string]any{"destination": "/var/run/docker.sock", "type": "bind", "source": "/run/docker.sock", "options": []any{"bind"}},
		map[string]any{"destination": "/host", "type": "bind", "source": "/etc", "options": []any{"rbind", "rshared"}})
	linux := doc["linux"].(map[string]any)
	linux["namespaces"] = []any{map[string]any{"type": "mount"}}
	linux["sysctl"] = map[string]any{"net.ipv4.tcp_syncookies": "1", "kernel.msgmax": "65536"}
	dir := t.TempDir()
	out, _ := json.Marshal(doc)
	os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644)
	r := checkJSON(t, 1, dir)
	wantVerdicts(t, "findings", verdicts(r), map[string]string{
		"secrets": "warn", "lsm": "fail", "mounts": "fail", "namespaces": "fail", "sysctls": "fail",
	})
	text, _, _ := runAdmin(t, fakeHost(false, false), "check", dir)
	if strings.Contains(text, "hunter2") {
		t.Error("report shows a credential's value")
	}
	for _, want := range []string{"DB_PASSWORD", "/run/docker.sock", "/etc", "rshared", "shares the host's network namespace", "AppArmor profile unconfined", "kernel.msgmax=65536"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "API_TOKEN") {
		t.Error("an empty credential variable is reported")
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{"check"},
		{"check", "--fail-on", "info", "../tests/golden/podman-default.json"},
		{"check", "--all", "x"},
		{"check", "--bogus", "x"},
		{"check", "../tests/golden/nonexistent.json"},
	} {
		if _, _, code := runAdmin(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	out, _, code := runAdmin(t, nil, "check", "--help")
	if code != 0 || !strings.Contains(out, "--fail-on") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

// fakeContainer records a container whose backend state and /proc are
// fakes; it returns the config path.
func fakeContainer(t *testing.T, backend, status string, procStatus string) (cfgPath string) {
	t.Helper()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	cfgPath = filepath.Join(dir, "secshim.toml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("state_dir = %q\n", stateDir)), 0o644)
	bundle := hardenedBundle(t, "podman-default", "restricted")
	rec := &Record{Backend: Backend{Name: backend, Path: "/usr/bin/" + backend}, Profile: "restricted"}
	if err := SaveRecord(RecordPath(stateDir, "/run/x", "c1"), rec); err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(dir, "proc")
	for _, p := range []string{"42/ns", "42/attr", "self/ns"} {
		os.MkdirAll(filepath.Join(proc, p), 0o755)
	}
	os.WriteFile(filepath.Join(proc, "42/status"), []byte(procStatus), 0o644)
	os.WriteFile(filepath.Join(proc, "42/mountinfo"), []byte("100 99 0:50 / / ro,relatime - overlay overlay rw\n"), 0o644)
	for _, n := range []string{"net", "pid", "ipc", "uts", "mnt"} {
		os.WriteFile(filepath.Join(proc, "42/ns", n), []byte(n), 0o644)
		os.WriteFile(filepath.Join(proc, "self/ns", n), []byte(n), 0o644)
	}
	os.Remove(filepath.Join(proc, "self/ns/pid"))
	os.Symlink(filepath.Join(proc, "42/ns/pid"), filepath.Join(proc, "self/ns/pid")) // the host's pid namespace
	// cgroups: c1 limited, c2 not; the status decides which (a weak
	// process is in the unlimited one).
	cg := filepath.Join(dir, "cgroup")
	for f, v := range map[string]string{"pids/c1/pids.max": "64\n", "memory/c1/memory.limit_in_bytes": "268435456\n",
		"pids/c2/pids.max": "max\n", "memory/c2/memory.limit_in_bytes": "9223372036854771712\n"} {
		os.MkdirAll(filepath.Join(cg, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(cg, f), []byte(v), 0o644)
	}
	group := "c1"
	if strings.Contains(procStatus, "NoNewPrivs:\t0") {
		group = "c2"
	}
	os.WriteFile(filepath.Join(proc, "42/cgroup"), []byte("8:pids:/"+group+"\n4:memory:/"+group+"\n0::/\n"), 0o644)
	oldState, oldProc, oldHost, oldCG := chkRunState, procRoot, attestHost, cgroupRoot
	t.Cleanup(func() { chkRunState, procRoot, attestHost, cgroupRoot = oldState, oldProc, oldHost, oldCG })
	procRoot, attestHost, cgroupRoot = proc, hostWithSelfNS(filepath.Join(proc, "self/ns")), cg
	chkRunState = func(b *Backend, root, id string) (*chkBackendState, error) {
		if root != "/run/x" || id != "c1" {
			return nil, fmt.Errorf("state %s under %q: does not exist", id, root)
		}
		return &chkBackendState{Pid: 42, Status: status, Bundle: bundle}, nil
	}
	return cfgPath
}

const hardenedStatus = "Uid:\t65534\t65534\t65534\t65534\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000400\nCapPrm:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"

func TestCheckContainerLive(t *testing.T) {
	cfg := fakeContainer(t, "runc", "running", hardenedStatus)
	r := checkJSON(t, 1, "--config", cfg, "--root", "/run/x", "c1")
	if r.Target.Kind != "container" || r.Target.Pid != 42 || r.Target.Backend != "runc" {
		t.Errorf("target %+v", r.Target)
	}
	wantVerdicts(t, "live", verdicts(r), map[string]string{
		"user": "pass", "capabilities": "pass",
		"user.live": "pass", "capabilities.live": "pass", "seccomp.live": "pass",
		"no_new_privileges.live": "pass", "rootfs.live": "pass", "namespaces.live": "fail",
		"memory.live": "pass", "pids.live": "pass",
	})
	for _, c := range r.Checks {
		if c.ID == "pids.live" && !strings.Contains(c.Detail, "pids limit 64 in force") {
			t.Errorf("pids.live: %s", c.Detail)
		}
	}
	// Without the --root the record was keyed by, there is no container.
	if _, _, code := runAdmin(t, nil, "check", "--config", cfg, "c1"); code != exitUsage {
		t.Errorf("no --root: exit %d, want 2", code)
	}
}

func TestCheckContainerLiveWeak(t *testing.T) {
	cfg := fakeContainer(t, "crun", "running", "Uid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapPrm:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n")
	r := checkJSON(t, 1, "--config", cfg, "--root", "/run/x", "c1")
	wantVerdicts(t, "weak", verdicts(r), map[string]string{
		"user.live": "fail", "capabilities.live": "fail", "seccomp.live": "fail", "no_new_privileges.live": "fail",
		"memory.live": "warn", "pids.live": "warn",
	})
}

func TestCheckContainerSandbox(t *testing.T) {
	cfg := fakeContainer(t, "runsc", "running", hardenedStatus)
	r := checkJSON(t, 1, "--config", cfg, "--root", "/run/x", "--fail-on", "warn", "c1")
	v := verdicts(r)
	if v["live"] != "warn" || v["seccomp.live"] != "" {
		t.Errorf("runsc: %v, want a live warning and no kernel checks", v)
	}
	for _, c := range r.Checks {
		if c.ID == "live" && !strings.Contains(c.Detail, "not visible from the host") {
			t.Errorf("runsc live detail: %s", c.Detail)
		}
	}
}

func TestCheckAll(t *testing.T) {
	cfg := fakeContainer(t, "runc", "running", hardenedStatus)
	// Not records: the seccomp cache, and a deleted container's tombstone
	// (its backend no longer knows it).
	stateDir := filepath.Join(filepath.Dir(cfg), "state")
	os.MkdirAll(filepath.Join(stateDir, "seccomp-cache"), 0o700)
	os.WriteFile(filepath.Join(stateDir, "seccomp-cache", "0123456789abcdef"), []byte("{}"), 0o600)
	SaveRecord(tombPath(RecordPath(stateDir, "/run/x", "gone")), &Record{Backend: Backend{Name: "runc", Path: "/usr/bin/runc"}})
	out, errOut, code := runAdmin(t, fakeHost(false, false), "check", "--json", "--all", "--config", cfg, "--root", "/run/x")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	checkSchema(t, out)
	var all checkAll
	json.Unmarshal([]byte(out), &all)
	if len(all.Reports) != 1 || all.Reports[0].Target.ID != "c1" {
		t.Fatalf("reports: %s", out)
	}
	// Without --root the record's directory cannot be named: reported.
	out, _, _ = runAdmin(t, fakeHost(false, false), "check", "--json", "--all", "--config", cfg)
	checkSchema(t, out)
	if !strings.Contains(out, "unknown --root") {
		t.Errorf("unknown root not reported: %s", out)
	}
}

func TestCheckFailOn(t *testing.T) {
	bundle := hardenedBundle(t, "podman-default", "restricted")
	if _, _, code := runAdmin(t, fakeHost(false, false), "check", bundle); code != 0 {
		t.Errorf("default --fail-on fail: exit %d, want 0", code)
	}
	if _, _, code := runAdmin(t, fakeHost(false, false), "check", "--fail-on=warn", bundle); code != 1 {
		t.Errorf("--fail-on warn: exit %d, want 1", code)
	}
}
