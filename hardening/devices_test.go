package hardening

import (
	"errors"
	"strings"
	"testing"
)

var devicesTestRule = Rule{Control: "devices", Apply: devicesRule}

// The cgroup rules written are encoding/json's rendering of
// specs.LinuxDeviceCgroup, in device number order, and a second pass
// changes nothing.
func TestDevicesRulesWritten(t *testing.T) {
	in := `{"linux":{"devices":[{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":0,"gid":0,"x-extra":true},{"path":"/dev/sda","type":"b","major":8,"minor":0}],"resources":{"devices":[{"allow":true,"access":"rwm"}]}}}`
	out, c := fsMust(t, Default(), devicesTestRule, []byte(in), Env{})
	want := `{"linux":{"devices":[{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":0,"gid":0,"x-extra":true}],"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":7,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":8,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":9,"access":"rwm"},{"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},{"allow":true,"type":"c","major":5,"minor":1,"access":"rwm"},{"allow":true,"type":"c","major":5,"minor":2,"access":"rwm"},{"allow":true,"type":"c","major":136,"access":"rwm"}]}}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if len(c.Changes) != 2 || !strings.Contains(c.Changes[0].From, "/dev/sda(b 8:0)") || c.Changes[1].From != "allow a *:* rwm" {
		t.Errorf("changes %+v", c.Changes)
	}
}

// Podman's default config complies already: nothing is rewritten.
func TestDevicesPodmanConfigs(t *testing.T) {
	for _, name := range goldens {
		in := golden(t, name)
		out, _ := fsMust(t, Default(), devicesTestRule, in, Env{})
		if name == "podman-default.json" && string(out) != string(in) {
			t.Errorf("%s changed", name)
		}
	}
}

func TestDevicesMalformed(t *testing.T) {
	for in, field := range map[string]string{
		`{"linux":{"devices":{}}}`:                                         "linux.devices",
		`{"linux":{"devices":[1]}}`:                                        "linux.devices[0]",
		`{"linux":{"devices":[{"path":1}]}}`:                               "linux.devices[0]: path",
		`{"linux":{"devices":[{"path":"/dev/x","major":"8"}]}}`:            "linux.devices[0]: major",
		`{"linux":{"devices":[{"path":"/dev/x","minor":1.5}]}}`:            "linux.devices[0]: minor",
		`{"linux":{"devices":[{"path":"/dev/x","uid":-1}]}}`:               "linux.devices[0]: uid",
		`{"linux":{"resources":{"devices":"x"}}}`:                          "linux.resources.devices",
		`{"linux":{"resources":{"devices":[{"allow":"yes"}]}}}`:            "linux.resources.devices[0]: allow",
		`{"linux":{"resources":{"devices":[{"allow":true,"major":"1"}]}}}`: "linux.resources.devices[0]: major",
	} {
		_, _, err := fsApply(t, Default(), devicesTestRule, []byte(in), Env{})
		var denied *DeniedError
		if err == nil || errors.As(err, &denied) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v, want an error naming %s", in, err, field)
		}
	}
}
