package hardening

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "tests", "golden", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("result is not JSON: %v", err)
	}
	return m
}

// get walks a decoded document by keys.
func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

func harden(t *testing.T, p *Policy, in []byte) ([]byte, *Result) {
	t.Helper()
	doc, err := spec.ParseObject(in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Harden(p, doc, Env{Host: everyABIHost()})
	if err != nil {
		t.Fatalf("Harden: %v", err)
	}
	return doc.Bytes(), res
}

var goldens = []string{
	"podman-default.json", "podman-privileged.json", "podman-unconfined.json",
	"podman-restricted-flags.json", "podman-cap-add-sys-admin.json",
}

// Every golden config comes out within the default policy, and applying
// the policy twice changes nothing the second time.
func TestDefaultPolicyOnPodmanConfigs(t *testing.T) {
	allowed := Default().AllowedCaps()
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			out, res := harden(t, Default(), golden(t, name))
			m := decode(t, out)
			for _, set := range capSets {
				for _, c := range strs(get(m, "process", "capabilities", set)) {
					if !allowed.Has(c) {
						t.Errorf("%s keeps %s", set, c)
					}
					if (set == "inheritable" || set == "ambient") && c != "" {
						t.Errorf("%s not empty: %s", set, c)
					}
				}
			}
			if get(m, "process", "noNewPrivileges") != true {
				t.Error("noNewPrivileges not set")
			}
			sec, _ := get(m, "linux", "seccomp").(map[string]any)
			if sec == nil || !denying(sec["defaultAction"].(string)) {
				t.Errorf("no enforcing seccomp: %v", sec)
			}
			if l, _ := get(m, "linux", "resources", "pids", "limit").(float64); l <= 0 || l > 32768 {
				t.Errorf("pids limit %v", l)
			}
			devs, _ := get(m, "linux", "devices").([]any)
			for _, d := range devs {
				p := d.(map[string]any)["path"].(string)
				if _, ok := standardDevice(p); !ok && !strings.HasPrefix(p, "/dev/pts/") {
					t.Errorf("host device kept: %s", p)
				}
			}
			again, res2 := harden(t, Default(), out)
			if len(res2.Changes) != 0 || string(again) != string(out) {
				t.Errorf("not idempotent: second pass changed %v", res2.Changes)
			}
			if res.Caps&^allowed != 0 {
				t.Errorf("recorded caps %v beyond allowed", res.Caps.Names())
			}
		})
	}
}

// A policy that changes nothing leaves the config byte-identical.
func TestNoOpPolicyKeepsBytes(t *testing.T) {
	// Podman's own seccomp profile: the engine's is kept only when it is at
	// least as strict as the policy's, and Podman's allows more than the
	// built-in default.
	p := &Policy{Capabilities: CapabilityPolicy{Allow: []string{"ALL"}, Ambient: []string{"ALL"}}, Seccomp: SeccompPolicy{Profile: testdataPath(t, "podman-seccomp.json"), KeepEngine: true}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	in := golden(t, "podman-default.json")
	out, res := harden(t, p, in)
	if string(out) != string(in) || len(res.Changes) != 0 {
		t.Fatalf("changed: %v", res.Changes)
	}
}

func TestPrivilegedIsNeutralised(t *testing.T) {
	in := golden(t, "podman-privileged.json")
	before := decode(t, in)
	if len(strs(get(before, "process", "capabilities", "bounding"))) < 30 {
		t.Fatal("golden privileged config does not hold every capability")
	}
	out, res := harden(t, Default(), in)
	m := decode(t, out)
	got := strs(get(m, "process", "capabilities", "bounding"))
	want := Default().AllowedCaps().Names()
	slices.Sort(got)
	slices.Sort(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bounding = %v, want %v", got, want)
	}
	rules := get(m, "linux", "resources", "devices").([]any)
	first := rules[0].(map[string]any)
	if first["allow"] != false || first["access"] != "rwm" {
		t.Errorf("device cgroup does not start with deny-all: %v", first)
	}
	for _, r := range rules[1:] {
		r := r.(map[string]any)
		if r["allow"] == true && r["type"] != "c" {
			t.Errorf("device rule allows non-char devices: %v", r)
		}
	}
	controls := map[string]bool{}
	for _, c := range res.Changes {
		controls[c.Control] = true
	}
	for _, c := range []string{"capabilities", "no_new_privileges", "devices", "seccomp"} {
		if !controls[c] {
			t.Errorf("no %s change reported", c)
		}
	}
}

func TestUnknownFieldsSurvive(t *testing.T) {
	in := []byte(`{"ociVersion":"1.2.0","x-vendor":{"a":[1,{"b":null}]},"process":{"user":{"uid":0,"gid":0},"args":["sh"],"x-proc":true,"capabilities":{"bounding":["CAP_SYS_ADMIN","CAP_CHOWN"],"x-caps":1}},"linux":{"x-linux":"keep","namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}`)
	out, _ := harden(t, Default(), in)
	m := decode(t, out)
	for _, path := range [][]string{{"x-vendor"}, {"process", "x-proc"}, {"process", "capabilities", "x-caps"}, {"linux", "x-linux"}} {
		if get(m, path...) == nil {
			t.Errorf("%v lost", path)
		}
	}
	if got := strs(get(m, "process", "capabilities", "bounding")); !reflect.DeepEqual(got, []string{"CAP_CHOWN"}) {
		t.Errorf("bounding = %v", got)
	}
}

func TestCapabilities(t *testing.T) {
	cases := []struct {
		name, caps string
		want       map[string][]string
	}{
		{"dangerous dropped", `{"bounding":["CAP_SYS_ADMIN","CAP_CHOWN","CAP_NET_RAW"],"effective":["CAP_SYS_PTRACE","CAP_KILL"]}`,
			map[string][]string{"bounding": {"CAP_CHOWN"}, "effective": {"CAP_KILL"}}},
		{"ambient cleared", `{"bounding":["CAP_CHOWN"],"inheritable":["CAP_CHOWN"],"ambient":["CAP_CHOWN"]}`,
			map[string][]string{"bounding": {"CAP_CHOWN"}, "inheritable": {}, "ambient": {}}},
		{"unknown and lowercase dropped", `{"bounding":["CAP_BOGUS","cap_chown","CAP_CHOWN","CAP_CHOWN"]}`,
			map[string][]string{"bounding": {"CAP_CHOWN"}}},
		{"missing gets empty sets", ``,
			map[string][]string{"bounding": {}, "effective": {}, "permitted": {}, "inheritable": {}, "ambient": {}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"process":{}}`
			if tc.caps != "" {
				in = `{"process":{"capabilities":` + tc.caps + `}}`
			}
			doc, _ := spec.ParseObject([]byte(in))
			c := &Context{Policy: Default(), Doc: doc}
			if err := capabilitiesRule(c); err != nil {
				t.Fatal(err)
			}
			m := decode(t, doc.Bytes())
			for set, want := range tc.want {
				if got := strs(get(m, "process", "capabilities", set)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v, want %v", set, got, want)
				}
			}
		})
	}
}

func TestPolicyErrorsNameTheField(t *testing.T) {
	cases := []struct {
		p    Policy
		want string
	}{
		{Policy{Capabilities: CapabilityPolicy{Allow: []string{"CAP_FOO"}}}, "capabilities.allow"},
		{Policy{Capabilities: CapabilityPolicy{Deny: []string{"SYS_ADMN"}}}, "capabilities.deny"},
		{Policy{Mode: "strict"}, "mode"},
		{Policy{Pids: Limit{Default: 10, Max: 5}}, "pids"},
		{Policy{Seccomp: SeccompPolicy{Profile: "relative.json"}}, "seccomp.profile"},
		{Policy{Devices: DevicePolicy{Allow: []string{"/etc/passwd"}}}, "devices.allow"},
	}
	for _, tc := range cases {
		err := tc.p.Compile()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Compile(%+v) = %v, want error naming %s", tc.p, err, tc.want)
		}
	}
}

func TestModes(t *testing.T) {
	in := golden(t, "podman-privileged.json")
	for _, mode := range []Mode{Audit, Deny} {
		p := Default()
		p.Mode = mode
		doc, _ := spec.ParseObject(in)
		res, err := Harden(p, doc, Env{})
		if string(doc.Bytes()) != string(in) {
			t.Errorf("%s mode edited the spec", mode)
		}
		switch mode {
		case Audit:
			if err != nil || len(res.Changes) == 0 {
				t.Errorf("audit: err %v, %d changes", err, len(res.Changes))
			}
		case Deny:
			if err == nil || !strings.Contains(err.Error(), "capabilities: process.capabilities.bounding") {
				t.Errorf("deny: err %v", err)
			}
		}
	}
}

func TestPids(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{}`, "2048"},
		{`{"linux":{"resources":{"pids":{"limit":0}}}}`, "2048"},
		{`{"linux":{"resources":{"pids":{"limit":-1}}}}`, "2048"},
		{`{"linux":{"resources":{"pids":{"limit":100}}}}`, "100"},
		{`{"linux":{"resources":{"pids":{"limit":99999}}}}`, "32768"},
	}
	for _, tc := range cases {
		doc, _ := spec.ParseObject([]byte(tc.in))
		c := &Context{Policy: Default(), Doc: doc}
		if err := pidsRule(c); err != nil {
			t.Fatal(err)
		}
		m := decode(t, doc.Bytes())
		if got, _ := json.Marshal(get(m, "linux", "resources", "pids", "limit")); string(got) != tc.want {
			t.Errorf("%s: limit %s, want %s", tc.in, got, tc.want)
		}
	}
	// An update request: missing stays missing, unlimited gets the max.
	for in, want := range map[string]string{`{}`: "null", `{"pids":{"limit":-1}}`: "32768", `{"pids":{"limit":50}}`: "50", `{"pids":{"limit":50000}}`: "32768"} {
		doc, _ := spec.ParseObject([]byte(in))
		if _, err := Apply(Default(), UpdateRules, doc, Env{}); err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(get(decode(t, doc.Bytes()), "pids", "limit")); string(got) != want {
			t.Errorf("update %s: limit %s, want %s", in, got, want)
		}
	}
}

func TestDeviceDisguisedAsNull(t *testing.T) {
	in := `{"linux":{"devices":[{"path":"/dev/null","type":"c","major":1,"minor":3},{"path":"/dev/null2","type":"b","major":8,"minor":0},{"path":"/dev/zero","type":"b","major":8,"minor":1}],"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"b","major":8,"minor":0,"access":"rwm"}]}}}`
	doc, _ := spec.ParseObject([]byte(in))
	c := &Context{Policy: Default(), Doc: doc}
	if err := devicesRule(c); err != nil {
		t.Fatal(err)
	}
	m := decode(t, doc.Bytes())
	devs := get(m, "linux", "devices").([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["path"] != "/dev/null" {
		t.Errorf("devices = %v", devs)
	}
	for _, r := range get(m, "linux", "resources", "devices").([]any) {
		if r := r.(map[string]any); r["allow"] == true && r["type"] == "b" {
			t.Errorf("block device still allowed: %v", r)
		}
	}
}

func TestSeccompRenderedWhenMissingOrAllowing(t *testing.T) {
	for _, in := range []string{
		`{"process":{"capabilities":{"bounding":["CAP_CHOWN"]}}}`,
		`{"process":{},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}}`,
	} {
		doc, _ := spec.ParseObject([]byte(in))
		c := &Context{Policy: Default(), Doc: doc}
		if err := seccompRule(c); err != nil {
			t.Fatal(err)
		}
		m := decode(t, doc.Bytes())
		if a := get(m, "linux", "seccomp", "defaultAction"); a != "SCMP_ACT_ERRNO" {
			t.Errorf("%s: defaultAction %v", in, a)
		}
		if n := len(get(m, "linux", "seccomp", "syscalls").([]any)); n < 10 {
			t.Errorf("%s: only %d syscall rules", in, n)
		}
	}
	// An enforcing engine profile is kept as it is.
	in := `{"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}],"x":1}}}`
	doc, _ := spec.ParseObject([]byte(in))
	c := &Context{Policy: Default(), Doc: doc}
	if err := seccompRule(c); err != nil || doc.Changed() {
		t.Errorf("engine profile replaced (err %v)", err)
	}
}

func TestHardenProcess(t *testing.T) {
	in := golden(t, "exec-privileged-process.json")
	doc, err := spec.ParseObject(in)
	if err != nil {
		t.Fatal(err)
	}
	// The container was created with --cap-drop=ALL: nothing may be added.
	changes, err := HardenProcess(Default(), 0, false, doc)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, doc.Bytes())
	for _, set := range capSets {
		if got := strs(get(m, "capabilities", set)); len(got) != 0 {
			t.Errorf("%s = %v, want empty", set, got)
		}
	}
	if get(m, "noNewPrivileges") != true || len(changes) == 0 {
		t.Errorf("nnp %v, changes %v", get(m, "noNewPrivileges"), changes)
	}
	for _, bad := range []string{`{"apparmorProfile":"unconfined"}`, `{"selinuxLabel":"system_u:system_r:spc_t:s0"}`} {
		doc, _ := spec.ParseObject([]byte(bad))
		if _, err := HardenProcess(Default(), AllCaps, false, doc); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
