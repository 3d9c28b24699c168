package hardening

import (
	"fmt"
	"strings"
)

// sysctlsControl keeps containers to the sysctls that are namespaced and
// harmless to the host and its other containers.
var sysctlsControl = Rule{Control: "sysctls", Apply: sysctlsRule, Validate: validateSysctls}

// sysctlsRule removes from linux.sysctl every key the policy does not
// allow (deny mode refuses them instead: the framework reports each
// removal as a finding).
func sysctlsRule(c *Context) error {
	p := &c.Policy.Sysctls
	if !p.Restrict {
		return nil
	}
	linux, ok, err := c.Doc.Object("linux")
	if err != nil || !ok {
		return err
	}
	sys, ok, err := linux.Object("sysctl")
	if err != nil || !ok {
		return err
	}
	for _, key := range sys.Keys() {
		val, _, err := sys.String(key)
		if err != nil {
			return err
		}
		if p.allows(key) {
			continue
		}
		sys.Delete(key)
		c.changed("sysctls", "linux.sysctl", key+"="+val, "")
	}
	return nil
}

// allows reports whether a sysctl key is allowed. Runtimes write a key to
// /proc/sys with its dots turned into slashes, so "kernel/msgmax" is
// kernel.msgmax; a key with an empty component is never allowed, whatever
// a prefix entry says.
func (p *SysctlPolicy) allows(key string) bool {
	key = strings.ReplaceAll(key, "/", ".")
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return false
	}
	for _, a := range p.Allow {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			if strings.HasPrefix(key, prefix) {
				return true
			}
		} else if key == a {
			return true
		}
	}
	return false
}

func validateSysctls(p *Policy) error {
	for _, a := range p.Sysctls.Allow {
		name := strings.TrimSuffix(a, "*")
		bad := a == "" || strings.HasPrefix(name, ".") || strings.Contains(name, "..") ||
			strings.ContainsFunc(name, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
			})
		if bad {
			return fmt.Errorf("sysctls.allow: %q is not a sysctl name, or a prefix ending in \"*\" (e.g. \"net.ipv4.tcp_*\")", a)
		}
	}
	return nil
}
