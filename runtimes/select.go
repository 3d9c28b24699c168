package runtimes

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// Annotations a container sets (podman run --annotation K=V) to choose
// its profile and its isolation.
const (
	AnnotationProfile   = "io.secshim.profile"
	AnnotationIsolation = "io.secshim.isolation"
)

// Selection is what a container gets: its profile, the floor applied
// before it (nil when the profile is the floor), and its backend ("" for
// the default one).
type Selection struct {
	Profile *hardening.Policy
	Floor   *hardening.Policy
	Backend string
}

// Stages are the policies applied in order: the floor, then the profile.
func (s *Selection) Stages() []*hardening.Policy {
	if s.Floor == nil {
		return []*hardening.Policy{s.Profile}
	}
	return []*hardening.Policy{s.Floor, s.Profile}
}

// Harden applies the stages to a config.json document: whatever the
// chosen profile says, the container ends at least as hardened as the
// floor. The result is the last stage's, with every stage's changes.
func (s *Selection) Harden(doc *spec.Object, env hardening.Env) (*hardening.Result, error) {
	var changes []hardening.Change
	var res *hardening.Result
	for _, p := range s.Stages() {
		var err error
		if res, err = hardening.Harden(p, doc, env); err != nil {
			return nil, err
		}
		changes = append(changes, res.Changes...)
	}
	res.Changes = changes
	return res, nil
}

// Select chooses from the config and the container's annotations.
func (c *Config) Select(doc *spec.Object) (*Selection, error) {
	ann, err := annotations(doc)
	if err != nil {
		return nil, err
	}
	ps := c.profiles()
	name := c.Policy.Profile
	if want, ok := ann[AnnotationProfile]; ok && want != name {
		if !slices.Contains(c.Policy.Selectable, want) {
			return nil, fmt.Errorf("annotation %s=%s: profile not selectable (allowed: %s)", AnnotationProfile, want, strings.Join(c.Policy.Selectable, ", "))
		}
		name = want
	}
	s := &Selection{}
	if s.Profile, err = ps.Resolve(name); err != nil {
		return nil, err
	}
	if c.Policy.Floor != name {
		if s.Floor, err = ps.Resolve(c.Policy.Floor); err != nil {
			return nil, err
		}
	}
	s.Backend = s.Profile.Backend
	if iso, ok := ann[AnnotationIsolation]; ok {
		b, known := c.Policy.Isolation[iso]
		if !known {
			return nil, fmt.Errorf("annotation %s=%s: unknown isolation (known: %s)", AnnotationIsolation, iso, strings.Join(sortedKeys(c.Policy.Isolation), ", "))
		}
		s.Backend = b
	}
	return s, nil
}

// profileNamed resolves a recorded profile for exec and update; a
// container without a record gets the default profile.
func (c *Config) profileNamed(name string) (*hardening.Policy, error) {
	if name == "" {
		name = c.Policy.Profile
	}
	return c.profiles().Resolve(name)
}

func annotations(doc *spec.Object) (map[string]string, error) {
	a, ok, err := doc.Object("annotations")
	if err != nil || !ok {
		return nil, err
	}
	out := map[string]string{}
	for _, k := range []string{AnnotationProfile, AnnotationIsolation} {
		v, ok, err := a.String(k)
		if err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
		if ok {
			out[k] = v
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
