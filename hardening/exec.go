package hardening

import (
	"strings"

	"github.com/secshim/secshim/spec"
)

// HardenProcess applies the exec rules to a process.json: capabilities cut
// to limit (the container's bounding set at create) within the policy,
// no_new_privileges, and no escape from the container's LSM confinement.
func HardenProcess(p *Policy, limit CapSet, doc *spec.Object) ([]Change, error) {
	rules := []Rule{
		{Control: "capabilities", Apply: func(c *Context) error {
			return ClampCaps(c, "process.capabilities", c.Doc, limit&p.allowed)
		}},
		{Control: "no_new_privileges", Apply: func(c *Context) error {
			if !p.NoNewPrivileges {
				return nil
			}
			return SetNoNewPrivileges(c, "process", c.Doc)
		}},
		{Control: "lsm", Apply: func(c *Context) error {
			for _, f := range []struct{ key, kind string }{{"apparmorProfile", "apparmor"}, {"selinuxLabel", "selinux"}} {
				v, _, err := c.Doc.String(f.key)
				if err != nil {
					return err
				}
				if why := UnconfinedLabel(f.kind, v); why != "" {
					c.refuse("lsm", "process."+f.key, v, why)
				}
			}
			return nil
		}},
	}
	c, err := Apply(p, rules, doc, Env{})
	return append(c.Changes, c.Refusals...), err
}

// ExecCaps filters the capabilities of an inline `exec --cap` request;
// it returns the ones to keep and the ones dropped.
func ExecCaps(p *Policy, limit CapSet, requested []string) (kept, dropped []string) {
	return filterCaps(requested, limit&p.allowed)
}

// UnconfinedLabel says why an AppArmor profile or SELinux label would
// leave a process unconfined, or "" when it does not. An empty value
// keeps the container's own confinement and is fine.
func UnconfinedLabel(kind, v string) string {
	switch kind {
	case "apparmor":
		if v == "unconfined" {
			return "an unconfined AppArmor profile is not allowed"
		}
	case "selinux":
		for _, t := range []string{":spc_t", ":unconfined_t"} {
			if strings.Contains(v, t) {
				return "an unconfined SELinux type is not allowed"
			}
		}
	}
	return ""
}
