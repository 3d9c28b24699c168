package hardening

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
// OCI runtime spec's default devices plus the tty, console and pts ones.
var standardDevices = map[string]devNum{
	"/dev/null": {1, 3}, "/dev/zero": {1, 5}, "/dev/full": {1, 7},
	"/dev/random": {1, 8}, "/dev/urandom": {1, 9}, "/dev/tty": {5, 0},
	"/dev/console": {5, 1}, "/dev/ptmx": {5, 2},
}

const ptsMajor = 136

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
		allowed = append(allowed, d)
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

	if raw, ok := linux.Raw("devices"); ok && string(raw) != "null" {
		var devs []specs.LinuxDevice
		if err := json.Unmarshal(raw, &devs); err != nil {
			return fmt.Errorf("linux.devices: %w", err)
		}
		kept := devs[:0:0]
		var dropped []string
		for _, d := range devs {
			num := devNum{d.Major, d.Minor}
			std, isStd := standardDevices[d.Path]
			okExtra := slices.Contains(extra, num)
			if d.Type == "c" && ((isStd && std == num) || okExtra || (d.Major == ptsMajor && strings.HasPrefix(d.Path, "/dev/pts/"))) {
				kept = append(kept, d)
				if okExtra {
					allowed = append(allowed, num)
				}
				continue
			}
			if okExtra && (d.Type == "b" || d.Type == "u") {
				kept = append(kept, d)
				allowed = append(allowed, num)
				continue
			}
			dropped = append(dropped, fmt.Sprintf("%s(%s %d:%d)", d.Path, d.Type, d.Major, d.Minor))
		}
		if len(dropped) > 0 {
			b, err := json.Marshal(kept)
			if err != nil {
				return err
			}
			if err := linux.Set("devices", b); err != nil {
				return err
			}
			c.changed("devices", "linux.devices", "-"+strings.Join(dropped, ",-"), fmt.Sprintf("%d devices", len(kept)))
		}
	}

	res, err := linux.EnsureObject("resources")
	if err != nil {
		return fmt.Errorf("linux: %w", err)
	}
	var rules []specs.LinuxDeviceCgroup
	if raw, ok := res.Raw("devices"); ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &rules); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	if deviceRulesComply(rules, allowed) {
		return nil
	}
	want := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range allowed {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(d.major), Access: "rwm"}
		if d.minor != anyMinor {
			r.Minor = ptr(d.minor)
		}
		want = append(want, r)
	}
	b, err := json.Marshal(want)
	if err != nil {
		return err
	}
	c.changed("devices", "linux.resources.devices", describeDeviceRules(rules), "deny all, allow standard devices")
	return res.Set("devices", b)
}

func ptr[T any](v T) *T { return &v }

// deviceRulesComply reports whether the cgroup rules start from deny-all
// and then allow only character devices in allowed.
func deviceRulesComply(rules []specs.LinuxDeviceCgroup, allowed []devNum) bool {
	if len(rules) == 0 || rules[0].Allow || !isAll(rules[0]) {
		return false
	}
	for _, r := range rules[1:] {
		if !r.Allow {
			continue
		}
		if r.Type != "c" || r.Major == nil {
			return false
		}
		minor := int64(anyMinor)
		if r.Minor != nil {
			minor = *r.Minor
		}
		if !slices.Contains(allowed, devNum{*r.Major, minor}) {
			return false
		}
	}
	return true
}

func isAll(r specs.LinuxDeviceCgroup) bool {
	every := r.Access == "" || strings.Contains(r.Access, "r") && strings.Contains(r.Access, "w") && strings.Contains(r.Access, "m")
	return (r.Type == "" || r.Type == "a") && r.Major == nil && r.Minor == nil && every
}

func describeDeviceRules(rules []specs.LinuxDeviceCgroup) string {
	if len(rules) == 0 {
		return "no rules (all devices allowed)"
	}
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		verb := "deny"
		if r.Allow {
			verb = "allow"
		}
		num := "*:*"
		if r.Major != nil {
			num = fmt.Sprintf("%d:", *r.Major)
			if r.Minor != nil {
				num += fmt.Sprint(*r.Minor)
			} else {
				num += "*"
			}
		}
		t := r.Type
		if t == "" {
			t = "a"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s", verb, t, num, r.Access))
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
