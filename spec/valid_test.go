package spec

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

var validSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-1E-2`, `true`, `false`, `null`, ` {"a" : [1, {"b":null}] } `,
	`{"a\"\\\/\b\f\n\r\t\u00e9":"x"}`, `{"\ud83d\ude00":"\u2028"}`, `{"é":"☃"}`, "\"\xff\"", "\"\xed\xa0\x80\"",
	`01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`, `{"a":}`, `{"a" 1}`, `{,}`, `[1,]`, `{"a":1,}`, `[1 2]`,
	`{"a":1}}`, `[[]`, `"\x"`, `"\u12G4"`, "\"a\tb\"", `{"a":1} x`, "{\"a\":[1,2,{\"b\":[true,false,null]}]}\n",
	`{1:2}`, `{"a":{"b":{"c":{}}}}`, `[{}, [], "", 0]`, "\ufeff{}", "{\"a\":\"\xc3\"}",
}

// FuzzValid checks validJSON against json.Valid && utf8.Valid, and the
// member ranges it records against the object scanner's.
func FuzzValid(f *testing.F) {
	f.Add(readTestdata(f))
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)))
	f.Add([]byte(strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		want := json.Valid(data) && utf8.Valid(data)
		top, end, got := validJSON(data, nil, true)
		if got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid && utf8.Valid = %v", data, got, want)
		}
		if !got {
			return
		}
		start := skipSpace(data, 0)
		if e := skipValue(data, start); e != end {
			t.Fatalf("end = %d, skipValue says %d", end, e)
		}
		if data[start] != '{' {
			if len(top) != 0 {
				t.Fatalf("members recorded for a %s", kind(data[start:end]))
			}
			return
		}
		// The old way: parse the top level with the boundary scanner.
		o, _, err := parseObject(data, start, "")
		if err != nil {
			return // duplicate keys or a bad surrogate: refused either way
		}
		if len(o.members) != len(top) {
			t.Fatalf("%d members recorded, parseObject found %d", len(top), len(o.members))
		}
		for i, s := range top {
			m := o.members[i]
			if string(data[s.k0:s.k1]) != string(m.rawKey) || string(data[s.v0:s.v1]) != string(m.val) {
				t.Fatalf("member %d: recorded %q: %q, parseObject %q: %q", i, data[s.k0:s.k1], data[s.v0:s.v1], m.rawKey, m.val)
			}
		}
	})
}

func TestValidDepth(t *testing.T) {
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if !valid([]byte(ok)) || !json.Valid([]byte(ok)) {
		t.Fatal("depth 10000 refused")
	}
	deep := "[" + ok + "]"
	if valid([]byte(deep)) || json.Valid([]byte(deep)) {
		t.Fatal("depth 10001 accepted")
	}
}

// BenchmarkValid compares the scanner with what it replaces.
func BenchmarkValid(b *testing.B) {
	data := readTestdata(b)
	b.Run("validJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			validJSON(data, nil, false)
		}
	})
	b.Run("json.Valid+utf8.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			_ = json.Valid(data) && utf8.Valid(data)
		}
	})
}
