package runtimes

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/secshim/secshim/hardening"
)

func TestRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := RecordPath(dir, "/run/runc", "abc")
	want := &Record{
		Backend: Backend{Name: "runsc", Path: "/usr/bin/runsc", Args: []string{"--oci-seccomp", "--network=none"}},
		Profile: "restricted", Caps: hardening.CapSet(1<<10 | 1), NoNewPrivileges: true, RootMapped: true,
	}
	if err := SaveRecord(path, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := loadRecord(path)
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("load = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	// An ID reused (a stale record) is replaced, not refused.
	want.Backend, want.Profile = Backend{Name: "runc", Path: "/usr/sbin/runc"}, "baseline"
	if err := SaveRecord(path, want); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := loadRecord(path); !reflect.DeepEqual(got, want) {
		t.Errorf("after overwrite: %+v", got)
	}
	if RecordPath(dir, "", "abc") == path || filepath.Dir(RecordPath(dir, "/other", "abc")) == filepath.Dir(path) {
		t.Error("records of different --root values collide")
	}
	if _, ok, err := loadRecord(filepath.Join(dir, "none")); ok || err != nil {
		t.Errorf("missing record: ok %v err %v", ok, err)
	}
}

// A value from the spec (a label in the attestation promise) cannot add
// lines to the record: a record is one value a line.
func TestSaveRecordRefusesLineBreaks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "default", "c1")
	for _, r := range []*Record{
		{Backend: Backend{Name: "runc", Path: "/usr/sbin/runc"}, Attest: AttestEnforce, Promise: []string{"--selinux", "x\ncaps ffffffffffffffff"}},
		{Backend: Backend{Name: "runc", Path: "/usr/sbin/runc"}, PidFile: "/run/p\rid"},
	} {
		if err := SaveRecord(path, r); err == nil || !strings.Contains(err.Error(), "line break") {
			t.Errorf("%+v: %v", r, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("a record was written: %v", err)
		}
	}
}

func TestTombstones(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("stateRoot knows runc's and crun's layout as root only")
	}
	dir := filepath.Join(t.TempDir(), "default")
	backendRoot := t.TempDir() // the backend's --root
	runc := Backend{Name: "runc", Path: "/usr/sbin/runc"}
	save := func(id string) string {
		p := filepath.Join(dir, id)
		if err := SaveRecord(p, &Record{Backend: runc, Profile: "restricted"}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A container whose state directory is not where runc's layout puts
	// it (a wrapper named runc, with a root of its own) is deleted as a
	// child: the sweep could not tell when it is gone.
	a := save("a")
	if done, err := tombstone(t.TempDir(), backendRoot, a, &runc, "a"); done || err != nil {
		t.Fatalf("tombstoned without ROOT/ID: %v %v", done, err)
	}
	if _, err := os.Stat(a); err != nil {
		t.Fatalf("the record is gone: %v", err)
	}
	// A delete makes the record a tombstone, which still serves as the
	// record.
	os.MkdirAll(filepath.Join(backendRoot, "a"), 0o700)
	if done, err := tombstone(t.TempDir(), backendRoot, a, &runc, "a"); !done || err != nil {
		t.Fatalf("tombstone: %v %v", done, err)
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("the record is still live: %v", err)
	}
	if rec, ok, err := loadRecord(a); err != nil || !ok || rec.Profile != "restricted" {
		t.Errorf("tombstone not read: %+v %v %v", rec, ok, err)
	}
	// A delete tried again finds it a tombstone already.
	if done, err := tombstone(t.TempDir(), backendRoot, a, &runc, "a"); !done || err != nil {
		t.Errorf("second delete: %v %v", done, err)
	}
	// Creating the ID again replaces it.
	save("a")
	if _, err := os.Stat(tombPath(a)); !os.IsNotExist(err) {
		t.Errorf("tombstone kept after the ID was created again: %v", err)
	}
	// The sweep removes tombstones of containers the backend no longer
	// has, keeps those it has, and never its caller's own.
	for _, id := range []string{"gone", "alive", "self"} {
		p := save(id)
		os.Rename(p, tombPath(p))
	}
	os.MkdirAll(filepath.Join(backendRoot, "alive"), 0o700)
	sweepTombstones(dir, backendRoot, "self")
	for id, want := range map[string]bool{"gone": false, "alive": true, "self": true} {
		_, err := os.Stat(tombPath(filepath.Join(dir, id)))
		if (err == nil) != want {
			t.Errorf("%s: tombstone present %v, want %v", id, err == nil, want)
		}
	}
	// Where a pair table exists, or the backend's layout is unknown,
	// delete must run the backend as a child.
	mcsDir := t.TempDir()
	os.WriteFile(filepath.Join(mcsDir, "selinux-mcs"), nil, 0o600)
	if done, _ := tombstone(mcsDir, backendRoot, save("b"), &runc, "b"); done {
		t.Error("tombstoned with an SELinux pair table")
	}
	if done, _ := tombstone(t.TempDir(), "", save("c"), &Backend{Path: "/usr/bin/runsc"}, "c"); done {
		t.Error("tombstoned on runsc")
	}
}

func TestStateRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, c := range []struct {
		b    Backend
		root string
		want string
	}{
		{Backend{Path: "/usr/sbin/runc"}, "", "/run/runc"},
		{Backend{Path: "/usr/bin/crun"}, "", "/run/crun"},
		{Backend{Path: "/usr/sbin/runc"}, "/run/x", "/run/x"},
		{Backend{Path: "/usr/bin/runsc"}, "", ""},
		{Backend{Path: "/opt/wrapper"}, "", ""},
		{Backend{Path: "/usr/sbin/runc", Args: []string{"--root=/elsewhere"}}, "", ""},
		{Backend{Path: "/usr/sbin/runc", Args: []string{"--rootless", "true"}}, "", ""},
	} {
		if got := c.b.stateRoot(c.root); got != c.want {
			t.Errorf("%+v root %q: %q, want %q", c.b, c.root, got, c.want)
		}
	}
}
