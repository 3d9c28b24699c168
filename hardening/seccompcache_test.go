package hardening

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secshim/secshim/spec"
)

// The disk cache changes nothing but time: cached, uncached and corrupted
// caches all give the same spec.
func TestSeccompDiskCache(t *testing.T) {
	dir := t.TempDir()
	run := func(name, stateDir string) []byte {
		t.Helper()
		doc, err := spec.ParseObject(golden(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Harden(Default(), doc, Env{StateDir: stateDir}); err != nil {
			t.Fatal(err)
		}
		return doc.Bytes()
	}
	for _, name := range []string{"podman-default.json", "podman-privileged.json", "podman-restricted-flags.json"} {
		want := run(name, "")
		if got := run(name, dir); string(got) != string(want) {
			t.Errorf("%s: first (filling) run differs from uncached", name)
		}
		if got := run(name, dir); string(got) != string(want) {
			t.Errorf("%s: cached run differs from uncached", name)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "seccomp-cache", "*"))
	if len(entries) == 0 {
		t.Fatal("nothing was cached")
	}
	for _, e := range entries {
		os.WriteFile(e, []byte("{garbage"), 0o600)
	}
	for _, name := range []string{"podman-default.json", "podman-privileged.json"} {
		if got, want := run(name, dir), run(name, ""); string(got) != string(want) {
			t.Errorf("%s: a corrupted cache changed the result", name)
		}
	}
}
