package chunk

import "strings"

// maxHeaderCookies is net/http's default limit on the cookies of a request:
// Request.Cookies returns none when the Cookie header lines hold more.
const maxHeaderCookies = 3000

// ReadHeader is Read over the request's Cookie header lines, parsed as
// net/http's Request.Cookies parses them, but looking only at the cookies
// called name or name.<digits>: it builds no http.Cookie and copies no
// value of another cookie, so its cost grows with the bytes of the session
// cookies, plus one fast scan of the header for separators. name must be a
// valid cookie name (an HTTP token).
//
// ok is false when the lines hold more than net/http's default number of
// cookies (3000); net/http's limit can be changed with GODEBUG
// (httpcookiemaxnum), so the caller then parses the header with net/http
// and calls Read.
func ReadHeader(lines []string, name string) (Result, bool) {
	rd := reader{name: name}
	if !rd.scan(lines) {
		return Result{}, false
	}
	return rd.result(), true
}

// ReadHeaderTo is ReadHeader for callers that can use a chunked value
// without copying it: the chunks of a usable chunked value are joined into
// buf (reused from its start, grown when needed) and returned as joined,
// with res.Found set and res.Value left empty. For an unchunked or absent
// value joined is nil and res is as ReadHeader's.
func ReadHeaderTo(lines []string, name string, buf []byte) (res Result, joined []byte, ok bool) {
	rd := reader{name: name}
	if !rd.scan(lines) {
		return Result{}, nil, false
	}
	res, joined = rd.resultTo(buf)
	return res, joined, true
}

// scan adds the session's cookies of the header lines to rd, and reports
// false when the lines hold more cookies than net/http reads.
func (rd *reader) scan(lines []string) bool {
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxHeaderCookies {
		return false
	}
	name := rd.name
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = trimLeft(part)
			if !strings.HasPrefix(part, name) {
				continue // not ours: never looked at further
			}
			cookieName, raw, _ := strings.Cut(trimRight(part), "=")
			cookieName = trimRight(cookieName)
			if cookieName != name {
				if _, chunked := chunkSuffix(cookieName, name); !chunked {
					continue
				}
			}
			if value, valid := cookieValue(raw); valid {
				rd.add(cookieName, value)
			}
		}
	}
	return true
}

// cookieValue applies net/http's rules to a raw cookie value: one pair of
// surrounding double quotes is removed, and the value is refused when a
// byte is not allowed in a cookie value.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	if !validValue(raw) {
		return "", false
	}
	return raw, true
}

// validValue reports whether every byte of s is allowed in a cookie value
// by net/http: 0x20 to 0x7e, except '"', ';' and '\\'. It checks eight
// bytes at a time whether they all lie in '-' … 'z' without ';' and '\\'
// (base64url and dots do), and looks at single bytes only in a word that
// does not.
func validValue(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		semi, back := x^';'*ones, x^'\\'*ones
		odd := (x-'-'*ones)&^x | // a byte below '-'
			(x + ('\x7f'-'z')*ones | x) | // a byte above 'z'
			(semi-ones)&^semi | (back-ones)&^back // a ';' or a '\\'
		if odd&high != 0 && !validBytes(w) {
			return false
		}
	}
	return validBytes(s[i:])
}

// validBytes is validValue one byte at a time.
func validBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// isSpace reports whether b is ASCII white space as net/textproto trims it.
func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

func trimLeft(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

func trimRight(s string) string {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
