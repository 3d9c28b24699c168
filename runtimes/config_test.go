package runtimes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

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
		sel, err := cfg.Select(doc(t, tc.ann))
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
		if sel.Floor != nil {
			floor = sel.Floor.Name
		}
		if sel.Profile.Name != tc.profile || floor != tc.floor || sel.Backend != tc.backend {
			t.Errorf("%s: got profile %s floor %s backend %s", tc.ann, sel.Profile.Name, floor, sel.Backend)
		}
	}
	web, _ := cfg.profiles().Resolve("web")
	if web.Pids.Max != 100 || web.Pids.Default != 50 || web.Memory.Default != 512<<20 || !web.User.NonRoot {
		t.Errorf("web does not extend restricted key by key: %+v", web)
	}
}

// Without any config file the built-in configuration must work as it is.
func TestBuiltinConfigSelects(t *testing.T) {
	sel, err := DefaultConfig().Select(doc(t, ``))
	if err != nil || sel.Profile.Name != "baseline" || sel.Floor != nil {
		t.Fatalf("selectFor = %+v, %v", sel, err)
	}
	if _, err := DefaultConfig().Select(doc(t, `"io.secshim.profile":"restricted"`)); err != nil {
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
		qc, ok := readQuickConfig()
		got := ""
		if ok {
			got, ok = qc.stateDir()
		}
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("%q: state dir %q, want %q", content, got, want)
		}
	}
}

// decodeConfigReflect is how ParseConfig decoded the file before
// decodeConfig: go-toml's reflection-based decoder, strict.
func decodeConfigReflect(path string, data []byte, cfg *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) {
			msgs := make([]string, len(strict.Errors))
			for i, e := range strict.Errors {
				row, _ := e.Position()
				msgs[i] = fmt.Sprintf("line %d: unknown key %s", row, strings.Join(e.Key(), "."))
			}
			return fmt.Errorf("config %s: %s", path, strings.Join(msgs, "; "))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return fmt.Errorf("config %s:%d:%d: %s", path, row, col, de.Error())
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// errLine is the line an error of ParseConfig points at ("config
// PATH:LINE:COL: ..." or "config PATH: line LINE: ..."), "" if none.
func errLine(path string, err error) string {
	m := regexp.MustCompile(`^config ` + regexp.QuoteMeta(path) + `(?::(\d+):\d+:|: line (\d+):)`).FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// configCorpus are the TOML documents the decoders are compared on.
func configCorpus(t *testing.T) map[string][]byte {
	docs := map[string][]byte{}
	files, _ := filepath.Glob("../tests/policies/*.toml")
	if len(files) < 10 {
		t.Fatalf("found %d policies", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = b
	}
	b, err := os.ReadFile("../packaging/secshim.toml")
	if err != nil {
		t.Fatal(err)
	}
	docs["secshim.toml"] = bytes.ReplaceAll(b, []byte("@DEFAULT_BACKEND@"), []byte("runc"))
	for i, s := range configCases {
		docs[fmt.Sprintf("case%02d.toml", i)] = []byte(s)
	}
	return docs
}

// configCases are the corners of TOML and of Config's decoding.
var configCases = []string{
	"",
	"# only a comment\n",
	"default_backend = \"runc\"\nstate_dir = '/lit'\n",
	"log.level = \"debug\"\n",
	"log.fil = \"x\"\n",
	"log = { file = \"/x\" }\n",
	"log = { fil = \"x\", file = \"y\" }\n",
	"log = { file = \"a\", file = \"b\" }\n",
	"[log]\nfile = \"\"\n",
	"[log]\nx.y = 1\nz = { a = 1 }\n",
	"[log.x]\na = 1\n",
	"[log]\nfile = { a = 1 }\n",
	"[log.file]\n",
	"[foo]\na = 1\nb = 2\n[foo.bar]\n",
	"[[foo]]\na = 1\n[[foo]]\na = 1\n",
	"[foo]\na = 1\na = 2\n",
	"foo = 1\ndefault_backend = 2\n",
	"default_backend = 1\n",
	"default_backend = \"runc\"\ndefault_backend = \"runc\"\n",
	"default_backend.x = \"runc\"\n",
	"[default_backend]\n",
	"state_dir = 1979-05-27\n",
	"[backends.runsc]\npath = \"/x/runsc\"\n",
	"[backends.new]\npath = \"/x\"\nargs = [\"a\", 'b']\n",
	"[backends.new]\n",
	"[backends]\nrunsc = { path = \"x\" }\n",
	"backends.runsc.path = \"x\"\n",
	"backends = { runc = { path = \"/r\" } }\n",
	"backends = {}\n",
	"[backends]\nx = 1\n",
	"[[backends]]\n",
	"[[backends.x]]\npath = \"a\"\n",
	"[backends.x]\npath = [\"x\"]\n",
	"[backends.x]\npath = \"x\"\nargs = [\"a\", [\"b\"]]\n",
	"[backends.x]\npath = \"x\"\nargs = \"a\"\n",
	"[backends.x]\npath = \"x\"\nfoo.bar = 1\n",
	"[backends.x.y]\na = 1\n",
	"[backends.x.path]\n",
	"[policy]\nselectable = [\"restricted\"]\n",
	"[policy]\nselectable = []\n",
	"[policy]\nselectable = [1]\n",
	"[policy]\nselectable = [\n  \"baseline\", # a comment\n  \"restricted\",\n]\n",
	"[policy]\n[policy]\n",
	"[[policy]]\n",
	"policy = 3\n",
	"policy = { profile = \"restricted\" }\n",
	"policy = { isolation.vm = \"runc\" }\n",
	"[policy]\nprofile = \"restricted\"\nfoo.bar = 1\nbaz = { a = 1 }\n[policy.x]\n",
	"policy.selectable = [\"baseline\"]\npolicy.selectable = [\"baseline\"]\n",
	"[policy.isolation]\nfoo = \"runc\"\n",
	"[policy.isolation]\nfoo = 1\n",
	"[policy.isolation.x]\na = 1\n",
	"[policy]\nisolation = {}\n",
	"[policy]\nisolation = { sandbox = \"runc\" }\n",
	"[policy.isolation]\nsandbox = \"runc\"\n[policy]\nisolation.vm = \"runc\"\n",
	"[policy]\nisolation.vm = \"runc\"\n[policy.isolation]\nsandbox = \"runc\"\n",
	"[policy]\nisolation = { vm = \"runc\" }\n[policy.isolation]\nsandbox = \"runc\"\n",
	"[policy]\n\"profile\" = \"restricted\"\n'floor' = \"baseline\"\n",
	"[ policy . isolation ]\nvm = \"runc\"\n",
	"[policy]\nprofile = \"\"\"restricted\"\"\"\nfloor = '''baseline'''\n",
	"[policy]\nprofile = \"restr\\u0069cted\"\n",
	"[policy]\nprofile = \"restricted\"\nfloor =\n",
	"[policy\n",
	"a = [1, { b = 1, b = 2 }]\n",
	"[profiles]\nx = 1\n",
	"[profiles.x]\nextends = \"baseline\"\na = 1\nb = 1.5\nc = 1979-05-27\nd = 1979-05-27T07:32:00Z\ne = [1, \"a\"]\nf = { g = 1 }\nh = 07:32:00\ni = 1979-05-27T07:32:00\nj = 0x1f\nk = inf\n[[profiles.x.arr]]\nz = 1\n[[profiles.x.arr]]\nz = 2\n",
	"[profiles.x]\na = 1\na = 2\n",
	"profiles.web.extends = \"restricted\"\n",
	"profiles = { web = { extends = \"restricted\" } }\n",
	"[profiles]\n",
	"[profiles.web]\nextends = \"restricted\"\n[policy]\nselectable = 3\n",
	"[policy]\nselectable = 3\n[profiles.web]\nextends = 3\nx = [\n",
	"[profiles.web]\nextends = \"restricted\"\n[log]\nfil = \"x\"\n",
}

// The hand-written decoder decodes every config exactly as go-toml's
// reflection-based decoding did: the same Config, or both an error, at the
// same line; unknown keys and syntax errors word for word.
func TestDecodeConfigMatchesGoTOML(t *testing.T) {
	for name, data := range configCorpus(t) {
		got, gotErr := ParseConfig(name, data)
		want, wantErr := parseConfig(name, data, decodeConfigReflect)
		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Errorf("%s: err %v, go-toml: %v\n%s", name, gotErr, wantErr, data)
		case gotErr != nil:
			// go-toml places some errors at 1:1, for want of a position.
			if errLine(name, gotErr) != errLine(name, wantErr) && !strings.HasPrefix(wantErr.Error(), "config "+name+":1:1:") {
				t.Errorf("%s: err %v, go-toml: %v (not the same line)\n%s", name, gotErr, wantErr, data)
			}
			if strings.Contains(wantErr.Error(), "unknown key") || !strings.Contains(wantErr.Error(), "cannot ") {
				if gotErr.Error() != wantErr.Error() {
					t.Errorf("%s: err\n  %v\ngo-toml:\n  %v", name, gotErr, wantErr)
				}
			}
		case !reflect.DeepEqual(got, want):
			t.Errorf("%s: config\n  %#v\ngo-toml:\n  %#v", name, got, want)
		}
	}
}

// BenchmarkDecodeConfig: the TOML decoding step alone, hand-written
// against go-toml's reflection-based decoding, on a config without user
// profiles (the common case) and on the packaged one.
func BenchmarkDecodeConfig(b *testing.B) {
	pkg, err := os.ReadFile("../packaging/secshim.toml")
	if err != nil {
		b.Fatal(err)
	}
	docs := map[string][]byte{
		"small":    []byte("default_backend = \"runc\"\nstate_dir = \"/run/x\"\n[log]\nfile = \"/var/log/x\"\n\n[policy]\nprofile = \"baseline\"\n"),
		"packaged": bytes.ReplaceAll(pkg, []byte("@DEFAULT_BACKEND@"), []byte("runc")),
	}
	for name, data := range docs {
		for dname, decode := range map[string]func(string, []byte, *Config) error{"unstable": decodeConfig, "reflect": decodeConfigReflect} {
			b.Run(name+"/"+dname, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := decode("c.toml", data, DefaultConfig()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
