package oidc

import (
	"strings"
	"unsafe"
)

// The decrypted-session cache is bounded by bytes: the cookie value used as
// key plus an estimate of the decoded session.
const (
	// sessionCacheBytes is the budget of one middleware's session cache.
	sessionCacheBytes = 4 << 20
	// sessionCacheMaxEntry is the largest entry cached (1/64 of the
	// budget, so at least 64 entries always fit). Every session this
	// package writes (a cookie of at most maxSessionBytes, about 28 KiB
	// accounted) fits, as do express-written cookies up to about 37 KB;
	// larger ones, which express can write but we do not, are decrypted on
	// every request rather than evicting dozens of other users' entries.
	sessionCacheMaxEntry = sessionCacheBytes / 64
)

// decrypted is a session cookie value that decrypted and parsed before.
type decrypted struct {
	hdr    headerTimes
	sess   *Session // nil: a valid, empty session; never mutated
	oldKey bool
}

// headerTimes mirrors cookiecrypto.Header without importing it here.
type headerTimes struct{ iat, uat, exp int64 }

// sessionCache maps exact cookie values to their decrypted sessions. A
// browser sends the same value on every request until the cookie is
// re-issued, so most requests skip base64, AES-GCM and JSON entirely. The
// key is the whole authenticated value: a hit needs the same bytes that
// decrypted before, and the expiry checks still run on every request.
type sessionCache struct {
	c boundedCache[decrypted]
}

func (c *sessionCache) get(value string) (decrypted, bool) { return c.c.get(value) }

// put caches d under value unless the entry is too large. A shared value
// (a substring of the request's Cookie header) is copied, so that the cache
// never pins a whole header; a value joined from chunks is already a
// string of its own.
func (c *sessionCache) put(value string, d decrypted, shared bool) {
	size := len(value) + cacheEntryOverhead + sessionSize(d.sess)
	if size > sessionCacheMaxEntry {
		return
	}
	if shared {
		value = strings.Clone(value)
	}
	c.c.put(value, d, size, sessionCacheBytes, sessionCacheMaxEntry)
}

// sessionSize estimates the memory held by a decoded session.
func sessionSize(s *Session) int {
	if s == nil {
		return 0
	}
	n := int(unsafe.Sizeof(*s)) + len(s.IDToken) + len(s.AccessToken) + len(s.RefreshToken) + len(s.TokenType) + len(s.SID)
	if s.Values != nil {
		n += jsonValueSize(s.Values)
	}
	return n
}
