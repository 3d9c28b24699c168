package hardening

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/spec"
)

// DevicePolicy limits linux.devices and the device cgroup.
type DevicePolicy struct {
	// Restrict keeps only the standard devices plus Allow.
	Restrict bool `toml:"restrict"`
	// Allow lists extra host devices (e.g. "/dev/fuse") a container may get.
	Allow []string `toml:"allow"`
}

type devNum struct{ major, minor int64 }

// anyMinor stands for a wildcard minor number in a device cgroup rule.
const anyMinor = -1

// standardDevices are the character devices every container gets: the
// OCI runtime spec's default devices plus the tty, console and pts ones,
// in device-number order. (A slice, not a map: a map literal is built at
// package init, on every call's path.)
var standardDevices = [...]struct {
	path string
	num  devNum
}{
	{"/dev/null", devNum{1, 3}}, {"/dev/zero", devNum{1, 5}}, {"/dev/full", devNum{1, 7}},
	{"/dev/random", devNum{1, 8}}, {"/dev/urandom", devNum{1, 9}}, {"/dev/tty", devNum{5, 0}},
	{"/dev/console", devNum{5, 1}}, {"/dev/ptmx", devNum{5, 2}},
}

// standardDevice is the number of the standard device at path.
func standardDevice(path string) (devNum, bool) {
	for _, d := range standardDevices {
		if d.path == path {
			return d.num, true
		}
	}
	return devNum{}, false
}

const ptsMajor = 136

// IsStandardDevice reports whether a linux.devices entry is one of the
// standard devices, by path and number.
func IsStandardDevice(path string, major, minor int64) bool {
	n, ok := standardDevice(path)
	return ok && n == devNum{major, minor}
}

// devicesRule keeps host devices out: linux.devices may only hold the
// standard devices (by number, not only by name: `--device /dev/sda:/dev/null`
// is a disk) and the policy's extra ones; the device cgroup denies all
// and then allows exactly those.
func devicesRule(c *Context) error {
	if !c.Policy.Devices.Restrict {
		return nil
	}
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	allowed := []devNum{{ptsMajor, anyMinor}}
	for _, d := range standardDevices {
		allowed = append(allowed, d.num)
	}
	// Map order is random; the rules written must not be.
	slices.SortFunc(allowed, func(a, b devNum) int {
		if a.major != b.major {
			return int(a.major - b.major)
		}
		return int(a.minor - b.minor)
	})
	extra, err := c.Policy.extraDevices()
	if err != nil {
		return err
	}

	elems, has, err := linux.Array("devices")
	if err != nil {
		return err
	}
	if has {
		kept := make([][]byte, 0, len(elems))
		var dropped []string
		for i, e := range elems {
			d, err := readDevice(e)
			if err != nil {
				return fmt.Errorf("linux.devices[%d]: %w", i, err)
			}
			num := devNum{d.major, d.minor}
			std, isStd := standardDevice(d.path)
			okExtra := slices.Contains(extra, num)
			if d.typ == "c" && ((isStd && std == num) || okExtra || (d.major == ptsMajor && strings.HasPrefix(d.path, "/dev/pts/"))) {
				kept = append(kept, d.obj.Bytes())
				if okExtra {
					allowed = append(allowed, num)
				}
				continue
			}
			if okExtra && (d.typ == "b" || d.typ == "u") {
				kept = append(kept, d.obj.Bytes())
				allowed = append(allowed, num)
				continue
			}
			dropped = append(dropped, fmt.Sprintf("%s(%s %d:%d)", d.path, d.typ, d.major, d.minor))
		}
		if len(dropped) > 0 {
			if err := linux.SetArray("devices", kept); err != nil {
				return err
			}
			c.changed("devices", "linux.devices", "-"+strings.Join(dropped, ",-"), fmt.Sprintf("%d devices", len(kept)))
		}
	}

	res, err := linux.EnsureObject("resources")
	if err != nil {
		return fmt.Errorf("linux: %w", err)
	}
	rules, err := readDeviceRules(res)
	if err != nil {
		return err
	}
	if deviceRulesComply(rules, allowed) {
		return nil
	}
	// {"allow":false,"access":"rwm"} then one allow rule per device, as
	// encoding/json writes deviceRule.
	b := append(make([]byte, 0, 64*(len(allowed)+1)), `[{"allow":false,"access":"rwm"}`...)
	for _, d := range allowed {
		b = append(b, `,{"allow":true,"type":"c","major":`...)
		b = strconv.AppendInt(b, d.major, 10)
		if d.minor != anyMinor {
			b = append(b, `,"minor":`...)
			b = strconv.AppendInt(b, d.minor, 10)
		}
		b = append(b, `,"access":"rwm"}`...)
	}
	b = append(b, ']')
	c.changed("devices", "linux.resources.devices", describeDeviceRules(rules), "deny all, allow standard devices")
	return res.Set("devices", b)
}

// device is one element of linux.devices, as far as the rule reads it;
// obj keeps every field, known or not.
type device struct {
	obj          *spec.Object
	path, typ    string
	major, minor int64
}

// readDevice reads a linux.devices element; errors name the field. The
// numeric fields the rule does not read are still checked, as decoding
// into specs.LinuxDevice did.
func readDevice(raw []byte) (device, error) {
	o, err := spec.ParseElement(raw)
	if err != nil {
		return device{}, err
	}
	d := device{obj: o}
	var err1, err2, err3, err4 error
	d.path, _, err1 = o.String("path")
	d.typ, _, err2 = o.String("type")
	d.major, _, err3 = o.Int64("major")
	d.minor, _, err4 = o.Int64("minor")
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return device{}, err
	}
	for _, key := range []string{"fileMode", "uid", "gid"} {
		if v, ok, err := o.Int64(key); err != nil {
			return device{}, err
		} else if ok && (v < 0 || v > 1<<32-1) {
			return device{}, fmt.Errorf("%s: %d is out of range", key, v)
		}
	}
	return d, nil
}

// deviceRule is one element of linux.resources.devices; a missing major
// or minor is a wildcard (nil).
type deviceRule struct {
	allow        bool
	typ, access  string
	major, minor *int64
}

// readDeviceRules reads linux.resources.devices; errors name the field.
func readDeviceRules(res *spec.Object) ([]deviceRule, error) {
	elems, _, err := res.Array("devices")
	if err != nil {
		return nil, err
	}
	rules := make([]deviceRule, 0, len(elems))
	for i, e := range elems {
		o, err := spec.ParseElement(e)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		var r deviceRule
		var major, minor int64
		var hasMajor, hasMinor bool
		var err1, err2, err3, err4, err5 error
		r.allow, _, err1 = o.Bool("allow")
		r.typ, _, err2 = o.String("type")
		r.access, _, err3 = o.String("access")
		major, hasMajor, err4 = o.Int64("major")
		minor, hasMinor, err5 = o.Int64("minor")
		if err := firstErr(err1, err2, err3, err4, err5); err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		if hasMajor {
			r.major = &major
		}
		if hasMinor {
			r.minor = &minor
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// deviceRulesComply reports whether the cgroup rules start from deny-all
// and then allow only character devices in allowed.
func deviceRulesComply(rules []deviceRule, allowed []devNum) bool {
	if len(rules) == 0 || rules[0].allow || !isAllRule(rules[0]) {
		return false
	}
	for _, r := range rules[1:] {
		if !r.allow {
			continue
		}
		if r.typ != "c" || r.major == nil {
			return false
		}
		minor := int64(anyMinor)
		if r.minor != nil {
			minor = *r.minor
		}
		if !slices.Contains(allowed, devNum{*r.major, minor}) {
			return false
		}
	}
	return true
}

func isAll(r specs.LinuxDeviceCgroup) bool {
	return isAllRule(deviceRule{allow: r.Allow, typ: r.Type, access: r.Access, major: r.Major, minor: r.Minor})
}

// isAllRule reports whether r covers every device with every access.
func isAllRule(r deviceRule) bool {
	every := r.access == "" || strings.Contains(r.access, "r") && strings.Contains(r.access, "w") && strings.Contains(r.access, "m")
	return (r.typ == "" || r.typ == "a") && r.major == nil && r.minor == nil && every
}

func describeDeviceRules(rules []deviceRule) string {
	if len(rules) == 0 {
		return "no rules (all devices allowed)"
	}
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		verb := "deny"
		if r.allow {
			verb = "allow"
		}
		num := "*:*"
		if r.major != nil {
			num = fmt.Sprintf("%d:", *r.major)
			if r.minor != nil {
				num += fmt.Sprint(*r.minor)
			} else {
				num += "*"
			}
		}
		t := r.typ
		if t == "" {
			t = "a"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s", verb, t, num, r.access))
	}
	return strings.Join(parts, "; ")
}

// extraDevices resolves the policy's extra device paths to the numbers of
// the host devices they name.
func (p *Policy) extraDevices() ([]devNum, error) {
	var out []devNum
	for _, path := range p.Devices.Allow {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("policy.devices.allow: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || fi.Mode()&os.ModeDevice == 0 {
			return nil, fmt.Errorf("policy.devices.allow: %s is not a device", path)
		}
		out = append(out, devNum{int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))})
	}
	return out, nil
}
