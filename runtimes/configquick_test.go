package runtimes

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// quickCases are the corners of quickDecode's subset of TOML, added to the
// config corpus.
var quickCases = []string{
	"default_backend=\"runc\"#c\nstate_dir\t=\t'/s' # c\n",
	"[backends.x]\n[backends.x]\n",
	"[backends.x]\npath = \"/x\"\nargs = []\n",
	"[backends.x]\npath = \"/x\"\nargs = [\"a\",\"b\" , 'c']\n",
	"[backends.x]\npath = \"/x\"\nargs = [\"a\",]\n",
	"[backends.x]\npath = \"/x\"\nargs = [\"a\" \"b\"]\n",
	"[backends]\n[backends.x]\npath = \"/x\"\n",
	"[backends.x]\npath = \"/x\"\n[backends]\n",
	"[policy]\nprofile = 'a\\'\n",
	"[policy]\nprofile = \"a\\\"b\"\n",
	"[policy]\nprofile = \"\"\n",
	"[policy]\nprofile = \"a\" \"b\"\n",
	"[policy]\nprofile = \"restricted\"\nprofile = \"baseline\"\n",
	"[policy.isolation]\nsandbox = \"runc\"\n[policy]\nprofile = \"restricted\"\n",
	"[policy.isolation.x]\n",
	"[log]\nfile = \"/x\"\r\nlevel = \"debug\"\n",
	"[log]\nfile = \"/x\u00e9\"\n",
	"[log]\nfile = \"/x\"\n[log]\n",
	"state_dir = \"/s\"\n[log]\nfile = \"/x\"\nstate_dir = \"/t\"\n",
	"[log]]\n",
	"[]\n",
	"[\n",
	"= \"x\"\n",
	"state_dir\n",
	"state_dir = \n",
	"state_dir = [\"/s\"]\n",
	"[policy]\nselectable = \"baseline\"\n",
	"[policy]\nselectable = [\"baseline\", [\"x\"]]\n",
	"  [log]  # indented\n\tfile = \"/x\"\n",
	"[log]\nfile = \"/x\"", // no final newline
	"[backends.crun]\nargs = [\"--debug\"]\n",
}

// quickCorpus is the config corpus with quickCases.
func quickCorpus(t testing.TB) [][]byte {
	var docs [][]byte
	if tt, ok := t.(*testing.T); ok {
		for _, d := range configCorpus(tt) {
			docs = append(docs, d)
		}
	}
	for _, s := range quickCases {
		docs = append(docs, []byte(s))
	}
	return docs
}

// checkQuick: a document quickDecode takes decodes to what the full
// decoder makes of it, and one it refuses leaves the config untouched.
func checkQuick(t testing.TB, data []byte) {
	t.Helper()
	got := DefaultConfig()
	if !quickDecode(data, got) {
		if !reflect.DeepEqual(got, DefaultConfig()) {
			t.Errorf("refused, but changed the config: %q", data)
		}
		return
	}
	want := DefaultConfig()
	if err := decodeConfigFull("c.toml", data, want); err != nil {
		t.Errorf("taken, but the full decoder says %v: %q", err, data)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q:\n quick %#v\n full  %#v", data, got, want)
	}
}

func TestQuickDecodeMatchesFull(t *testing.T) {
	for _, d := range quickCorpus(t) {
		checkQuick(t, d)
	}
}

// The configs secshim is deployed with take the quick path.
func TestQuickDecodeTakesCommonConfigs(t *testing.T) {
	pkg, err := os.ReadFile("../packaging/secshim.toml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"packaged": bytes.ReplaceAll(pkg, []byte("@DEFAULT_BACKEND@"), []byte("runc")),
		"bench":    []byte("# bench config\ndefault_backend = \"probe\"\nstate_dir = \"/var/tmp/s\"\n[log]\nfile = \"/var/tmp/d.log\"\n[backends.probe]\npath = \"/var/tmp/exit0\"\n\n[policy]\nprofile = \"baseline\"\nattest = \"off\"\n"),
		"indented": []byte("[policy]\n  profile = \"restricted\"   # tighter\n  selectable = [ \"baseline\", \"restricted\" ]\n"),
	} {
		if !quickDecode(data, DefaultConfig()) {
			t.Errorf("%s: not taken by quickDecode", name)
		}
		checkQuick(t, data)
	}
}

func FuzzQuickDecode(f *testing.F) {
	for _, s := range quickCases {
		f.Add([]byte(s))
	}
	f.Add([]byte("default_backend = \"runc\"\n[log]\nfile = \"/x\"\n[backends.x]\npath = \"/x\"\nargs = [\"a\"]\n[policy]\nselectable = []\n[policy.isolation]\nvm = \"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkQuick(t, data)
	})
}
