package hardening

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// pathsControl hides the kernel interfaces a container has no business
// reading and makes those it may read read-only.
var pathsControl = Rule{Control: "paths", Apply: pathsRule, Validate: validatePaths}

// pathsRule makes linux.maskedPaths and linux.readonlyPaths hold at least
// the policy's lists: missing entries are appended, the engine's own extra
// ones kept.
func pathsRule(c *Context) error {
	p := &c.Policy.Paths
	if len(p.Masked) == 0 && len(p.ReadOnly) == 0 {
		return nil
	}
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	for _, l := range []struct {
		key  string
		want []string
	}{{"maskedPaths", p.Masked}, {"readonlyPaths", p.ReadOnly}} {
		if len(l.want) == 0 {
			continue
		}
		have, _, err := linux.Strings(l.key)
		if err != nil {
			return err
		}
		var missing []string
		for _, w := range l.want {
			if !slices.ContainsFunc(have, func(h string) bool { return h == w || filepath.Clean(h) == w }) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			continue
		}
		if err := linux.SetStrings(l.key, append(have, missing...)); err != nil {
			return err
		}
		c.changed("paths", "linux."+l.key, "", "+"+strings.Join(missing, ",+"))
	}
	return nil
}

func validatePaths(p *Policy) error {
	for _, l := range []struct {
		field string
		paths []string
	}{{"paths.masked", p.Paths.Masked}, {"paths.read_only", p.Paths.ReadOnly}} {
		for _, path := range l.paths {
			if err := checkCleanPath(path); err != nil {
				return fmt.Errorf("%s: %w", l.field, err)
			}
			if path == "/" {
				return fmt.Errorf("%s: \"/\" is the container's whole root", l.field)
			}
		}
	}
	return nil
}
