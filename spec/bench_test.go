package spec

import "testing"

var benchCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"}

// BenchmarkParseEditSerialize is the per-container-start work on a ~12 KB
// podman config: parse, a few typical policy edits, serialize.
func BenchmarkParseEditSerialize(b *testing.B) {
	data := readTestdata(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		root, err := ParseObject(data)
		if err != nil {
			b.Fatal(err)
		}
		proc, err := root.EnsureObject("process")
		if err != nil {
			b.Fatal(err)
		}
		caps, err := proc.EnsureObject("capabilities")
		if err != nil {
			b.Fatal(err)
		}
		if err := caps.SetStrings("bounding", benchCaps); err != nil {
			b.Fatal(err)
		}
		if err := proc.SetBool("noNewPrivileges", true); err != nil {
			b.Fatal(err)
		}
		linux, err := root.EnsureObject("linux")
		if err != nil {
			b.Fatal(err)
		}
		res, err := linux.EnsureObject("resources")
		if err != nil {
			b.Fatal(err)
		}
		pids, err := res.EnsureObject("pids")
		if err != nil {
			b.Fatal(err)
		}
		if err := pids.SetInt64("limit", 1024); err != nil {
			b.Fatal(err)
		}
		if out := root.Bytes(); len(out) == 0 {
			b.Fatal("empty output")
		}
	}
}

// BenchmarkParse is ParseObject alone; json.Valid dominates it.
func BenchmarkParse(b *testing.B) {
	data := readTestdata(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseObject(data); err != nil {
			b.Fatal(err)
		}
	}
}
