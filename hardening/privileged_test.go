package hardening

import (
	"errors"
	"strings"
	"testing"
)

func TestPrivilegedPattern(t *testing.T) {
	all := `"process":{"capabilities":{"bounding":["` + strings.Join(AllCaps.Names(), `","`) + `"]}}`
	allButThree := `"process":{"capabilities":{"bounding":["` + strings.Join(AllCaps.Names()[3:], `","`) + `"]}}`
	allButFour := `"process":{"capabilities":{"bounding":["` + strings.Join(AllCaps.Names()[4:], `","`) + `"]}}`
	confined := `"maskedPaths":["/proc/kcore"],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}`
	cases := []struct {
		name       string
		in         string
		privileged bool
		fields     []string
	}{
		{"golden --privileged", string(golden(t, "podman-privileged.json")), true,
			[]string{"process.capabilities.bounding", "linux.seccomp", "linux.devices", "linux.maskedPaths", "mounts"}},
		{"golden default", string(golden(t, "podman-default.json")), false, nil},
		{"golden seccomp=unconfined", string(golden(t, "podman-unconfined.json")), false, nil},
		{"golden --cap-add=SYS_ADMIN", string(golden(t, "podman-cap-add-sys-admin.json")), false, nil},
		{"all capabilities, no seccomp, allow-all device cgroup", `{` + all + `,"linux":{"resources":{"devices":[{"allow":true,"access":"rwm"}]}}}`, true,
			[]string{"process.capabilities.bounding", "linux.seccomp", "linux.resources.devices", "linux.maskedPaths"}},
		{"nearly all capabilities, allow-all seccomp, host disk", `{` + allButThree + `,"linux":{"maskedPaths":["/proc/kcore"],"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},"devices":[{"path":"/dev/sda","type":"b","major":8,"minor":0}]}}`, true,
			[]string{"process.capabilities.bounding", "linux.seccomp", "linux.devices"}},
		{"a disk disguised as /dev/null counts", `{` + all + `,"linux":{"maskedPaths":["/proc/kcore"],"devices":[{"path":"/dev/null","type":"c","major":8,"minor":0}]}}`, true,
			[]string{"process.capabilities.bounding", "linux.seccomp", "linux.devices"}},
		{"two indicators only", `{` + all + `,"linux":{"maskedPaths":["/proc/kcore"]}}`, false, nil},
		{"too few capabilities to count", `{` + allButFour + `,"linux":{"maskedPaths":["/proc/kcore"],"resources":{"devices":[{"allow":true,"type":"a","access":"rwm"}]}}}`, false, nil},
		{"confined, /sys writable, standard devices", `{` + all + `,"linux":{` + confined + `,"devices":[{"path":"/dev/null","type":"c","major":1,"minor":3},{"path":"/dev/pts/0","type":"c","major":136,"minor":0}]},"mounts":[{"destination":"/sys/","type":"sysfs","options":["nosuid"]}]}`, false, nil},
		{"a device rule with numbers is not allow-all", `{` + all + `,"linux":{"maskedPaths":["/proc/kcore"],"resources":{"devices":[{"allow":true,"type":"c","major":1,"access":"rwm"}]}},"mounts":[{"destination":"/sys","options":["ro"]}]}`, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, action := range []string{"neutralise", "refuse"} {
				p := Default()
				p.Privileged.Action = action
				doc, c, err := limRule(t, p, privilegedControl, []byte(tc.in))
				if doc.Changed() {
					t.Errorf("%s: the spec was edited", action)
				}
				if !tc.privileged {
					if err != nil || len(c.Reports)+len(c.Refusals) != 0 || c.State["privileged"] != nil {
						t.Errorf("%s: err %v, reports %v, refusals %v, state %v", action, err, c.Reports, c.Refusals, c.State)
					}
					continue
				}
				if c.State["privileged"] != true {
					t.Errorf("%s: state %v", action, c.State)
				}
				var found []Change
				if action == "refuse" {
					var denied *DeniedError
					if !errors.As(err, &denied) || len(c.Reports) != 0 {
						t.Fatalf("refuse: err %v, reports %v", err, c.Reports)
					}
					found = c.Refusals
				} else {
					if err != nil || len(c.Refusals) != 0 {
						t.Fatalf("neutralise: err %v, refusals %v", err, c.Refusals)
					}
					found = c.Reports
				}
				if len(found) != 1 || found[0].Control != "privileged" || found[0].Field != strings.Join(tc.fields, ",") {
					t.Errorf("%s: %v, want fields %v", action, found, tc.fields)
				}
				if err != nil && !strings.Contains(err.Error(), "no seccomp") && !strings.Contains(err.Error(), "SCMP_ACT_ALLOW") {
					t.Errorf("refusal does not name the indicators: %v", err)
				}
			}
		})
	}
}

// Through Harden: the privileged pattern is reported and neutralised (the
// other rules drop below the threshold, so a second pass finds no pattern),
// or refused.
func TestPrivilegedHarden(t *testing.T) {
	in := golden(t, "podman-privileged.json")
	out, res := harden(t, Default(), in)
	if res.State["privileged"] != true {
		t.Errorf("state %v", res.State)
	}
	reported := false
	for _, ch := range res.Changes {
		reported = reported || ch.Control == "privileged" && strings.Contains(ch.From, "capabilities in the bounding set")
	}
	if !reported {
		t.Errorf("no privileged report in %v", res.Changes)
	}
	_, again := harden(t, Default(), out)
	if again.State["privileged"] != nil {
		t.Errorf("still privileged after neutralising: %v", again.Changes)
	}

	p := Default()
	p.Privileged.Action = "refuse"
	_, err := Harden(p, mustParse(t, in), Env{})
	if err == nil || !strings.Contains(err.Error(), "privileged: process.capabilities.bounding") {
		t.Errorf("refuse: err %v", err)
	}
	// In audit mode the refusal is only logged.
	p.Modes = map[string]Mode{"privileged": Audit}
	if res, err := Harden(p, mustParse(t, in), Env{}); err != nil || res.Changes[0].Mode != Audit {
		t.Errorf("audit: err %v, changes %v", err, res.Changes)
	}
}

func TestPrivilegedMalformed(t *testing.T) {
	for _, bad := range []string{
		`{"linux":{"devices":[{"path":"/dev/sda","major":"8"}]}}`,
		`{"linux":{"maskedPaths":"/proc"}}`,
		`{"mounts":[{"destination":7}]}`,
		`{"linux":{"resources":{"devices":[{"allow":"yes"}]}}}`,
	} {
		if _, _, err := limRule(t, Default(), privilegedControl, []byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
