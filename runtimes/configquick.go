package runtimes

import "strings"

// quickDecode decodes the shape almost every config file has, without a
// TOML parser: comments, [table] headers and `key = value` lines, where a
// value is a string without escapes or a one-line array of them, all over
// Config's own bare keys. Parsing TOML costs a fresh process about 0.1 ms
// of code it runs for the first time; this is much less code.
//
// It returns false, having changed nothing, for anything else: [profiles],
// dotted or quoted keys, inline tables, escapes, multi-line strings,
// numbers, a repeated key or table, a key Config does not have, a value
// of the wrong type, a carriage return or a byte outside printable ASCII.
// decodeConfig then decodes the document in full and says what is wrong.
// What it accepts, it decodes as decodeConfigFull does (tests compare the
// two on the config corpus, and a fuzz test on anything).
func quickDecode(data []byte, cfg *Config) bool {
	for _, c := range data {
		if c != '\n' && c != '\t' && (c < 0x20 || c >= 0x7f) {
			return false
		}
	}
	type action struct {
		path  []string
		kind  fieldKind // fieldTable: a [backends.NAME] header
		value string
		list  []string
	}
	var (
		acts  []action
		table []string
		seen  []string // tables and keys, dotted: each may appear once
	)
	once := func(path []string) bool {
		k := strings.Join(path, ".")
		for _, s := range seen {
			if s == k {
				return false
			}
		}
		seen = append(seen, k)
		return true
	}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\n"), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 || line[1] == '[' || !quickTail(line[end+1:]) {
				return false
			}
			path := strings.Split(line[1:end], ".")
			for _, p := range path {
				if !bareKey(p) {
					return false
				}
			}
			// [profiles...] is not Config's (classify), so it is refused.
			if classify(path) != fieldTable || !once(path) {
				return false
			}
			table = path
			if len(path) == 2 && path[0] == "backends" {
				acts = append(acts, action{path: path, kind: fieldTable})
			}
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			return false
		}
		key := strings.TrimRight(line[:eq], " \t")
		if !bareKey(key) {
			return false
		}
		path := append(append(make([]string, 0, len(table)+1), table...), key)
		if tooDeep(path) || !once(path) {
			return false
		}
		val := strings.TrimLeft(line[eq+1:], " \t")
		switch classify(path) {
		case fieldString:
			s, rest, ok := quickString(val)
			if !ok || !quickTail(rest) {
				return false
			}
			acts = append(acts, action{path: path, kind: fieldString, value: s})
		case fieldStrings:
			list, rest, ok := quickList(val)
			if !ok || !quickTail(rest) {
				return false
			}
			acts = append(acts, action{path: path, kind: fieldStrings, list: list})
		default:
			return false
		}
	}
	// As set does: a key or header naming a backend creates it.
	d := cfgDecoder{cfg: cfg}
	for _, a := range acts {
		if a.path[0] == "backends" {
			d.backend(a.path[1])
		}
		switch a.kind {
		case fieldString:
			d.setString(a.path, a.value)
		case fieldStrings:
			d.setList(a.path, a.list)
		}
	}
	return true
}

// bareKey reports a TOML bare key: letters, digits, '_' and '-'.
func bareKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// quickString reads a one-line string with nothing to unescape: "..."
// without a backslash, or '...'; rest is what follows it.
func quickString(v string) (s, rest string, ok bool) {
	if v == "" || v[0] != '"' && v[0] != '\'' || strings.HasPrefix(v, `"""`) || strings.HasPrefix(v, "'''") {
		return "", "", false
	}
	end := strings.IndexByte(v[1:], v[0])
	if end < 0 {
		return "", "", false
	}
	s = v[1 : 1+end]
	if v[0] == '"' && strings.IndexByte(s, '\\') >= 0 {
		return "", "", false
	}
	return s, v[2+end:], true
}

// quickList reads a one-line array of quickStrings, without a trailing
// comma; an empty one is an empty, non-nil list, as decodeConfig makes.
func quickList(v string) (list []string, rest string, ok bool) {
	if v == "" || v[0] != '[' {
		return nil, "", false
	}
	v = strings.TrimLeft(v[1:], " \t")
	list = []string{}
	if strings.HasPrefix(v, "]") {
		return list, v[1:], true
	}
	for {
		s, r, ok := quickString(v)
		if !ok {
			return nil, "", false
		}
		list = append(list, s)
		r = strings.TrimLeft(r, " \t")
		switch {
		case strings.HasPrefix(r, "]"):
			return list, r[1:], true
		case strings.HasPrefix(r, ","):
			v = strings.TrimLeft(r[1:], " \t")
		default:
			return nil, "", false
		}
	}
}

// quickTail accepts what may end a line: blanks and a comment.
func quickTail(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == '#'
}
