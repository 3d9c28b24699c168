package runtimes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

func TestPackagedConfigParses(t *testing.T) {
	b, err := os.ReadFile("../packaging/secshim.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("secshim.toml", []byte(strings.ReplaceAll(string(b), "@DEFAULT_BACKEND@", "runc")))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cfg.profiles().Names() {
		if _, err := cfg.profiles().Resolve(n); err != nil {
			t.Errorf("profile %s: %v", n, err)
		}
	}
	if cfg.DefaultBackend != "runc" || cfg.Policy.Profile != "baseline" || cfg.Backends["runsc"].Args[0] != "--oci-seccomp" {
		t.Errorf("unexpected config: %+v", cfg)
	}
}

func TestLoadConfigSources(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SECSHIM_CONFIG", filepath.Join(dir, "missing.toml"))
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("an explicitly named missing config must be an error, got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "ok.toml"), []byte("default_backend = \"runc\"\n"), 0o644)
	t.Setenv("SECSHIM_CONFIG", filepath.Join(dir, "ok.toml"))
	cfg, err := LoadConfig()
	if err != nil || cfg.DefaultBackend != "runc" || cfg.Policy.Profile != "baseline" {
		t.Errorf("LoadConfig = %+v, %v", cfg, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for cfg, want := range map[string]string{
		"[policy]\nprofile = \"nope\"":                                 "no profile \"nope\"",
		"[policy]\nprofile = \"privileged\"\nfloor = \"baseline\"":     "does not build on the floor",
		"[policy.isolation]\nsandbox = \"gvisor\"":                     "unknown backend \"gvisor\"",
		"[profiles.a]\nextends = \"b\"\n[profiles.b]\nextends = \"a\"": "", // cycles show when used
		"[log]\nlevel = \"loud\"":                                      "log.level",
		"state_dir = \"run/secshim\"":                                  "state_dir",
		"[backends.x]\nargs = []":                                      "backends.x.path",
	} {
		_, err := ParseConfig("c.toml", []byte(cfg))
		if want == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", cfg, err, want)
		}
	}
}

func doc(t *testing.T, annotations string) *spec.Object {
	t.Helper()
	o, err := spec.ParseObject([]byte(`{"annotations":{` + annotations + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSelectFor(t *testing.T) {
	cfg, err := ParseConfig("c.toml", []byte(`
[policy]
selectable = ["baseline", "restricted", "web", "privileged"]
[profiles.web]
extends = "restricted"
backend = "runsc"
[profiles.web.pids]
default = 50
max = 100
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ann, profile, floor, backend, err string
	}{
		{``, "baseline", "", "", ""},
		{`"io.secshim.profile":"restricted"`, "restricted", "baseline", "", ""},
		{`"io.secshim.profile":"web"`, "web", "baseline", "runsc", ""},
		{`"io.secshim.profile":"privileged"`, "privileged", "baseline", "", ""},
		{`"io.secshim.profile":"web","io.secshim.isolation":"vm"`, "web", "baseline", "kata", ""},
		{`"io.secshim.profile":"mine"`, "", "", "", "not selectable"},
		{`"io.secshim.isolation":"cloud"`, "", "", "", "unknown isolation"},
	}
	for _, tc := range cases {
		sel, err := cfg.selectFor(doc(t, tc.ann))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.ann, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.ann, err)
			continue
		}
		floor := ""
		if sel.floor != nil {
			floor = sel.floor.Name
		}
		if sel.profile.Name != tc.profile || floor != tc.floor || sel.backend != tc.backend {
			t.Errorf("%s: got profile %s floor %s backend %s", tc.ann, sel.profile.Name, floor, sel.backend)
		}
	}
	web, _ := cfg.profiles().Resolve("web")
	if web.Pids.Max != 100 || web.Pids.Default != 50 || web.Memory.Default != 512<<20 || !web.User.NonRoot {
		t.Errorf("web does not extend restricted key by key: %+v", web)
	}
}

// Without any config file the built-in configuration must work as it is.
func TestBuiltinConfigSelects(t *testing.T) {
	sel, err := DefaultConfig().selectFor(doc(t, ``))
	if err != nil || sel.profile.Name != "baseline" || sel.floor != nil {
		t.Fatalf("selectFor = %+v, %v", sel, err)
	}
	if _, err := DefaultConfig().selectFor(doc(t, `"io.secshim.profile":"restricted"`)); err != nil {
		t.Fatal(err)
	}
}

func TestQuickStateDir(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"default_backend = \"runc\"\n":                       "/run/secshim",
		"state_dir = \"/var/run/x\"\n[log]\nfile = \"/y\"\n": "/var/run/x",
		"state_dir = '/lit'\n":                               "/lit",
		"[log]\nstate_dir = \"/not-top-level\"\n":            "/run/secshim",
		"state_dir = \"/x\" # a comment\n":                   "", // not understood: full path
		"state_dir = \"/x\"\n[log]\nlevel = \"debug\"\n":     "", // debug logs pass-through verbs
		"state_dir = \"relative\"\n":                         "",
		"state_dir = \"/with\\\\escape\"\n":                  "",
	} {
		path := filepath.Join(dir, "c.toml")
		os.WriteFile(path, []byte(content), 0o644)
		t.Setenv("SECSHIM_CONFIG", path)
		got, ok := quickStateDir()
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("%q: state dir %q, want %q", content, got, want)
		}
	}
}
