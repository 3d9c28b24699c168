package hardening

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secshim/secshim/spec"
)

// HardenProcess applies the exec rules to a process.json: capabilities cut
// to limit (the container's bounding set at create) within the policy,
// no_new_privileges, the user control, and no escape from the container's
// LSM confinement. rootMapped is what the container's create recorded
// (Result.State[RootMappedState]): root in its user namespace is then an
// unprivileged host user, so uid and gid 0 are allowed.
func HardenProcess(p *Policy, limit CapSet, rootMapped bool, doc *spec.Object) ([]Change, error) {
	rules := []Rule{
		{Control: "user", Apply: func(c *Context) error {
			return clampProcessUser(c, "process.user", c.Doc, userNS{rootMapped: rootMapped})
		}},
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

// ExecUserFlags applies the user control to exec's inline identity flags:
// user is the --user value (uid[:gid], "" when absent: the container's
// own user, checked at create, applies), gids the --additional-gids
// values (each a gid or a comma-separated list). It returns the values to
// pass on in their place (when anything changed: one gid per value, and
// no value at all means no --additional-gids flag), the findings, and an
// error: malformed values, or a *DeniedError when the control's mode is
// deny or a finding cannot be fixed. Outside enforce mode the values come
// back unchanged. rootMapped is as for HardenProcess.
func ExecUserFlags(p *Policy, rootMapped bool, user string, gids []string) (newUser string, newGids []string, changes []Change, err error) {
	var id identity
	if user != "" {
		u, g, hasG := strings.Cut(user, ":")
		if id.uid, err = parseExecID(u); err != nil {
			return user, gids, nil, fmt.Errorf("exec --user %s: %w", user, err)
		}
		if hasG {
			if id.gid, err = parseExecID(g); err != nil {
				return user, gids, nil, fmt.Errorf("exec --user %s: %w", user, err)
			}
		}
		id.hasUID, id.hasGID = true, hasG
	}
	for _, v := range gids {
		for _, g := range strings.Split(v, ",") {
			n, err := parseExecID(g)
			if err != nil {
				return user, gids, nil, fmt.Errorf("exec --additional-gids %s: %w", v, err)
			}
			id.gids = append(id.gids, n)
		}
	}
	id.hasGids = len(gids) > 0
	out := id
	rule := Rule{Control: "user", Apply: func(c *Context) error {
		cp := id
		cp.gids = slices.Clone(id.gids)
		if clampIdentity(c, "exec", &cp, userNS{rootMapped: rootMapped}) {
			out = cp
		}
		return nil
	}}
	marker, _ := spec.ParseObject([]byte("{}"))
	c, err := Apply(p, []Rule{rule}, marker, Env{})
	changes = append(c.Changes, c.Refusals...)
	for i := range changes {
		changes[i].Field = execFlagField(changes[i].Field)
	}
	if err != nil || p.ModeOf("user") != Enforce || !outChanged(id, out) {
		return user, gids, changes, err
	}
	if out.hasUID {
		newUser = strconv.FormatUint(uint64(out.uid), 10)
		if out.hasGID {
			newUser += ":" + strconv.FormatUint(uint64(out.gid), 10)
		}
	}
	for _, g := range out.gids {
		newGids = append(newGids, strconv.FormatUint(uint64(g), 10))
	}
	return newUser, newGids, changes, nil
}

func outChanged(a, b identity) bool {
	return a.uid != b.uid || a.gid != b.gid || a.hasGID != b.hasGID || !slices.Equal(a.gids, b.gids)
}

// execFlagField names the flag a finding on exec's inline identity is about.
func execFlagField(f string) string {
	switch f {
	case "exec.uid", "exec.gid":
		return "exec --user"
	case "exec.additionalGids":
		return "exec --additional-gids"
	}
	return f
}

func parseExecID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a numeric id", s)
	}
	return uint32(n), nil
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
