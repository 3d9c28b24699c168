package hardening

import (
	"bytes"
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

// A damaged entry that still looks like JSON (one byte changed inside
// the profile) is a miss too: the seal catches it, so a profile
// from the cache can go into the spec unscanned.
func TestSeccompDiskCacheSeal(t *testing.T) {
	dir := t.TempDir()
	harden := func(stateDir string) []byte {
		t.Helper()
		doc, err := spec.ParseObject(golden(t, "podman-default.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Harden(Default(), doc, Env{StateDir: stateDir}); err != nil {
			t.Fatal(err)
		}
		return doc.Bytes()
	}
	want := harden("")
	harden(dir)
	entries, _ := filepath.Glob(filepath.Join(dir, "seccomp-cache", "*"))
	if len(entries) == 0 {
		t.Fatal("nothing was cached")
	}
	for _, e := range entries {
		b, _ := os.ReadFile(e)
		if _, ok := unseal(b); !ok {
			t.Fatalf("%s: not sealed: %.60q", e, b)
		}
		i := bytes.Index(b, []byte("SCMP_ACT_ERRNO"))
		if i < 0 {
			continue // a "keep" verdict
		}
		b[i] = 'X'
		os.WriteFile(e, b, 0o600)
		if _, ok := unseal(b); ok {
			t.Errorf("%s: a changed byte passed the seal", e)
		}
	}
	if got := harden(dir); !bytes.Equal(got, want) {
		t.Errorf("a damaged cache entry changed the spec")
	}
	for _, b := range [][]byte{nil, []byte("secshim-cache2 3 0\n{}"), seal([]byte("{}"))[:10], append(seal([]byte("{}")), ' ')} {
		if _, ok := unseal(b); ok {
			t.Errorf("unseal accepted %q", b)
		}
	}
}
