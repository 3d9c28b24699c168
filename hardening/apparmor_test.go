package hardening

import (
	"errors"
	"strings"
	"testing"
)

func TestAppArmor(t *testing.T) {
	const def = "containers-default-0.50.1"
	loaded := map[string]string{def: "enforce", "engine-profile": "enforce", "lax": "unconfined"}
	cases := []struct {
		name    string
		host    *Host
		mutate  func(*Policy)
		in      string
		want    any    // process.apparmorProfile afterwards
		refusal string // "" = accepted
		err     string // "" = no error
	}{
		{name: "empty gets the policy's", host: fakeHost(false, true, loaded), in: `{"process":{}}`, want: def},
		{name: "no process gets one", host: fakeHost(false, true, loaded), in: `{}`, want: def},
		{name: "engine profile kept", host: fakeHost(false, true, nil), in: `{"process":{"apparmorProfile":"engine-profile"}}`, want: "engine-profile"},
		{name: "unconfined refused", host: fakeHost(false, true, loaded), in: `{"process":{"apparmorProfile":"unconfined"}}`, refusal: "unconfined AppArmor profile is not allowed"},
		{name: "unconfined refused without AppArmor", host: fakeHost(false, false, nil), in: `{"process":{"apparmorProfile":"unconfined"}}`, refusal: "unconfined AppArmor profile is not allowed"},
		{name: "unconfined allowed when the policy allows it", host: fakeHost(false, true, loaded), mutate: func(p *Policy) { p.AppArmor.RefuseUnconfined = false },
			in: `{"process":{"apparmorProfile":"unconfined"}}`, want: "unconfined"},
		{name: "policy profile not loaded", host: fakeHost(false, true, map[string]string{}), in: `{"process":{}}`, refusal: "is not loaded"},
		{name: "policy profile loaded unconfined", host: fakeHost(false, true, loaded), mutate: func(p *Policy) { p.AppArmor.Profile = "lax" },
			in: `{"process":{}}`, refusal: "loaded in unconfined mode"},
		{name: "profile list unreadable", host: fakeHost(false, true, nil), in: `{"process":{}}`, err: "reading the loaded AppArmor profiles"},
		{name: "disabled host left alone", host: fakeHost(false, false, nil), in: `{"process":{}}`, want: nil},
		{name: "disabled control left alone", host: fakeHost(false, true, nil), mutate: func(p *Policy) { p.AppArmor.Enable = false }, in: `{"process":{}}`, want: nil},
		{name: "not a string", host: fakeHost(false, true, loaded), in: `{"process":{"apparmorProfile":1}}`, err: "process.apparmorProfile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := builtin("baseline")
			if tc.mutate != nil {
				tc.mutate(p)
			}
			if err := p.Compile(); err != nil {
				t.Fatal(err)
			}
			doc, _, err := applyOne(t, apparmorControl, p, tc.in, Env{Host: tc.host})
			var d *DeniedError
			switch {
			case tc.err != "":
				if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want an error saying %q", err, tc.err)
				}
				return
			case tc.refusal != "":
				if !errors.As(err, &d) || !strings.Contains(err.Error(), tc.refusal) || !strings.Contains(err.Error(), "process.apparmorProfile") {
					t.Fatalf("err %v, want a refusal of process.apparmorProfile saying %q", err, tc.refusal)
				}
				if doc.Changed() {
					t.Error("refused spec edited")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			out := doc.Bytes()
			if got := get(decode(t, out), "process", "apparmorProfile"); got != tc.want {
				t.Errorf("apparmorProfile = %v, want %v", got, tc.want)
			}
			again, c, err := applyOne(t, apparmorControl, p, string(out), Env{Host: tc.host})
			if err != nil || len(c.Changes) != 0 || string(again.Bytes()) != string(out) {
				t.Errorf("not idempotent: %v %v", err, c.Changes)
			}
		})
	}
}

func TestAppArmorOnPodmanConfigs(t *testing.T) {
	host := fakeHost(false, true, map[string]string{"containers-default-0.50.1": "enforce"})
	for _, name := range goldens {
		doc, _, err := applyOne(t, apparmorControl, Default(), string(golden(t, name)), Env{Host: host})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := doc.Bytes()
		if got := get(decode(t, out), "process", "apparmorProfile"); got != "containers-default-0.50.1" {
			t.Errorf("%s: apparmorProfile = %v", name, got)
		}
		again, c, _ := applyOne(t, apparmorControl, Default(), string(out), Env{Host: host})
		if len(c.Changes) != 0 || string(again.Bytes()) != string(out) {
			t.Errorf("%s: not idempotent: %v", name, c.Changes)
		}
	}
}

func TestAppArmorModeParsing(t *testing.T) {
	list := []byte("containers-default-0.50.1 (enforce)\n/usr/bin/man (complain)\nweird (name) (kill)\nunprivileged_userns (unconfined)\n")
	for name, want := range map[string]string{
		"containers-default-0.50.1": "enforce", "/usr/bin/man": "complain", "weird (name)": "kill",
		"unprivileged_userns": "unconfined", "containers-default": "", "weird": "",
	} {
		if got := apparmorMode(list, name); got != want {
			t.Errorf("%q: mode %q, want %q", name, got, want)
		}
	}
}

func TestAppArmorPolicyErrors(t *testing.T) {
	for _, mutate := range []func(*Policy){
		func(p *Policy) { p.AppArmor.Profile = "" },
		func(p *Policy) { p.AppArmor.Profile = "unconfined" },
	} {
		p, _ := builtin("baseline")
		mutate(p)
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), "apparmor.profile") {
			t.Errorf("err %v, want one naming apparmor.profile", err)
		}
	}
}
