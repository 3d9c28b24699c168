package hardening

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestSysctls(t *testing.T) {
	cases := []struct {
		allow []string
		in    string
		kept  []string
	}{
		{nil, `{"net.ipv4.ping_group_range":"0 0","kernel.msgmax":"65536"}`, []string{"net.ipv4.ping_group_range"}},
		{nil, `{"net/ipv4/ping_group_range":"0 0","kernel/core_pattern":"|/x"}`, []string{"net/ipv4/ping_group_range"}},
		{nil, `{"kernel.shm_rmid_forced":"1","net.ipv4.ip_forward":"1","vm.overcommit_memory":"1"}`, []string{"kernel.shm_rmid_forced"}},
		{nil, `{}`, []string{}},
		{[]string{"net.ipv4.tcp_*"}, `{"net.ipv4.tcp_syncookies":"1","net.ipv4.ip_forward":"1","net.ipv4.tcp_.x":"1"}`, []string{"net.ipv4.tcp_.x", "net.ipv4.tcp_syncookies"}},
		{[]string{"net.*"}, `{"net..ipv4.ip_forward":"1",".net.x":"1","net.core.somaxconn":"1024","net.":"1"}`, []string{"net.core.somaxconn"}},
		{[]string{"*"}, `{"kernel.msgmax":"1","a":"b"}`, []string{"a", "kernel.msgmax"}},
		{[]string{"kernel.msgmax"}, `{"kernel.msgmax":"1","Kernel.msgmax":"2"}`, nil}, // refused by the spec parser
	}
	for _, tc := range cases {
		p := Default()
		if tc.allow != nil {
			p.Sysctls.Allow = tc.allow
		}
		in := []byte(`{"linux":{"sysctl":` + tc.in + `}}`)
		if tc.kept == nil {
			if _, _, err := fsApply(t, p, sysctlsControl, in, Env{}); err == nil {
				t.Errorf("%s: accepted", tc.in)
			}
			continue
		}
		out, c := fsMust(t, p, sysctlsControl, in, Env{})
		sys, _ := get(decode(t, out), "linux", "sysctl").(map[string]any)
		got := []string{}
		for k := range sys {
			got = append(got, k)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, tc.kept) {
			t.Errorf("allow %v, %s: kept %v, want %v", p.Sysctls.Allow, tc.in, got, tc.kept)
		}
		if n := strings.Count(tc.in, `":"`) - len(tc.kept); len(c.Changes) != n {
			t.Errorf("%s: %d changes %v, want %d", tc.in, len(c.Changes), c.Changes, n)
		}
	}
}

func TestSysctlsPodmanConfigs(t *testing.T) {
	for _, name := range goldens {
		in := golden(t, name)
		out, c := fsMust(t, Default(), sysctlsControl, in, Env{})
		if string(out) != string(in) || len(c.Changes) != 0 {
			t.Errorf("%s: Podman's default sysctl removed: %v", name, c.Changes)
		}
		if get(decode(t, out), "linux", "sysctl", "net.ipv4.ping_group_range") != "0 0" {
			t.Errorf("%s: net.ipv4.ping_group_range lost", name)
		}
	}
}

func TestSysctlsModes(t *testing.T) {
	in := []byte(`{"linux":{"sysctl":{"net.ipv4.ping_group_range":"0 0","kernel.msgmax":"65536"}}}`)
	for _, mode := range []Mode{Deny, Audit} {
		p := Default()
		p.Modes = map[string]Mode{"sysctls": mode}
		out, c, err := fsApply(t, p, sysctlsControl, in, Env{})
		var denied *DeniedError
		if string(out) != string(in) {
			t.Errorf("%s: spec changed", mode)
		}
		if mode == Deny && (!errors.As(err, &denied) || !strings.Contains(err.Error(), "sysctls: linux.sysctl: kernel.msgmax=65536")) {
			t.Errorf("deny: err %v", err)
		}
		if mode == Audit && (err != nil || len(c.Changes) != 1) {
			t.Errorf("audit: err %v, changes %v", err, c.Changes)
		}
	}
	// Restrict off: anything goes.
	p := Default()
	p.Sysctls.Restrict = false
	if out, c, err := fsApply(t, p, sysctlsControl, in, Env{}); err != nil || string(out) != string(in) || len(c.Changes) != 0 {
		t.Errorf("restrict = false changed the spec: %v %v", err, c.Changes)
	}
}

func TestSysctlsMalformed(t *testing.T) {
	for in, field := range map[string]string{
		`{"linux":{"sysctl":{"kernel.msgmax":65536}}}`: "linux.sysctl.kernel.msgmax",
		`{"linux":{"sysctl":["kernel.msgmax"]}}`:       "linux.sysctl",
	} {
		if _, _, err := fsApply(t, Default(), sysctlsControl, []byte(in), Env{}); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v, want one naming %s", in, err, field)
		}
	}
}

func TestSysctlsValidate(t *testing.T) {
	for _, a := range []string{"", "net.*.x", ".net", "net..x", "net/ipv4", "kernel.msgmax ", "*net"} {
		p := Policy{Sysctls: SysctlPolicy{Restrict: true, Allow: []string{a}}}
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), "sysctls.allow:") {
			t.Errorf("%q: err %v", a, err)
		}
	}
	for _, a := range []string{"*", "net.ipv4.tcp_*", "net.ipv4.*", "kernel.shm_rmid_forced", "net.ipv4.conf.eth-0.forwarding"} {
		p := Policy{Sysctls: SysctlPolicy{Restrict: true, Allow: []string{a}}}
		if err := p.Compile(); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
}
