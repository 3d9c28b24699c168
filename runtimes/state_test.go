package runtimes

import (
	"path/filepath"
	"reflect"
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
