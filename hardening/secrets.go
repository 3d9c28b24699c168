package hardening

import (
	"fmt"
	"strings"
)

// secretsControl looks for credentials passed in process.env, where every
// process in the container, `podman inspect` and the engine's logs can
// read them. It never edits the spec and never logs a value.
var secretsControl = Rule{Control: "secrets", Apply: secretsRule, Validate: validateSecrets}

// secretsRule reports ("report") or refuses ("refuse") each process.env
// entry whose name matches a pattern and whose value is not empty.
func secretsRule(c *Context) error {
	sp := c.Policy.Secrets
	if sp.Action == "" || sp.Action == "ignore" || len(sp.Patterns) == 0 {
		return nil
	}
	proc, ok, err := c.Doc.Object("process")
	if err != nil || !ok {
		return err
	}
	env, _, err := proc.Strings("env")
	if err != nil {
		return err
	}
	for _, e := range env {
		name, value, _ := strings.Cut(e, "=")
		if value == "" || !matchesAny(sp.Patterns, name) {
			continue
		}
		if sp.Action == "refuse" {
			c.refuse("secrets", "process.env", name, "looks like a credential; pass it as a secret (podman --secret), not in the environment")
		} else {
			c.report("secrets", "process.env", name, "looks like a credential (value not logged)")
		}
	}
	return nil
}

func matchesAny(patterns []string, name string) bool {
	upper := strings.ToUpper(name)
	for _, p := range patterns {
		if globMatch(strings.ToUpper(p), upper) {
			return true
		}
	}
	return false
}

// globMatch matches s against a pattern where '*' is any run of
// characters and '?' any one; everything else is literal. (path.Match
// would stop '*' at '/', which an environment name may contain.)
func globMatch(pattern, s string) bool {
	// Iterative, with backtracking to the last '*': linear in practice.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func validateSecrets(p *Policy) error {
	for i, pat := range p.Secrets.Patterns {
		if pat == "" || strings.ContainsRune(pat, '=') {
			return fmt.Errorf("secrets.patterns[%d]: %q is not a pattern of variable names", i, pat)
		}
	}
	if p.Secrets.Action == "refuse" && len(p.Secrets.Patterns) == 0 {
		return fmt.Errorf("secrets.patterns: empty, so action \"refuse\" would refuse nothing")
	}
	return nil
}
