// Package spec edits JSON documents (OCI config.json, runc process.json)
// losslessly and fail-closed, and saves them atomically.
//
// It deliberately does not decode into specs.Spec: encoding/json's reflection
// costs about a millisecond on first use, and a round trip through a struct
// would drop fields the struct does not know. Instead only the objects a
// caller walks through are parsed, everything else is kept as raw bytes.
//
// Fail-closed key handling: runc decodes with encoding/json, which matches
// keys case-insensitively and lets the last duplicate win, while crun's C
// parser is case-sensitive. An object with two keys equal under case folding
// would mean different things to different runtimes (and could hide a value
// from a policy that reads the other one), so every object this package
// parses (the root, and each child when first accessed) is refused if it has
// such keys. Every object on the path to a value the caller reads or edits is
// therefore checked; subtrees the caller never looks at are passed through.
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Object is one JSON object, edited losslessly: members keep their order and
// their original bytes; untouched subtrees are never re-encoded; only objects
// on the path of an edit are re-serialized.
//
// Lookups match keys case-insensitively, as runc does. When the document
// spells a key differently from the caller, the member is renamed to the
// caller's spelling (which counts as a change), so that case-sensitive
// runtimes such as crun see the very member the caller inspected or edited.
//
// Byte slices returned by Raw and Bytes may alias the parsed input and must
// not be modified. An Object is not safe for concurrent use.
type Object struct {
	path    string // dotted path from the root, for error messages ("" for the root)
	orig    []byte // original bytes, returned as-is while nothing changed
	pre     []byte // root only: whitespace around the object in the input,
	post    []byte // kept when the object is re-serialized
	members []member
	dirty   bool // a member of this object was added, replaced, renamed or deleted
}

type member struct {
	key    string  // decoded key
	rawKey []byte  // original quoted key bytes; nil once the key is renamed
	val    []byte  // trimmed raw value; never modified in place (Clone shares it)
	child  *Object // parsed val, once accessed as an object; authoritative over val
}

var emptyObject = []byte("{}")

// ParseObject validates the whole of data and parses its top-level object.
// Nested objects are parsed (and checked for duplicate keys) lazily, when
// first accessed. data must not be modified while the Object is in use.
func ParseObject(data []byte) (*Object, error) {
	var buf [16]span // the top-level members of an OCI config fit
	top, end, ok := validJSON(data, buf[:0], true)
	if !ok {
		return nil, invalidJSON(data)
	}
	start := skipSpace(data, 0)
	if data[start] != '{' {
		return nil, fmt.Errorf("top-level value is %s, not an object", kind(data[start:end]))
	}
	o := &Object{orig: data, pre: data[:start], post: data[end:]}
	if len(top) > 0 {
		o.members = make([]member, 0, len(top))
	}
	for _, s := range top {
		rawKey := data[s.k0:s.k1]
		key, err := decodeString(rawKey)
		if err != nil {
			return nil, o.errorf("key %s: %v", rawKey, err)
		}
		o.members = append(o.members, member{key: key, rawKey: rawKey, val: data[s.v0:s.v1]})
	}
	if err := o.checkDuplicates(); err != nil {
		return nil, err
	}
	return o, nil
}

// ParseElement parses an array element that Array returned as an object.
// A document's bytes were validated when it was parsed (and every value
// set since, when it was set), so unlike ParseObject it does not scan the
// element again; anything from outside a document must go through
// ParseObject. Like a nested object, it is checked for duplicate keys.
func ParseElement(elem []byte) (*Object, error) {
	elem = trimSpace(elem)
	if len(elem) == 0 || elem[0] != '{' {
		return nil, fmt.Errorf("value is %s, not an object", kind(elem))
	}
	return parseChild(elem, "")
}

// invalidJSON says what is wrong with a document validJSON refused. Only
// on this path: encoding/json's Unmarshal into a RawMessage runs its
// checker (no reflection over a big type) and says what is wrong and where.
func invalidJSON(data []byte) error {
	if !json.Valid(data) {
		var raw json.RawMessage
		err := json.Unmarshal(data, &raw)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("invalid JSON: %v (at offset %d)", se, se.Offset)
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if !utf8.Valid(data) { // json.Valid accepts invalid UTF-8 inside strings
		return errors.New("invalid JSON: invalid UTF-8")
	}
	return errors.New("invalid JSON") // not reached: validJSON accepts what both accept
}

// valid reports whether v is one valid JSON value in valid UTF-8.
func valid(v []byte) bool {
	_, _, ok := validJSON(v, nil, false)
	return ok
}

// parseObject parses the members of the (already valid) object starting at
// b[start] and returns the index just past it.
func parseObject(b []byte, start int, path string) (o *Object, end int, err error) {
	o = &Object{path: path}
	i := skipSpace(b, start+1)
	if i < len(b) && b[i] == '}' {
		o.orig = b[start : i+1]
		return o, i + 1, nil
	}
	// Members collect on the stack first and are then copied to a slice of
	// their exact number: most objects are small (a mount has four).
	var buf [8]member
	ms := buf[:0]
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, 0, o.errorf("%v", errMalformed)
		}
		ke := skipString(b, i)
		if ke < 0 {
			return nil, 0, o.errorf("%v", errMalformed)
		}
		rawKey := b[i:ke]
		key, err := decodeString(rawKey)
		if err != nil {
			return nil, 0, o.errorf("key %s: %v", rawKey, err)
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return nil, 0, o.errorf("%v", errMalformed)
		}
		i = skipSpace(b, i+1)
		ve := skipValue(b, i)
		if ve < 0 {
			return nil, 0, o.errorf("%v", errMalformed)
		}
		ms = append(ms, member{key: key, rawKey: rawKey, val: b[i:ve]})
		i = skipSpace(b, ve)
		if i >= len(b) {
			return nil, 0, o.errorf("%v", errMalformed)
		}
		if b[i] == '}' {
			break
		}
		if b[i] != ',' {
			return nil, 0, o.errorf("%v", errMalformed)
		}
		i = skipSpace(b, i+1)
	}
	o.members = append([]member(nil), ms...)
	o.orig = b[start : i+1]
	if err := o.checkDuplicates(); err != nil {
		return nil, 0, err
	}
	return o, i + 1, nil
}

// parseChild parses a member value that is an object.
func parseChild(val []byte, path string) (*Object, error) {
	o, end, err := parseObject(val, 0, path)
	if err == nil && end != len(val) {
		err = errMalformed
	}
	return o, err
}

// checkDuplicates refuses two keys that are equal under case folding
// (strings.EqualFold, which also covers exact duplicates).
func (o *Object) checkDuplicates() error {
	ms := o.members
	if len(ms) <= 16 { // pairwise is cheaper than a map for typical OCI objects
		for i := 1; i < len(ms); i++ {
			for j := 0; j < i; j++ {
				if strings.EqualFold(ms[i].key, ms[j].key) {
					return o.duplicateError(ms[j].key, ms[i].key)
				}
			}
		}
		return nil
	}
	seen := make(map[string]int, len(ms)) // e.g. large annotations
	for i := range ms {
		f := foldKey(ms[i].key)
		if j, ok := seen[f]; ok {
			return o.duplicateError(ms[j].key, ms[i].key)
		}
		seen[f] = i
	}
	return nil
}

func (o *Object) duplicateError(a, b string) error {
	if a == b {
		return o.errorf("duplicate key %q", a)
	}
	return o.errorf("keys %q and %q differ only in case (runc would read them as the same key)", a, b)
}

// foldKey maps s to a canonical form such that foldKey(a) == foldKey(b)
// exactly when strings.EqualFold(a, b). Like encoding/json's key folding it
// maps each rune to the smallest rune of its case-folding orbit, except that
// ASCII letters are lowercased so that common keys need no allocation.
func foldKey(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			goto fold
		}
	}
	return s
fold:
	buf := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= utf8.RuneSelf {
			r = smallestFold(r)
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		buf = utf8.AppendRune(buf, r)
	}
	return string(buf)
}

// smallestFold returns the smallest rune in r's case-folding orbit.
// unicode.SimpleFold steps to the next larger rune of the orbit and wraps
// around to the smallest.
func smallestFold(r rune) rune {
	for {
		f := unicode.SimpleFold(r)
		if f <= r {
			return f
		}
		r = f
	}
}

// errorf returns an error prefixed with the object's path.
func (o *Object) errorf(format string, args ...any) error {
	if o.path == "" {
		return fmt.Errorf(format, args...)
	}
	return fmt.Errorf("%s: %s", o.path, fmt.Sprintf(format, args...))
}

func (o *Object) keyPath(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// index finds key, case-insensitively like runc, and renames a member spelled
// differently to key (see Object). Parsing guarantees at most one match.
func (o *Object) index(key string) int {
	for i := range o.members {
		if o.members[i].key == key {
			return i
		}
	}
	if !utf8.ValidString(key) { // EqualFold would match invalid bytes to U+FFFD
		return -1
	}
	for i := range o.members {
		if m := &o.members[i]; strings.EqualFold(m.key, key) {
			m.key, m.rawKey = key, nil
			o.dirty = true
			return i
		}
	}
	return -1
}

// raw returns the current value of member i.
func (o *Object) raw(i int) []byte {
	if c := o.members[i].child; c != nil {
		return c.Bytes()
	}
	return o.members[i].val
}

// Has reports whether the object has a member key (even if its value is null).
func (o *Object) Has(key string) bool { return o.index(key) >= 0 }

// Raw returns the member's value bytes, without surrounding whitespace,
// reflecting edits made through child Objects.
func (o *Object) Raw(key string) (raw []byte, ok bool) {
	i := o.index(key)
	if i < 0 {
		return nil, false
	}
	return o.raw(i), true
}

// Object returns the member key as an Object, parsing it on first access;
// edits to the child show in o.Bytes(). A missing or null member gives
// ok == false and no error; any other non-object value is an error.
//
// The child stays attached until the member is replaced (Set*, Delete);
// after that, edits to the old child no longer reach o.
func (o *Object) Object(key string) (child *Object, ok bool, err error) {
	i := o.index(key)
	if i < 0 {
		return nil, false, nil
	}
	m := &o.members[i]
	if m.child != nil {
		return m.child, true, nil
	}
	if isNull(m.val) {
		return nil, false, nil
	}
	if m.val[0] != '{' {
		return nil, false, o.typeError(key, "object", m.val)
	}
	c, err := parseChild(m.val, o.keyPath(m.key))
	if err != nil {
		return nil, false, err
	}
	m.child = c
	return c, true, nil
}

// EnsureObject returns the member key as an Object, first setting it to {}
// (appended at the end if missing) when it is missing or null. A member of
// any other type is an error.
func (o *Object) EnsureObject(key string) (*Object, error) {
	c, ok, err := o.Object(key)
	if err != nil || ok {
		return c, err
	}
	if !utf8.ValidString(key) {
		return nil, o.errorf("key %q is not valid UTF-8", key)
	}
	c = &Object{path: o.keyPath(key), orig: emptyObject}
	o.set(key, emptyObject, c)
	return c, nil
}

// Set sets the member key to the JSON value raw (surrounding whitespace is
// dropped), replacing it in place or appending it at the end. raw is copied
// and must be valid JSON. Setting the exact bytes the member already holds is
// not a change (likewise for the typed setters below).
func (o *Object) Set(key string, raw []byte) error {
	v := trimSpace(raw)
	if !valid(v) {
		return o.errorf("set %q: invalid JSON value %.40q", key, raw)
	}
	return o.setChecked(key, bytes.Clone(v))
}

// SetOwned is Set without the copy, for a buffer the caller hands over
// (read from a file, say): the document keeps raw, which must not be
// modified afterwards.
func (o *Object) SetOwned(key string, raw []byte) error {
	v := trimSpace(raw)
	if !valid(v) {
		return o.errorf("set %q: invalid JSON value %.40q", key, raw)
	}
	return o.setChecked(key, v)
}

// SetValidated is SetOwned for bytes the caller knows to be one valid JSON
// value without scanning them again: bytes it produced with a JSON encoder
// or validated itself, possibly kept in between under a checksum. Anything
// else must go through Set or SetOwned.
func (o *Object) SetValidated(key string, raw []byte) error {
	return o.setChecked(key, trimSpace(raw))
}

// SetString sets the member key to the string v (which must be valid UTF-8).
func (o *Object) SetString(key, v string) error {
	if !utf8.ValidString(v) {
		return o.errorf("set %q: value is not valid UTF-8", key)
	}
	return o.setChecked(key, appendString(nil, v))
}

// SetBool sets the member key to v.
func (o *Object) SetBool(key string, v bool) error {
	return o.setChecked(key, strconv.AppendBool(nil, v))
}

// SetInt64 sets the member key to v.
func (o *Object) SetInt64(key string, v int64) error {
	return o.setChecked(key, strconv.AppendInt(nil, v, 10))
}

// SetStrings sets the member key to an array of strings. A nil slice is
// written as [] (not null): callers mean "none", and null would mean "unset".
// Setting the strings the member already holds is not a change, however the
// existing array is formatted.
func (o *Object) SetStrings(key string, v []string) error {
	n := 2
	for _, s := range v {
		if !utf8.ValidString(s) {
			return o.errorf("set %q: value is not valid UTF-8", key)
		}
		n += len(s) + 3
	}
	if i := o.index(key); i >= 0 && o.members[i].child == nil && stringsEqual(o.members[i].val, v) {
		return nil
	}
	raw := make([]byte, 0, n)
	raw = append(raw, '[')
	for i, s := range v {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = appendString(raw, s)
	}
	return o.setChecked(key, append(raw, ']'))
}

// SetArray sets the member key to an array of the given JSON values, each of
// which must be valid JSON (for example elements from Array, possibly edited
// with ParseObject and Bytes).
func (o *Object) SetArray(key string, elems [][]byte) error {
	n := 2
	for _, e := range elems {
		n += len(e) + 1
	}
	raw := make([]byte, 0, n)
	raw = append(raw, '[')
	for i, e := range elems {
		e = trimSpace(e)
		if !valid(e) {
			return o.errorf("set %q: element %d: invalid JSON value %.40q", key, i, e)
		}
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = append(raw, e...)
	}
	return o.setChecked(key, append(raw, ']'))
}

// setChecked stores val, which must be valid JSON owned by o.
func (o *Object) setChecked(key string, val []byte) error {
	if !utf8.ValidString(key) {
		return o.errorf("key %q is not valid UTF-8", key)
	}
	o.set(key, val, nil)
	return nil
}

// set stores val (with its parsed form child, if any) under key. Storing the
// bytes a member already has is not a change.
func (o *Object) set(key string, val []byte, child *Object) {
	i := o.index(key)
	if i < 0 {
		o.members = append(o.members, member{key: key, val: val, child: child})
		o.dirty = true
		return
	}
	m := &o.members[i]
	if child == nil && (m.child == nil || !m.child.Changed()) && bytes.Equal(m.val, val) {
		return
	}
	m.val, m.child = val, child
	o.dirty = true
}

// Delete removes the member key, if present.
func (o *Object) Delete(key string) {
	if i := o.index(key); i >= 0 {
		o.members = slices.Delete(o.members, i, i+1)
		o.dirty = true
	}
}

// Keys returns the member keys in document order, as spelled in the document
// (or by the last edit).
func (o *Object) Keys() []string {
	keys := make([]string, len(o.members))
	for i := range o.members {
		keys[i] = o.members[i].key
	}
	return keys
}

func (o *Object) typeError(key, want string, raw []byte) error {
	return fmt.Errorf("%s: expected %s, found %s", o.keyPath(key), want, kind(raw))
}

// lookup returns the member's current value, or ok == false if it is missing
// or null.
func (o *Object) lookup(key string) (raw []byte, ok bool) {
	raw, ok = o.Raw(key)
	if !ok || isNull(raw) {
		return nil, false
	}
	return raw, true
}

// String returns the string member key. Missing or null gives ok == false; any
// other type is an error naming the key and what was found.
func (o *Object) String(key string) (string, bool, error) {
	raw, ok := o.lookup(key)
	if !ok {
		return "", false, nil
	}
	if raw[0] != '"' {
		return "", false, o.typeError(key, "string", raw)
	}
	s, err := decodeString(raw)
	if err != nil {
		return "", false, fmt.Errorf("%s: %v", o.keyPath(key), err)
	}
	return s, true, nil
}

// Bool returns the boolean member key; see String.
func (o *Object) Bool(key string) (bool, bool, error) {
	raw, ok := o.lookup(key)
	if !ok {
		return false, false, nil
	}
	switch string(raw) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, o.typeError(key, "boolean", raw)
}

// Int64 returns the integer member key; see String. Like encoding/json
// decoding into an int64, fractions, exponents and out-of-range values are
// errors.
func (o *Object) Int64(key string) (int64, bool, error) {
	raw, ok := o.lookup(key)
	if !ok {
		return 0, false, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, false, o.typeError(key, "integer", raw)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, false, o.typeError(key, "int64", raw)
	}
	return n, true, nil
}

// Strings returns the array-of-strings member key; see String. An element
// that is not a string (null included) is an error.
func (o *Object) Strings(key string) ([]string, bool, error) {
	raw, ok := o.lookup(key)
	if !ok {
		return nil, false, nil
	}
	if raw[0] != '[' {
		return nil, false, o.typeError(key, "array of strings", raw)
	}
	out := []string{}
	err := forEachElement(raw, func(i int, e []byte) error {
		if e[0] != '"' {
			return fmt.Errorf("%s[%d]: expected string, found %s", o.keyPath(key), i, kind(e))
		}
		s, err := decodeString(e)
		if err != nil {
			return fmt.Errorf("%s[%d]: %v", o.keyPath(key), i, err)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// Array returns the elements of the array member key as raw JSON values
// (aliasing the document; do not modify them). Missing or null gives
// ok == false; any other type is an error. Elements that are objects can be
// inspected and edited with ParseObject, and written back with SetArray.
func (o *Object) Array(key string) (elems [][]byte, ok bool, err error) {
	raw, ok := o.lookup(key)
	if !ok {
		return nil, false, nil
	}
	if raw[0] != '[' {
		return nil, false, o.typeError(key, "array", raw)
	}
	elems = [][]byte{}
	err = forEachElement(raw, func(_ int, e []byte) error {
		elems = append(elems, e)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("%s: %v", o.keyPath(key), err)
	}
	return elems, true, nil
}

// stringsEqual reports whether raw is a JSON array holding exactly the
// strings v, without allocating for unescaped strings.
func stringsEqual(raw []byte, v []string) bool {
	if len(raw) == 0 || raw[0] != '[' {
		return false
	}
	n := 0
	err := forEachElement(raw, func(i int, e []byte) error {
		if i >= len(v) || e[0] != '"' {
			return errMalformed
		}
		s := e[1 : len(e)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			d, err := decodeString(e)
			if err != nil || d != v[i] {
				return errMalformed
			}
		} else if string(s) != v[i] {
			return errMalformed
		}
		n++
		return nil
	})
	return err == nil && n == len(v)
}

// Changed reports whether o or any object below it was edited.
func (o *Object) Changed() bool {
	if o.dirty {
		return true
	}
	for i := range o.members {
		if c := o.members[i].child; c != nil && c.Changed() {
			return true
		}
	}
	return false
}

// Bytes serializes the object. If nothing changed anywhere it returns the
// original input bytes exactly (the same slice). Otherwise changed objects are
// written compactly, with untouched members' keys and values, and the
// whitespace around the root object, kept byte for byte.
func (o *Object) Bytes() []byte {
	if !o.Changed() {
		return o.orig
	}
	return o.appendTo(make([]byte, 0, o.sizeHint()))
}

func (o *Object) appendTo(dst []byte) []byte {
	if !o.Changed() {
		return append(dst, o.orig...)
	}
	dst = append(dst, o.pre...)
	dst = append(dst, '{')
	for i := range o.members {
		m := &o.members[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		if m.rawKey != nil {
			dst = append(dst, m.rawKey...)
		} else {
			dst = appendString(dst, m.key)
		}
		dst = append(dst, ':')
		if m.child != nil {
			dst = m.child.appendTo(dst)
		} else {
			dst = append(dst, m.val...)
		}
	}
	dst = append(dst, '}')
	return append(dst, o.post...)
}

// sizeHint estimates the length of appendTo's output, to allocate once.
func (o *Object) sizeHint() int {
	if !o.Changed() {
		return len(o.orig)
	}
	n := len(o.pre) + len(o.post) + 2
	for i := range o.members {
		m := &o.members[i]
		n += len(m.key) + 4 // quotes, colon, comma
		if m.child != nil {
			n += m.child.sizeHint()
		} else {
			n += len(m.val)
		}
	}
	return n
}

// Clone returns a deep, independent copy of o: edits to either do not affect
// the other. Unchanged bytes are shared, which is safe because they are never
// modified in place.
func (o *Object) Clone() *Object {
	c := *o
	c.members = slices.Clone(o.members)
	for i := range c.members {
		if ch := c.members[i].child; ch != nil {
			c.members[i].child = ch.Clone()
		}
	}
	return &c
}
