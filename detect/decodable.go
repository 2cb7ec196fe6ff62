package detect

import (
	"encoding/base64"
	"strings"
)

// mayDecode reports whether gitleaks' decoder (codec.Decoder.Decode,
// the start of every decoding pass) could find an encoded segment in
// data: false only when it finds none. It answers as that decoder does,
// without its regular expression, which is an eighth of a full-history
// scan's CPU when run on every fragment; a fragment it says yes to is
// decoded by gitleaks itself.
//
// The decoder matches, leftmost first, one expression of four kinds in
// this order: percent (%XX…), unicode (U+XXXX, \uXXXX), hex (32 or more
// hex digits) and base64 (16 or more of [\w/+-], then up to two '='),
// and a match is a segment when it decodes to printable ASCII. Where
// something percent- or unicode-shaped appears at all, this says yes. Else
// the matches are those of each run of [\w/+-]: a hex match of its
// leading hex digits when there are 32 or more, then a base64 match of
// what follows when 16 or more are left (of the whole run otherwise);
// the decoder then drops a base64 match that touches a hex one, and
// decodes the rest.
func mayDecode(data string) bool {
	n := len(data)
	// '%', 'U' and '\\' are looked for with IndexByte, which goes many
	// bytes at a time: most texts have few.
	for i := indexFrom(data, 0, '%'); i >= 0; i = indexFrom(data, i+1, '%') {
		if i+2 < n && isHexDigit(data[i+1]) && isHexDigit(data[i+2]) {
			return true
		}
	}
	for i := indexFrom(data, 0, 'U'); i >= 0; i = indexFrom(data, i+1, 'U') {
		if i+5 < n && data[i+1] == '+' && allHex(data[i+2:i+6]) {
			return true
		}
	}
	for i := indexFrom(data, 0, '\\'); i >= 0; i = indexFrom(data, i+1, '\\') {
		j := i + 1
		if j < n && data[j] == '\\' {
			j++
		}
		if j+4 < n && (data[j] == 'u' || data[j] == 'U') && allHex(data[j+1:j+5]) {
			return true
		}
	}
	// The hex and base64 matches, in order.
	var buf [16]codecMatch
	matches := buf[:0]
	for i := 0; i < n; {
		if !base64Class[data[i]] {
			i++
			continue
		}
		start := i
		for i < n && base64Class[data[i]] {
			i++
		}
		if i-start < 16 {
			continue
		}
		h := 0
		for start+h < i && isHexDigit(data[start+h]) {
			h++
		}
		if h >= 32 {
			matches = append(matches, codecMatch{true, start, start + h})
			if i-(start+h) < 16 {
				continue
			}
			start += h
		}
		end := i
		for k := 0; k < 2 && end < n && data[end] == '='; k++ {
			end++
		}
		matches = append(matches, codecMatch{false, start, end})
		i = end
	}
	// As the decoder, leave out a match that touches a neighbour of
	// higher precedence (hex over base64; touching counts: a base64 match
	// ending where a hex one starts), then decode what is left.
	for i, m := range matches {
		if !m.hex && len(matches) > 1 &&
			(i > 0 && matches[i-1].hex && matches[i-1].end >= m.start ||
				i+1 < len(matches) && matches[i+1].hex && matches[i+1].start <= m.end) {
			continue
		}
		v := data[m.start:m.end]
		if m.hex && hexDecodes(v) || !m.hex && base64Decodes(v) {
			return true
		}
	}
	return false
}

// codecMatch is a match of the decoder's expression: hex or base64.
type codecMatch struct {
	hex        bool
	start, end int
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// indexFrom is the index of the first c in s at or after from, or -1.
func indexFrom(s string, from int, c byte) int {
	if from >= len(s) {
		return -1
	}
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return -1
}

// base64Class is [\w/+-], \w being ASCII letters, digits and '_' (RE2),
// as a table for the loop over every byte.
var base64Class = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '/' || c == '+' || c == '-'
	}
	return t
}()

// printable is the decoder's printable ASCII: tab to '~'.
func printable(b byte) bool { return '\x08' < b && b < '\x7f' }

// hexDecodes: an even number of digits, one at least a decimal digit
// (the decoder's "likely hex"), each pair a printable byte.
func hexDecodes(s string) bool {
	if len(s)%2 != 0 || !hasAny(s, "0123456789") {
		return false
	}
	for i := 0; i < len(s); i += 2 {
		if !printable(hexVal(s[i])<<4 | hexVal(s[i+1])) {
			return false
		}
	}
	return true
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// base64Decodes: the decoder's "likely base64" (a digit or one of
// +/-_), then standard or raw URL base64 that decodes to printable
// ASCII.
func base64Decodes(s string) bool {
	if !hasAny(s, "0123456789+/-_") {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && allPrintable(b) {
			return true
		}
	}
	return false
}

func allPrintable(b []byte) bool {
	for _, c := range b {
		if !printable(c) {
			return false
		}
	}
	return true
}

func hasAny(s, set string) bool {
	for i := 0; i < len(s); i++ {
		for j := 0; j < len(set); j++ {
			if s[i] == set[j] {
				return true
			}
		}
	}
	return false
}
