package spec

import "unicode/utf8"

// This file is the validating scanner ParseObject runs over a whole
// document, in place of json.Valid followed by utf8.Valid and a second pass
// to find the top-level members. It accepts exactly what
// json.Valid(b) && utf8.Valid(b) accepts (RFC 8259 JSON, encoding/json's
// nesting limit of 10000, and valid UTF-8 throughout; FuzzValid checks it
// against both), in one pass, without allocating for documents up to
// 64 levels deep, and records the byte ranges of the top-level object's
// members on the way.

// maxDepth is encoding/json's nesting limit: json.Valid refuses deeper
// documents.
const maxDepth = 10000

// span is one top-level member: its quoted key b[k0:k1] and its value
// b[v0:v1].
type span struct{ k0, k1, v0, v1 int }

// strPlain marks the ASCII bytes a string may hold unescaped: everything
// from 0x20 up except '"' and '\\'. Bytes >= 0x80 start UTF-8 sequences.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// space marks JSON whitespace.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

var hexDigit = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// scanner states: what the next token must be.
const (
	stValue = iota // a value
	stAfter        // ',' or the closing bracket of the innermost container, or the end
	stKey          // a member key (after '{' with content, or after ',' in an object)
)

// validJSON reports whether b is one valid JSON value (with optional
// surrounding whitespace) in valid UTF-8, and end, the index just past the
// value. With record set and an object value, the ranges of the object's
// members are appended to top, which is returned.
func validJSON(b []byte, top []span, record bool) (_ []span, end int, ok bool) {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '[' per open container
	var cur span          // the top-level member being read
	state := stValue
	i := 0
	n := len(b)
	for {
		for i < n && space[b[i]] {
			i++
		}
		switch state {
		case stValue:
			if i >= n {
				return top, 0, false
			}
			if record && len(stack) == 1 && stack[0] == '{' {
				cur.v0 = i
			}
			state = stAfter
			switch c := b[i]; c {
			case '{', '[':
				if len(stack) >= maxDepth {
					return top, 0, false
				}
				stack = append(stack, c)
				i++
				for i < n && space[b[i]] {
					i++
				}
				switch {
				case i < n && (b[i] == '}' && c == '{' || b[i] == ']' && c == '['):
					stack = stack[:len(stack)-1] // empty: the value ends here
					i++
				case c == '{':
					state = stKey
				default:
					state = stValue
				}
			case '"':
				if i = scanString(b, i); i < 0 {
					return top, 0, false
				}
			case 't':
				if i+4 > n || string(b[i:i+4]) != "true" {
					return top, 0, false
				}
				i += 4
			case 'f':
				if i+5 > n || string(b[i:i+5]) != "false" {
					return top, 0, false
				}
				i += 5
			case 'n':
				if i+4 > n || string(b[i:i+4]) != "null" {
					return top, 0, false
				}
				i += 4
			default:
				if i = scanNumber(b, i); i < 0 {
					return top, 0, false
				}
			}
		case stAfter:
			if len(stack) == 0 {
				return top, end, i == n
			}
			if i >= n {
				return top, 0, false
			}
			switch b[i] {
			case ',':
				i++
				if stack[len(stack)-1] == '{' {
					state = stKey
				} else {
					state = stValue
				}
			case '}', ']':
				want := byte('{')
				if b[i] == ']' {
					want = '['
				}
				if stack[len(stack)-1] != want {
					return top, 0, false
				}
				stack = stack[:len(stack)-1]
				i++
			default:
				return top, 0, false
			}
		case stKey:
			if i >= n || b[i] != '"' {
				return top, 0, false
			}
			k0 := i
			if i = scanString(b, i); i < 0 {
				return top, 0, false
			}
			if len(stack) == 1 {
				cur.k0, cur.k1 = k0, i
			}
			for i < n && space[b[i]] {
				i++
			}
			if i >= n || b[i] != ':' {
				return top, 0, false
			}
			i++
			state = stValue
		}
		// A round that ends in stAfter has just finished one value, at i
		// (the whitespace after it is skipped at the top of the next round).
		if state == stAfter {
			switch {
			case len(stack) == 0:
				end = i // the top-level value
			case record && len(stack) == 1 && stack[0] == '{':
				cur.v1 = i // a member value of the top-level object
				top = append(top, cur)
			}
		}
	}
}

// scanString returns the index just past the valid string whose opening
// quote is b[i], or -1.
func scanString(b []byte, i int) int {
	n := len(b)
	i++
	for i < n {
		c := b[i]
		if strPlain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1
		case c == '\\':
			if i+1 >= n {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n || !hexDigit[b[i+2]] || !hexDigit[b[i+3]] || !hexDigit[b[i+4]] || !hexDigit[b[i+5]] {
					return -1
				}
				i += 6
			default:
				return -1
			}
		case c < utf8.RuneSelf: // a control character
			return -1
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return -1
			}
			i += size
		}
	}
	return -1
}

// scanNumber returns the index just past the number starting at b[i], or
// -1. What follows it is checked by the caller (a delimiter must).
func scanNumber(b []byte, i int) int {
	n := len(b)
	if b[i] == '-' {
		i++
		if i >= n {
			return -1
		}
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i++
		for i < n && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < n && b[i] == '.' {
		i++
		if i >= n || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i < n && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n || b[i] < '0' || b[i] > '9' {
			return -1
		}
		for i < n && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	return i
}
