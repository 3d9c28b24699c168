package runtimes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

const sampleStatus = `Name:	sh
Umask:	0022
State:	S (sleeping)
Pid:	7037
CapInh:	0000000000000000
CapPrm:	00000000800405fb
CapEff:	00000000800405fb
CapBnd:	00000000800405fb
CapAmb:	0000000000000000
NoNewPrivs:	1
Seccomp:	2
Seccomp_filters:	1
Speculation_Store_Bypass:	thread force mitigated
Threads:	1
`

// podmanCaps is 00000000800405fb, Podman's default set.
const podmanCaps = hardening.CapSet(0x800405fb)

func TestParseStatus(t *testing.T) {
	s, err := parseStatus([]byte(sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	want := procState{CapPrm: 0x800405fb, CapEff: 0x800405fb, CapBnd: 0x800405fb, NoNewPrivs: 1, Seccomp: 2, Threads: 1, State: 'S'}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	// gVisor's status has no NoNewPrivs or CapAmb: an error, never a pass.
	gv := strings.Replace(strings.Replace(sampleStatus, "NoNewPrivs:\t1\n", "", 1), "CapAmb:\t0000000000000000\n", "", 1)
	if _, err := parseStatus([]byte(gv)); err == nil || !strings.Contains(err.Error(), "CapAmb, NoNewPrivs") {
		t.Errorf("missing lines: err %v", err)
	}
	if _, err := parseStatus([]byte(strings.Replace(sampleStatus, "CapEff:\t00000000800405fb", "CapEff:\tzz", 1))); err == nil {
		t.Error("bad hex accepted")
	}
	// Our own status parses (the kernel's real format).
	b, _ := os.ReadFile("/proc/self/status")
	if _, err := parseStatus(b); err != nil {
		t.Errorf("/proc/self/status: %v", err)
	}
}

func TestCompare(t *testing.T) {
	good, _ := parseStatus([]byte(sampleStatus))
	full := promise{Caps: podmanCaps, NoNewPrivs: true, Seccomp: true}
	if ms := full.compare(good); len(ms) != 0 {
		t.Errorf("hardened process: %v", ms)
	}
	// Fewer capabilities than promised is fine (a non-root user).
	less := good
	less.CapEff, less.CapPrm = 0, 0
	if ms := full.compare(less); len(ms) != 0 {
		t.Errorf("fewer caps: %v", ms)
	}
	// What the stripper backend leaves: no NNP, no filter.
	stripped := good
	stripped.NoNewPrivs, stripped.Seccomp = 0, 0
	ms := full.compare(stripped)
	if len(ms) != 2 || ms[0].Field != "NoNewPrivs" || ms[1].Field != "Seccomp" {
		t.Fatalf("stripped: %v", ms)
	}
	if got := ms[0].String(); got != "NoNewPrivs is 0, promised 1" {
		t.Errorf("message %q", got)
	}
	if got := ms[1].String(); got != "Seccomp is 0, promised 2 (filter)" {
		t.Errorf("message %q", got)
	}
	// A process its filter is killing reads mode 3 (SECCOMP_MODE_DEAD):
	// the filter was there.
	dying := good
	dying.Seccomp = 3
	if ms := full.compare(dying); len(ms) != 0 {
		t.Errorf("killed by its filter: %v", ms)
	}
	// Seccomp mode 1 (strict) is not the promised filter.
	strict := good
	strict.Seccomp = 1
	if ms := full.compare(strict); len(ms) != 1 || ms[0].Field != "Seccomp" {
		t.Errorf("strict: %v", ms)
	}
	// A capability beyond the promise, in each set, is named.
	const sysAdmin = 1 << 21
	for _, f := range []string{"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"} {
		s := good
		switch f {
		case "CapBnd":
			s.CapBnd |= sysAdmin
		case "CapPrm":
			s.CapPrm |= sysAdmin
		case "CapEff":
			s.CapEff |= sysAdmin
		case "CapInh":
			s.CapInh |= sysAdmin
		case "CapAmb":
			s.CapAmb |= 1 // CAP_CHOWN: in the bounding set but not promised ambient
		}
		ms := full.compare(s)
		if len(ms) != 1 || ms[0].Field != f {
			t.Errorf("%s: %v", f, ms)
			continue
		}
		want := "CAP_SYS_ADMIN"
		if f == "CapAmb" {
			want = "CAP_CHOWN"
		}
		if !strings.Contains(ms[0].Got, "+"+want) {
			t.Errorf("%s: %q does not name %s", f, ms[0].Got, want)
		}
	}
	// Nothing promised, nothing checked but the capability ceiling.
	loose := promise{Caps: hardening.AllCaps, Ambient: hardening.AllCaps}
	if ms := loose.compare(stripped); len(ms) != 0 {
		t.Errorf("no promise: %v", ms)
	}
}

func TestRootReadonly(t *testing.T) {
	mi := `22 1 0:21 / / rw,relatime - overlay overlay rw
23 22 0:22 / /proc rw,nosuid - proc proc rw
30 1 0:21 / / ro,relatime - overlay overlay rw
`
	if ro, err := rootReadonly([]byte(mi)); err != nil || !ro {
		t.Errorf("last mount on / is ro: %v %v", ro, err)
	}
	if ro, err := rootReadonly([]byte(mi[:strings.Index(mi, "30 1")])); err != nil || ro {
		t.Errorf("rw root: %v %v", ro, err)
	}
	if _, err := rootReadonly([]byte("23 22 0:22 / /proc rw - proc proc rw\n")); err == nil {
		t.Error("no root mount: no error")
	}
}

func TestPromiseOf(t *testing.T) {
	doc, err := spec.ParseObject([]byte(`{"process":{"capabilities":{"bounding":["CAP_CHOWN"],"ambient":["CAP_CHOWN"]},
		"selinuxLabel":"system_u:system_r:container_t:s0:c1,c2","apparmorProfile":"containers-default-0.50"},
		"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},
			"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"},{"type":"mount"},{"type":"cgroup"}],
			"resources":{"pids":{"limit":2048},"memory":{"limit":536870912}}},
		"root":{"path":"rootfs","readonly":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := promiseOf(doc, &hardening.Result{Caps: 1, NoNewPrivileges: true})
	if err != nil {
		t.Fatal(err)
	}
	want := promise{Caps: 1, Ambient: 1, NoNewPrivs: true, Seccomp: true, ReadonlyRoot: true,
		Namespaces: []string{"pid", "mount", "cgroup"}, Pids: 2048, Memory: 536870912,
		SELinuxLabel: "system_u:system_r:container_t:s0:c1,c2", AppArmorProfile: "containers-default-0.50"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %+v, want %+v", p, want)
	}
	args := strings.Join(p.args(), " ")
	if !strings.Contains(args, "--ns pid,mount,cgroup --pids 2048 --memory 536870912 --selinux system_u:system_r:container_t:s0:c1,c2 --apparmor containers-default-0.50") {
		t.Errorf("args %q", args)
	}
	doc, _ = spec.ParseObject([]byte(`{"linux":{"seccomp":null,"resources":{"pids":{"limit":-1}}},"root":{"path":"rootfs"}}`))
	if p, _ = promiseOf(doc, &hardening.Result{}); p.Seccomp || p.ReadonlyRoot || p.NoNewPrivs || p.Pids != 0 || p.Namespaces != nil {
		t.Errorf("nothing promised: %+v", p)
	}
	doc, _ = spec.ParseObject([]byte(`{"linux":{"namespaces":[{"type":1}]}}`))
	if _, err := promiseOf(doc, &hardening.Result{}); err == nil {
		t.Error("a malformed namespace entry passed")
	}
}

// fakeProc builds a /proc/PID directory: status, mountinfo, cgroup, the
// LSM attributes and ns links (files, compared with a fake self/ns).
func fakeProc(t *testing.T, status string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"status": status, "mountinfo": "30 1 0:21 / / ro,relatime - overlay overlay rw\n",
		"stat": "4242 (sh) S 1 4242 4242 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 1000 1234 56\n"}
	for k, v := range files {
		all[k] = v
	}
	for name, body := range all {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadAndCompareLive(t *testing.T) {
	// Host namespaces: self/ns/{pid,mnt,net}; the process has its own
	// pid and mnt, and shares net (a file linked to the host's).
	self := t.TempDir()
	for _, n := range []string{"pid", "mnt", "net"} {
		os.WriteFile(filepath.Join(self, n), nil, 0o644)
	}
	savedHost, savedCG := attestHost, cgroupRoot
	defer func() { attestHost, cgroupRoot = savedHost, savedCG }()
	attestHost = hostWithSelfNS(self)
	cg := t.TempDir()
	cgroupRoot = cg
	for f, v := range map[string]string{"pids/c1/pids.max": "64\n", "memory/c1/memory.limit_in_bytes": "268435456\n",
		"pids/c2/pids.max": "max\n", "memory/c2/memory.limit_in_bytes": "9223372036854771712\n"} {
		os.MkdirAll(filepath.Join(cg, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(cg, f), []byte(v), 0o644)
	}
	proc := fakeProc(t, sampleStatus, map[string]string{
		"ns/pid": "", "ns/mnt": "",
		"cgroup":       "9:name=systemd:/c1\n8:pids:/c1\n4:memory:/c1\n0::/\n",
		"attr/current": "system_u:system_r:container_runtime_t:s0\x00",
		"attr/exec":    "system_u:system_r:container_t:s0:c1,c2\x00",
	})
	os.Link(filepath.Join(self, "net"), filepath.Join(proc, "ns", "net"))
	good := promise{Caps: podmanCaps, NoNewPrivs: true, Seccomp: true, ReadonlyRoot: true,
		Namespaces: []string{"pid", "mount"}, Pids: 64, Memory: 268435456,
		SELinuxLabel: "system_u:system_r:container_t:s0:c1,c2"}
	if ms, gone, err := readAndCompare(proc, good); err != nil || gone || len(ms) != 0 {
		t.Errorf("kept promise: %v %v %v", ms, gone, err)
	}
	// Each broken promise is named.
	bad := good
	bad.Namespaces = []string{"pid", "network"}
	bad.Pids, bad.Memory = 32, 1<<20
	bad.SELinuxLabel = "system_u:system_r:container_t:s0:c3,c4"
	bad.AppArmorProfile = "secshim-default"
	ms, _, err := readAndCompare(proc, bad)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.String())
	}
	want := []string{
		"ns/net is the host's (the runtime's own), promised its own network namespace",
		"pids.max is 64, promised at most 32",
		"memory limit is 268435456, promised at most 1048576",
		"attr/current is SELinux label system_u:system_r:container_runtime_t:s0, promised SELinux label system_u:system_r:container_t:s0:c3,c4",
		"attr/current is AppArmor label system_u:system_r:container_runtime_t:s0, promised AppArmor profile secshim-default",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mismatches\n  %q\nwant\n  %q", got, want)
	}
	// Unlimited cgroups break a limit promise; a missing hierarchy too.
	os.WriteFile(filepath.Join(proc, "cgroup"), []byte("8:pids:/c2\n4:memory:/c2\n"), 0o644)
	ms, _, _ = readAndCompare(proc, promise{Caps: podmanCaps, Pids: 64, Memory: 1 << 30})
	if len(ms) != 2 || ms[0].Got != "unlimited" || ms[1].Got != "unlimited" {
		t.Errorf("unlimited: %v", ms)
	}
	os.WriteFile(filepath.Join(proc, "cgroup"), []byte("8:pids:/c1\n"), 0o644)
	if ms, _, _ = readAndCompare(proc, promise{Caps: podmanCaps, Memory: 1 << 30}); len(ms) != 1 || ms[0].Got != "no cgroup found" {
		t.Errorf("no memory cgroup: %v", ms)
	}
	// AppArmor: the profile's name, whatever its mode; or pending at exec.
	os.WriteFile(filepath.Join(proc, "attr/current"), []byte("secshim-default (enforce)\n"), 0o644)
	if ms, _, _ = readAndCompare(proc, promise{Caps: podmanCaps, AppArmorProfile: "secshim-default"}); len(ms) != 0 {
		t.Errorf("apparmor current: %v", ms)
	}
	os.WriteFile(filepath.Join(proc, "attr/current"), []byte("unconfined\n"), 0o644)
	os.WriteFile(filepath.Join(proc, "attr/exec"), []byte("secshim-default\n"), 0o644)
	if ms, _, _ = readAndCompare(proc, promise{Caps: podmanCaps, AppArmorProfile: "secshim-default"}); len(ms) != 0 {
		t.Errorf("apparmor at exec: %v", ms)
	}
	// An exiting process (PF_EXITING) shows its namespaces and cgroup
	// torn down: it has exited, not broken a promise; unless other
	// threads still run.
	os.WriteFile(filepath.Join(proc, "stat"), []byte("4242 (a (b) c) R 1 4242 4242 0 -1 4194564 97 0 0 0\n"), 0o644)
	if ms, gone, err := readAndCompare(proc, bad); !gone || err != nil || ms != nil {
		t.Errorf("exiting: %v %v %v", ms, gone, err)
	}
	os.WriteFile(filepath.Join(proc, "status"), []byte(strings.Replace(sampleStatus, "Threads:\t1", "Threads:\t3", 1)), 0o644)
	if ms, gone, _ := readAndCompare(proc, bad); gone || len(ms) == 0 {
		t.Errorf("exiting leader, other threads running: %v %v", ms, gone)
	}
	os.WriteFile(filepath.Join(proc, "status"), []byte(sampleStatus), 0o644)
	// A zombie has exited: not a mismatch, whatever it shows.
	zombie := fakeProc(t, strings.Replace(sampleStatus, "S (sleeping)", "Z (zombie)", 1), nil)
	if ms, gone, err := readAndCompare(zombie, bad); !gone || err != nil || ms != nil {
		t.Errorf("zombie: %v %v %v", ms, gone, err)
	}
}

func TestCgroupLimitsUnified(t *testing.T) {
	saved := cgroupRoot
	defer func() { cgroupRoot = saved }()
	cgroupRoot = t.TempDir()
	os.WriteFile(filepath.Join(cgroupRoot, "cgroup.controllers"), []byte("pids memory\n"), 0o644)
	os.MkdirAll(filepath.Join(cgroupRoot, "machine.slice/c"), 0o755)
	os.WriteFile(filepath.Join(cgroupRoot, "machine.slice/c/pids.max"), []byte("2048\n"), 0o644)
	os.WriteFile(filepath.Join(cgroupRoot, "machine.slice/c/memory.max"), []byte("max\n"), 0o644)
	proc := fakeProc(t, sampleStatus, map[string]string{"cgroup": "0::/machine.slice/c\n"})
	pids, mem, err := cgroupLimits(proc)
	if err != nil || !pids.Found || pids.Max != 2048 || !mem.Found || mem.Max != -1 {
		t.Errorf("v2: %+v %+v %v", pids, mem, err)
	}
	// The root cgroup has no limit files: unlimited.
	os.WriteFile(filepath.Join(proc, "cgroup"), []byte("0::/\n"), 0o644)
	if pids, _, _ = cgroupLimits(proc); !pids.Found || pids.Max != -1 {
		t.Errorf("root cgroup: %+v", pids)
	}
	os.WriteFile(filepath.Join(cgroupRoot, "machine.slice/c/pids.max"), []byte("lots\n"), 0o644)
	os.WriteFile(filepath.Join(proc, "cgroup"), []byte("0::/machine.slice/c\n"), 0o644)
	if _, _, err = cgroupLimits(proc); err == nil {
		t.Error("a garbled limit passed")
	}
	// This process's own cgroups, on the real host.
	cgroupRoot = saved
	if _, _, err := cgroupLimits("/proc/self"); err != nil {
		t.Errorf("/proc/self: %v", err)
	}
}

func TestRecordPromise(t *testing.T) {
	path := filepath.Join(t.TempDir(), "default", "c1")
	pr := promise{Caps: podmanCaps, NoNewPrivs: true, Seccomp: true, Namespaces: []string{"pid", "mount"}, Pids: 2048}
	rec := &Record{Backend: Backend{Name: "crun", Path: "/usr/bin/crun"}, Profile: "baseline", Attest: AttestEnforce,
		Promise: pr.args(), PidFile: "/run/x/pidfile"}
	if err := SaveRecord(path, rec); err != nil {
		t.Fatal(err)
	}
	got, _, err := loadRecord(path)
	if err != nil || !reflect.DeepEqual(got, rec) || !got.attestsAtStart() {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	flags, pos, err := parseAdminFlags(got.Promise, promiseFlags())
	if err != nil || len(pos) != 0 {
		t.Fatal(pos, err)
	}
	back, err := parsePromise(flags)
	if err != nil || !reflect.DeepEqual(back, pr) {
		t.Errorf("promise back: %+v %v, want %+v", back, err, pr)
	}
	for _, r := range []*Record{nil, {Attest: AttestAudit}, {Promise: []string{"--nnp"}}} {
		if r.attestsAtStart() {
			t.Errorf("%+v attests at start", r)
		}
	}
}

func attestCall(t *testing.T, backend Backend, mode string) *call {
	cfg := DefaultConfig()
	cfg.Policy.Attest = mode
	cfg.StateDir = t.TempDir()
	return &call{cfg: cfg, inv: &Invocation{ID: "c1", Verb: "create"}, backend: &backend}
}

func TestInjectAttest(t *testing.T) {
	p := &hardening.Policy{Name: "baseline"}
	res := &hardening.Result{Caps: podmanCaps, NoNewPrivileges: true}
	doc, _ := spec.ParseObject([]byte(`{"hooks":{"poststart":[{"path":"/bin/true"}]},"linux":{"seccomp":{}}}`))
	r := attestCall(t, Backend{Name: "runc", Path: "/usr/sbin/runc"}, "")
	// create: the promise goes to the record, the spec is not touched.
	var d Decision
	v, promise, err := r.injectAttest(doc, p, res, &d)
	if err != nil || v.Verdict != verdictPending || doc.Changed() || len(d.Changes) != 0 ||
		!reflect.DeepEqual(promise, []string{"--caps", "800405fb", "--ambient", "0", "--nnp", "--seccomp"}) {
		t.Fatalf("create: %+v %q %v changed=%v", v, promise, err, doc.Changed())
	}
	// run: a poststart hook.
	r.inv = &Invocation{ID: "c1", Verb: "run", Globals: []Flag{{Name: "root", Value: "/run/root"}}}
	v, promise, err = r.injectAttest(doc, p, res, &d)
	if err != nil || v == nil || v.Verdict != verdictPending || v.Mode != AttestEnforce || promise != nil {
		t.Fatalf("runc: %+v %v", v, err)
	}
	var got struct {
		Hooks struct {
			Poststart []struct {
				Path    string   `json:"path"`
				Args    []string `json:"args"`
				Timeout int      `json:"timeout"`
			} `json:"poststart"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(doc.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	hs := got.Hooks.Poststart
	if len(hs) != 2 || hs[0].Path != "/bin/true" {
		t.Fatalf("the engine's hook must stay first: %+v", hs)
	}
	self, _ := os.Executable()
	self, _ = filepath.EvalSymlinks(self)
	if hs[1].Path != self || !filepath.IsAbs(hs[1].Path) {
		t.Errorf("hook path %q, want %q", hs[1].Path, self)
	}
	want := []string{"secshim", "attest", "--id", "c1", "--mode", "enforce", "--backend", "runc", "--profile", "baseline",
		"--state-dir", r.cfg.StateDir, "--root", "/run/root", "--caps", "800405fb", "--ambient", "0", "--nnp", "--seccomp"}
	if !reflect.DeepEqual(hs[1].Args, want) {
		t.Errorf("args\n  %q\nwant\n  %q", hs[1].Args, want)
	}
	if hs[1].Timeout <= 0 {
		t.Error("no timeout")
	}
	if len(d.Changes) != 1 || d.Changes[0].Control != "attest" {
		t.Errorf("changes %v", d.Changes)
	}

	// Sandbox backends: no hook, an explicit verdict.
	for _, b := range []Backend{{Name: "runsc", Path: "/usr/bin/runsc"}, {Name: "kata", Path: "/usr/bin/kata-runtime"}, {Name: "gv", Path: "/opt/secshim-runsc"}} {
		doc, _ := spec.ParseObject([]byte(`{}`))
		v, _, err := attestCall(t, b, "").injectAttest(doc, p, res, &Decision{})
		if err != nil || v == nil || v.Verdict != verdictNotAttestable || !strings.Contains(v.Reason, "not attestable on sandbox backend "+b.Name) || v.Mode != AttestEnforce {
			t.Errorf("%s: %+v %v", b.Name, v, err)
		}
		if doc.Changed() {
			t.Errorf("%s: spec changed", b.Name)
		}
	}
	// off, and pass-through profiles: no hook, the state said.
	for _, c := range []struct {
		mode, verdict string
		p             *hardening.Policy
	}{{"off", verdictOff, p}, {"", verdictNone, &hardening.Policy{Name: "privileged", PassThrough: true}}} {
		doc, _ := spec.ParseObject([]byte(`{}`))
		v, promise, err := attestCall(t, Backend{Name: "runc", Path: "/usr/sbin/runc"}, c.mode).injectAttest(doc, c.p, res, &Decision{})
		if err != nil || v == nil || v.Verdict != c.verdict || doc.Changed() || promise != nil {
			t.Errorf("%s/%s: %+v %v changed=%v", c.mode, c.p.Name, v, err, doc.Changed())
		}
	}
}

func TestAttestConfig(t *testing.T) {
	for _, m := range []string{"enforce", "audit", "off"} {
		data := []byte("[policy]\nattest = \"" + m + "\"\n")
		cfg, err := ParseConfig("c.toml", data)
		if err != nil || cfg.Policy.Attest != m || cfg.attestMode() != m {
			t.Errorf("%s: %v %+v", m, err, cfg)
		}
		// Same as go-toml's reflection decoder.
		want, _ := parseConfig("c.toml", data, decodeConfigReflect)
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("%s: differs from go-toml", m)
		}
	}
	if cfg, _ := ParseConfig("c.toml", []byte("")); cfg.attestMode() != AttestEnforce {
		t.Error("default is not enforce")
	}
	for _, bad := range []string{"[policy]\nattest = \"enfroce\"\n", "[policy]\nattest = 1\n", "policy = { attest = { a = 1 } }\n"} {
		_, err := ParseConfig("c.toml", []byte(bad))
		_, werr := parseConfig("c.toml", []byte(bad), decodeConfigReflect)
		if err == nil || werr == nil {
			t.Errorf("%q accepted: %v / go-toml %v", bad, err, werr)
		}
	}
}

// runAttest runs the attest verb in-process with state on stdin.
func runAttest(t *testing.T, state string, args ...string) (code int, stderr string, line map[string]any) {
	t.Helper()
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	conf := filepath.Join(dir, "c.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("state_dir = %q\n[log]\nfile = %q\nsyslog = \"off\"\n", dir, logf)), 0o644)
	attestIn = strings.NewReader(state)
	defer func() { attestIn = os.Stdin }()
	var out, errb bytes.Buffer
	a := &admin{stdout: &out, stderr: &errb}
	code = a.attest(append([]string{"--config", conf}, args...))
	if out.Len() > 0 {
		t.Errorf("attest wrote to stdout: %q", out.String())
	}
	b, err := os.ReadFile(logf)
	if err != nil {
		t.Fatalf("no log line: %v", err)
	}
	if bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("want one line: %q", b)
	}
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatalf("line %q: %v", b, err)
	}
	return code, errb.String(), line
}

func child(t *testing.T) *exec.Cmd {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func verdictOf(line map[string]any) map[string]any {
	v, _ := line["attest"].(map[string]any)
	return v
}

func TestAttestVerb(t *testing.T) {
	saved := attestWait
	attestWait = 20 * time.Millisecond
	defer func() { attestWait = saved }()

	self, _ := os.ReadFile("/proc/self/status")
	st, _ := parseStatus(self)
	caps := fmt.Sprintf("%x", st.CapBnd)

	// The test's own child holds what it holds: promise exactly that.
	cmd := child(t)
	state := fmt.Sprintf(`{"ociVersion":"1.0.2","id":"c1","status":"created","pid":%d}`, cmd.Process.Pid)
	code, errs, line := runAttest(t, state, "--id", "c1", "--caps", caps, "--ambient", fmt.Sprintf("%x", st.CapAmb), "--backend", "runc")
	if v := verdictOf(line); code != 0 || v["verdict"] != "pass" || line["verb"] != "attest" || line["id"] != "c1" {
		t.Errorf("pass: code %d, %s, line %v", code, errs, line)
	}

	// Audit: the broken promise (this test runs without NNP and seccomp,
	// unless its own runner set them) is logged, the process lives.
	if st.NoNewPrivs == 1 || st.Seccomp == 2 {
		t.Skip("the test process already has no_new_privs or a seccomp filter")
	}
	code, errs, line = runAttest(t, state, "--id", "c1", "--mode", "audit", "--caps", caps, "--ambient", "0", "--nnp", "--seccomp", "--backend", "stripper")
	v := verdictOf(line)
	if code != 0 || v["verdict"] != "fail" || v["action"] != "logged" || len(v["mismatches"].([]any)) != 2 {
		t.Errorf("audit: code %d, %s, line %v", code, errs, line)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("audit killed the process: %v", err)
	}

	// Enforce: killed, exit 1, each mismatch named.
	code, errs, line = runAttest(t, state, "--id", "c1", "--mode", "enforce", "--caps", caps, "--ambient", "0", "--nnp", "--seccomp", "--backend", "stripper")
	v = verdictOf(line)
	if code != 1 || v["verdict"] != "fail" || v["action"] != "killed" {
		t.Errorf("enforce: code %d, line %v", code, line)
	}
	for _, want := range []string{"container killed", "NoNewPrivs is 0, promised 1", "Seccomp is 0, promised 2 (filter)", "backend stripper"} {
		if !strings.Contains(errs, want) {
			t.Errorf("enforce: stderr %q lacks %q", errs, want)
		}
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("enforce: child not SIGKILLed: %v", err)
	}

	// Gone before it was read: logged as such, not a failure.
	code, _, line = runAttest(t, state, "--id", "c1", "--nnp", "--seccomp")
	if v := verdictOf(line); code != 0 || v["verdict"] != "exited" {
		t.Errorf("exited: code %d, line %v", code, line)
	}

	// Unusable state: enforce fails closed.
	for _, bad := range []string{"", "{", `{"id":"other","pid":1}`, `{"id":"c1"}`} {
		code, errs, line = runAttest(t, bad, "--id", "c1")
		if v := verdictOf(line); code != 1 || v["verdict"] != "error" || errs == "" {
			t.Errorf("state %q: code %d, line %v", bad, code, line)
		}
	}
}

func TestAttestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--id", "x", "--mode", "sometimes"}, {"--id", "x", "--caps", "zz"}, {"--id", "x", "extra"},
		{"--id", "x", "--ns", "pid,netz"}, {"--id", "x", "--pids", "0"}, {"--id", "x", "--memory", "lots"}} {
		var out, errb bytes.Buffer
		if code := (&admin{stdout: &out, stderr: &errb}).attest(args); code != exitUsage {
			t.Errorf("%q: exit %d", args, code)
		}
	}
}

func TestAttestLineIsJSON(t *testing.T) {
	v := &attestVerdict{Mode: "enforce", Pid: 3, Verdict: verdictFail, Action: "killed",
		Mismatches: []mismatch{{"NoNewPrivs", "1", "0"}}, Unchecked: []string{"process.selinuxLabel: off"}, Elapsed: 1500 * time.Microsecond}
	var got struct {
		ID     string `json:"id"`
		Attest struct {
			Verdict    string     `json:"verdict"`
			Mismatches []mismatch `json:"mismatches"`
			Unchecked  []string   `json:"unchecked"`
			Elapsed    int        `json:"elapsed_us"`
		} `json:"attest"`
		Changes []any `json:"changes"`
	}
	d := Decision{ID: "a\"b\u2028", Verb: "attest", Backend: "runc", Profile: "baseline", Attest: v}
	b := decisionLine(d, time.Now())
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.ID != d.ID || got.Attest.Verdict != "fail" || len(got.Attest.Mismatches) != 1 || got.Attest.Elapsed != 1500 || got.Changes == nil || len(got.Attest.Unchecked) != 1 {
		t.Errorf("%+v", got)
	}
	// secshim log reads it back like any decision.
	var e logEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Verb != "attest" || e.Attest == nil || e.Attest.Verdict != "fail" {
		t.Errorf("logEntry: %v %+v", err, e)
	}
	// The create line carries attestation's state.
	b = decisionLine(Decision{ID: "c", Verb: "create", Attest: &attestVerdict{Mode: "enforce", Verdict: verdictPending}}, time.Now())
	if !bytes.Contains(b, []byte(`"attest":{"verdict":"pending","mode":"enforce","mismatches":[]}`)) {
		t.Errorf("create line %s", b)
	}
}

// BenchmarkAttest is the hook's work in-process (config, state, one read
// of /proc/<pid>/status, the log line); the fork/exec of the hook comes
// on top (docs/attestation.md has both).
func BenchmarkAttest(b *testing.B) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	dir := b.TempDir()
	conf := filepath.Join(dir, "c.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("state_dir = %q\n[log]\nfile = %q\nsyslog = \"off\"\n", dir, filepath.Join(dir, "log"))), 0o644)
	state := fmt.Sprintf(`{"ociVersion":"1.0.2","id":"c1","status":"created","pid":%d}`, cmd.Process.Pid)
	defer func() { attestIn = os.Stdin }()
	a := &admin{stdout: new(bytes.Buffer), stderr: new(bytes.Buffer)}
	for b.Loop() {
		attestIn = strings.NewReader(state)
		if code := a.attest([]string{"--config", conf, "--id", "c1", "--mode", "audit", "--caps", "ffffffffffffffff", "--ambient", "ffffffffffffffff"}); code != 0 {
			b.Fatal(code)
		}
	}
}

// BenchmarkInjectAttest is what attestation adds to secshim's create.
func BenchmarkInjectAttest(b *testing.B) {
	cfg := DefaultConfig()
	r := &call{cfg: cfg, inv: &Invocation{ID: "c1", Verb: "run"}, backend: &Backend{Name: "runc", Path: "/usr/sbin/runc"}}
	p := &hardening.Policy{Name: "baseline"}
	res := &hardening.Result{Caps: podmanCaps, NoNewPrivileges: true}
	raw := []byte(`{"process":{"capabilities":{"ambient":[]},"noNewPrivileges":true},"linux":{"seccomp":{}},"root":{"path":"rootfs"}}`)
	for b.Loop() {
		doc, _ := spec.ParseObject(raw)
		if _, _, err := r.injectAttest(doc, p, res, &Decision{}); err != nil {
			b.Fatal(err)
		}
		doc.Bytes()
	}
}

func TestReadProc(t *testing.T) {
	for _, p := range []string{"/proc/self/status", "/proc/self/mountinfo", "/proc/self/cgroup"} {
		got, err := readProc(p)
		if err != nil {
			t.Fatal(err)
		}
		// Same content as os.ReadFile (the files are stable in shape;
		// compare the keys of status, the line count of the others).
		want, _ := os.ReadFile(p)
		if bytes.Count(got, []byte("\n")) != bytes.Count(want, []byte("\n")) || len(got) < 10 {
			t.Errorf("%s: %d lines, want %d", p, bytes.Count(got, []byte("\n")), bytes.Count(want, []byte("\n")))
		}
	}
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, bytes.Repeat([]byte("x"), 10000), 0o644)
	if b, err := readProc(big); err != nil || len(b) != 10000 {
		t.Errorf("10000 bytes: %d %v", len(b), err)
	}
	if _, err := readProc("/proc/self/nonexistent"); !os.IsNotExist(err) {
		t.Errorf("missing: %v", err)
	}
}

// TestAttestWaitsForExec: after a start that returns before the init has
// exec'd (crun), attestation waits for the program to change, however
// long that takes, then reads once: no false failure on a slow host, no
// re-read window on a real one.
func TestAttestWaitsForExec(t *testing.T) {
	savedProc, savedWait := procRoot, attestExecWait
	defer func() { procRoot, attestExecWait = savedProc, savedWait }()
	procRoot = t.TempDir()
	proc := filepath.Join(procRoot, "4242")
	os.MkdirAll(proc, 0o755)
	os.WriteFile(filepath.Join(proc, "stat"), []byte("4242 (sleep) S 1 4242 4242 0 -1 4194560 97 0 0 0\n"), 0o644)
	initProg, userProg := filepath.Join(procRoot, "crun"), filepath.Join(procRoot, "sleep")
	os.WriteFile(initProg, []byte("init"), 0o755)
	os.WriteFile(userProg, []byte("user"), 0o755)
	before := strings.Replace(strings.Replace(sampleStatus, "NoNewPrivs:\t1", "NoNewPrivs:\t0", 1), "Seccomp:\t2", "Seccomp:\t0", 1)
	setExe := func(target string) {
		tmp := filepath.Join(proc, "exe.tmp")
		os.Remove(tmp)
		os.Symlink(target, tmp)
		os.Rename(tmp, filepath.Join(proc, "exe"))
	}
	pr := promise{Caps: podmanCaps, NoNewPrivs: true, Seccomp: true}
	run := func(after string, execAt time.Duration) *attestVerdict {
		os.WriteFile(filepath.Join(proc, "status"), []byte(before), 0o644)
		setExe(initProg)
		pre, err := exeOf(proc)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if execAt < 0 {
				return
			}
			time.Sleep(execAt)
			os.WriteFile(filepath.Join(proc, "status"), []byte(after), 0o644)
			setExe(userProg)
		}()
		d := &Decision{ID: "c1", Attest: &attestVerdict{Mode: AttestAudit}}
		// The re-read window is shorter than the exec's delay: waiting
		// for the exec is what passes.
		attestPid(d, 4242, -1, pr, 10*time.Millisecond, &pre)
		<-done
		return d.Attest
	}
	attestExecWait = 5 * time.Second
	if v := run(sampleStatus, 150*time.Millisecond); v.Verdict != verdictPass {
		t.Errorf("slow exec, then held: %+v", v)
	}
	if v := run(before, 20*time.Millisecond); v.Verdict != verdictFail || v.Action != "logged" || len(v.Mismatches) != 2 {
		t.Errorf("exec'd without the promise: %+v", v)
	}
	attestExecWait = 30 * time.Millisecond
	if v := run(sampleStatus, -1); v.Verdict != verdictError || !strings.Contains(v.Reason, "had not started its program") {
		t.Errorf("never exec'd: %+v", v)
	}
	// Gone while waiting: exited.
	os.Remove(filepath.Join(proc, "exe"))
	pre := fileID{1, 2}
	d := &Decision{ID: "c1", Attest: &attestVerdict{Mode: AttestAudit}}
	if attestPid(d, 4242, -1, pr, 0, &pre); d.Attest.Verdict != verdictExited {
		t.Errorf("gone: %+v", d.Attest)
	}
}

// hostWithSelfNS is this host with its own namespaces read from dir (a fake
// /proc/self/ns).
func hostWithSelfNS(dir string) func() *hardening.Host {
	return func() *hardening.Host {
		h := hardening.DefaultHost()
		h.RuntimeNamespace = func(nsType string) (hardening.NSID, error) {
			return h.NamespaceID(filepath.Join(dir, hardening.ProcNSName(nsType)))
		}
		return h
	}
}
