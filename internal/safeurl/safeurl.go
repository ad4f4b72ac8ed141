// Package safeurl decides whether a redirect target (a post-login returnTo, a
// post-logout returnTo, or the URL of the request that triggered a login) may
// be written to a Location header without turning the application into an
// open redirector (RFC 9700 §4.11.1).
//
// The rule is "same origin as the application's BaseURL, judged the way a
// browser would judge it". Go's net/url parser and the WHATWG URL parser that
// browsers use disagree on several inputs (backslashes, TAB/CR/LF, missing
// "//" after a scheme, leading whitespace), so Resolve refuses every input on
// which the two could disagree instead of trying to emulate the browser, and
// then emits an absolute URL built from BaseURL's own scheme and host.
package safeurl

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Resolve checks that candidate, resolved against base (the app's absolute
// BaseURL), stays on base's origin (scheme, host and port equal; the path of
// base does not matter). It returns the absolute URL string to put in a
// Location header and true, or "", false.
//
// Accepted candidates are either a path-absolute reference ("/", "/a?b#c":
// exactly one leading "/" not followed by "/" or "\") or an absolute URL of
// the form scheme://host[:port]/... whose scheme, host and effective port equal
// base's. Everything else is rejected, in particular: the empty string; any
// ASCII control character (including TAB, CR, LF and DEL) or backslash
// anywhere; leading or trailing whitespace; url.Parse errors; userinfo;
// scheme-only forms such as "http:evil.com" or "https:/evil.com";
// protocol-relative "//host"; relative references that do not start with "/"
// (including "?x", "#y", "x", "./x"); non-http(s) schemes such as javascript:
// and data:; and an authority containing anything other than ASCII letters,
// digits, '.', '-', '_', ':', '[' and ']' (so percent-encoded or IDN hosts are
// refused rather than decoded). A base that is nil or not an absolute http or
// https URL with a host makes every candidate fail.
//
// The returned URL uses base's scheme and host, never contains control
// characters, spaces, backslashes or non-ASCII bytes, and its path never starts
// with "//".
func Resolve(base *url.URL, candidate string) (string, bool) {
	scheme, ok := baseScheme(base)
	if !ok || candidate == "" || !cleanChars(candidate) {
		return "", false
	}
	u, err := url.Parse(candidate)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if u.Scheme == "" {
		// Path-absolute reference only: "/" followed by end or by something
		// other than '/' (backslashes were rejected above).
		if u.Host != "" || candidate[0] != '/' || (len(candidate) > 1 && candidate[1] == '/') {
			return "", false
		}
	} else {
		if u.Scheme != scheme || !sameAuthority(base, u, candidate) {
			return "", false
		}
	}

	out := base.ResolveReference(u)
	out.Scheme = scheme
	out.Opaque = ""
	out.User = nil
	out.Host = base.Host
	out.RawQuery = escapeUnsafe(out.RawQuery)
	// Browsers also treat "%2e" as a dot in dot segments; Go does not. Apply
	// the browser's rule so that the emitted path is what the browser will
	// request.
	escPath := RemoveDotSegments(out.EscapedPath())
	if strings.HasPrefix(escPath, "//") {
		// "/.//evil.com" or "/%2e%2e//evil.com" resolve to the path
		// "//evil.com". That is still on our origin, but such a path becomes
		// protocol-relative the moment anyone strips the origin off again
		// (e.g. a later request's URL used as returnTo), so refuse it.
		return "", false
	}
	if escPath != out.EscapedPath() {
		p, err := url.PathUnescape(escPath)
		if err != nil {
			return "", false
		}
		out.Path, out.RawPath = p, escPath
	}
	s := out.String()

	// Defence in depth: the serialised form must still start with our origin
	// and be free of anything a browser would strip or reinterpret.
	prefix := scheme + "://" + base.Host
	if !strings.HasPrefix(s, prefix) || !cleanChars(s) || strings.ContainsFunc(s, isUnsafeByteRune) {
		return "", false
	}
	if rest := s[len(prefix):]; rest != "" && rest[0] != '/' && rest[0] != '?' && rest[0] != '#' {
		return "", false
	}
	return s, true
}

// FromRequest returns the returnTo value express-openid-connect derives from a
// GET request (req.originalUrl with leading slashes collapsed to one), hardened:
// it uses r.URL.EscapedPath() plus "?" + r.URL.RawQuery when present (never the
// decoded Path), collapses any run of leading '/' or '\' characters to a single
// '/', percent-encodes bytes in the query that a browser would strip or
// reinterpret (controls, space, backslash, '#', non-ASCII, ...), and returns ""
// if the result would not pass Resolve against base (or r or r.URL is nil).
//
// The result is a path-absolute reference like "/a/b?x=1" (relative, so it
// stays correct behind a reverse proxy mount), not an absolute URL. FromRequest
// does not look at r.Method; express only uses the request URL for GET
// requests and falls back to BaseURL otherwise, which is the caller's choice.
func FromRequest(base *url.URL, r *http.Request) string {
	if r == nil || r.URL == nil || r.URL.Opaque != "" {
		return ""
	}
	target := "/" + strings.TrimLeft(r.URL.EscapedPath(), `/\`)
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		target += "?" + escapeUnsafe(r.URL.RawQuery)
	}
	if _, ok := Resolve(base, target); !ok {
		return ""
	}
	return target
}

// baseScheme validates base and returns its lower-cased scheme.
func baseScheme(base *url.URL) (string, bool) {
	if base == nil || base.Host == "" || base.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(base.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	return scheme, true
}

// cleanChars reports whether s is free of ASCII control characters and
// backslashes and has no leading or trailing whitespace.
func cleanChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !unicode.IsSpace(first) && !unicode.IsSpace(last)
}

// isUnsafeByteRune reports runes that must never appear unescaped in an
// emitted Location: space and anything outside printable ASCII.
func isUnsafeByteRune(r rune) bool {
	return r == ' ' || r >= 0x7f
}

// sameAuthority reports whether the absolute URL u (parsed from raw) names
// exactly base's host and effective port, using only a conservative ASCII
// authority syntax on which Go and browsers agree.
func sameAuthority(base, u *url.URL, raw string) bool {
	if u.Host == "" {
		return false
	}
	// url.Parse lower-cases the scheme and the first ':' ends it, so raw
	// continues with ':' right after len(u.Scheme) bytes.
	rest := raw[len(u.Scheme)+1:]
	if !strings.HasPrefix(rest, "//") {
		return false
	}
	rest = rest[2:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if rest == "" || rest != u.Host {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	if !strings.EqualFold(u.Hostname(), base.Hostname()) {
		return false
	}
	scheme := u.Scheme
	return effectivePort(scheme, u.Port()) == effectivePort(scheme, base.Port())
}

// RemoveDotSegments removes "." and ".." segments from an escaped absolute
// path (RFC 3986 §5.2.4) the way the WHATWG URL parser does, which also recognises "%2e" (any
// case) as a dot: ".%2e", "%2e." and "%2e%2e" are double-dot segments.
func RemoveDotSegments(p string) string {
	if !strings.HasPrefix(p, "/") {
		return p
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		last := i == len(segs)-1
		switch dots(seg) {
		case 1:
			if last {
				out = append(out, "")
			}
		case 2:
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}

// dots returns 1 for a single-dot segment, 2 for a double-dot segment and 0
// otherwise, recognising "%2e" and "%2E" as dots.
func dots(seg string) int {
	if len(seg) == 0 || len(seg) > 6 {
		return 0
	}
	switch strings.ReplaceAll(strings.ToLower(seg), "%2e", ".") {
	case ".":
		return 1
	case "..":
		return 2
	}
	return 0
}

// effectivePort returns port, or the scheme's default port if port is empty.
func effectivePort(scheme, port string) string {
	if port != "" {
		return port
	}
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// escapeUnsafe percent-encodes the bytes of a raw query that a browser would
// strip, normalise or treat as a delimiter (controls, space, backslash, '#',
// quotes, angle brackets, backtick, DEL and non-ASCII). Existing
// percent-escapes are left alone.
func escapeUnsafe(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// needsEscape reports whether c must be percent-encoded by escapeUnsafe.
func needsEscape(c byte) bool {
	switch c {
	case '\\', '#', '"', '<', '>', '`':
		return true
	}
	return c <= ' ' || c >= 0x7f
}
