package hardening

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

var memoryControl = Rule{Control: "memory", Apply: memoryRule}

// memOf reads memory.limit and memory.swap under a path ("" when absent).
func memOf(t *testing.T, doc *spec.Object, path ...string) (limit, swap string) {
	t.Helper()
	m := get(decode(t, doc.Bytes()), append(path, "memory")...)
	mm, _ := m.(map[string]any)
	f := func(k string) string {
		if v, ok := mm[k]; ok {
			b, _ := json.Marshal(v)
			return string(b)
		}
		return ""
	}
	return f("limit"), f("swap")
}

func memPolicy(t *testing.T, m MemoryPolicy) *Policy {
	t.Helper()
	p := &Policy{Memory: m}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMemory(t *testing.T) {
	const mib = 1 << 20
	baseline := memPolicy(t, MemoryPolicy{SwapEqualsMemory: true})
	limited := memPolicy(t, MemoryPolicy{Default: 512 * mib, Max: 1024 * mib, SwapEqualsMemory: true})
	swapFree := memPolicy(t, MemoryPolicy{Default: 512 * mib, Max: 1024 * mib})
	cases := []struct {
		name       string
		p          *Policy
		in         string
		limit, swp string
	}{
		{"baseline: swap cut to the limit", baseline, `{"linux":{"resources":{"memory":{"limit":268435456,"swap":536870912}}}}`, "268435456", "268435456"},
		{"baseline: swap added", baseline, `{"linux":{"resources":{"memory":{"limit":268435456}}}}`, "268435456", "268435456"},
		{"baseline: unlimited swap cut", baseline, `{"linux":{"resources":{"memory":{"limit":268435456,"swap":-1}}}}`, "268435456", "268435456"},
		{"baseline: swap below the limit raised to it", baseline, `{"linux":{"resources":{"memory":{"limit":268435456,"swap":1000}}}}`, "268435456", "268435456"},
		{"baseline: no limit, nothing to follow", baseline, `{"linux":{"resources":{"memory":{"swap":536870912}}}}`, "", "536870912"},
		{"baseline: no memory at all", baseline, `{"linux":{"resources":{}}}`, "", ""},
		{"default and swap", limited, `{}`, "536870912", "536870912"},
		{"unlimited gets the default", limited, `{"linux":{"resources":{"memory":{"limit":-1,"swap":-1}}}}`, "536870912", "536870912"},
		{"above the maximum", limited, `{"linux":{"resources":{"memory":{"limit":17179869184,"swap":34359738368}}}}`, "1073741824", "1073741824"},
		{"within", limited, `{"linux":{"resources":{"memory":{"limit":104857600,"swap":104857600}}}}`, "104857600", "104857600"},
		{"swap left alone without swap_equals_memory", swapFree, `{"linux":{"resources":{"memory":{"limit":104857600,"swap":536870912}}}}`, "104857600", "536870912"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := limTwice(t, tc.p, memoryControl, []byte(tc.in))
			if l, s := memOf(t, doc, "linux", "resources"); l != tc.limit || s != tc.swp {
				t.Errorf("limit %q swap %q, want %q %q", l, s, tc.limit, tc.swp)
			}
		})
	}
	if _, _, err := limRule(t, baseline, memoryControl, []byte(`{"linux":{"resources":{"memory":{"limit":268435456,"swap":"1g"}}}}`)); err == nil || !strings.Contains(err.Error(), "swap") {
		t.Errorf("malformed swap: %v", err)
	}
}

// Real Podman configs: `--memory 256m` gives swap 512m, which the
// baseline cuts to 256m; the others have no memory limit to follow.
func TestMemoryGoldens(t *testing.T) {
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			doc, c := limTwice(t, Default(), memoryControl, golden(t, name))
			l, s := memOf(t, doc, "linux", "resources")
			if name == "podman-restricted-flags.json" {
				if l != "268435456" || s != "268435456" || len(c.Changes) != 1 || c.Changes[0].Field != "linux.resources.memory.swap" {
					t.Errorf("limit %s swap %s, changes %v", l, s, c.Changes)
				}
				return
			}
			if doc.Changed() {
				t.Errorf("changed: %v", c.Changes)
			}
		})
	}
	r, _ := builtin("restricted")
	if err := r.Compile(); err != nil {
		t.Fatal(err)
	}
	doc, _ := limTwice(t, r, memoryControl, golden(t, "podman-default.json"))
	if l, s := memOf(t, doc, "linux", "resources"); l != "536870912" || s != l {
		t.Errorf("restricted on podman-default: limit %s swap %s", l, s)
	}
}

func TestMemoryUpdate(t *testing.T) {
	const mib = 1 << 20
	p := memPolicy(t, MemoryPolicy{Default: 512 * mib, Max: 1024 * mib, SwapEqualsMemory: true})
	cases := []struct{ in, limit, swap string }{
		{`{}`, "", ""},
		{`{"memory":{"limit":268435456}}`, "268435456", "268435456"},
		{`{"memory":{"limit":268435456,"swap":1073741824}}`, "268435456", "268435456"},
		{`{"memory":{"limit":4294967296,"swap":-1}}`, "1073741824", "1073741824"},
		{`{"memory":{"limit":-1}}`, "1073741824", "1073741824"},
		// Swap alone cannot be checked against the limit: dropped.
		{`{"memory":{"swap":8589934592}}`, "", ""},
		{`{"memory":{"reservation":1000},"pids":{"limit":5}}`, "", ""},
	}
	for _, tc := range cases {
		doc := mustParse(t, []byte(tc.in))
		if _, err := Apply(p, UpdateRules, doc, Env{}); err != nil {
			t.Fatal(err)
		}
		if l, s := memOf(t, doc); l != tc.limit || s != tc.swap {
			t.Errorf("update %s: limit %q swap %q, want %q %q", tc.in, l, s, tc.limit, tc.swap)
		}
	}
	// In deny mode an update that lifts swap is refused.
	deny := memPolicy(t, MemoryPolicy{Default: 512 * mib, Max: 1024 * mib, SwapEqualsMemory: true})
	deny.Modes = map[string]Mode{"memory": Deny}
	if _, err := Apply(deny, UpdateRules, mustParse(t, []byte(`{"memory":{"limit":268435456,"swap":1073741824}}`)), Env{}); err == nil || !strings.Contains(err.Error(), "memory.swap") {
		t.Errorf("deny: %v", err)
	}
}
