package hardening

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

// rlimitsOf maps each rlimit type to "hard/soft", in document order.
func rlimitsOf(t *testing.T, doc *spec.Object) (map[string]string, []string) {
	t.Helper()
	var d struct {
		Process struct {
			Rlimits []struct {
				Type string `json:"type"`
				Hard uint64 `json:"hard"`
				Soft uint64 `json:"soft"`
			} `json:"rlimits"`
		} `json:"process"`
	}
	if err := json.Unmarshal(doc.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	var order []string
	for _, r := range d.Process.Rlimits {
		m[r.Type] = fmt.Sprintf("%d/%d", r.Hard, r.Soft)
		order = append(order, r.Type)
	}
	return m, order
}

func restrictedPolicy(t *testing.T) *Policy {
	t.Helper()
	p, _ := builtin("restricted")
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRlimits(t *testing.T) {
	r := restrictedPolicy(t) // nofile 1024 (max 65536), nproc 1024 (max 4096), no core
	rl := func(items ...string) string {
		return `{"process":{"rlimits":[` + strings.Join(items, ",") + `]}}`
	}
	cases := []struct {
		name string
		p    *Policy
		in   string
		want map[string]string
	}{
		{"all missing", r, `{"process":{}}`,
			map[string]string{"RLIMIT_NOFILE": "1024/1024", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "0/0"}},
		{"hard above the maximum, soft kept", r, rl(`{"type":"RLIMIT_NOFILE","hard":1048576,"soft":1024}`),
			map[string]string{"RLIMIT_NOFILE": "65536/1024", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "0/0"}},
		{"both above", r, rl(`{"type":"RLIMIT_NPROC","hard":100000,"soft":100000}`),
			map[string]string{"RLIMIT_NOFILE": "1024/1024", "RLIMIT_NPROC": "65536/65536", "RLIMIT_CORE": "0/0"}},
		{"unlimited gets the default", r, rl(`{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":18446744073709551615}`),
			map[string]string{"RLIMIT_NOFILE": "1024/1024", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "0/0"}},
		{"soft above hard", r, rl(`{"type":"RLIMIT_NOFILE","hard":2000,"soft":3000}`),
			map[string]string{"RLIMIT_NOFILE": "2000/2000", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "0/0"}},
		{"core dumps off", r, rl(`{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":0}`),
			map[string]string{"RLIMIT_NOFILE": "1024/1024", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "0/0"}},
		{"within, and others untouched", r, rl(`{"type":"RLIMIT_NOFILE","hard":4096,"soft":512}`, `{"type":"RLIMIT_AS","hard":18446744073709551615,"soft":18446744073709551615}`),
			map[string]string{"RLIMIT_NOFILE": "4096/512", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "0/0", "RLIMIT_AS": "18446744073709551615/18446744073709551615"}},
		{"baseline leaves core alone", Default(), rl(`{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":0}`),
			map[string]string{"RLIMIT_NOFILE": "1024/1024", "RLIMIT_NPROC": "4096/4096", "RLIMIT_CORE": "18446744073709551615/0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := limTwice(t, tc.p, rlimitsControl, []byte(tc.in))
			got, _ := rlimitsOf(t, doc)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("rlimits %v, want %v", got, tc.want)
			}
		})
	}
	// An unknown member of an rlimit entry survives its edit.
	doc, _ := limTwice(t, r, rlimitsControl, []byte(rl(`{"type":"RLIMIT_NOFILE","hard":1048576,"soft":1048576,"x-note":"kept"}`)))
	if !strings.Contains(string(doc.Bytes()), `"x-note":"kept"`) {
		t.Errorf("unknown member lost: %s", doc.Bytes())
	}
	for _, bad := range []string{
		rl(`{"type":"RLIMIT_NOFILE","hard":"1024","soft":1024}`),
		rl(`{"type":"RLIMIT_NOFILE","hard":-1,"soft":1024}`),
		rl(`{"type":"RLIMIT_NOFILE","soft":1024}`),
		rl(`{"hard":1,"soft":1}`),
		rl(`7`),
		`{"process":{"rlimits":{}}}`,
	} {
		if _, _, err := limRule(t, r, rlimitsControl, []byte(bad)); err == nil || !strings.Contains(err.Error(), "rlimits") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

func TestRlimitsGoldens(t *testing.T) {
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			// Podman sends nofile and nproc 1024/1024: within both profiles.
			doc, c := limTwice(t, Default(), rlimitsControl, golden(t, name))
			if doc.Changed() {
				t.Errorf("baseline changed %v", c.Changes)
			}
			doc, c = limTwice(t, restrictedPolicy(t), rlimitsControl, golden(t, name))
			got, order := rlimitsOf(t, doc)
			if got["RLIMIT_CORE"] != "0/0" || got["RLIMIT_NOFILE"] != "1024/1024" || len(c.Changes) != 1 {
				t.Errorf("restricted: %v, changes %v", got, c.Changes)
			}
			if order[0] != "RLIMIT_NOFILE" || order[len(order)-1] != "RLIMIT_CORE" {
				t.Errorf("order %v: existing entries should stay first", order)
			}
		})
	}
}
