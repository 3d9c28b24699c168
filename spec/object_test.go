package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func readTestdata(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/podman-default.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, s string) *Object {
	t.Helper()
	o, err := ParseObject([]byte(s))
	if err != nil {
		t.Fatalf("ParseObject(%q): %v", s, err)
	}
	return o
}

// path walks (without creating) nested objects.
func path(t testing.TB, o *Object, keys ...string) *Object {
	t.Helper()
	for _, k := range keys {
		c, ok, err := o.Object(k)
		if err != nil || !ok {
			t.Fatalf("Object(%q) = %v, %v", k, ok, err)
		}
		o = c
	}
	return o
}

func decode(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("encoding/json cannot decode output: %v\n%s", err, data)
	}
	return m
}

// jsonEqual fails unless got decodes (with encoding/json) to want.
func jsonEqual(t testing.TB, got []byte, want map[string]any) {
	t.Helper()
	if m := decode(t, got); !reflect.DeepEqual(m, want) {
		w, _ := json.Marshal(want)
		t.Fatalf("JSON mismatch\n got: %s\nwant: %s", got, w)
	}
}

func TestRoundTripUnchanged(t *testing.T) {
	tests := map[string]string{
		"podman":      string(readTestdata(t)),
		"empty":       `{}`,
		"spaces":      " \t\r\n{ \"a\" : [ 1 , 2 ] ,\n\"b\":{ } }\n\n",
		"escapes":     `{"a\"b":"\\\u00e9\ud83d\ude00\n","\u0063":null}`,
		"unicode":     `{"grüße":"☃","x":[true,false,null,-1.5e+3]}`,
		"deep":        `{"a":{"b":{"c":{"d":[{"e":{}}]}}}}`,
		"bracketstr":  `{"a":"}]{[\"","b":{"c":"\\"}}`,
		"emptyString": `{"":""}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			o := mustParse(t, in)
			if got := o.Bytes(); string(got) != in {
				t.Fatalf("Bytes() changed the document:\n got %q\nwant %q", got, in)
			}
			// Reading, including parsing every child object, is not a change.
			var walk func(*Object)
			walk = func(o *Object) {
				for _, k := range o.Keys() {
					if c, ok, err := o.Object(k); err == nil && ok {
						walk(c)
					}
					o.Raw(k)
				}
			}
			walk(o)
			if o.Changed() {
				t.Fatal("Changed() after reads only")
			}
			if got := o.Bytes(); string(got) != in {
				t.Fatalf("Bytes() after reads changed the document:\n got %q\nwant %q", got, in)
			}
			if got := o.Clone().Bytes(); string(got) != in {
				t.Fatalf("Clone().Bytes() = %q", got)
			}
		})
	}
}

func TestNoOpSetIsNotAChange(t *testing.T) {
	data := readTestdata(t)
	o := mustParse(t, string(data))
	proc := path(t, o, "process")
	steps := []func() error{
		func() error { return proc.SetBool("terminal", true) },
		func() error { return proc.SetString("cwd", "/") },
		func() error { return proc.SetInt64("oomScoreAdj", 0) },
		func() error { return proc.Set("cwd", []byte(` "/" `)) },
		// Pretty-printed in the file, compared by value.
		func() error { return path(t, proc, "capabilities").SetStrings("inheritable", nil) },
		func() error {
			return path(t, proc, "capabilities").SetStrings("ambient", []string{})
		},
		func() error {
			return proc.SetStrings("args", []string{"/bin/sh", "-c", "echo \"hello\\tworld\" && exec sleep infinity"})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if o.Changed() {
			t.Fatalf("step %d: setting the existing value counted as a change", i)
		}
	}
	if !bytes.Equal(o.Bytes(), data) {
		t.Fatal("document changed")
	}
	if err := proc.SetStrings("args", []string{"/bin/sh", "-c"}); err != nil {
		t.Fatal(err)
	}
	if !o.Changed() {
		t.Fatal("a shorter args array did not count as a change")
	}
}

func TestEditNested(t *testing.T) {
	data := readTestdata(t)
	want := decode(t, data)
	o, err := ParseObject(data)
	if err != nil {
		t.Fatal(err)
	}

	proc := path(t, o, "process")
	caps := path(t, proc, "capabilities")
	for _, set := range []string{"bounding", "effective", "permitted"} {
		if err := caps.SetStrings(set, []string{"CAP_CHOWN", "CAP_KILL"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := proc.SetBool("noNewPrivileges", true); err != nil {
		t.Fatal(err)
	}
	proc.Delete("apparmorProfile")
	if err := proc.SetString("cwd", "/tmp/\"quoted\"\n"); err != nil {
		t.Fatal(err)
	}
	pids, err := path(t, o, "linux", "resources").EnsureObject("pids")
	if err != nil {
		t.Fatal(err)
	}
	if err := pids.SetInt64("limit", 100); err != nil {
		t.Fatal(err)
	}
	if err := o.Set("hostname", []byte(" \"h\" ")); err != nil {
		t.Fatal(err)
	}

	wp := want["process"].(map[string]any)
	wc := wp["capabilities"].(map[string]any)
	for _, set := range []string{"bounding", "effective", "permitted"} {
		wc[set] = []any{"CAP_CHOWN", "CAP_KILL"}
	}
	wp["noNewPrivileges"] = true
	delete(wp, "apparmorProfile")
	wp["cwd"] = "/tmp/\"quoted\"\n"
	want["linux"].(map[string]any)["resources"].(map[string]any)["pids"] = map[string]any{"limit": 100.0}
	want["hostname"] = "h"

	if !o.Changed() {
		t.Fatal("Changed() = false after edits")
	}
	out := o.Bytes()
	jsonEqual(t, out, want)

	// Untouched subtrees keep their exact bytes (indentation included), and
	// so do the whitespace around the root and the order of keys.
	for _, k := range []string{"mounts", "annotations", "io.example/unknown"} {
		raw, _ := mustParse(t, string(data)).Raw(k)
		if !bytes.Contains(out, raw) {
			t.Errorf("untouched member %q was re-encoded", k)
		}
	}
	seccomp, _ := path(t, mustParse(t, string(data)), "linux").Raw("seccomp")
	if !bytes.Contains(out, seccomp) {
		t.Error("untouched linux.seccomp was re-encoded")
	}
	if !bytes.HasSuffix(out, []byte("}\n")) {
		t.Error("trailing newline of the root was dropped")
	}
	if got, want := mustParse(t, string(out)).Keys(), o.Keys(); !reflect.DeepEqual(got, want) {
		t.Errorf("keys after round trip = %v, want %v", got, want)
	}
	if got := path(t, mustParse(t, string(out)), "process").Keys(); got[len(got)-1] != "noNewPrivileges" {
		t.Errorf("new key not appended at the end: %v", got)
	}
	// The input buffer was not written to.
	if !bytes.Equal(data, readTestdata(t)) {
		t.Fatal("input buffer modified")
	}
}

func TestEnsureObject(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // expected JSON after setting linux.resources.pids.limit=5
		err      string
	}{
		{"missing", `{"a":1}`, `{"a":1,"linux":{"resources":{"pids":{"limit":5}}}}`, ""},
		{"null", `{"linux":null,"a":1}`, `{"linux":{"resources":{"pids":{"limit":5}}},"a":1}`, ""},
		{"partial", `{"linux":{"x":[],"resources":null}}`, `{"linux":{"x":[],"resources":{"pids":{"limit":5}}}}`, ""},
		{"existing", `{"linux":{"resources":{"pids":{"limit":1,"y":2}}}}`, `{"linux":{"resources":{"pids":{"limit":5,"y":2}}}}`, ""},
		{"array", `{"linux":[]}`, "", "linux: expected object, found array"},
		{"string", `{"linux":{"resources":"x"}}`, "", "linux.resources: expected object, found string"},
		{"number", `{"linux":{"resources":{"pids":7}}}`, "", "linux.resources.pids: expected object, found number 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParse(t, tt.in)
			c := o
			var err error
			for _, k := range []string{"linux", "resources", "pids"} {
				if c, err = c.EnsureObject(k); err != nil {
					break
				}
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if o.Changed() {
					t.Fatal("failed EnsureObject changed the document")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.SetInt64("limit", 5); err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, o.Bytes(), decode(t, []byte(tt.want)))
		})
	}
}

func TestEnsureObjectEmpty(t *testing.T) {
	o := mustParse(t, `{"a":1}`)
	if _, err := o.EnsureObject("b"); err != nil {
		t.Fatal(err)
	}
	if got := string(o.Bytes()); got != `{"a":1,"b":{}}` {
		t.Fatalf("Bytes() = %s", got)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		in, key, want string
		changed       bool
	}{
		{`{"a":1,"b":2,"c":3}`, "b", `{"a":1,"c":3}`, true},
		{`{"a":1,"b":2,"c":3}`, "a", `{"b":2,"c":3}`, true},
		{`{"a":1,"b":2,"c":3}`, "c", `{"a":1,"b":2}`, true},
		{`{"a":1}`, "a", `{}`, true},
		{` {"a" : 1 , "b":2}`, "x", ` {"a" : 1 , "b":2}`, false},
		{`{"Hostname":"x","b":2}`, "hostname", `{"b":2}`, true},
	}
	for _, tt := range tests {
		o := mustParse(t, tt.in)
		o.Delete(tt.key)
		if got := string(o.Bytes()); got != tt.want || o.Changed() != tt.changed {
			t.Errorf("%s Delete(%q): %s changed=%v, want %s changed=%v", tt.in, tt.key, got, o.Changed(), tt.want, tt.changed)
		}
		if o.Has(tt.key) {
			t.Errorf("%s: Has(%q) after Delete", tt.in, tt.key)
		}
	}

	// Deleting inside a child propagates.
	o := mustParse(t, `{"process":{"apparmorProfile":"x","cwd":"/"}}`)
	path(t, o, "process").Delete("apparmorProfile")
	if got := string(o.Bytes()); got != `{"process":{"cwd":"/"}}` {
		t.Fatalf("Bytes() = %s", got)
	}
}

// manyKeys returns an object with n distinct keys plus extra, to exercise the
// map-based duplicate check.
func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		b.WriteString(`"io.example.k` + strings.Repeat("x", i) + `":"v",`)
	}
	b.WriteString(extra + "}")
	return b.String()
}

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, in string
		child    []string // path to access; empty: top level refused by ParseObject
		err      string   // substring
	}{
		{"exact", `{"a":1,"b":2,"a":3}`, nil, `duplicate key "a"`},
		{"case", `{"noNewPrivileges":true,"NoNewPrivileges":false}`, nil, `keys "noNewPrivileges" and "NoNewPrivileges" differ only in case`},
		{"escaped", `{"ab":1,"\u0061b":2}`, nil, `duplicate key "ab"`},
		{"escapedCase", `{"ab":1,"\u0041B":2}`, nil, `keys "ab" and "AB"`},
		{"kelvin", `{"k":1,"\u212a":2}`, nil, "keys \"k\" and \"\u212a\""},
		{"longS", `{"s":1,"ſ":2}`, nil, `keys "s" and "ſ"`},
		{"sigma", `{"σ":1,"ς":2}`, nil, `keys "σ" and "ς"`},
		{"manyExact", manyKeys(40, `"io.example.kxx":"w"`), nil, `duplicate key "io.example.kxx"`},
		{"manyCase", manyKeys(40, `"IO.EXAMPLE.KXXX":"w"`), nil, `keys "io.example.kxxx" and "IO.EXAMPLE.KXXX"`},
		{"manyKelvin", manyKeys(40, `"io.example.\u212axx":"w"`), nil, "keys \"io.example.kxx\" and \"io.example.\u212axx\""},
		{"child", `{"process":{"noNewPrivileges":true,"NoNewPrivileges":false}}`, []string{"process"}, `process: keys "noNewPrivileges" and "NoNewPrivileges"`},
		{"grandchild", `{"linux":{"resources":{"pids":{"limit":1,"LIMIT":2}}}}`, []string{"linux", "resources", "pids"}, `linux.resources.pids: keys "limit" and "LIMIT"`},
		{"childMany", `{"annotations":` + manyKeys(20, `"IO.EXAMPLE.K":"w"`) + `}`, []string{"annotations"}, `annotations: keys "io.example.k" and "IO.EXAMPLE.K"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseObject([]byte(tt.in))
			if len(tt.child) == 0 {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseObject err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseObject: %v (children must be checked lazily)", err)
			}
			last := len(tt.child) - 1
			c := path(t, o, tt.child[:last]...)
			// Every way of reaching the child refuses it.
			_, _, err1 := c.Object(tt.child[last])
			_, err2 := c.EnsureObject(tt.child[last])
			for _, err := range []error{err1, err2} {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	tests := map[string]string{
		"empty":           ``,
		"spaces":          " \n",
		"truncated":       `{"a":[1,2`,
		"truncatedString": `{"a":"b`,
		"trailing":        `{"a":1} x`,
		"twoValues":       `{"a":1}{"b":2}`,
		"trailingComma":   `{"a":1,}`,
		"array":           `[{"a":1}]`,
		"string":          `"a"`,
		"null":            `null`,
		"number":          `1`,
		"badEscape":       `{"a":"\x"}`,
		"badUnicode":      `{"a":"\u12G4"}`,
		"control":         "{\"a\":\"\x01\"}",
		"singleQuote":     `{'a':1}`,
		"bom":             "\xef\xbb\xbf{}",
		"invalidUTF8":     "{\"a\":\"\xff\"}",
		"invalidUTF8Key":  "{\"\xc3\":1}",
		"loneSurrogate":   `{"\ud800":1}`,
		"lowSurrogate":    `{"\udc00\ud800":1}`,
		"comment":         `{"a":1 /* c */}`,
		"nan":             `{"a":NaN}`,
		"leadingZero":     `{"a":01}`,
	}
	for name, in := range tests {
		if o, err := ParseObject([]byte(in)); err == nil {
			t.Errorf("%s: ParseObject(%q) accepted, Bytes() = %q", name, in, o.Bytes())
		}
	}
	_, err := ParseObject([]byte(`[1]`))
	if err == nil || err.Error() != "top-level value is array, not an object" {
		t.Errorf("array: err = %v", err)
	}
	_, err = ParseObject([]byte(`{"a":1} x`))
	if err == nil || !strings.Contains(err.Error(), "offset") {
		t.Errorf("trailing: err = %v, want the offset", err)
	}
}

func TestClone(t *testing.T) {
	const in = `{"process":{"env":["A=1"],"user":{"uid":0}},"x":1}`
	o := mustParse(t, in)
	proc := path(t, o, "process") // parsed before cloning
	c := o.Clone()

	cp := path(t, c, "process")
	if cp == proc {
		t.Fatal("Clone shares child objects")
	}
	if err := cp.SetBool("noNewPrivileges", true); err != nil {
		t.Fatal(err)
	}
	if err := path(t, cp, "user").SetInt64("uid", 1000); err != nil {
		t.Fatal(err)
	}
	c.Delete("x")
	if o.Changed() || string(o.Bytes()) != in {
		t.Fatalf("editing the clone changed the original: %s", o.Bytes())
	}

	// And the other way round, including appends that could share a backing array.
	if err := proc.SetString("cwd", "/"); err != nil {
		t.Fatal(err)
	}
	if err := o.SetInt64("y", 2); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, c.Bytes(), decode(t, []byte(`{"process":{"env":["A=1"],"user":{"uid":1000},"noNewPrivileges":true}}`)))
	jsonEqual(t, o.Bytes(), decode(t, []byte(`{"process":{"env":["A=1"],"user":{"uid":0},"cwd":"/"},"x":1,"y":2}`)))

	// A clone of an edited object keeps the edits.
	jsonEqual(t, o.Clone().Bytes(), decode(t, o.Bytes()))
}

func TestTypedGetters(t *testing.T) {
	o := mustParse(t, `{"s":"a\u00e9\"","b":true,"f":false,"i":-42,"big":9223372036854775808,`+
		`"frac":1.5,"exp":1e3,"l":["x","y\n"],"el":[],"n":null,"o":{},"mixed":["x",1],"nulls":["x",null],`+
		`"lone":"\ud800"}`)
	type result struct {
		v   any
		ok  bool
		err string
	}
	get := map[string]func(string) result{
		"String": func(k string) result { v, ok, err := o.String(k); return result{v, ok, errString(err)} },
		"Bool":   func(k string) result { v, ok, err := o.Bool(k); return result{v, ok, errString(err)} },
		"Int64":  func(k string) result { v, ok, err := o.Int64(k); return result{v, ok, errString(err)} },
		"Strings": func(k string) result {
			v, ok, err := o.Strings(k)
			return result{v, ok, errString(err)}
		},
	}
	tests := []struct {
		getter, key string
		want        result
	}{
		{"String", "s", result{"aé\"", true, ""}},
		{"String", "missing", result{"", false, ""}},
		{"String", "n", result{"", false, ""}},
		{"String", "b", result{"", false, "b: expected string, found boolean"}},
		{"String", "l", result{"", false, "l: expected string, found array"}},
		{"String", "lone", result{"", false, "lone: unpaired UTF-16 surrogate in string"}},
		{"Bool", "b", result{true, true, ""}},
		{"Bool", "f", result{false, true, ""}},
		{"Bool", "n", result{false, false, ""}},
		{"Bool", "s", result{false, false, "s: expected boolean, found string"}},
		{"Bool", "i", result{false, false, "i: expected boolean, found number -42"}},
		{"Int64", "i", result{int64(-42), true, ""}},
		{"Int64", "missing", result{int64(0), false, ""}},
		{"Int64", "big", result{int64(0), false, "big: expected int64, found number 9223372036854775808"}},
		{"Int64", "frac", result{int64(0), false, "frac: expected int64, found number 1.5"}},
		{"Int64", "exp", result{int64(0), false, "exp: expected int64, found number 1e3"}},
		{"Int64", "o", result{int64(0), false, "o: expected integer, found object"}},
		{"Strings", "l", result{[]string{"x", "y\n"}, true, ""}},
		{"Strings", "el", result{[]string{}, true, ""}},
		{"Strings", "n", result{[]string(nil), false, ""}},
		{"Strings", "s", result{[]string(nil), false, "s: expected array of strings, found string"}},
		{"Strings", "mixed", result{[]string(nil), false, "mixed[1]: expected string, found number 1"}},
		{"Strings", "nulls", result{[]string(nil), false, "nulls[1]: expected string, found null"}},
	}
	for _, tt := range tests {
		if got := get[tt.getter](tt.key); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s(%q) = %#v, want %#v", tt.getter, tt.key, got, tt.want)
		}
	}

	// Errors in children name the full path.
	c := mustParse(t, `{"process":{"user":{"uid":"root"}}}`)
	if _, _, err := path(t, c, "process", "user").Int64("uid"); errString(err) != "process.user.uid: expected integer, found string" {
		t.Errorf("nested error = %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestArray(t *testing.T) {
	o := mustParse(t, `{"mounts":[ {"destination":"/proc","type":"proc"} , {"destination":"/sys"} ],"x":1}`)
	elems, ok, err := o.Array("mounts")
	if err != nil || !ok || len(elems) != 2 {
		t.Fatalf("Array = %q, %v, %v", elems, ok, err)
	}
	if string(elems[1]) != `{"destination":"/sys"}` {
		t.Fatalf("elems[1] = %s", elems[1])
	}
	m, err := ParseObject(elems[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetStrings("options", []string{"ro"}); err != nil {
		t.Fatal(err)
	}
	if err := o.SetArray("mounts", [][]byte{m.Bytes(), elems[0]}); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, o.Bytes(), decode(t, []byte(`{"mounts":[{"destination":"/sys","options":["ro"]},{"destination":"/proc","type":"proc"}],"x":1}`)))

	if err := o.SetArray("mounts", [][]byte{[]byte(`{`)}); err == nil {
		t.Error("SetArray accepted an invalid element")
	}
	if _, _, err := o.Array("x"); errString(err) != "x: expected array, found number 1" {
		t.Errorf("Array(x) err = %v", err)
	}
	if e, ok, err := mustParse(t, `{"a":[]}`).Array("a"); len(e) != 0 || !ok || err != nil {
		t.Errorf("empty Array = %v %v %v", e, ok, err)
	}
}

func TestSetValidation(t *testing.T) {
	o := mustParse(t, `{"a":1}`)
	for _, raw := range []string{``, ` `, `{`, `[1,]`, `01`, `"a`, "\"\xff\"", `{"a":1} 2`, `undefined`} {
		if err := o.Set("a", []byte(raw)); err == nil {
			t.Errorf("Set(%q) accepted", raw)
		}
	}
	if err := o.SetString("a", "\xff"); err == nil {
		t.Error("SetString accepted invalid UTF-8")
	}
	if err := o.SetStrings("a", []string{"ok", "\xff"}); err == nil {
		t.Error("SetStrings accepted invalid UTF-8")
	}
	if err := o.SetBool("\xff", true); err == nil {
		t.Error("SetBool accepted an invalid UTF-8 key")
	}
	if _, err := o.EnsureObject("\xfe"); err == nil {
		t.Error("EnsureObject accepted an invalid UTF-8 key")
	}
	if o.Changed() {
		t.Fatalf("refused edits changed the document: %s", o.Bytes())
	}

	// Set copies raw: later changes to the caller's buffer do not leak in.
	buf := []byte(`[1,2]`)
	if err := o.Set("b", buf); err != nil {
		t.Fatal(err)
	}
	buf[1] = '9'
	if got := string(o.Bytes()); got != `{"a":1,"b":[1,2]}` {
		t.Fatalf("Bytes() = %s", got)
	}
}

// Keys spelled differently from the caller are renamed to the caller's
// spelling, so that crun (case-sensitive) sees what runc (case-insensitive)
// and the policy saw.
func TestCaseNormalization(t *testing.T) {
	o := mustParse(t, `{"process":{"NoNewPrivileges":false,"Cwd":"/"},"x":1}`)
	proc := path(t, o, "process")
	if v, ok, err := proc.Bool("noNewPrivileges"); v || !ok || err != nil {
		t.Fatalf("Bool = %v %v %v", v, ok, err)
	}
	if err := proc.SetBool("noNewPrivileges", true); err != nil {
		t.Fatal(err)
	}
	if !proc.Has("cwd") {
		t.Fatal("Has(cwd) = false")
	}
	want := `{"process":{"noNewPrivileges":true,"cwd":"/"},"x":1}`
	if got := string(o.Bytes()); got != want {
		t.Fatalf("Bytes() = %s, want %s", got, want)
	}
	if _, err := ParseObject(o.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func TestKeysAndHas(t *testing.T) {
	o := mustParse(t, `{"b":1,"a\u0041":2,"n":null}`)
	if got := o.Keys(); !reflect.DeepEqual(got, []string{"b", "aA", "n"}) {
		t.Fatalf("Keys() = %q", got)
	}
	if !o.Has("n") || o.Has("c") {
		t.Fatal("Has")
	}
	if raw, ok := o.Raw("aA"); !ok || string(raw) != "2" {
		t.Fatalf("Raw = %s %v", raw, ok)
	}
	if o.Changed() {
		t.Fatal("reads changed the document")
	}
	// A renamed key is re-encoded; other keys keep their original bytes.
	if err := o.SetInt64("b", 3); err != nil {
		t.Fatal(err)
	}
	if got := string(o.Bytes()); got != `{"b":3,"a\u0041":2,"n":null}` {
		t.Fatalf("Bytes() = %s", got)
	}
}

// An edit deep down marks every ancestor changed, and Raw of an ancestor
// member reflects it.
func TestChangePropagation(t *testing.T) {
	o := mustParse(t, `{"a":{"b":{"c":{"d":1}},"e":[1]}}`)
	a := path(t, o, "a")
	d := path(t, a, "b", "c")
	if err := d.SetInt64("d", 2); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Object{o, a, d} {
		if !x.Changed() {
			t.Fatal("ancestor not Changed()")
		}
	}
	if raw, _ := a.Raw("b"); string(raw) != `{"c":{"d":2}}` {
		t.Fatalf("Raw(b) = %s", raw)
	}
	if got := string(o.Bytes()); got != `{"a":{"b":{"c":{"d":2}},"e":[1]}}` {
		t.Fatalf("Bytes() = %s", got)
	}
	// Replacing a member detaches its old child object.
	if err := a.Set("b", []byte(`{"z":0}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.SetInt64("d", 3); err != nil {
		t.Fatal(err)
	}
	if got := string(o.Bytes()); got != `{"a":{"b":{"z":0},"e":[1]}}` {
		t.Fatalf("Bytes() = %s", got)
	}
}

// appendString must agree with encoding/json (HTML escaping off) so that
// re-encoded values look like what Go tools write; decodeString must agree
// with encoding/json on every valid escape.
func TestStringCodec(t *testing.T) {
	var all strings.Builder
	for c := range 0x80 {
		all.WriteByte(byte(c))
	}
	tests := []string{
		"", "plain", all.String(), "quote\"back\\slash/", "\b\f\n\r\t\x00\x1f\x7f",
		"<>&", "grüße ☃ 😀", "\u2028\u2029", "\ufffd", "a\u2028b",
	}
	for _, s := range tests {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(buf.String(), "\n")
		got := appendString(nil, s)
		if string(got) != want {
			t.Errorf("appendString(%q) = %s, encoding/json %s", s, got, want)
		}
		if d, err := decodeString(got); err != nil || d != s {
			t.Errorf("decodeString(%s) = %q, %v", got, d, err)
		}
	}

	escapes := []string{
		`"\u00e9\u00E9"`, `"\ud83d\ude00"`, `"\uD83D\uDE00x"`, `"\/\"\\\b\f\n\r\t"`,
		`"\u0000"`, `"a\\\"b"`, `"\uffff"`, `"\ud7ff\ue000"`,
	}
	for _, raw := range escapes {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		if got, err := decodeString([]byte(raw)); err != nil || got != want {
			t.Errorf("decodeString(%s) = %q, %v; encoding/json: %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`, `"\ud800\ud800"`, `"\u12"`, `"\q"`} {
		if got, err := decodeString([]byte(raw)); err == nil {
			t.Errorf("decodeString(%s) = %q, want an error", raw, got)
		}
	}
}

// foldKey must induce exactly the equivalence of strings.EqualFold, rune by
// rune, or the map-based duplicate check would miss (or invent) duplicates.
func TestFoldKeyMatchesEqualFold(t *testing.T) {
	classes := map[string][]rune{}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		k := foldKey(string(r))
		classes[k] = append(classes[k], r)
		// Every rune equal under EqualFold must fold to the same key.
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if foldKey(string(f)) != k {
				t.Fatalf("EqualFold(%q, %q) but foldKey differs", r, f)
			}
		}
	}
	// And every rune folding to the same key must be equal under EqualFold.
	for _, rs := range classes {
		for _, r := range rs[1:] {
			if !strings.EqualFold(string(rs[0]), string(r)) {
				t.Fatalf("foldKey(%q) == foldKey(%q) but not EqualFold", rs[0], r)
			}
		}
	}
}

func TestParseElement(t *testing.T) {
	doc, err := ParseObject([]byte(`{"a":[ {"k":"v","n":1} ,7,{"x":1,"X":2},{"s":"\u00e9"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	elems, _, err := doc.Array("a")
	if err != nil || len(elems) != 4 {
		t.Fatalf("Array: %q, %v", elems, err)
	}
	o, err := ParseElement(elems[0])
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := o.String("k"); v != "v" || err != nil {
		t.Errorf("k = %q, %v", v, err)
	}
	if err := o.SetString("k", "w"); err != nil || string(o.Bytes()) != `{"k":"w","n":1}` {
		t.Errorf("edited element: %s, %v", o.Bytes(), err)
	}
	if _, err := ParseElement(elems[1]); err == nil || !strings.Contains(err.Error(), "not an object") {
		t.Errorf("a number: %v", err)
	}
	if _, err := ParseElement(elems[2]); err == nil || !strings.Contains(err.Error(), "differ only in case") {
		t.Errorf("keys differing in case: %v", err)
	}
	if o, err := ParseElement(elems[3]); err != nil {
		t.Error(err)
	} else if s, _, _ := o.String("s"); s != "é" {
		t.Errorf("escaped string: %q", s)
	}
}
