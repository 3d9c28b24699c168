package hardening

import "fmt"

// apparmorControl confines the container's process with an AppArmor
// profile where AppArmor is enabled, and never lets it ask for none.
var apparmorControl = Rule{Control: "apparmor", Apply: apparmorRule, Validate: validateAppArmor}

func validateAppArmor(p *Policy) error {
	a := p.AppArmor
	if a.Enable && a.Profile == "" {
		return fmt.Errorf("apparmor.profile: required when apparmor.enable is set (an empty profile runs the container unconfined)")
	}
	if a.Profile == "unconfined" {
		return fmt.Errorf("apparmor.profile: \"unconfined\" is no confinement")
	}
	return nil
}

// apparmorRule refuses process.apparmorProfile "unconfined" on any host
// (engines send no profile where AppArmor is disabled, so only a
// hand-made or misdetected spec asks for it, and exec refuses it the same
// way), and where AppArmor is enabled fills an empty profile with the
// policy's, provided the kernel has it loaded: the backend would start a
// container with an unknown profile unconfined, or not at all. A profile
// the engine chose is kept; the engine loads its own.
func apparmorRule(c *Context) error {
	a := c.Policy.AppArmor
	proc, ok, err := c.Doc.Object("process")
	if err != nil {
		return err
	}
	var have string
	if ok {
		if have, _, err = proc.String("apparmorProfile"); err != nil {
			return err
		}
	}
	if have == "unconfined" {
		if a.RefuseUnconfined {
			c.refuse("apparmor", "process.apparmorProfile", have, UnconfinedLabel("apparmor", have))
		}
		return nil
	}
	if have != "" || !a.Enable || !hostOf(c).AppArmorEnabled() {
		return nil
	}
	mode, err := hostOf(c).AppArmorProfileMode(a.Profile)
	if err != nil {
		return fmt.Errorf("reading the loaded AppArmor profiles: %w", err)
	}
	switch mode {
	case "":
		c.refuse("apparmor", "process.apparmorProfile", "", fmt.Sprintf("the policy's profile %s is not loaded (load it with apparmor_parser, or name a loaded one in apparmor.profile): starting the container unconfined would fail open", a.Profile))
		return nil
	case "unconfined":
		c.refuse("apparmor", "process.apparmorProfile", "", fmt.Sprintf("the policy's profile %s is loaded in unconfined mode: it confines nothing", a.Profile))
		return nil
	}
	if proc == nil {
		if proc, err = c.Doc.EnsureObject("process"); err != nil {
			return err
		}
	}
	c.changed("apparmor", "process.apparmorProfile", "", a.Profile)
	return proc.SetString("apparmorProfile", a.Profile)
}
