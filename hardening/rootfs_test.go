package hardening

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

// fsProfile resolves a built-in profile, compiled.
func fsProfile(t *testing.T, name string) *Policy {
	t.Helper()
	p, err := (&Profiles{}).Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fsApply runs one rule through the framework (so the policy's modes
// apply) and returns the resulting document.
func fsApply(t *testing.T, p *Policy, r Rule, in []byte, env Env) ([]byte, *Context, error) {
	t.Helper()
	doc, err := spec.ParseObject(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Apply(p, []Rule{r}, doc, env)
	return doc.Bytes(), c, err
}

// fsMust is fsApply that fails the test on an error, and checks that a
// second pass over its output changes nothing.
func fsMust(t *testing.T, p *Policy, r Rule, in []byte, env Env) ([]byte, *Context) {
	t.Helper()
	out, c, err := fsApply(t, p, r, in, env)
	if err != nil {
		t.Fatalf("%s: %v", r.Control, err)
	}
	again, c2, err := fsApply(t, p, r, out, env)
	if err != nil || len(c2.Changes) != 0 || string(again) != string(out) {
		t.Errorf("%s not idempotent: second pass err %v, changes %v", r.Control, err, c2.Changes)
	}
	return out, c
}

type fsMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options"`
}

func fsMounts(t *testing.T, doc []byte) []fsMount {
	t.Helper()
	var s struct{ Mounts []fsMount }
	if err := json.Unmarshal(doc, &s); err != nil {
		t.Fatal(err)
	}
	return s.Mounts
}

func fsMountAt(ms []fsMount, dest string) (int, *fsMount) {
	for i := range ms {
		if ms[i].Destination == dest {
			return i, &ms[i]
		}
	}
	return -1, nil
}

func TestRootFS(t *testing.T) {
	restricted := fsProfile(t, "restricted")
	tmpOpts := []string{"nosuid", "nodev", "noexec", "size=64m", "mode=1777"}
	runOpts := []string{"nosuid", "nodev", "noexec", "size=64m"}
	cases := []struct {
		name, in string
		// want maps a destination to the options of the tmpfs expected
		// there (nil: the spec's own mount is kept as it was).
		want map[string][]string
		// before: each destination must come before the other.
		before [][2]string
	}{
		{"bare spec", `{"root":{"path":"rootfs"}}`,
			map[string][]string{"/tmp": tmpOpts, "/run": runOpts, "/var/tmp": tmpOpts}, nil},
		{"readonly false is overridden", `{"root":{"path":"rootfs","readonly":false},"mounts":[]}`,
			map[string][]string{"/tmp": tmpOpts, "/run": runOpts, "/var/tmp": tmpOpts}, nil},
		{"existing mounts are kept", `{"root":{"path":"rootfs"},"mounts":[{"destination":"/tmp/","type":"bind","source":"/srv/tmp","options":["rbind"]},{"destination":"/run","type":"tmpfs","source":"tmpfs","options":["exec"]}]}`,
			map[string][]string{"/tmp/": nil, "/run": nil, "/var/tmp": tmpOpts}, nil},
		{"tmpfs goes before the mounts below it", `{"root":{"path":"rootfs"},"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/run/.containerenv","type":"bind","source":"/run/containers/storage/x/.containerenv","options":["bind"]},{"destination":"/var/tmp/cache","type":"bind","source":"/srv/c","options":["bind"]}]}`,
			map[string][]string{"/tmp": tmpOpts, "/run": runOpts, "/var/tmp": tmpOpts},
			[][2]string{{"/proc", "/run"}, {"/run", "/run/.containerenv"}, {"/var/tmp", "/var/tmp/cache"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := fsMust(t, restricted, rootfsControl, []byte(tc.in), Env{})
			m := decode(t, out)
			if get(m, "root", "readonly") != true || get(m, "root", "path") != "rootfs" {
				t.Errorf("root = %v", get(m, "root"))
			}
			ms := fsMounts(t, out)
			for dest, want := range tc.want {
				n := 0
				for _, mt := range ms {
					if mountPoint(mt.Destination) == mountPoint(dest) {
						n++
					}
				}
				_, mt := fsMountAt(ms, dest)
				switch {
				case n != 1 || mt == nil:
					t.Errorf("%d mounts on %s, want 1: %v", n, dest, ms)
				case want == nil:
					if !strings.Contains(tc.in, `"destination":"`+dest+`"`) {
						t.Errorf("%s: not the spec's own mount", dest)
					}
				case mt.Type != "tmpfs" || mt.Source != "tmpfs" || !reflect.DeepEqual(mt.Options, want):
					t.Errorf("%s = %+v, want tmpfs with %v", dest, *mt, want)
				}
			}
			for _, b := range tc.before {
				i, _ := fsMountAt(ms, b[0])
				j, _ := fsMountAt(ms, b[1])
				if i < 0 || j < 0 || i > j {
					t.Errorf("%s at %d, %s at %d: want the first before the second", b[0], i, b[1], j)
				}
			}
		})
	}
}

// Without read_only the rule leaves the spec alone, tmpfs list or not.
func TestRootFSWritableRootUntouched(t *testing.T) {
	in := golden(t, "podman-default.json")
	out, c, err := fsApply(t, Default(), rootfsControl, in, Env{})
	if err != nil || string(out) != string(in) || len(c.Changes) != 0 {
		t.Errorf("baseline (writable root) changed the spec: err %v, changes %v", err, c.Changes)
	}
}

func TestRootFSPodmanConfigs(t *testing.T) {
	restricted := fsProfile(t, "restricted")
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			in := golden(t, name)
			out, c := fsMust(t, restricted, rootfsControl, in, Env{})
			if get(decode(t, out), "root", "readonly") != true {
				t.Error("root not read-only")
			}
			before, after := fsMounts(t, in), fsMounts(t, out)
			for _, dest := range []string{"/tmp", "/run", "/var/tmp"} {
				i, mt := fsMountAt(after, dest)
				if mt == nil || mt.Type != "tmpfs" {
					t.Fatalf("no tmpfs on %s", dest)
				}
				if _, own := fsMountAt(before, dest); own != nil {
					if !reflect.DeepEqual(*own, *mt) {
						t.Errorf("%s: Podman's mount %+v replaced by %+v", dest, *own, *mt)
					}
					continue
				}
				for _, o := range []string{"nosuid", "nodev", "noexec", "size=64m"} {
					if !slices.Contains(mt.Options, o) {
						t.Errorf("%s: options %v lack %s", dest, mt.Options, o)
					}
				}
				for j, later := range after {
					if j < i && under(later.Destination, dest) {
						t.Errorf("%s mounted after %s, which it hides", dest, later.Destination)
					}
				}
			}
			if len(after)-len(before) != len(c.Changes)-boolInt(get(decode(t, in), "root", "readonly") != true) {
				t.Errorf("%d mounts added, changes %v", len(after)-len(before), c.Changes)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Unknown fields of the root and of every mount survive the rewrite.
func TestRootFSKeepsUnknownFields(t *testing.T) {
	in := `{"root":{"path":"rootfs","x-root":1},"mounts":[{"destination":"/data","type":"bind","source":"/srv","options":["rbind"],"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"x-m":"keep"}]}`
	out, _ := fsMust(t, fsProfile(t, "restricted"), rootfsControl, []byte(in), Env{})
	m := decode(t, out)
	if get(m, "root", "x-root") == nil {
		t.Error("root.x-root lost")
	}
	first := get(m, "mounts").([]any)[0].(map[string]any)
	if first["x-m"] != "keep" || first["uidMappings"] == nil {
		t.Errorf("mount fields lost: %v", first)
	}
}

func TestRootFSMalformed(t *testing.T) {
	cases := map[string]string{
		`{"root":{"path":"r","readonly":"yes"}}`:                               "root.readonly",
		`{"root":"rootfs"}`:                                                    "root",
		`{"root":{"path":"r"},"mounts":{}}`:                                    "mounts",
		`{"root":{"path":"r"},"mounts":["tmpfs"]}`:                             "mounts[0]",
		`{"root":{"path":"r"},"mounts":[{"destination":7}]}`:                   "mounts[0].destination",
		`{"root":{"path":"r"},"mounts":[{"destination":"/a","options":"ro"}]}`: "mounts[0].options",
	}
	for in, field := range cases {
		doc, err := spec.ParseObject([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Apply(fsProfile(t, "restricted"), []Rule{rootfsControl}, doc, Env{})
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v, want one naming %s", in, err, field)
		}
	}
}

// In deny mode a writable root refuses the container; in audit mode it is
// only reported; neither touches the spec.
func TestRootFSModes(t *testing.T) {
	in := golden(t, "podman-default.json")
	for _, mode := range []Mode{Deny, Audit} {
		p := fsProfile(t, "restricted")
		p.Modes = map[string]Mode{"rootfs": mode}
		out, c, err := fsApply(t, p, rootfsControl, in, Env{})
		if string(out) != string(in) {
			t.Errorf("%s: spec changed", mode)
		}
		var denied *DeniedError
		if mode == Deny && (!errors.As(err, &denied) || !strings.Contains(err.Error(), "rootfs: root.readonly")) {
			t.Errorf("deny: err %v", err)
		}
		if mode == Audit && (err != nil || len(c.Changes) != 4) {
			t.Errorf("audit: err %v, changes %v", err, c.Changes)
		}
	}
}

func TestRootFSValidate(t *testing.T) {
	ok := RootFSPolicy{ReadOnly: true, Tmpfs: []string{"/tmp"}, TmpfsSize: "64m", TmpfsOptions: []string{"nosuid", "mode=0700", "uid=1000", "huge=never", "nr_inodes=10k"}}
	for _, size := range []string{"64m", "1G", "1048576", "10%", "100%"} {
		r := ok
		r.TmpfsSize = size
		if err := validateRootFS(&Policy{RootFS: r}); err != nil {
			t.Errorf("size %q: %v", size, err)
		}
	}
	cases := []struct {
		edit  func(*RootFSPolicy)
		field string
	}{
		{func(r *RootFSPolicy) { r.Tmpfs = []string{"tmp"} }, "rootfs.tmpfs"},
		{func(r *RootFSPolicy) { r.Tmpfs = []string{"/tmp/"} }, "rootfs.tmpfs"},
		{func(r *RootFSPolicy) { r.Tmpfs = []string{"/"} }, "rootfs.tmpfs"},
		{func(r *RootFSPolicy) { r.Tmpfs = []string{"/tmp", "/tmp"} }, "rootfs.tmpfs"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "0" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "064m" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "64mb" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "64 m" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "150%" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsSize = "-1" }, "rootfs.tmpfs_size"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"size=1m"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"nosuid,nodev"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"mode=999"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"mode=17777"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"rshared"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"ro"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"bogus"} }, "rootfs.tmpfs_options"},
		{func(r *RootFSPolicy) { r.TmpfsOptions = []string{"uid=root"} }, "rootfs.tmpfs_options"},
	}
	for _, tc := range cases {
		r := ok
		r.Tmpfs = slices.Clone(ok.Tmpfs)
		tc.edit(&r)
		p := Policy{RootFS: r}
		err := p.Compile()
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%+v: err %v, want one naming %s", r, err, tc.field)
		}
	}
	// A writable root needs no size: the tmpfs list is not used.
	if err := validateRootFS(&Policy{RootFS: RootFSPolicy{Tmpfs: []string{"/tmp"}}}); err != nil {
		t.Errorf("writable root without size: %v", err)
	}
}
