package hardening

import (
	"fmt"
	"strings"

	"github.com/secshim/secshim/spec"
)

// Change is one finding of a rule: what it changed (enforce), would have
// changed (audit) or refused (deny).
type Change struct {
	Control string `json:"control"`
	Field   string `json:"field"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s: %s -> %s", c.Control, c.Field, orNone(c.From), orNone(c.To))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Context is what a rule works on: the policy, the document it edits and
// the findings so far.
type Context struct {
	Policy  *Policy
	Doc     *spec.Object
	Changes []Change
	// Refusals are findings no rewrite can fix; they refuse the spec in
	// enforce and deny mode alike.
	Refusals []Change
}

func (c *Context) changed(control, field, from, to string) {
	c.Changes = append(c.Changes, Change{control, field, from, to})
}

func (c *Context) refuse(control, field, value, why string) {
	c.Refusals = append(c.Refusals, Change{control, field, value, why})
}

// Rule is one control.
type Rule struct {
	Control string
	Apply   func(*Context) error
}

// CreateRules harden a container's config.json, in order: seccomp comes
// after capabilities because its rules depend on the final bounding set.
var CreateRules = []Rule{
	{"capabilities", capabilitiesRule},
	{"no_new_privileges", noNewPrivilegesRule},
	{"pids", pidsRule},
	{"memory", memoryRule},
	{"devices", devicesRule},
	{"seccomp", seccompRule},
}

// Result is what hardening a spec found and left in force.
type Result struct {
	Changes []Change
	// Caps is the bounding set the container ended with; exec clamps to it.
	Caps CapSet
	// NoNewPrivileges is the flag the container ended with.
	NoNewPrivileges bool
}

// DeniedError refuses a spec in deny mode; it names each finding.
type DeniedError struct{ Changes []Change }

func (e *DeniedError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = c.String()
	}
	return "policy denies this container: " + strings.Join(parts, "; ")
}

// Apply runs rules over doc according to the policy's mode. In enforce
// mode doc is edited in place; in audit mode a copy is, and doc stays as
// it was; in deny mode any finding is a *DeniedError.
func Apply(p *Policy, rules []Rule, doc *spec.Object) (*Context, error) {
	work := doc
	if p.Mode != Enforce {
		work = doc.Clone()
	}
	c := &Context{Policy: p, Doc: work}
	for _, r := range rules {
		if err := r.Apply(c); err != nil {
			return c, fmt.Errorf("%s: %w", r.Control, err)
		}
	}
	if p.Mode != Audit && len(c.Refusals) > 0 {
		return c, &DeniedError{c.Refusals}
	}
	if p.Mode == Deny && len(c.Changes) > 0 {
		return c, &DeniedError{c.Changes}
	}
	return c, nil
}

// Harden applies the create rules to a config.json document.
func Harden(p *Policy, doc *spec.Object) (*Result, error) {
	c, err := Apply(p, CreateRules, doc)
	if err != nil {
		return nil, err
	}
	res := &Result{Changes: append(c.Changes, c.Refusals...)}
	// Read back what the container will run with (from the edited copy in
	// audit mode, which is what the container would have had).
	res.Caps, res.NoNewPrivileges, err = processState(c.Doc)
	if err != nil {
		return nil, err
	}
	if p.Mode == Audit {
		res.Caps, res.NoNewPrivileges, err = processState(doc)
	}
	return res, err
}

func processState(doc *spec.Object) (CapSet, bool, error) {
	proc, ok, err := doc.Object("process")
	if err != nil || !ok {
		return 0, false, err
	}
	nnp, _, err := proc.Bool("noNewPrivileges")
	if err != nil {
		return 0, false, fmt.Errorf("process.%w", err)
	}
	caps, ok, err := proc.Object("capabilities")
	if err != nil || !ok {
		return 0, nnp, err
	}
	bnd, _, err := caps.Strings("bounding")
	if err != nil {
		return 0, nnp, fmt.Errorf("process.capabilities.%w", err)
	}
	return capSetOf(bnd), nnp, nil
}
