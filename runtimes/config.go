package runtimes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// DefaultConfigPath is where secshim looks for its config when
// SECSHIM_CONFIG is unset. Under Podman it is the source of truth:
// conmon starts the runtime with a fresh environment.
const DefaultConfigPath = "/etc/secshim/secshim.toml"

// Config is secshim's config file.
type Config struct {
	// DefaultBackend names the backend containers run on (crun, runc,
	// runsc, kata or one defined under [backends]). Empty: crun if
	// installed, else runc.
	DefaultBackend string `toml:"default_backend"`
	// StateDir holds the sticky backend record of each container.
	StateDir string                   `toml:"state_dir"`
	Log      LogConfig                `toml:"log"`
	Backends map[string]BackendConfig `toml:"backends"`
	Policy   PolicyConfig             `toml:"policy"`
	// Profiles are user profiles and overrides of built-in ones, one
	// [profiles.NAME] table each; they are decoded when used.
	Profiles map[string]map[string]any `toml:"profiles"`

	// Path is the file this config came from, "" for the built-in one.
	Path string `toml:"-"`
}

// PolicyConfig says which profile a container gets.
type PolicyConfig struct {
	// Profile is the profile of a container that asks for none.
	Profile string `toml:"profile"`
	// Floor is applied to every container before the profile it asks
	// for, so that an annotation can tighten but never loosen below it.
	// Empty: the default profile.
	Floor string `toml:"floor"`
	// Selectable are the profiles a container may ask for with the
	// annotation io.secshim.profile.
	Selectable []string `toml:"selectable"`
	// Isolation maps values of the annotation io.secshim.isolation to
	// backends (sandbox = "runsc", vm = "kata").
	Isolation map[string]string `toml:"isolation"`
	// Attest is what a container whose process does not hold what its
	// spec promised gets (runtimes/attest.go): "enforce" (the default:
	// killed, the verb fails), "audit" (logged) or "off" (not checked).
	Attest string `toml:"attest"`
}

// LogConfig says where decisions are logged.
type LogConfig struct {
	// File gets one JSON line per decision; "" disables it.
	File string `toml:"file"`
	// Level "info" logs every create, run and restore, the exec and
	// update calls that changed something, and every refusal (an exec
	// that changes nothing is a health check: logged at "debug", with the
	// pass-through verbs).
	Level string `toml:"level"`
	// Syslog also sends each line to syslog (journald reads it too):
	// "auto" (the default) uses /dev/log where it exists, "off" disables
	// it, an absolute path names another datagram socket.
	Syslog string `toml:"syslog"`
}

// syslogSocket is the socket Syslog names, "" for none.
func (l LogConfig) syslogSocket() string {
	switch l.Syslog {
	case "", "auto":
		return "/dev/log"
	case "off":
		return ""
	}
	return l.Syslog
}

// BackendConfig is one OCI runtime secshim can hand off to.
type BackendConfig struct {
	// Path is absolute, or a name looked up in PATH and the standard
	// system directories (engines call kill/delete with no PATH).
	Path string `toml:"path"`
	// Args are global flags inserted before the verb (runsc needs
	// --oci-seccomp to apply the seccomp filter secshim writes).
	Args []string `toml:"args"`
}

// builtinBackends are known without any config.
func builtinBackends() map[string]BackendConfig {
	return map[string]BackendConfig{
		"crun":  {Path: "crun"},
		"runc":  {Path: "runc"},
		"runsc": {Path: "runsc", Args: []string{"--oci-seccomp"}},
		"kata":  {Path: "kata-runtime"},
	}
}

// DefaultConfig is the configuration without a config file.
func DefaultConfig() *Config {
	return &Config{
		StateDir: "/run/secshim",
		Log:      LogConfig{File: "/var/log/secshim/secshim.log", Level: "info"},
		Backends: builtinBackends(),
		Policy: PolicyConfig{
			Profile:    hardening.DefaultProfile,
			Floor:      hardening.DefaultProfile,
			Selectable: []string{"baseline", "restricted"},
			Isolation:  map[string]string{"sandbox": "runsc", "vm": "kata"},
		},
	}
}

// LoadConfig reads the config named by SECSHIM_CONFIG, else the one at
// DefaultConfigPath, else uses the built-in default. A file that exists
// but cannot be read or parsed is an error: secshim never falls back to
// weaker defaults because of a broken file.
func LoadConfig() (*Config, error) {
	path, explicit := os.LookupEnv("SECSHIM_CONFIG")
	if !explicit || path == "" {
		path, explicit = DefaultConfigPath, false
	}
	data, err := spec.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return DefaultConfig(), nil
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a config file's content over the defaults: a key the
// file leaves out keeps its built-in value.
func ParseConfig(path string, data []byte) (*Config, error) {
	return parseConfig(path, data, decodeConfig)
}

// parseConfig is ParseConfig with the TOML decoding step given (tests
// compare decodeConfig with go-toml's reflection-based decoding).
func parseConfig(path string, data []byte, decode func(path string, data []byte, cfg *Config) error) (*Config, error) {
	cfg := DefaultConfig()
	cfg.Path = path
	cfg.Policy.Floor = "" // left out: the default profile, whichever it is
	if err := decode(path, data, cfg); err != nil {
		return nil, err
	}
	for name, b := range builtinBackends() {
		if _, ok := cfg.Backends[name]; !ok {
			cfg.Backends[name] = b
		}
	}
	for name, b := range cfg.Backends {
		if b.Path == "" {
			return nil, fmt.Errorf("config %s: backends.%s.path is empty", path, name)
		}
	}
	if cfg.DefaultBackend != "" {
		if _, ok := cfg.Backends[cfg.DefaultBackend]; !ok {
			return nil, fmt.Errorf("config %s: default_backend: unknown backend %q", path, cfg.DefaultBackend)
		}
	}
	switch cfg.Log.Level {
	case "", "info", "debug":
	default:
		return nil, fmt.Errorf("config %s: log.level: %q is not one of info, debug", path, cfg.Log.Level)
	}
	if s := cfg.Log.Syslog; s != "" && s != "auto" && s != "off" && !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("config %s: log.syslog: %q is not one of auto, off or an absolute path", path, s)
	}
	if !strings.HasPrefix(cfg.StateDir, "/") {
		return nil, fmt.Errorf("config %s: state_dir: %q is not an absolute path", path, cfg.StateDir)
	}
	if err := cfg.checkPolicy(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// profiles resolves the config's profiles.
func (c *Config) profiles() *hardening.Profiles {
	return &hardening.Profiles{User: c.Profiles}
}

// checkPolicy validates the profile selection; the profiles themselves
// are resolved (and checked) when a container uses them, and all of them
// by `secshim policy check`.
func (c *Config) checkPolicy() error {
	ps := c.profiles()
	if c.Policy.Floor == "" {
		c.Policy.Floor = c.Policy.Profile
	}
	for _, n := range append([]string{c.Policy.Profile, c.Policy.Floor}, c.Policy.Selectable...) {
		if _, err := ps.Chain(n); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	if !ps.AtLeast(c.Policy.Profile, c.Policy.Floor) {
		return fmt.Errorf("policy.profile: %q does not build on the floor %q", c.Policy.Profile, c.Policy.Floor)
	}
	if !validAttestMode(c.Policy.Attest) {
		return fmt.Errorf("policy.attest: %q is not one of enforce, audit, off", c.Policy.Attest)
	}
	for v, b := range c.Policy.Isolation {
		if _, ok := c.Backends[b]; !ok {
			return fmt.Errorf("policy.isolation.%s: unknown backend %q", v, b)
		}
	}
	return nil
}
