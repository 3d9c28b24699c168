package hardening

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPathsPodmanConfigs(t *testing.T) {
	p := Default()
	for _, name := range goldens {
		t.Run(name, func(t *testing.T) {
			in := golden(t, name)
			out, _ := fsMust(t, p, pathsControl, in, Env{})
			before, after := decode(t, in), decode(t, out)
			for _, l := range []struct {
				key  string
				want []string
			}{{"maskedPaths", p.Paths.Masked}, {"readonlyPaths", p.Paths.ReadOnly}} {
				engine := strs(get(before, "linux", l.key))
				got := strs(get(after, "linux", l.key))
				if !reflect.DeepEqual(got[:len(engine)], engine) {
					t.Errorf("%s: the engine's entries changed: %v -> %v", l.key, engine, got)
				}
				for _, w := range l.want {
					if n := countOf(got, w); n != 1 {
						t.Errorf("%s holds %s %d times", l.key, w, n)
					}
				}
			}
		})
	}
	// --privileged sends neither list: the control for the test above.
	if m := decode(t, golden(t, "podman-privileged.json")); get(m, "linux", "maskedPaths") != nil || get(m, "linux", "readonlyPaths") != nil {
		t.Error("golden --privileged config has masked or read-only paths")
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestPaths(t *testing.T) {
	cases := []struct{ in, masked, readonly string }{
		{`{}`, "/proc/kcore,/sys/firmware", "/proc/sys"},
		{`{"linux":{"maskedPaths":null}}`, "/proc/kcore,/sys/firmware", "/proc/sys"},
		{`{"linux":{"maskedPaths":["/proc/x","/proc/kcore/"],"readonlyPaths":[]}}`, "/proc/x,/proc/kcore/,/sys/firmware", "/proc/sys"},
		{`{"linux":{"maskedPaths":["/sys/firmware","/proc/kcore"],"readonlyPaths":["/proc/sys","/proc/bus"]}}`, "/sys/firmware,/proc/kcore", "/proc/sys,/proc/bus"},
	}
	p := &Policy{Paths: PathPolicy{Masked: []string{"/proc/kcore", "/sys/firmware"}, ReadOnly: []string{"/proc/sys"}}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		out, c := fsMust(t, p, pathsControl, []byte(tc.in), Env{})
		m := decode(t, out)
		if got := strings.Join(strs(get(m, "linux", "maskedPaths")), ","); got != tc.masked {
			t.Errorf("%s: maskedPaths %s, want %s", tc.in, got, tc.masked)
		}
		if got := strings.Join(strs(get(m, "linux", "readonlyPaths")), ","); got != tc.readonly {
			t.Errorf("%s: readonlyPaths %s, want %s", tc.in, got, tc.readonly)
		}
		if changed := out != nil && string(out) != tc.in; changed != (len(c.Changes) > 0) {
			t.Errorf("%s: changes %v do not match the edit", tc.in, c.Changes)
		}
	}
}

func TestPathsMalformedAndModes(t *testing.T) {
	for in, field := range map[string]string{
		`{"linux":{"maskedPaths":"/proc/kcore"}}`: "linux.maskedPaths",
		`{"linux":{"readonlyPaths":[1]}}`:         "linux.readonlyPaths",
		`{"linux":[]}`:                            "linux",
	} {
		if _, _, err := fsApply(t, Default(), pathsControl, []byte(in), Env{}); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err %v, want one naming %s", in, err, field)
		}
	}
	p := Default()
	p.Modes = map[string]Mode{"paths": Deny}
	in := golden(t, "podman-privileged.json")
	out, _, err := fsApply(t, p, pathsControl, in, Env{})
	if err == nil || !strings.Contains(err.Error(), "paths: linux.maskedPaths") || string(out) != string(in) {
		t.Errorf("deny: err %v, spec changed %v", err, string(out) != string(in))
	}
}

func TestPathsValidate(t *testing.T) {
	for _, pp := range []PathPolicy{
		{Masked: []string{"proc/kcore"}},
		{Masked: []string{"/proc/kcore/"}},
		{ReadOnly: []string{"/"}},
		{ReadOnly: []string{"/proc/../etc"}},
	} {
		p := Policy{Paths: pp}
		err := p.Compile()
		field := "paths.masked:"
		if pp.ReadOnly != nil {
			field = "paths.read_only:"
		}
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%+v: err %v, want one naming %s", pp, err, field)
		}
	}
	if !slices.Contains(Default().Paths.Masked, "/proc/kcore") || !slices.Contains(Default().Paths.ReadOnly, "/proc/sys") {
		t.Error("baseline lost /proc/kcore or /proc/sys")
	}
}
