package hardening

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

func cpuPolicy(t testing.TB) *Policy {
	t.Helper()
	p := &Policy{CPU: CPUPolicy{Period: 100000, Quota: Limit{Default: 100000, Max: 200000}, Shares: Limit{Default: 1024, Max: 4096}}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

// cpuOf reads cpu quota, period and shares ("" when absent).
func cpuOf(t testing.TB, doc *spec.Object, path ...string) (quota, period, shares string) {
	t.Helper()
	cur := doc
	for _, k := range append(path, "cpu") {
		o, ok, err := cur.Object(k)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "", "", ""
		}
		cur = o
	}
	f := func(k string) string {
		raw, ok := cur.Raw(k)
		if !ok {
			return ""
		}
		return string(raw)
	}
	return f("quota"), f("period"), f("shares")
}

func TestCPU(t *testing.T) {
	p := cpuPolicy(t)
	cases := []struct {
		name, in              string
		quota, period, shares string
	}{
		{"missing: defaults", `{}`, "100000", "100000", "1024"},
		{"unlimited quota", `{"linux":{"resources":{"cpu":{"quota":-1,"shares":0}}}}`, "100000", "100000", "1024"},
		{"within, period kept", `{"linux":{"resources":{"cpu":{"quota":150000,"period":100000,"shares":512}}}}`, "150000", "100000", "512"},
		{"within, period added", `{"linux":{"resources":{"cpu":{"quota":150000}}}}`, "150000", "100000", "1024"},
		{"above the maximum", `{"linux":{"resources":{"cpu":{"quota":800000,"period":100000,"shares":100000}}}}`, "200000", "100000", "4096"},
		// One CPU per 50 ms is one CPU per 100 ms: rescaled, not cut.
		{"other period, within", `{"linux":{"resources":{"cpu":{"quota":50000,"period":50000}}}}`, "100000", "100000", "1024"},
		// Ten CPUs per 10 ms: numerically below the maximum, but ten CPUs.
		{"other period, above", `{"linux":{"resources":{"cpu":{"quota":100000,"period":10000}}}}`, "200000", "100000", "1024"},
		{"tiny share rescaled up to the kernel minimum", `{"linux":{"resources":{"cpu":{"quota":1000,"period":1000000}}}}`, "1000", "100000", "1024"},
		{"period without quota", `{"linux":{"resources":{"cpu":{"period":20000,"cpus":"0-1"}}}}`, "100000", "100000", "1024"},
		{"huge values do not overflow", `{"linux":{"resources":{"cpu":{"quota":9223372036854775807,"period":1000}}}}`, "200000", "100000", "1024"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, _ := limTwice(t, p, cpuControl, []byte(tc.in))
			q, per, sh := cpuOf(t, doc, "linux", "resources")
			if q != tc.quota || per != tc.period || sh != tc.shares {
				t.Errorf("quota %s period %s shares %s, want %s %s %s", q, per, sh, tc.quota, tc.period, tc.shares)
			}
			if strings.Contains(tc.in, "cpus") && !strings.Contains(string(doc.Bytes()), `"cpus":"0-1"`) {
				t.Error("cpu.cpus lost")
			}
		})
	}
	for _, bad := range []string{`{"linux":{"resources":{"cpu":{"quota":"1"}}}}`, `{"linux":{"resources":{"cpu":{"period":1.5}}}}`, `{"linux":{"resources":{"cpu":[]}}}`} {
		if _, _, err := limRule(t, p, cpuControl, []byte(bad)); err == nil || !strings.Contains(err.Error(), "cpu") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

// Whatever quota and period a spec asks for, the container ends with at
// most Max/Period CPUs, at the policy's period.
func TestCPUNeverAboveMax(t *testing.T) {
	p := cpuPolicy(t)
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		quota := r.Int64N(4_000_000) - 1000
		period := r.Int64N(1_000_000) + 1000
		in := `{"linux":{"resources":{"cpu":{"quota":` + strconv.FormatInt(quota, 10) + `,"period":` + strconv.FormatInt(period, 10) + `}}}}`
		doc, _, err := limRule(t, p, cpuControl, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		q, per, _ := cpuOf(t, doc, "linux", "resources")
		qn, _ := strconv.ParseInt(q, 10, 64)
		if per != "100000" || qn < minCPUQuota || qn > 200000 {
			t.Fatalf("%s: quota %s period %s", in, q, per)
		}
		// Within the maximum, the share asked for is kept (to rounding).
		if quota > 0 && quota*100000 <= 200000*period && quota*100000/period >= minCPUQuota && qn != quota*100000/period {
			t.Fatalf("%s: quota %s, want %d", in, q, quota*100000/period)
		}
	}
}

func TestCPUGoldens(t *testing.T) {
	p := cpuPolicy(t)
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			doc, _ := limTwice(t, p, cpuControl, golden(t, name))
			if q, per, sh := cpuOf(t, doc, "linux", "resources"); q != "100000" || per != "100000" || sh != "1024" {
				t.Errorf("quota %s period %s shares %s", q, per, sh)
			}
			// The baseline sets no CPU limit: nothing changes.
			if doc, c := limTwice(t, Default(), cpuControl, golden(t, name)); doc.Changed() {
				t.Errorf("baseline changed %v", c.Changes)
			}
		})
	}
}

func TestCPUUpdate(t *testing.T) {
	p := cpuPolicy(t)
	cases := []struct{ in, quota, period, shares string }{
		{`{}`, "", "", ""},
		{`{"cpu":{"shares":999999}}`, "", "", "4096"},
		{`{"cpu":{"quota":-1}}`, "200000", "100000", ""},
		{`{"cpu":{"quota":150000}}`, "150000", "100000", ""},
		{`{"cpu":{"quota":900000,"period":100000}}`, "200000", "100000", ""},
		// A period alone would scale the quota set at create.
		{`{"cpu":{"period":10000}}`, "", "100000", ""},
		{`{"cpu":{"quota":20000,"period":10000}}`, "200000", "100000", ""},
	}
	for _, tc := range cases {
		doc := mustParse(t, []byte(tc.in))
		if _, err := Apply(p, UpdateRules, doc, Env{}); err != nil {
			t.Fatal(err)
		}
		if q, per, sh := cpuOf(t, doc); q != tc.quota || per != tc.period || sh != tc.shares {
			t.Errorf("update %s: quota %q period %q shares %q, want %q %q %q", tc.in, q, per, sh, tc.quota, tc.period, tc.shares)
		}
	}
}

func TestCPUPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		cpu  CPUPolicy
		want string
	}{
		{CPUPolicy{Period: 500}, "cpu.period"},
		{CPUPolicy{Period: 2000000}, "cpu.period"},
		{CPUPolicy{Quota: Limit{Max: 10}}, "cpu.quota.max"},
		{CPUPolicy{Shares: Limit{Default: 1}}, "cpu.shares.default"},
		{CPUPolicy{Shares: Limit{Max: 300000}}, "cpu.shares.max"},
		{CPUPolicy{Quota: Limit{Default: 300000, Max: 200000}}, "cpu.quota"},
	} {
		p := &Policy{CPU: tc.cpu}
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cpu, err, tc.want)
		}
	}
}
