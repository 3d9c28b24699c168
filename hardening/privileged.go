package hardening

import (
	"fmt"
	"math/bits"
	"path"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secshim/secshim/spec"
)

// privilegedControl recognises a privileged container (podman/docker
// --privileged, a CRI privileged pod) before the other rules take the
// spec apart, so that the log says what the container asked for and a
// policy can refuse it outright.
var privilegedControl = Rule{Control: "privileged", Apply: privilegedRule}

// privilegedThreshold is how many of the five indicators make the
// pattern: every engine's privileged mode sets all five, while a single
// one (seccomp=unconfined, --device) is an ordinary request the other
// rules handle.
const privilegedThreshold = 3

// nearlyAllCaps: a privileged container gets every capability the host
// kernel knows, which on an older kernel lacks the newest few.
const nearlyAllCaps = len(capNames) - 3

// privilegedRule records c.State["privileged"] and reports the pattern;
// with action "refuse" it refuses the spec, naming the indicators. It
// never edits the spec: under "neutralise" the capabilities, devices,
// seccomp, paths and mounts rules undo each indicator.
func privilegedRule(c *Context) error {
	fields, found, err := privilegedIndicators(c)
	if err != nil {
		return err
	}
	if len(found) < privilegedThreshold {
		return nil
	}
	c.State["privileged"] = true
	field, what := strings.Join(fields, ","), strings.Join(found, "; ")
	if c.Policy.Privileged.Action == "refuse" {
		c.refuse("privileged", field, what, "privileged containers are refused by policy")
		return nil
	}
	c.report("privileged", field, what, "privileged pattern: neutralised by the other rules")
	return nil
}

// privilegedIndicators lists which of the pattern's indicators the spec
// shows: the runtime-spec field of each and a description.
func privilegedIndicators(c *Context) (fields, found []string, err error) {
	doc := c.Doc
	add := func(field, what string) {
		fields, found = append(fields, field), append(found, what)
	}
	if proc, ok, err := doc.Object("process"); err != nil {
		return nil, nil, err
	} else if ok {
		bounding, err := boundingOf(proc)
		if err != nil {
			return nil, nil, err
		}
		if n := bits.OnesCount64(uint64(capSetOf(bounding))); n >= nearlyAllCaps {
			add("process.capabilities.bounding", fmt.Sprintf("%d capabilities in the bounding set", n))
		}
	}
	linux, ok, err := doc.Object("linux")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		linux, _ = spec.ParseObject([]byte("{}"))
	}
	sec, ok, err := linux.Object("seccomp")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		add("linux.seccomp", "no seccomp filter")
	} else if action, _, err := sec.String("defaultAction"); err != nil {
		return nil, nil, err
	} else if !denying(action) {
		add("linux.seccomp", "seccomp default action "+orNone(action))
	}
	hostDevs, err := hostDevices(linux)
	if err != nil {
		return nil, nil, err
	}
	allowAll, err := deviceCgroupAllowsAll(linux)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case len(hostDevs) > 0 && allowAll:
		add("linux.devices", fmt.Sprintf("%d host devices (e.g. %s) and an allow-all device cgroup", len(hostDevs), hostDevs[0]))
	case len(hostDevs) > 0:
		add("linux.devices", fmt.Sprintf("%d host devices (e.g. %s)", len(hostDevs), hostDevs[0]))
	case allowAll:
		add("linux.resources.devices", "an allow-all device cgroup")
	}
	masked, _, err := linux.Strings("maskedPaths")
	if err != nil {
		return nil, nil, err
	}
	ro, _, err := linux.Strings("readonlyPaths")
	if err != nil {
		return nil, nil, err
	}
	if len(masked) == 0 && len(ro) == 0 {
		add("linux.maskedPaths", "no masked or read-only paths")
	}
	rw, err := writableSysfs(c)
	if err != nil {
		return nil, nil, err
	}
	if rw {
		add("mounts", "/sys mounted read-write")
	}
	return fields, found, nil
}

// hostDevices lists linux.devices entries beyond the standard set.
func hostDevices(linux *spec.Object) ([]string, error) {
	elems, _, err := linux.Array("devices")
	if err != nil {
		return nil, err
	}
	var out []string
	for i, raw := range elems {
		d, err := spec.ParseElement(raw)
		if err != nil {
			return nil, fmt.Errorf("linux.devices[%d]: %w", i, err)
		}
		p, _, err1 := d.String("path")
		typ, _, err2 := d.String("type")
		major, _, err3 := d.Int64("major")
		minor, _, err4 := d.Int64("minor")
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("linux.devices[%d]: %w", i, err)
		}
		std, isStd := standardDevice(p)
		if typ == "c" && (isStd && std == (devNum{major, minor}) || major == ptsMajor && strings.HasPrefix(p, "/dev/pts/")) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// deviceCgroupAllowsAll reports an allow rule for every device in
// linux.resources.devices.
func deviceCgroupAllowsAll(linux *spec.Object) (bool, error) {
	res, ok, err := linux.Object("resources")
	if err != nil || !ok {
		return false, err
	}
	elems, _, err := res.Array("devices")
	if err != nil {
		return false, err
	}
	for i, raw := range elems {
		r, err := spec.ParseElement(raw)
		if err != nil {
			return false, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		allow, _, err1 := r.Bool("allow")
		typ, _, err2 := r.String("type")
		access, _, err3 := r.String("access")
		_, hasMajor, err4 := r.Int64("major")
		_, hasMinor, err5 := r.Int64("minor")
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return false, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		if allow && !hasMajor && !hasMinor && isAll(specs.LinuxDeviceCgroup{Type: typ, Access: access}) {
			return true, nil
		}
	}
	return false, nil
}

// writableSysfs reports a mount on /sys without "ro".
func writableSysfs(c *Context) (bool, error) {
	ms, err := c.mounts()
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if path.Clean(m.dest) == "/sys" && !slices.Contains(m.opts, "ro") {
			return true, nil
		}
	}
	return false, nil
}
