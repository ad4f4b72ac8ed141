package oidc

import (
	"strings"
	"sync"
	"unsafe"
)

// cacheEntryOverhead approximates what one entry costs beyond its key and
// value bytes: the map slot, the key and value headers and the entry's own
// bookkeeping.
const cacheEntryOverhead = 96

// boundedCache is a concurrency-safe map bounded by the bytes it holds, as
// estimated by the caller for each entry (key bytes plus an estimate of the
// value). When an entry does not fit the budget, entries are dropped in map
// (random) order until the new entry fits in half the budget, so eviction
// costs O(1) per insertion over time. Entries larger than the caller's
// per-entry limit are not stored at all. It backs the decoded-claims and
// decrypted-session caches.
type boundedCache[V any] struct {
	mu    sync.Mutex
	m     map[string]cacheEntry[V]
	bytes int // the sizes of the entries in m
}

type cacheEntry[V any] struct {
	v    V
	size int
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	return e.v, ok
}

// getBytes is get with the key's bytes, without copying them.
func (c *boundedCache[V]) getBytes(key []byte) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[string(key)]
	c.mu.Unlock()
	return e.v, ok
}

// put stores v under key as an entry of size bytes, keeping the total at
// most budget. It stores nothing, and reports false, when size exceeds
// maxEntry.
func (c *boundedCache[V]) put(key string, v V, size, budget, maxEntry int) bool {
	if size > maxEntry || size > budget {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cacheEntry[V])
	}
	if old, ok := c.m[key]; ok {
		delete(c.m, key)
		c.bytes -= old.size
	}
	if c.bytes+size > budget {
		for k, e := range c.m {
			if c.bytes+size <= budget/2 {
				break
			}
			delete(c.m, k)
			c.bytes -= e.size
		}
	}
	c.m[key] = cacheEntry[V]{v: v, size: size}
	c.bytes += size
	return true
}

// size returns the accounted bytes and the number of entries.
func (c *boundedCache[V]) size() (bytes, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.m)
}

// jsonValueSize estimates the memory held by a value that encoding/json
// decoded into an interface: string bytes, interface and slice headers, and
// map entries.
func jsonValueSize(v any) int {
	const iface = 16
	switch t := v.(type) {
	case string:
		return iface + 16 + len(t)
	case map[string]any:
		n := iface + 48
		for k, e := range t {
			n += 16 + len(k) + jsonValueSize(e) + 8
		}
		return n
	case []any:
		n := iface + 24
		for _, e := range t {
			n += jsonValueSize(e)
		}
		return n
	}
	return iface + 8 // numbers, booleans, null
}

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

// decoded is a session that decoded before: a session cookie value that
// decrypted, or a store entry.
type decoded struct {
	hdr    headerTimes
	sess   *Session // nil: a valid, empty session; never mutated
	oldKey bool     // cookies: decrypted with an old secret
	id     string   // store entries: the id the entry was read under
	// jwt reports whether sess's ID token is a JWT with a JSON object
	// payload (isJWTObject), the test of Context.IsAuthenticated.
	jwt bool
}

// headerTimes mirrors cookiecrypto.Header without importing it here.
type headerTimes struct{ iat, uat, exp int64 }

// sessionCache maps exact cookie values to their decrypted sessions. A
// browser sends the same value on every request until the cookie is
// re-issued, so most requests skip base64, AES-GCM and JSON entirely. The
// key is the whole authenticated value: a hit needs the same bytes that
// decrypted before, and the expiry checks still run on every request. The
// store backend keeps one too, keyed by the exact entry bytes the store
// returned (read on every request), so that an unchanged entry is not
// decoded again.
type sessionCache struct {
	c boundedCache[decoded]
}

func (c *sessionCache) get(value string) (decoded, bool) { return c.c.get(value) }

// getBytes is get for a value held in a buffer (a joined chunked cookie).
func (c *sessionCache) getBytes(value []byte) (decoded, bool) { return c.c.getBytes(value) }

// put caches d under value unless the entry is too large. A shared value
// (a substring of the request's Cookie header) is copied, so that the cache
// never pins a whole header; a value joined from chunks is already a
// string of its own.
func (c *sessionCache) put(value string, d decoded, shared bool) {
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

// The decoded-claims cache is bounded by bytes: the ID token used as key
// plus an estimate of the decoded claims.
const (
	// claimsCacheBytes is the budget of one middleware's claims cache.
	claimsCacheBytes = 1 << 20
	// claimsCacheMaxEntry is the largest entry cached (1/64 of the
	// budget): an ID token of about 9 KB with its claims.
	claimsCacheMaxEntry = claimsCacheBytes / 64
)

// claimsCache keeps the decoded claims of recently seen ID tokens, so that a
// user's requests decode the same token once rather than on every request.
// Entries are immutable; callers receive copies.
type claimsCache struct {
	c boundedCache[Claims]
}

// get returns the claims of token, decoding and caching them on a miss.
func (c *claimsCache) get(token string) (Claims, error) {
	if claims, ok := c.c.get(token); ok {
		return claims, nil
	}
	claims, err := decodeClaims(token)
	if err != nil {
		return nil, err
	}
	size := len(token) + cacheEntryOverhead + jsonValueSize(map[string]any(claims))
	c.c.put(token, claims, size, claimsCacheBytes, claimsCacheMaxEntry)
	return claims, nil
}
