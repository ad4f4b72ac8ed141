package safeurl

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// origin is a (scheme, host, port) tuple as a browser computes it. port is ""
// for the scheme's default port. An opaque origin has opaque set.
type origin struct {
	scheme, host, port string
	opaque             bool
}

// baseOrigin returns base's origin in the same normalised form browserResolve
// uses.
func baseOrigin(base *url.URL) origin {
	scheme := strings.ToLower(base.Scheme)
	port := base.Port()
	if port == defaultPort(scheme) {
		port = ""
	}
	return origin{scheme: scheme, host: strings.ToLower(strings.Trim(base.Hostname(), "[]")), port: port}
}

// defaultPort returns the default port of a special scheme.
func defaultPort(scheme string) string {
	switch scheme {
	case "http", "ws":
		return "80"
	case "https", "wss":
		return "443"
	case "ftp":
		return "21"
	}
	return ""
}

// browserResolve is the test oracle described in docs/security.md ("How the
// ids are used"): an approximation of
// the WHATWG URL parser for a Location header value loc received on a page
// whose URL is base (an http or https URL). It returns the origin the browser
// would navigate to, and false if the browser would fail to parse loc.
//
//   - all TAB, LF and CR are removed, leading and trailing C0 controls and
//     spaces are trimmed, and '\' is treated like '/' (special schemes);
//   - a special scheme equal to base's is followed by an authority only if
//     "//" follows, otherwise loc is relative to base;
//   - a special scheme different from base's is always followed by an
//     authority, however many (even zero) slashes follow ("http:evil.com");
//   - a non-special scheme (javascript:, data:, ...) yields an opaque origin;
//   - without a scheme, two or more leading slashes start an authority;
//   - the host is the part after the last '@', percent-decoded, ASCII
//     lower-cased, with full-width forms and ideographic full stops folded
//     the way IDNA mapping would fold them.
func browserResolve(base *url.URL, loc string) (origin, bool) {
	bo := baseOrigin(base)
	s := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, loc)
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	s = strings.ReplaceAll(s, `\`, "/")

	if scheme, rest, ok := splitScheme(s); ok {
		switch scheme {
		case "http", "https", "ws", "wss", "ftp":
		default:
			return origin{scheme: scheme, opaque: true}, true
		}
		if scheme == bo.scheme && !strings.HasPrefix(rest, "//") {
			return bo, true
		}
		return parseAuthority(scheme, strings.TrimLeft(rest, "/"))
	}
	if strings.HasPrefix(s, "//") {
		return parseAuthority(bo.scheme, strings.TrimLeft(s, "/"))
	}
	return bo, true
}

// splitScheme splits "scheme:rest" when s starts with a syntactically valid
// URL scheme.
func splitScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return strings.ToLower(s[:i]), s[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// parseAuthority parses the authority at the start of s (slashes already
// stripped) into an origin.
func parseAuthority(scheme, s string) (origin, bool) {
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	host, port, ipv6 := s, "", false
	if strings.HasPrefix(s, "[") {
		ipv6 = true
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return origin{}, false
		}
		host = s[1:i]
		rest := s[i+1:]
		if rest != "" {
			if rest[0] != ':' {
				return origin{}, false
			}
			port = rest[1:]
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			return origin{}, false
		}
		port = strconv.Itoa(n)
		if port == defaultPort(scheme) {
			port = ""
		}
	}
	host = foldHost(percentDecode(host))
	if host == "" || !ipv6 && strings.ContainsAny(host, " #%/:<>?@[\\]^|") {
		return origin{}, false
	}
	for i := 0; i < len(host); i++ {
		if host[i] < 0x20 || host[i] == 0x7f {
			return origin{}, false
		}
	}
	return origin{scheme: scheme, host: host, port: port}, true
}

// percentDecode decodes %XX sequences, leaving invalid ones as they are.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// foldHost lower-cases ASCII letters and applies the parts of IDNA mapping
// that can turn non-ASCII text into ASCII: full-width forms and the
// ideographic/full-width/half-width full stops.
func foldHost(h string) string {
	if !utf8.ValidString(h) {
		return strings.ToLower(h)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u3002' || r == '\uff0e' || r == '\uff61':
			return '.'
		case r >= '\uff01' && r <= '\uff5e':
			r -= 0xfee0
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}, h)
}
