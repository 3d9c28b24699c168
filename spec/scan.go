package spec

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner below only ever runs on bytes that already passed validJSON
// (the whole document in ParseObject, or a value given to Set), so it only has
// to find boundaries, not check grammar. It still reports malformed input
// instead of panicking, as a second line of defence.

var errMalformed = errors.New("malformed JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// skipString returns the index just past the string whose opening quote is
// b[i], or -1.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		end := j + k
		// The quote is escaped iff an odd number of backslashes precede it.
		n := 0
		for p := end - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return end + 1
		}
		j = end + 1
	}
}

var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// skipValue returns the index just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			if !structural[b[j]] { // most bytes: skip them with one table lookup
				continue
			}
			switch b[j] {
			case '"': // inline: most strings are short, a call per string costs more
				for j++; j < len(b) && b[j] != '"'; j++ {
					if b[j] == '\\' {
						j++
					}
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) {
			c := b[j]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// forEachElement calls fn with each element of the JSON array raw (trimmed).
func forEachElement(raw []byte, fn func(i int, elem []byte) error) error {
	if len(raw) < 2 || raw[0] != '[' {
		return errMalformed
	}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return nil
	}
	for n := 0; ; n++ {
		e := skipValue(raw, i)
		if e < 0 {
			return errMalformed
		}
		if err := fn(n, raw[i:e]); err != nil {
			return err
		}
		i = skipSpace(raw, e)
		if i >= len(raw) {
			return errMalformed
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case ']':
			return nil
		default:
			return errMalformed
		}
	}
}

// kind names the JSON type of a trimmed raw value, for error messages.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number " + string(raw)
}

func isNull(raw []byte) bool { return len(raw) == 4 && string(raw) == "null" }

// decodeString decodes the JSON string literal raw (quotes included). Unlike
// encoding/json, which silently substitutes U+FFFD, it refuses unpaired
// UTF-16 surrogates: a key that decodes lossily could alias another key.
// Raw (unescaped) bytes are not checked here: ParseObject and Set check the
// UTF-8 validity of everything they accept.
func decodeString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errMalformed
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s), nil
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			return "", errMalformed
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := hex4(s[i+2:])
			if r < 0 {
				return "", errors.New(`invalid \u escape`)
			}
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one is valid.
				var r2 rune = -1
				if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
					r2 = hex4(s[i+8:])
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", errors.New("unpaired UTF-16 surrogate in string")
				}
				i += 6
			}
			buf = utf8.AppendRune(buf, r)
			i += 6
			continue
		default:
			return "", errMalformed
		}
		i += 2
	}
	return string(buf), nil
}

// hex4 decodes four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendString appends s as a JSON string literal, escaping exactly like
// encoding/json with HTML escaping off: quote, backslash, control characters
// (\b \f \n \r \t short forms, others as \u00XX) and U+2028/U+2029, which
// JavaScript treats as line terminators. s must be valid UTF-8.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
