package hardening

import (
	"fmt"
	"strings"

	"github.com/secshim/secshim/spec"
)

var capSets = [...]string{"bounding", "effective", "permitted", "inheritable", "ambient"}

// capabilitiesRule cuts every capability set of the container's process
// to the policy's allowlist, minus its deny-list.
func capabilitiesRule(c *Context) error {
	proc, err := c.Doc.EnsureObject("process")
	if err != nil {
		return err
	}
	return ClampCaps(c, "process.capabilities", proc, c.Policy.allowed)
}

// ClampCaps cuts the capability sets of a process object (config.json's
// process, or an exec process.json) to limit; inheritable and ambient
// further to the policy's ambient list. A process without capabilities
// gets explicit empty sets, so no backend falls back to a default of its own.
func ClampCaps(c *Context, field string, proc *spec.Object, limit CapSet) error {
	caps, ok, err := proc.Object("capabilities")
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	if !ok {
		caps, err = proc.EnsureObject("capabilities")
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		for _, set := range capSets {
			if err := caps.SetStrings(set, []string{}); err != nil {
				return err
			}
		}
		c.changed("capabilities", field, "", "all sets empty")
		return nil
	}
	for _, set := range capSets {
		have, ok, err := caps.Strings(set)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		if !ok {
			continue // an absent set is an empty one
		}
		keep := limit
		if set == "inheritable" || set == "ambient" {
			keep &= c.Policy.ambient
		}
		kept, dropped := filterCaps(have, keep)
		if len(dropped) > 0 {
			if err := caps.SetStrings(set, kept); err != nil {
				return err
			}
			c.changed("capabilities", field+"."+set, "-"+strings.Join(dropped, ",-"), strings.Join(kept, ","))
		}
	}
	return nil
}

// filterCaps keeps the names in keep, in their order, and drops the rest
// (unknown names and duplicates included).
func filterCaps(names []string, keep CapSet) (kept, dropped []string) {
	kept = make([]string, 0, len(names))
	var seen CapSet
	for _, name := range names {
		n, ok := CapNumber(name)
		if ok && keep&(1<<n) != 0 && seen&(1<<n) == 0 && name == capNames[n] {
			seen |= 1 << n
			kept = append(kept, name)
			continue
		}
		dropped = append(dropped, name)
	}
	return kept, dropped
}
