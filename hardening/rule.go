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
	// Mode is the control's mode when it is not enforce.
	Mode Mode `json:"mode,omitempty"`
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
	// Reports are findings that change nothing and refuse nothing (e.g.
	// credentials seen in the environment under secrets = "report").
	Reports []Change
	// State carries what one rule learns for a later one (e.g. that the
	// spec matched the privileged pattern).
	State map[string]any
	// Env is where the container runs: its ID, secshim's state dir, the host.
	Env Env

	// parsed is Doc's mounts as last parsed or written (see mounts).
	parsed parsedMounts
}

// Env describes the container being hardened and the host it runs on.
type Env struct {
	// ContainerID keys per-container reservations (SELinux MCS pairs).
	ContainerID string
	// StateDir is secshim's state directory (reservations live there).
	StateDir string
	// Host answers questions about the machine; tests replace it.
	Host *Host
}

func (c *Context) changed(control, field, from, to string) {
	c.Changes = append(c.Changes, Change{Control: control, Field: field, From: from, To: to})
}

func (c *Context) refuse(control, field, value, why string) {
	c.Refusals = append(c.Refusals, Change{Control: control, Field: field, From: value, To: why})
}

func (c *Context) report(control, field, value, note string) {
	c.Reports = append(c.Reports, Change{Control: control, Field: field, From: value, To: note})
}

// Rule is one control: Apply reads and edits the spec, Validate checks the
// control's part of a policy when it is compiled.
type Rule struct {
	Control  string
	Apply    func(*Context) error
	Validate func(*Policy) error
}

// CreateRules harden a container's config.json, in order: privileged
// first (it recognises the pattern before other rules take it apart),
// seccomp last because its rules depend on the final bounding set.
var CreateRules = []Rule{
	privilegedControl,
	{Control: "capabilities", Apply: capabilitiesRule},
	{Control: "no_new_privileges", Apply: noNewPrivilegesRule},
	userControl,
	namespacesControl,
	rootfsControl,
	mountsControl,
	pathsControl,
	{Control: "devices", Apply: devicesRule},
	sysctlsControl,
	{Control: "pids", Apply: pidsRule},
	{Control: "memory", Apply: memoryRule},
	cpuControl,
	rlimitsControl,
	selinuxControl,
	apparmorControl,
	secretsControl,
	seccompControl,
}

// Result is what hardening a spec found and left in force.
type Result struct {
	Changes []Change
	// Caps is the bounding set the container ended with; exec clamps to it.
	Caps CapSet
	// NoNewPrivileges is the flag the container ended with.
	NoNewPrivileges bool
	// State is what the rules learnt (see Context.State).
	State map[string]any
}

// DeniedError refuses a spec; it names each finding.
type DeniedError struct{ Changes []Change }

func (e *DeniedError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = c.String()
	}
	return "policy denies this container: " + strings.Join(parts, "; ")
}

// Apply runs rules over doc. Each control runs in its own mode: enforce
// edits doc; audit and deny run the control on a scratch copy, so doc
// keeps what it had, and in deny mode any finding refuses the spec.
func Apply(p *Policy, rules []Rule, doc *spec.Object, env Env) (*Context, error) {
	if env.Host == nil {
		env.Host = DefaultHost()
	}
	c := &Context{Policy: p, Doc: doc, State: map[string]any{}, Env: env}
	if p.PassThrough {
		return c, nil
	}
	var denied []Change
	for _, r := range rules {
		mode := p.ModeOf(r.Control)
		if mode == Enforce {
			if err := r.Apply(c); err != nil {
				return c, fmt.Errorf("%s: %w", r.Control, err)
			}
			continue
		}
		// Run on a copy; keep the findings, not the edits.
		scratch := *c
		scratch.Doc = doc.Clone()
		scratch.Changes, scratch.Refusals, scratch.Reports = nil, nil, nil
		if err := r.Apply(&scratch); err != nil {
			return c, fmt.Errorf("%s: %w", r.Control, err)
		}
		for _, list := range [][]Change{scratch.Changes, scratch.Refusals} {
			for _, ch := range list {
				ch.Mode = mode
				c.Changes = append(c.Changes, ch)
				if mode == Deny {
					denied = append(denied, ch)
				}
			}
		}
		c.Reports = append(c.Reports, scratch.Reports...)
	}
	denied = append(c.Refusals, denied...)
	if len(denied) > 0 {
		return c, &DeniedError{denied}
	}
	return c, nil
}

// Harden applies the create rules to a config.json document.
func Harden(p *Policy, doc *spec.Object, env Env) (*Result, error) {
	c, err := Apply(p, CreateRules, doc, env)
	if err != nil {
		return nil, err
	}
	res := &Result{Changes: append(append(c.Changes, c.Refusals...), c.Reports...), State: c.State}
	res.Caps, res.NoNewPrivileges, err = processState(doc)
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
