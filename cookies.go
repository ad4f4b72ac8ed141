package oidc

import (
	"net/http"
	"strings"
	"time"
)

// The middleware writes Set-Cookie lines itself, in express-openid-connect's
// attribute order, so that chunk sizes can be computed exactly.

const maxCookieSize = 4096

var epoch = time.Unix(0, 0).UTC()

// setCookie describes one Set-Cookie line.
type setCookie struct {
	name, value string
	domain      string
	path        string
	expires     time.Time // zero: no Expires attribute
	httpOnly    bool
	secure      bool
	sameSite    http.SameSite // 0: no SameSite attribute
}

func (c setCookie) String() string {
	var b strings.Builder
	b.Grow(len(c.name) + len(c.value) + 96)
	b.WriteString(c.name)
	b.WriteByte('=')
	b.WriteString(c.value)
	if c.domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(c.domain)
	}
	b.WriteString("; Path=")
	b.WriteString(c.path)
	if !c.expires.IsZero() {
		b.WriteString("; Expires=")
		b.WriteString(c.expires.UTC().Format(http.TimeFormat))
	}
	if c.httpOnly {
		b.WriteString("; HttpOnly")
	}
	if c.secure {
		b.WriteString("; Secure")
	}
	switch c.sameSite {
	case http.SameSiteLaxMode:
		b.WriteString("; SameSite=Lax")
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	}
	return b.String()
}

func addCookie(h http.Header, c setCookie) {
	h.Add("Set-Cookie", c.String())
}

// sessionCookie returns a session cookie line with the configured attributes.
func (s *settings) sessionCookie(name, value string, exp time.Time) setCookie {
	c := setCookie{
		name: name, value: value,
		domain: s.cookie.domain, path: s.cookie.path,
		httpOnly: s.cookie.httpOnly, secure: s.cookie.secure, sameSite: s.cookie.sameSite,
	}
	if !s.cookie.transient {
		c.expires = exp
	}
	return c
}

// clearSessionCookie returns the line that deletes a session cookie. Like
// express-openid-connect, clears carry Domain, Path, SameSite and Secure.
func (s *settings) clearSessionCookie(name string) setCookie {
	return setCookie{
		name: name, domain: s.cookie.domain, path: s.cookie.path, expires: epoch,
		secure: s.cookie.secure, sameSite: s.cookie.sameSite,
	}
}

// chunkSize is the largest value that fits one Set-Cookie line of at most
// 4096 bytes, computed from an empty chunk cookie as express-openid-connect
// does, but for the chunk names actually used: with ten or more chunks the
// names grow, which express does not account for.
func (s *settings) chunkSize(valueLen int) int {
	size := 0
	for digits := 1; digits < 4; digits++ {
		empty := s.sessionCookie(s.sessionName+"."+strings.Repeat("0", digits), "", time.Unix(1700000000, 0))
		size = maxCookieSize - len(empty.String())
		if size <= 0 || (valueLen+size-1)/size <= pow10(digits) {
			break
		}
	}
	return size
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}
