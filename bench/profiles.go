package bench

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/runtimes"
	"github.com/secshim/secshim/spec"
)

// Profiles are the built-in profiles the benchmark runs, weakest first
// (hardening.BuiltinProfiles): privileged passes everything through,
// baseline is the default, restricted the strictest.
var Profiles = slices.Clone(hardening.BuiltinProfiles)

//go:embed profiles/profile.toml
var profileTOML string

// Profile renders the benchmark's secshim config for a profile and a
// backend. extra is inserted verbatim (e.g. a [backends.probe] table).
func Profile(name, backend, stateDir, logFile, extra string) ([]byte, error) {
	if !slices.Contains(Profiles, name) {
		return nil, fmt.Errorf("no profile %q", name)
	}
	r := strings.NewReplacer("@PROFILE@", name, "@BACKEND@", backend, "@STATE_DIR@", stateDir,
		"@LOG_FILE@", logFile, "@EXTRA@", extra)
	return []byte(r.Replace(profileTOML)), nil
}

// UserProfiles renders a config defining n user profiles (each extending
// baseline with one override) besides the built-in ones, the container's
// still being baseline: to see whether policy evaluation depends on how
// many profiles exist.
func UserProfiles(n int, stateDir, logFile string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "default_backend = \"runc\"\nstate_dir = %q\n[log]\nfile = %q\n[policy]\nprofile = \"baseline\"\n", stateDir, logFile)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "[profiles.team%d]\nextends = \"baseline\"\n[profiles.team%d.pids]\ndefault = %d\n", i, i, 1024+i)
	}
	return []byte(b.String())
}

// Selected is what runtimes' create resolves for a container: its
// profile, and the floor applied first when the profile is not the floor
// (runtimes.selectFor, which is unexported, without the annotations).
func Selected(cfg *runtimes.Config) (profile, floor *hardening.Policy, err error) {
	ps := &hardening.Profiles{User: cfg.Profiles}
	if profile, err = ps.Resolve(cfg.Policy.Profile); err != nil {
		return nil, nil, err
	}
	if cfg.Policy.Floor != "" && cfg.Policy.Floor != cfg.Policy.Profile {
		if floor, err = ps.Resolve(cfg.Policy.Floor); err != nil {
			return nil, nil, err
		}
	}
	return profile, floor, nil
}

// Harden applies what create applies: the floor, then the profile.
func Harden(cfg *runtimes.Config, profile, floor *hardening.Policy, root *spec.Object, id string) (*hardening.Result, error) {
	env := hardening.Env{ContainerID: id, StateDir: cfg.StateDir}
	var changes []hardening.Change
	if floor != nil {
		res, err := hardening.Harden(floor, root, env)
		if err != nil {
			return nil, err
		}
		changes = res.Changes
	}
	res, err := hardening.Harden(profile, root, env)
	if err != nil {
		return nil, err
	}
	res.Changes = append(changes, res.Changes...)
	return res, nil
}

// Hardened returns the config.json secshim writes for data under a
// profile, or nil when it writes nothing (the spec already complies).
func Hardened(profile string, data []byte, stateDir string) ([]byte, error) {
	conf, err := Profile(profile, "runc", stateDir, "", "")
	if err != nil {
		return nil, err
	}
	cfg, err := runtimes.ParseConfig(profile+".toml", conf)
	if err != nil {
		return nil, err
	}
	p, floor, err := Selected(cfg)
	if err != nil {
		return nil, err
	}
	root, err := spec.ParseObject(data)
	if err != nil {
		return nil, err
	}
	if _, err := Harden(cfg, p, floor, root, "hardened-"+profile); err != nil {
		return nil, err
	}
	if !root.Changed() {
		return nil, nil
	}
	return root.Bytes(), nil
}
