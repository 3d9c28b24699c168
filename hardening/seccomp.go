package hardening

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/secshim/secshim/spec"
)

var seccompControl = Rule{Control: "seccomp", Apply: seccompRule}

// seccompRule makes sure a seccomp filter is always present. An engine's
// own enforcing profile is kept when the policy says so; otherwise (none
// sent, as after --privileged or seccomp=unconfined, or one that allows
// by default) the policy's profile is rendered against the final bounding
// set, since Docker-format profiles grant syscalls per capability.
func seccompRule(c *Context) error {
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	sec, present, err := linux.Object("seccomp")
	if err != nil {
		return fmt.Errorf("linux: %w", err)
	}
	from := ""
	if present {
		action, _, err := sec.String("defaultAction")
		if err != nil {
			return fmt.Errorf("linux.seccomp: %w", err)
		}
		if c.Policy.Seccomp.KeepEngine && enforcingAction(action) {
			return nil
		}
		from = "defaultAction " + orNone(action)
	}
	proc, err := c.Doc.EnsureObject("process")
	if err != nil {
		return err
	}
	bounding, err := boundingOf(proc)
	if err != nil {
		return err
	}
	rendered, err := RenderSeccomp(c.Policy.Seccomp.Profile, bounding)
	if err != nil {
		return err
	}
	c.changed("seccomp", "linux.seccomp", from, "profile "+c.Policy.Seccomp.Profile)
	return linux.Set("seccomp", rendered)
}

// enforcingAction reports whether a profile's default action refuses the
// syscalls it does not list.
func enforcingAction(a string) bool {
	switch a {
	case "", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG":
		return false
	}
	return true
}

// boundingOf reads process.capabilities.bounding; absent means empty.
func boundingOf(proc *spec.Object) ([]string, error) {
	caps, ok, err := proc.Object("capabilities")
	if err != nil || !ok {
		return []string{}, err
	}
	b, ok, err := caps.Strings("bounding")
	if err != nil {
		return nil, fmt.Errorf("process.capabilities: %w", err)
	}
	if !ok {
		b = []string{}
	}
	return b, nil
}

// RenderSeccomp turns a Docker/Podman-format profile ("default" for the
// built-in one, or a file path) into the runtime-spec form for the given
// bounding set.
func RenderSeccomp(profile string, bounding []string) ([]byte, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
	var (
		out *specs.LinuxSeccomp
		err error
	)
	if profile == "default" {
		out, err = seccomp.GetDefaultProfile(rs)
	} else {
		var body []byte
		if body, err = os.ReadFile(profile); err != nil {
			return nil, fmt.Errorf("policy.seccomp.profile: %w", err)
		}
		out, err = seccomp.LoadProfile(string(body), rs)
	}
	if err != nil {
		return nil, fmt.Errorf("policy.seccomp.profile %s: %w", profile, err)
	}
	if out == nil || !enforcingAction(string(out.DefaultAction)) {
		return nil, fmt.Errorf("policy.seccomp.profile %s: does not enforce (default action %q)", profile, actionOf(out))
	}
	return json.Marshal(out)
}

func actionOf(s *specs.LinuxSeccomp) string {
	if s == nil {
		return ""
	}
	return string(s.DefaultAction)
}
