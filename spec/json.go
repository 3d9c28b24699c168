package spec

import (
	"strings"
	"unicode/utf8"
)

// AppendString appends s as a JSON string literal, for callers that write
// JSON lines without encoding/json; invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return appendString(dst, s)
}
