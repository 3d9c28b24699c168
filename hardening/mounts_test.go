package hardening

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

// bindSpec is a spec with one bind mount of src.
func bindSpec(src string, opts ...string) []byte {
	if opts == nil {
		opts = []string{"rbind", "rprivate"}
	}
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = `"` + o + `"`
	}
	return []byte(`{"mounts":[{"destination":"/mnt","type":"bind","source":"` + src + `","options":[` + strings.Join(q, ",") + `]}]}`)
}

func TestMountsHostPaths(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "data"), 0o755))
	must(os.Symlink("/etc", filepath.Join(dir, "etc-link")))
	must(os.Symlink("/var/run", filepath.Join(dir, "varrun-link")))
	must(os.Symlink(filepath.Join(dir, "data"), filepath.Join(dir, "data-link")))
	must(os.Symlink("/nonexistent-target", filepath.Join(dir, "dangling")))
	state := filepath.Join(dir, "state")
	must(os.Mkdir(state, 0o700))

	cases := []struct {
		src     string
		refused bool
	}{
		{"/etc", true},
		{"/etc/passwd", true},
		{"/etc/", true},
		{"/var/../etc", true},
		{"/", true},
		{"//", true},
		{"/usr/lib/os-release", true},
		{"/run", true},                 // holds /run/podman and the runtimes' sockets
		{"/var", true},                 // holds /var/lib/containers
		{"/var/run/docker.sock", true}, // missing here: judged as written
		{"/run/docker.sock", true},     //
		{"/var/run/podman/podman.sock", true},
		{"/var/lib/containers", true},
		{"/var/lib/containers/storage", true}, // the storage root itself
		{"/var/lib/containers/storage/volumes/v1/_data", false},
		{"/run/containers/storage/overlay-containers/abc/userdata/hosts", false},
		{"/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs", false},
		{"/run/containerd/containerd.sock", true},
		{filepath.Join(dir, "data"), false},
		{filepath.Join(dir, "data-link"), false},
		{filepath.Join(dir, "data", "missing", "file"), false},
		{filepath.Join(dir, "etc-link"), true},
		{filepath.Join(dir, "etc-link", "shadow"), true},
		{filepath.Join(dir, "etc-link", "missing", "file"), true},
		{filepath.Join(dir, "data", "..", "etc-link"), true},
		{filepath.Join(dir, "varrun-link", "podman"), true},
		{filepath.Join(dir, "dangling"), true},
		{state, true},                     // secshim's own records
		{filepath.Join(state, "x"), true}, //
		{dir, true},                       // holds the state dir
		{"relative/path", true},           //
		{"", true},                        //
	}
	p := Default()
	for _, tc := range cases {
		_, c, err := fsApply(t, p, mountsControl, bindSpec(tc.src), Env{StateDir: state})
		var denied *DeniedError
		refused := errors.As(err, &denied)
		if err != nil && !refused {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if refused != tc.refused {
			t.Errorf("%q: refused = %v (%v), want %v", tc.src, refused, err, tc.refused)
		}
		if refused && (len(c.Refusals) != 1 || c.Refusals[0].Field != "mounts[0].source" || !strings.Contains(c.Refusals[0].To, "/mnt")) {
			t.Errorf("%q: refusals %v, want one on mounts[0].source naming the destination", tc.src, c.Refusals)
		}
	}
}

// Every way of asking for a bind mount is checked; other mount types'
// sources are not host paths.
func TestMountsBindDetection(t *testing.T) {
	for in, refused := range map[string]bool{
		`{"mounts":[{"destination":"/m","type":"bind","source":"/etc"}]}`:                        true,
		`{"mounts":[{"destination":"/m","type":"none","source":"/etc","options":["rbind"]}]}`:    true,
		`{"mounts":[{"destination":"/m","source":"/etc","options":["bind","ro"]}]}`:              true,
		`{"mounts":[{"destination":"/m","type":"tmpfs","source":"/etc","options":["bind"]}]}`:    true,
		`{"mounts":[{"destination":"/m","type":"tmpfs","source":"/etc","options":["nosuid"]}]}`:  false,
		`{"mounts":[{"destination":"/proc","type":"proc","source":"proc"}]}`:                     false,
		`{"mounts":[{"destination":"/m","type":"bind","source":"/srv","options":["rshared"]}]}`:  true,
		`{"mounts":[{"destination":"/m","type":"tmpfs","source":"tmpfs","options":["shared"]}]}`: true,
		`{"mounts":[{"destination":"/m","type":"tmpfs","source":"tmpfs","options":["rslave"]}]}`: false,
		`{"linux":{"rootfsPropagation":"rshared"}}`:                                              true,
		`{"linux":{"rootfsPropagation":"shared"}}`:                                               true,
		`{"linux":{"rootfsPropagation":"rprivate"}}`:                                             false,
	} {
		_, _, err := fsApply(t, Default(), mountsControl, []byte(in), Env{})
		var denied *DeniedError
		if got := errors.As(err, &denied); got != refused || (err != nil && !got) {
			t.Errorf("%s: err %v, want refused %v", in, err, refused)
		}
	}
}

// The policy's own paths count as the host resolves them too.
func TestMountsPolicyPathsResolved(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		deny, allow []string
		src         string
		refused     bool
	}{
		// Denied through a symlink, mounted by its real name.
		{[]string{filepath.Join(dir, "alias")}, nil, filepath.Join(real, "x"), true},
		{[]string{filepath.Join(dir, "alias")}, nil, filepath.Join(dir, "other"), false},
		// Allowed through a symlink, mounted by its real name.
		{[]string{dir}, []string{filepath.Join(dir, "alias")}, filepath.Join(real, "x"), false},
		{[]string{dir}, []string{filepath.Join(dir, "alias")}, filepath.Join(dir, "x"), true},
		// A deny entry inside an allowed tree wins: it is more specific.
		{[]string{dir, filepath.Join(real, "secret")}, []string{real}, filepath.Join(real, "secret", "k"), true},
		{[]string{dir, filepath.Join(real, "secret")}, []string{real}, filepath.Join(real, "public"), false},
		{[]string{dir, filepath.Join(real, "secret")}, []string{real}, real, true},
	}
	for _, tc := range cases {
		p := &Policy{Mounts: MountPolicy{DenyHostPaths: tc.deny, AllowHostPaths: tc.allow}}
		if err := p.Compile(); err != nil {
			t.Fatal(err)
		}
		_, _, err := fsApply(t, p, mountsControl, bindSpec(tc.src), Env{})
		var denied *DeniedError
		if got := errors.As(err, &denied); got != tc.refused || (err != nil && !got) {
			t.Errorf("deny %v allow %v src %s: err %v, want refused %v", tc.deny, tc.allow, tc.src, err, tc.refused)
		}
	}
}

func TestMountsOptions(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"destination":"/m","type":"bind","source":"/srv","options":["bind","rprivate"]}`, "bind,rprivate,nosuid,nodev"},
		{`{"destination":"/m","type":"bind","source":"/srv"}`, "nosuid,nodev"},
		{`{"destination":"/m","type":"bind","source":"/srv","options":["rbind","suid","dev","rsuid","ro"]}`, "rbind,ro,nosuid,nodev"},
		{`{"destination":"/m","type":"bind","source":"/srv","options":["nodev","rbind","nosuid"]}`, "nodev,rbind,nosuid"},
		{`{"destination":"/m","type":"none","source":"/srv","options":["rbind","rdev"]}`, "rbind,nosuid,nodev"},
		{`{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","rw"]}`, "nosuid,ro"},
		{`{"destination":"/sys","type":"sysfs","source":"sysfs","options":["rrw","ro"]}`, "ro"},
		{`{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["rw","relatime"]}`, "relatime,ro"},
		{`{"destination":"/sys/fs/cgroup","type":"cgroup2","source":"cgroup"}`, "ro"},
		{`{"destination":"/proc","type":"proc","source":"proc","options":["rw"]}`, "rw"},
		{`{"destination":"/t","type":"tmpfs","source":"tmpfs","options":["suid","dev"]}`, "suid,dev"},
	}
	for _, tc := range cases {
		out, _ := fsMust(t, Default(), mountsControl, []byte(`{"mounts":[`+tc.in+`]}`), Env{})
		if got := strings.Join(fsMounts(t, out)[0].Options, ","); got != tc.want {
			t.Errorf("%s: options %s, want %s", tc.in, got, tc.want)
		}
	}
}

// A policy without mount rules leaves every mount alone.
func TestMountsOffKeepsBytes(t *testing.T) {
	p := &Policy{}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{golden(t, "podman-privileged.json"), bindSpec("/etc", "rbind", "suid", "rshared")} {
		out, c, err := fsApply(t, p, mountsControl, in, Env{})
		if err != nil || string(out) != string(in) || len(c.Changes) != 0 {
			t.Errorf("changed: err %v, changes %v", err, c.Changes)
		}
	}
}

func TestMountsPodmanConfigs(t *testing.T) {
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			in := golden(t, name)
			out, c := fsMust(t, Default(), mountsControl, in, Env{StateDir: "/run/secshim"})
			if len(c.Refusals) != 0 {
				t.Fatalf("Podman's own mounts refused: %v", c.Refusals)
			}
			before := fsMounts(t, in)
			after := fsMounts(t, out)
			if len(after) != len(before) {
				t.Fatalf("%d mounts, had %d", len(after), len(before))
			}
			for i, m := range after {
				b := before[i]
				if m.Destination != b.Destination || m.Source != b.Source || m.Type != b.Type {
					t.Errorf("mount %d changed beyond its options: %+v -> %+v", i, b, m)
				}
				if m.Type == "bind" {
					for _, o := range []string{"nosuid", "nodev"} {
						if !slices.Contains(m.Options, o) {
							t.Errorf("%s: %v lacks %s", m.Destination, m.Options, o)
						}
					}
					if i := slices.IndexFunc(b.Options, func(o string) bool { return !slices.Contains(m.Options, o) }); i >= 0 {
						t.Errorf("%s: dropped %s", m.Destination, b.Options[i])
					}
				}
				if m.Type == "sysfs" || m.Type == "cgroup" {
					if !slices.Contains(m.Options, "ro") || slices.Contains(m.Options, "rw") {
						t.Errorf("%s is not read-only: %v", m.Destination, m.Options)
					}
				}
				if m.Type != "bind" && m.Type != "sysfs" && m.Type != "cgroup" && !reflect.DeepEqual(m, b) {
					t.Errorf("%s changed: %+v -> %+v", m.Destination, b, m)
				}
			}
		})
	}
	// --privileged asks for a writable /sys: the control that makes the
	// test above meaningful.
	_, sys := fsMountAt(fsMounts(t, golden(t, "podman-privileged.json")), "/sys")
	if sys == nil || !slices.Contains(sys.Options, "rw") {
		t.Errorf("golden --privileged /sys is not rw: %+v", sys)
	}
}

// Refusals hold in enforce and deny mode alike and leave the spec as it
// was; audit mode only logs them.
func TestMountsModes(t *testing.T) {
	in := bindSpec("/etc", "rbind", "suid")
	for _, mode := range []Mode{Enforce, Deny, Audit} {
		p := Default()
		p.Modes = map[string]Mode{"mounts": mode}
		out, c, err := fsApply(t, p, mountsControl, in, Env{})
		var denied *DeniedError
		switch mode {
		case Enforce, Deny:
			if !errors.As(err, &denied) || !strings.Contains(err.Error(), "mounts: mounts[0].source: /etc -> host path /etc exposes /etc") {
				t.Errorf("%s: err %v", mode, err)
			}
		case Audit:
			if err != nil || len(c.Changes) != 2 {
				t.Errorf("audit: err %v, changes %v", err, c.Changes)
			}
		}
		if mode != Enforce && string(out) != string(in) {
			t.Errorf("%s: spec changed", mode)
		}
	}
}

func TestMountsMalformed(t *testing.T) {
	for in, field := range map[string]string{
		`{"mounts":"x"}`: "mounts",
		`{"mounts":[{"destination":"/m","type":"bind","source":["/etc"]}]}`: "mounts[0].source",
		`{"mounts":[{"destination":"/m","type":1}]}`:                        "mounts[0].type",
		`{"mounts":[{"destination":"/m","options":[1]}]}`:                   "mounts[0].options",
		`{"linux":{"rootfsPropagation":1}}`:                                 "linux.rootfsPropagation",
	} {
		_, _, err := fsApply(t, Default(), mountsControl, []byte(in), Env{})
		var denied *DeniedError
		if err == nil || errors.As(err, &denied) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v, want an error naming %s", in, err, field)
		}
	}
}

func TestMountsValidate(t *testing.T) {
	for _, tc := range []struct {
		m     MountPolicy
		field string
	}{
		{MountPolicy{DenyHostPaths: []string{"etc"}}, "mounts.deny_host_paths"},
		{MountPolicy{DenyHostPaths: []string{"/etc/"}}, "mounts.deny_host_paths"},
		{MountPolicy{AllowHostPaths: []string{"/var/lib/../lib"}}, "mounts.allow_host_paths"},
		{MountPolicy{AllowHostPaths: []string{"/"}}, "mounts.allow_host_paths"},
		{MountPolicy{BindOptions: []string{"exec"}}, "mounts.bind_options"},
		{MountPolicy{BindOptions: []string{"nosuid,nodev"}}, "mounts.bind_options"},
	} {
		p := Policy{Mounts: tc.m}
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%+v: err %v, want one naming %s", tc.m, err, tc.field)
		}
	}
}

// BenchmarkMounts: the mounts rule on Podman's default config under the
// built-in policy, with Podman's own bind sources ("golden": under allowed
// engine storage) and with them moved to a work directory as bench/ does
// ("workdir": the policy's paths get resolved).
func BenchmarkMounts(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "tests", "golden", "podman-default.json"))
	if err != nil {
		b.Fatal(err)
	}
	userdata := b.TempDir()
	for _, f := range []string{"hosts", "hostname", "resolv.conf", ".containerenv"} {
		if err := os.WriteFile(filepath.Join(userdata, f), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(userdata, "shm"), 0o755); err != nil {
		b.Fatal(err)
	}
	moved := strings.ReplaceAll(string(data), "/run/containers/storage/overlay-containers/5e888a2802d7f7978d4cf10f1a681dc4bd16cd8253b2f38f96b2d55cdc71df4e/userdata", userdata)
	moved = strings.ReplaceAll(moved, "/var/lib/containers/storage/overlay-containers/5e888a2802d7f7978d4cf10f1a681dc4bd16cd8253b2f38f96b2d55cdc71df4e/userdata", userdata)
	p := Default()
	env := Env{StateDir: "/run/secshim"}
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"golden", data}, {"workdir", []byte(moved)}} {
		b.Run(tc.name, func(b *testing.B) {
			root, err := spec.ParseObject(tc.in)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c, err := Apply(p, []Rule{mountsControl}, root.Clone(), env)
				if err != nil || len(c.Refusals) != 0 {
					b.Fatal(err, c.Refusals)
				}
			}
		})
	}
}

// Context.mounts parses a document's mounts once, follows edits made
// through Context.writeMounts, and parses again when the mounts member
// was replaced any other way.
func TestContextMountsCache(t *testing.T) {
	doc := mustParse(t, []byte(`{"mounts":[{"destination":"/sys","type":"sysfs","source":"sysfs","options":["rw"]}]}`))
	c := &Context{Doc: doc}
	a, err := c.mounts()
	if err != nil || len(a) != 1 {
		t.Fatalf("mounts: %v, %v", a, err)
	}
	b, _ := c.mounts()
	if a[0].obj != b[0].obj {
		t.Errorf("parsed twice")
	}
	b[0].opts = []string{"ro"}
	if err := b[0].obj.SetStrings("options", b[0].opts); err != nil {
		t.Fatal(err)
	}
	if err := c.writeMounts(b); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.mounts(); got[0].opts[0] != "ro" {
		t.Errorf("after writeMounts: %v", got[0].opts)
	}
	if err := doc.SetArray("mounts", [][]byte{[]byte(`{"destination":"/proc","type":"proc","source":"proc"}`)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.mounts(); got[0].dest != "/proc" {
		t.Errorf("after SetArray: %+v", got[0])
	}
	// A scratch context on a clone (audit mode) parses its own.
	scratch := *c
	scratch.Doc = doc.Clone()
	got, _ := scratch.mounts()
	if mine, _ := c.mounts(); got[0].obj == mine[0].obj {
		t.Errorf("a clone shares the original's parsed mounts")
	}
}
