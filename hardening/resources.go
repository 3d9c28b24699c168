package hardening

import (
	"fmt"
	"strconv"

	"github.com/secshim/secshim/spec"
)

// pidsRule bounds linux.resources.pids.limit, so a fork bomb stays inside
// its container.
func pidsRule(c *Context) error {
	return limitRule(c, "pids", c.Policy.Pids, "pids", "limit")
}

// memoryRule bounds linux.resources.memory.limit and, with
// SwapEqualsMemory, sets memory.swap (which runc reads as memory plus
// swap) to the limit, so a container cannot page out past its limit.
func memoryRule(c *Context) error {
	m := c.Policy.Memory
	if err := limitRule(c, "memory", m.Limit(), "memory", "limit"); err != nil {
		return err
	}
	if !m.SwapEqualsMemory {
		return nil
	}
	linux, ok, err := c.Doc.Object("linux")
	if err != nil || !ok {
		return err
	}
	res, ok, err := linux.Object("resources")
	if err != nil || !ok {
		return err
	}
	return swapEqualsMemory(c, "linux.resources", res, false)
}

// swapEqualsMemory sets memory.swap to a positive memory.limit. In an
// update, a swap without a limit would lift swap above a limit it cannot
// see: it is dropped from the request, which leaves swap unchanged.
func swapEqualsMemory(c *Context, field string, res *spec.Object, update bool) error {
	field += ".memory"
	g, ok, err := res.Object("memory")
	if err != nil || !ok {
		return err
	}
	limit, hasLimit, err := g.Int64("limit")
	if err != nil {
		return err
	}
	swap, hasSwap, err := g.Int64("swap")
	if err != nil {
		return err
	}
	from := ""
	if hasSwap {
		from = strconv.FormatInt(swap, 10)
	}
	switch {
	case hasLimit && limit > 0:
		if hasSwap && swap == limit {
			return nil
		}
		c.changed("memory", field+".swap", from, strconv.FormatInt(limit, 10))
		return g.SetInt64("swap", limit)
	case update && !hasLimit && hasSwap:
		c.changed("memory", field+".swap", from, "(dropped: swap may not differ from the memory limit)")
		g.Delete("swap")
	}
	return nil
}

func limitRule(c *Context, control string, l Limit, group, key string) error {
	if l.Default == 0 && l.Max == 0 {
		return nil
	}
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	res, err := linux.EnsureObject("resources")
	if err != nil {
		return fmt.Errorf("linux: %w", err)
	}
	return ClampLimit(c, control, "linux.resources", res, l, group, key, false)
}

// ClampLimit applies a Limit to res.<group>.<key> of a LinuxResources
// object: config.json's linux.resources at create, or an update request.
// At create a missing or unlimited (<= 0) value gets the default; in an
// update a missing value means "unchanged" and stays so, and unlimited
// gets the maximum. Anything above the maximum is cut to it.
func ClampLimit(c *Context, control, field string, res *spec.Object, l Limit, group, key string, update bool) error {
	field += "." + group + "." + key
	g, ok, err := res.Object(group)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	var have int64
	var present bool
	if ok {
		if have, present, err = g.Int64(key); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	first, second := l.Default, l.Max // what replaces "no limit"
	if update {
		first, second = l.Max, l.Default
	}
	want := have
	switch {
	case !present && update:
		return nil
	case !present || have <= 0:
		want = first
		if want == 0 {
			want = second
		}
	case l.Max > 0 && have > l.Max:
		want = l.Max
	}
	if want == 0 || present && want == have {
		return nil
	}
	if g == nil {
		if g, err = res.EnsureObject(group); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	from := ""
	if present {
		from = strconv.FormatInt(have, 10)
	}
	c.changed(control, field, from, strconv.FormatInt(want, 10))
	return g.SetInt64(key, want)
}

// UpdateRules clamp the resources of an `update` request.
var UpdateRules = []Rule{
	{Control: "pids", Apply: func(c *Context) error {
		return ClampLimit(c, "pids", "resources", c.Doc, c.Policy.Pids, "pids", "limit", true)
	}},
	{Control: "memory", Apply: func(c *Context) error {
		if err := ClampLimit(c, "memory", "resources", c.Doc, c.Policy.Memory.Limit(), "memory", "limit", true); err != nil {
			return err
		}
		if !c.Policy.Memory.SwapEqualsMemory {
			return nil
		}
		return swapEqualsMemory(c, "resources", c.Doc, true)
	}},
	{Control: "cpu", Apply: func(c *Context) error {
		return clampCPU(c, "resources", c.Doc, true)
	}},
}
