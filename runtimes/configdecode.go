package runtimes

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// decodeConfig fills cfg (holding the defaults) from a TOML document:
// quickDecode's when it takes the document, else in one pass over
// go-toml's parser, without reflection: this runs on every container
// start. It follows go-toml's decoding of Config with
// DisallowUnknownFields: a table or dotted key merges into what is there,
// an inline table replaces a map but merges into a struct, an array
// replaces a list; duplicate keys and redefined tables are errors, a value
// of the wrong type stops decoding, unknown keys are collected and
// reported together when nothing else is wrong.
//
// The [profiles] subtree, kept generic, is rare on the hot path: when the
// document has one, go-toml itself decodes that part.
func decodeConfig(path string, data []byte, cfg *Config) error {
	if quickDecode(data, cfg) {
		return nil
	}
	return decodeConfigFull(path, data, cfg)
}

// decodeConfigFull is decodeConfig through go-toml's parser, for any
// document.
func decodeConfigFull(path string, data []byte, cfg *Config) error {
	d := decoders.Get().(*cfgDecoder)
	defer d.release()
	d.data, d.cfg = data, cfg
	d.seen.reset()
	d.p.Reset(data)
	for d.err == nil && d.p.NextExpression() {
		d.expression(d.p.Expression())
	}
	if d.err == nil {
		if perr := d.p.Error(); perr != nil {
			d.fail(perr, nil)
		}
	}
	if d.profiles {
		var pr struct {
			Profiles map[string]map[string]any `toml:"profiles"`
		}
		if err := toml.Unmarshal(data, &pr); err != nil {
			var de *toml.DecodeError
			if errors.As(err, &de) {
				if row, col := de.Position(); d.err == nil || row < d.errLine || row == d.errLine && col < d.errCol {
					d.err, d.errLine, d.errCol = de, row, col
				}
			} else if d.err == nil {
				return fmt.Errorf("config %s: %w", path, err)
			}
		} else {
			cfg.Profiles = pr.Profiles
		}
	}
	if d.err != nil {
		return fmt.Errorf("config %s:%d:%d: %s", path, d.errLine, d.errCol, d.err.Error())
	}
	if len(d.unknown) > 0 {
		return fmt.Errorf("config %s: %s", path, strings.Join(d.unknown, "; "))
	}
	return nil
}

// decoders keep the parser's node arena and the tracker between decodings
// in one process (tests, benchmarks, secshim policy check).
var decoders = sync.Pool{New: func() any { return new(cfgDecoder) }}

func (d *cfgDecoder) release() {
	d.p.Reset(nil)
	*d = cfgDecoder{p: d.p, seen: seenTracker{entries: d.seen.entries[:0]}}
	decoders.Put(d)
}

type cfgDecoder struct {
	p    unstable.Parser
	data []byte
	cfg  *Config
	seen seenTracker

	// table is the path of the current [table]; skip: its content is
	// not decoded (an unknown table, an array table, or [profiles...]).
	table []string
	skip  bool

	profiles bool
	unknown  []string

	err             error // the first error that stops decoding
	errLine, errCol int
}

// position is the line and column of b, a subslice of the document.
func (d *cfgDecoder) position(b []byte) (int, int) {
	off := len(d.data)
	if b != nil {
		off = cap(d.data) - cap(b)
		if off < 0 || off > len(d.data) {
			off = len(d.data)
		}
	}
	before := d.data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}

func (d *cfgDecoder) rawOf(n *unstable.Node) []byte {
	if n == nil || n.Raw.Length == 0 && n.Raw.Offset == 0 {
		return nil
	}
	return d.p.Raw(n.Raw)
}

// fail records the error that stops decoding, at node n (or at the
// parser error's highlight).
func (d *cfgDecoder) fail(err error, n *unstable.Node) {
	if d.err != nil {
		return
	}
	var hl []byte
	var perr *unstable.ParserError
	if errors.As(err, &perr) {
		hl = perr.Highlight
		err = fmt.Errorf("toml: %s", perr.Message)
	} else {
		hl = d.rawOf(n)
	}
	d.err = err
	d.errLine, d.errCol = d.position(hl)
}

func (d *cfgDecoder) typeError(key []string, n, at *unstable.Node, want string) {
	err := fmt.Errorf("toml: %s: expected %s, found a TOML %s", strings.Join(key, "."), want, kindName(n.Kind))
	if d.rawOf(n) == nil {
		n = at // arrays have no range of their own
	}
	d.fail(err, n)
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "string"
	case unstable.Bool:
		return "boolean"
	case unstable.Integer:
		return "integer"
	case unstable.Float:
		return "float"
	case unstable.Array:
		return "array"
	case unstable.InlineTable:
		return "inline table"
	case unstable.Table:
		return "table"
	case unstable.ArrayTable:
		return "array table"
	}
	return "date/time"
}

func (d *cfgDecoder) addUnknown(key []string, at *unstable.Node) {
	line, _ := d.position(d.rawOf(at))
	d.unknown = append(d.unknown, fmt.Sprintf("line %d: unknown key %s", line, strings.Join(key, ".")))
}

// keyParts returns the parts of a key, appended to prefix (copied).
func keyParts(prefix []string, it unstable.Iterator) ([]string, *unstable.Node) {
	parts := append(make([]string, 0, len(prefix)+3), prefix...)
	var first *unstable.Node
	for it.Next() {
		if first == nil {
			first = it.Node()
		}
		parts = append(parts, keyString(it.Node().Data))
	}
	return parts, first
}

// keyString is string(b) without an allocation for Config's own keys.
func keyString(b []byte) string {
	switch string(b) {
	case "default_backend":
		return "default_backend"
	case "state_dir":
		return "state_dir"
	case "log":
		return "log"
	case "file":
		return "file"
	case "level":
		return "level"
	case "backends":
		return "backends"
	case "path":
		return "path"
	case "args":
		return "args"
	case "policy":
		return "policy"
	case "profile":
		return "profile"
	case "floor":
		return "floor"
	case "selectable":
		return "selectable"
	case "isolation":
		return "isolation"
	case "attest":
		return "attest"
	case "profiles":
		return "profiles"
	}
	return string(b)
}

func (d *cfgDecoder) expression(e *unstable.Node) {
	switch e.Kind {
	case unstable.Table, unstable.ArrayTable:
		path, first := keyParts(nil, e.Key())
		var err error
		if e.Kind == unstable.Table {
			err = d.seen.checkTable(path)
		} else {
			err = d.seen.checkArrayTable(path)
		}
		if err != nil {
			d.fail(err, first)
			return
		}
		d.table, d.skip = path, false
		if path[0] == "profiles" {
			d.profiles, d.skip = true, true
			return
		}
		switch k := classify(path); {
		case k == fieldUnknown:
			d.addUnknown(path, first)
			d.skip = true
		case e.Kind == unstable.ArrayTable:
			d.fail(fmt.Errorf("toml: %s: cannot store an array table here", strings.Join(path, ".")), first)
		case k != fieldTable:
			d.fail(fmt.Errorf("toml: %s: cannot store a table in a %s", strings.Join(path, "."), k), first)
		default:
			if len(path) == 2 && path[0] == "backends" {
				d.backend(path[1])
			}
		}
	case unstable.KeyValue:
		it := e.Key()
		path, first := keyParts(d.table, it)
		if len(d.table) == 0 && path[0] == "profiles" {
			d.profiles = true
			return
		}
		if d.table != nil && d.table[0] == "profiles" {
			return
		}
		leaf, err := d.seen.checkKeyValue(path[len(d.table):])
		if err != nil {
			d.fail(err, first)
			return
		}
		if err := d.seen.checkValue(leaf, e.Value()); err != nil {
			d.fail(err, first)
			return
		}
		if d.skip {
			return
		}
		d.set(path, 0, e.Value(), first)
	}
}

type fieldKind int

const (
	fieldUnknown fieldKind = iota
	fieldString
	fieldStrings
	fieldTable
)

func (k fieldKind) String() string {
	switch k {
	case fieldString:
		return "string"
	case fieldStrings:
		return "list of strings"
	}
	return "table"
}

// classify says what Config holds at path (not under profiles).
func classify(path []string) fieldKind {
	switch path[0] {
	case "default_backend", "state_dir":
		if len(path) == 1 {
			return fieldString
		}
		return fieldString // a table in a string: a type error
	case "log":
		switch {
		case len(path) == 1:
			return fieldTable
		case path[1] == "file" || path[1] == "level" || path[1] == "syslog":
			return fieldString
		}
	case "backends":
		switch {
		case len(path) <= 2:
			return fieldTable
		case path[2] == "path":
			return fieldString
		case path[2] == "args":
			return fieldStrings
		}
	case "policy":
		switch {
		case len(path) == 1:
			return fieldTable
		case path[1] == "profile" || path[1] == "floor" || path[1] == "attest":
			return fieldString
		case path[1] == "selectable":
			return fieldStrings
		case path[1] == "isolation":
			if len(path) == 2 {
				return fieldTable
			}
			return fieldString
		}
	}
	return fieldUnknown
}

// tooDeep reports a value deeper than a string field (a table in a
// string): a key below one.
func tooDeep(path []string) bool {
	switch {
	case len(path) > 1 && (path[0] == "default_backend" || path[0] == "state_dir"),
		len(path) > 2 && path[0] == "log",
		len(path) > 3 && path[0] == "backends",
		len(path) > 2 && path[0] == "policy" && path[1] != "isolation",
		len(path) > 3 && path[0] == "policy":
		return true
	}
	return false
}

// backend makes sure backends.NAME exists (a table or key naming it
// creates it, empty).
func (d *cfgDecoder) backend(name string) {
	if d.cfg.Backends == nil {
		d.cfg.Backends = map[string]BackendConfig{}
	}
	if _, ok := d.cfg.Backends[name]; !ok {
		d.cfg.Backends[name] = BackendConfig{}
	}
}

// set decodes value v at path; path[:rel] is outside the inline table
// being decoded, if any (go-toml names unknown keys inside inline tables
// relative to the table).
func (d *cfgDecoder) set(path []string, rel int, v *unstable.Node, at *unstable.Node) {
	k := classify(path)
	if k == fieldUnknown {
		d.addUnknown(path[rel:], at)
		return
	}
	if tooDeep(path) {
		d.fail(fmt.Errorf("toml: %s: cannot store a table in a %s", strings.Join(path, "."), k), at)
		return
	}
	if len(path) >= 2 && path[0] == "backends" {
		d.backend(path[1])
	}
	switch k {
	case fieldString:
		if v.Kind != unstable.String {
			d.typeError(path, v, at, "a string")
			return
		}
		d.setString(path, string(v.Data))
	case fieldStrings:
		if v.Kind != unstable.Array {
			d.typeError(path, v, at, "an array")
			return
		}
		list := []string{}
		it := v.Children()
		for it.Next() {
			n := it.Node()
			if n.Kind != unstable.String {
				d.typeError(path, n, at, "a string")
				return
			}
			list = append(list, string(n.Data))
		}
		d.setList(path, list)
	case fieldTable:
		if v.Kind != unstable.InlineTable {
			d.typeError(path, v, at, "a table")
			return
		}
		// An inline table replaces a map and merges into a struct.
		switch {
		case len(path) == 1 && path[0] == "backends":
			d.cfg.Backends = map[string]BackendConfig{}
		case len(path) == 2 && path[1] == "isolation":
			d.cfg.Policy.Isolation = map[string]string{}
		}
		it := v.Children()
		for it.Next() && d.err == nil {
			kv := it.Node()
			sub, first := keyParts(path, kv.Key())
			d.set(sub, len(path), kv.Value(), first)
		}
	}
}

// setList sets the list field at path (backends.NAME.args or
// policy.selectable).
func (d *cfgDecoder) setList(path []string, list []string) {
	if path[0] == "backends" {
		b := d.cfg.Backends[path[1]]
		b.Args = list
		d.cfg.Backends[path[1]] = b
		return
	}
	d.cfg.Policy.Selectable = list
}

func (d *cfgDecoder) setString(path []string, s string) {
	c := d.cfg
	switch path[0] {
	case "default_backend":
		c.DefaultBackend = s
	case "state_dir":
		c.StateDir = s
	case "log":
		switch path[1] {
		case "file":
			c.Log.File = s
		case "level":
			c.Log.Level = s
		case "syslog":
			c.Log.Syslog = s
		}
	case "backends":
		b := c.Backends[path[1]]
		b.Path = s
		c.Backends[path[1]] = b
	case "policy":
		switch path[1] {
		case "profile":
			c.Policy.Profile = s
		case "floor":
			c.Policy.Floor = s
		case "attest":
			c.Policy.Attest = s
		case "isolation":
			if c.Policy.Isolation == nil {
				c.Policy.Isolation = map[string]string{}
			}
			c.Policy.Isolation[path[2]] = s
		}
	}
}

// seenTracker flags duplicate keys and redefined tables as go-toml does
// (its internal tracker, which this follows rule for rule).
type seenTracker struct {
	entries []seenEntry
	current int
}

type seenKind uint8

const (
	seenValue   seenKind = iota + 1
	seenKVTable          // created by a dotted key
	seenTable            // created by a [header], or on the way to one
	seenArrayTable
)

func (k seenKind) String() string {
	switch k {
	case seenValue:
		return "value"
	case seenKVTable:
		return "kv-table"
	case seenTable:
		return "table"
	}
	return "array-table"
}

type seenEntry struct {
	parent   int
	kind     seenKind
	explicit bool
	name     string
}

func (s *seenTracker) reset() {
	s.entries = append(s.entries[:0], seenEntry{parent: -1, kind: seenTable})
	s.current = 0
}

func (s *seenTracker) find(parent int, name string) int {
	for i := parent + 1; i < len(s.entries); i++ {
		if e := &s.entries[i]; e.parent == parent && e.name == name {
			return i
		}
	}
	return -1
}

func (s *seenTracker) create(parent int, name string, kind seenKind, explicit bool) int {
	s.entries = append(s.entries, seenEntry{parent: parent, kind: kind, explicit: explicit, name: name})
	return len(s.entries) - 1
}

// clear removes the descendants of entry id (a new element of an array
// of tables starts afresh).
func (s *seenTracker) clear(id int) {
	removed := make([]bool, len(s.entries))
	remap := make([]int, len(s.entries))
	n := 0
	for i, e := range s.entries {
		if e.parent >= 0 && (e.parent == id || removed[e.parent]) {
			removed[i] = true
			continue
		}
		remap[i] = n
		if e.parent >= 0 {
			e.parent = remap[e.parent]
		}
		s.entries[n] = e
		n++
	}
	s.entries = s.entries[:n]
}

// parents walks the leading parts of a [header] key.
func (s *seenTracker) parents(path []string) (int, error) {
	parent := 0
	for _, name := range path[:len(path)-1] {
		i := s.find(parent, name)
		if i < 0 {
			i = s.create(parent, name, seenTable, false)
		} else if s.entries[i].kind == seenValue {
			return 0, fmt.Errorf("toml: key %s already exists as a value", name)
		}
		parent = i
	}
	return parent, nil
}

func (s *seenTracker) checkTable(path []string) error {
	parent, err := s.parents(path)
	if err != nil {
		return err
	}
	name := path[len(path)-1]
	i := s.find(parent, name)
	if i < 0 {
		s.current = s.create(parent, name, seenTable, true)
		return nil
	}
	e := &s.entries[i]
	switch e.kind {
	case seenTable:
		if e.explicit {
			return fmt.Errorf("toml: table %s already exists", name)
		}
		e.explicit = true
		s.current = i
		return nil
	case seenKVTable:
		return fmt.Errorf("toml: table %s already exists as defined by a dotted key", name)
	case seenArrayTable:
		return fmt.Errorf("toml: table %s already exists as an array of tables", name)
	}
	return fmt.Errorf("toml: key %s should be a table, not a %s", name, e.kind)
}

func (s *seenTracker) checkArrayTable(path []string) error {
	parent, err := s.parents(path)
	if err != nil {
		return err
	}
	name := path[len(path)-1]
	i := s.find(parent, name)
	if i < 0 {
		s.current = s.create(parent, name, seenArrayTable, true)
		return nil
	}
	if s.entries[i].kind != seenArrayTable {
		return fmt.Errorf("toml: key %s already exists as a %s, but should be an array table", name, s.entries[i].kind)
	}
	s.clear(i)
	s.current = i
	return nil
}

// checkKeyValue checks a (dotted) key under the current table and returns
// the entry of its value.
func (s *seenTracker) checkKeyValue(parts []string) (int, error) {
	return s.keyUnder(s.current, parts)
}

func (s *seenTracker) keyUnder(parent int, parts []string) (int, error) {
	for k, name := range parts {
		i := s.find(parent, name)
		if k == len(parts)-1 {
			if i >= 0 {
				return 0, fmt.Errorf("toml: key %s is already defined", name)
			}
			return s.create(parent, name, seenValue, false), nil
		}
		if i < 0 {
			i = s.create(parent, name, seenKVTable, false)
		} else if s.entries[i].kind != seenKVTable {
			return 0, fmt.Errorf("toml: key %s is already defined", name)
		}
		parent = i
	}
	return parent, nil
}

// checkValue checks the keys of inline tables, also inside arrays.
func (s *seenTracker) checkValue(parent int, v *unstable.Node) error {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			kv := it.Node()
			parts, _ := keyParts(nil, kv.Key())
			leaf, err := s.keyUnder(parent, parts)
			if err != nil {
				return err
			}
			if err := s.checkValue(leaf, kv.Value()); err != nil {
				return err
			}
		}
	case unstable.Array:
		it := v.Children()
		for it.Next() {
			n := it.Node()
			if n.Kind == unstable.InlineTable || n.Kind == unstable.Array {
				// Each element is a table of its own.
				anon := s.create(parent, "\x00", seenTable, false)
				s.entries[anon].name = "\x00" + fmt.Sprint(anon)
				if err := s.checkValue(anon, n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
