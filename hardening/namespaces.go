package hardening

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/secshim/secshim/spec"
)

// namespacesControl keeps the container out of the host's namespaces.
var namespacesControl = Rule{Control: "namespaces", Apply: namespacesRule, Validate: validateNamespaces}

// addableNamespaces can be added to a spec without more configuration (a
// user namespace needs mappings; runc 1.1 knows no time namespace).
var addableNamespaces = []string{"pid", "network", "ipc", "uts", "mount", "cgroup"}

// hostFlag names the engine option that leaves a namespace out, for the
// refusal message.
func hostFlag(nsType string) (string, bool) {
	switch nsType {
	case "pid", "network", "ipc", "uts":
		return "--" + nsType + "=host", true
	case "cgroup":
		return "--cgroupns=host", true
	case "user":
		return "--userns=host", true
	}
	return "", false
}

func validateNamespaces(p *Policy) error {
	for _, ns := range p.Namespaces.Add {
		if !contains(addableNamespaces, ns) {
			return fmt.Errorf("namespaces.add: %q cannot be added (one of %s)", ns, strings.Join(addableNamespaces, ", "))
		}
	}
	return nil
}

// namespacesRule checks linux.namespaces. A type with no entry is shared
// with the runtime, that is with the host: that is how engines spell
// `--network=host` or `--pid=host`. Such a type in Require is refused in
// enforce mode too, since creating the namespace would silently cut the
// container off from what it was started to share; a type in Add is
// created (an entry with no path), for namespaces engines leave out by
// default rather than on request (the cgroup namespace, which Podman
// shares with the host on cgroup v1). An entry with a path joins an
// existing namespace: refused (RefuseHost) when that namespace is the
// host's, allowed otherwise, which is how pods share namespaces (Podman
// pods, CRI sandboxes) and how Podman hands over the network namespace it
// set up.
func namespacesRule(c *Context) error {
	np := c.Policy.Namespaces
	if len(np.Require) == 0 && len(np.Add) == 0 && !np.RefuseHost {
		return nil
	}
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	elems, _, err := linux.Array("namespaces")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for i, e := range elems {
		field := "linux.namespaces[" + strconv.Itoa(i) + "]"
		o, err := spec.ParseElement(e)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		typ, ok, err := o.String("type")
		if err != nil {
			return fmt.Errorf("%s.%w", field, err)
		}
		if !ok || !contains(namespaceTypes, typ) {
			return fmt.Errorf("%s.type: %q is not a namespace type (one of %s)", field, typ, strings.Join(namespaceTypes, ", "))
		}
		if have[typ] {
			return fmt.Errorf("%s: a second %s namespace", field, typ)
		}
		have[typ] = true
		path, _, err := o.String("path")
		if err != nil {
			return fmt.Errorf("%s.%w", field, err)
		}
		if path == "" || !np.RefuseHost {
			continue
		}
		isHost, err := hostNamespace(hostOf(c), typ, path)
		if err != nil {
			return fmt.Errorf("%s.path: %w", field, err)
		}
		if isHost {
			c.refuse("namespaces", field+".path", path, "joins the host's "+typ+" namespace")
		}
	}
	refused := len(c.Refusals)
	for _, typ := range np.Require {
		if !have[typ] && !contains(np.Add, typ) {
			why := "no " + typ + " namespace of its own: the container would share the host's"
			if f, ok := hostFlag(typ); ok {
				why += " (as with " + f + ")"
			}
			c.refuse("namespaces", "linux.namespaces", typ, why)
		}
	}
	if len(c.Refusals) > refused {
		return nil
	}
	var added []string
	for _, typ := range np.Add {
		if !have[typ] {
			added = append(added, typ)
			elems = append(elems, []byte(`{"type":"`+typ+`"}`))
		}
	}
	if len(added) == 0 {
		return nil
	}
	c.changed("namespaces", "linux.namespaces", "", "+"+strings.Join(added, ",+"))
	return linux.SetArray("namespaces", elems)
}

// hostNamespace reports whether path is the host's namespace of type typ:
// PID 1's, or secshim's own (joining it is sharing the runtime's, as if
// the entry were missing). Either one that cannot be read is skipped, but
// not both: then nothing says the path is not the host's. A path that
// does not exist is not: the backend cannot join it either.
func hostNamespace(h *Host, typ, path string) (bool, error) {
	id, err := h.NamespaceID(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var errs []error
	answered := 0
	for _, f := range []func(string) (NSID, error){h.HostNamespace, h.RuntimeNamespace} {
		if f == nil {
			continue
		}
		hostID, err := f(typ)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		answered++
		if id == hostID {
			return true, nil
		}
	}
	if answered == 0 {
		return false, fmt.Errorf("cannot tell whether it is the host's %s namespace: %w", typ, errors.Join(errs...))
	}
	return false, nil
}
