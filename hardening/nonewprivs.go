package hardening

import (
	"fmt"
	"strconv"

	"github.com/secshim/secshim/spec"
)

// noNewPrivilegesRule sets process.noNewPrivileges, so setuid binaries and
// file capabilities cannot raise a process above what it started with.
func noNewPrivilegesRule(c *Context) error {
	if !c.Policy.NoNewPrivileges {
		return nil
	}
	proc, err := c.Doc.EnsureObject("process")
	if err != nil {
		return err
	}
	return SetNoNewPrivileges(c, "process", proc)
}

// SetNoNewPrivileges forces noNewPrivileges on a process object.
func SetNoNewPrivileges(c *Context, field string, proc *spec.Object) error {
	on, ok, err := proc.Bool("noNewPrivileges")
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	if on {
		return nil
	}
	from := ""
	if ok {
		from = strconv.FormatBool(on)
	}
	c.changed("no_new_privileges", field+".noNewPrivileges", from, "true")
	return proc.SetBool("noNewPrivileges", true)
}
