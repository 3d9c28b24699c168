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

// Selected is what runtimes' create resolves for a container without
// annotations: its profile, the floor applied first, its backend.
func Selected(cfg *runtimes.Config) (*runtimes.Selection, error) {
	doc, err := spec.ParseObject([]byte("{}"))
	if err != nil {
		return nil, err
	}
	return cfg.Select(doc)
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
	sel, err := Selected(cfg)
	if err != nil {
		return nil, err
	}
	root, err := spec.ParseObject(data)
	if err != nil {
		return nil, err
	}
	if _, err := sel.Harden(root, hardening.Env{ContainerID: "hardened-" + profile, StateDir: cfg.StateDir}); err != nil {
		return nil, err
	}
	if !root.Changed() {
		return nil, nil
	}
	return root.Bytes(), nil
}
