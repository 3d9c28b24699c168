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
