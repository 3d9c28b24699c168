package hardening

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/secshim/secshim/spec"
)

// cpuControl bounds the CPU time a container may take: its CFS quota per
// period (how many CPUs' worth it may run) and its shares (its weight
// against other containers under contention).
var cpuControl = Rule{Control: "cpu", Apply: cpuRule, Validate: validateCPU}

// defaultCPUPeriod is the kernel's CFS period, in microseconds.
const defaultCPUPeriod = 100000

// Kernel bounds (kernel/sched/core.c): the CFS period and quota are at
// least 1 ms and the period at most 1 s; cgroup v1 shares run from 2 to
// 262144.
const (
	minCPUQuota  = 1000
	maxCPUPeriod = 1000000
	minCPUShares = 2
	maxCPUShares = 262144
)

func cpuRule(c *Context) error {
	cp := c.Policy.CPU
	if cp.Quota == (Limit{}) && cp.Shares == (Limit{}) {
		return nil
	}
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	res, err := linux.EnsureObject("resources")
	if err != nil {
		return err
	}
	return clampCPU(c, "linux.resources", res, false)
}

// clampCPU applies the CPU policy to a LinuxResources object: config.json's
// linux.resources at create, or an update request (update: a missing
// value stays missing, see ClampLimit).
func clampCPU(c *Context, field string, res *spec.Object, update bool) error {
	cp := c.Policy.CPU
	if cp.Shares != (Limit{}) {
		if err := ClampLimit(c, "cpu", field, res, cp.Shares, "cpu", "shares", update); err != nil {
			return err
		}
	}
	if cp.Quota == (Limit{}) {
		return nil
	}
	return clampQuota(c, field, res, update)
}

// clampQuota bounds cpu.quota. A quota means quota/period CPUs, so the
// policy's quota limits are per the policy's period, and the container's
// period is set to it: a quota the spec gives against another period is
// first rescaled (the same CPU share), then clamped. Leaving a foreign
// period in place would let a later update that changes only the period
// multiply the CPUs the quota grants.
func clampQuota(c *Context, field string, res *spec.Object, update bool) error {
	period := c.Policy.CPU.Period
	if period == 0 {
		period = defaultCPUPeriod
	}
	fq, fp := field+".cpu.quota", field+".cpu.period"
	g, ok, err := res.Object("cpu")
	if err != nil {
		return err
	}
	if !ok && update {
		return nil
	}
	var quota, have int64
	var hasQuota, hasPeriod bool
	if ok {
		if quota, hasQuota, err = g.Int64("quota"); err != nil {
			return err
		}
		if have, hasPeriod, err = g.Int64("period"); err != nil {
			return err
		}
	}
	if hasPeriod && have > 0 && have != period && hasQuota && quota > 0 {
		scaled := scaleQuota(quota, period, have)
		if scaled != quota {
			c.changed("cpu", fq, strconv.FormatInt(quota, 10)+" per "+strconv.FormatInt(have, 10)+"µs",
				strconv.FormatInt(scaled, 10)+" per "+strconv.FormatInt(period, 10)+"µs")
			if err := g.SetInt64("quota", scaled); err != nil {
				return err
			}
		}
	}
	if err := ClampLimit(c, "cpu", field, res, c.Policy.CPU.Quota, "cpu", "quota", update); err != nil {
		return err
	}
	if g, ok, err = res.Object("cpu"); err != nil || !ok {
		return err
	}
	quota, hasQuota, err = g.Int64("quota")
	if err != nil {
		return err
	}
	if hasPeriod && have == period || !hasQuota && !hasPeriod {
		return nil
	}
	from := ""
	if hasPeriod {
		from = strconv.FormatInt(have, 10)
	}
	c.changed("cpu", fp, from, strconv.FormatInt(period, 10))
	return g.SetInt64("period", period)
}

// scaleQuota converts quota per period from to the same share per period
// to, rounding down, at least the kernel's minimum quota.
func scaleQuota(quota, to, from int64) int64 {
	hi, lo := bits.Mul64(uint64(quota), uint64(to))
	if hi >= uint64(from) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(from))
	switch {
	case q > math.MaxInt64:
		return math.MaxInt64
	case q < minCPUQuota:
		return minCPUQuota
	}
	return int64(q)
}

func validateCPU(p *Policy) error {
	cp := p.CPU
	if cp.Period != 0 && (cp.Period < minCPUQuota || cp.Period > maxCPUPeriod) {
		return fmt.Errorf("cpu.period: %d µs is outside the kernel's range %d-%d", cp.Period, minCPUQuota, maxCPUPeriod)
	}
	for _, l := range []struct {
		name     string
		v        int64
		min, max int64
	}{
		{"cpu.quota.default", cp.Quota.Default, minCPUQuota, math.MaxInt64},
		{"cpu.quota.max", cp.Quota.Max, minCPUQuota, math.MaxInt64},
		{"cpu.shares.default", cp.Shares.Default, minCPUShares, maxCPUShares},
		{"cpu.shares.max", cp.Shares.Max, minCPUShares, maxCPUShares},
	} {
		if l.v != 0 && (l.v < l.min || l.v > l.max) {
			return fmt.Errorf("%s: %d is outside the kernel's range %d-%d", l.name, l.v, l.min, l.max)
		}
	}
	return nil
}
