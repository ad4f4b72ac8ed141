// Package uricomp reproduces JavaScript's encodeURIComponent and the
// decoding that the Node "cookie" package applies to cookie values, so that
// cookie values written by express-openid-connect and by this port are
// byte-identical on the wire.
package uricomp

import (
	"strings"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

// unreserved reports whether encodeURIComponent leaves c as is:
// A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
		return true
	}
	return false
}

// Encode is exactly JavaScript's encodeURIComponent for valid UTF-8: it
// leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) unescaped and percent-encodes every
// other byte of the UTF-8 encoding with upper-case hex (space is %20, never
// "+"). JavaScript throws on lone surrogates; Go strings cannot hold those,
// and bytes of invalid UTF-8 are simply percent-encoded one by one.
// It returns s itself when nothing needs escaping.
func Encode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(upperHex[c>>4])
		sb.WriteByte(upperHex[c&0x0f])
	}
	return sb.String()
}

// Decode applies decodeURIComponent semantics only when s contains '%',
// as the Node cookie package does: "+" stays "+", %XX escapes (either hex
// case) are decoded, and escapes of bytes >= 0x80 must form complete,
// valid UTF-8 sequences (no overlong forms, surrogates or values above
// U+10FFFF). Characters that are not escaped are copied unchanged. On any
// decode error it returns s unchanged, like cookie.parse's fallback.
func Decode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			buf = append(buf, c)
			i++
			continue
		}
		b, ok := escapeAt(s, i)
		if !ok {
			return s
		}
		i += 3
		if b < utf8.RuneSelf {
			buf = append(buf, b)
			continue
		}
		var size int
		switch {
		case b&0xE0 == 0xC0:
			size = 2
		case b&0xF0 == 0xE0:
			size = 3
		case b&0xF8 == 0xF0:
			size = 4
		default:
			return s // continuation or invalid lead byte
		}
		seq := [utf8.UTFMax]byte{b}
		for k := 1; k < size; k++ {
			cb, ok := escapeAt(s, i)
			if !ok || cb&0xC0 != 0x80 {
				return s
			}
			seq[k] = cb
			i += 3
		}
		if r, got := utf8.DecodeRune(seq[:size]); got != size || (r == utf8.RuneError && got <= 1) {
			return s
		}
		buf = append(buf, seq[:size]...)
	}
	return string(buf)
}

// escapeAt decodes the %XX escape at s[i], where s[i] == '%'.
func escapeAt(s string, i int) (byte, bool) {
	if i+2 >= len(s) || s[i] != '%' {
		return 0, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

// unhex decodes one hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
