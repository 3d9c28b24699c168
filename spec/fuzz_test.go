package spec

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzObjectRoundTrip checks that any accepted document survives an
// edit-free round trip byte for byte, that keys and strings decode as with
// encoding/json, and that edits at the top level and one
// level down produce valid JSON that encoding/json reads back with the new
// values and every other member intact.
func FuzzObjectRoundTrip(f *testing.F) {
	f.Add(readTestdata(f))
	for _, s := range []string{
		`{}`, ` {"a" : 1 } `, `{"a":{"b":[1,{"c":"\u00e9"}]},"SECSHIM":true}`,
		`{"a\"\\":"}{][","b":{"secshim":{}},"c":null}`, `{"x":{"y":1,"Y":2}}`,
		`{"a":1,"a":2}`, `[1]`, `{"\ud83d\ude00":"\u2028"}`,
	} {
		f.Add([]byte(s))
	}
	const value = "v\u2028\"\\\x01é"
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseObject(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatal("accepted invalid JSON")
		}
		if got := o.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("round trip changed the document:\n got %q\nwant %q", got, data)
		}
		var want map[string]any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("encoding/json rejects an accepted document: %v", err)
		}

		// Keys and string values decode exactly as encoding/json decodes them.
		keys := o.Keys()
		if len(keys) != len(want) {
			t.Fatalf("Keys() = %q, encoding/json found %d keys", keys, len(want))
		}
		for _, k := range keys {
			v, ok := want[k]
			if !ok {
				t.Fatalf("key %q not found by encoding/json", k)
			}
			if ws, isString := v.(string); isString {
				if s, _, err := o.String(k); err == nil && s != ws {
					t.Fatalf("String(%q) = %q, encoding/json %q", k, s, ws)
				}
			}
		}

		c := o.Clone()
		if err := c.SetString("secshim", value); err != nil {
			t.Fatal(err)
		}
		for k := range want { // the edit replaces a member spelled in any case
			if strings.EqualFold(k, "secshim") {
				delete(want, k)
			}
		}
		want["secshim"] = value

		// Also edit the first child object, if it parses.
		for _, k := range c.Keys() {
			raw, _ := c.Raw(k)
			if raw[0] != '{' {
				continue
			}
			child, ok, err := c.Object(k)
			if err != nil {
				break // duplicate keys inside: refused, fine
			}
			if !ok {
				t.Fatalf("Object(%q) on %s: not ok", k, raw)
			}
			if err := child.SetBool("z", true); err != nil {
				t.Fatal(err)
			}
			child.Delete("d")
			wc := want[k].(map[string]any)
			for ck := range wc {
				if strings.EqualFold(ck, "z") || strings.EqualFold(ck, "d") {
					delete(wc, ck)
				}
			}
			wc["z"] = true
			break
		}

		out := c.Bytes()
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("edited output is not valid JSON: %v\n%q", err, out)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("edited output decodes wrongly:\n got %#v\nwant %#v\n out %q", got, want, out)
		}
		if _, err := ParseObject(out); err != nil {
			t.Fatalf("edited output refused: %v\n%q", err, out)
		}
		// The original is untouched by edits to the clone.
		if !bytes.Equal(o.Bytes(), data) || o.Changed() {
			t.Fatal("editing the clone changed the original")
		}
	})
}
