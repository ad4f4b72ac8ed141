package oidc

import "sync"

// sessionCacheSize bounds the decrypted-session cache.
const sessionCacheSize = 4096

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
	mu sync.Mutex
	m  map[string]decrypted
}

func (c *sessionCache) get(value string) (decrypted, bool) {
	c.mu.Lock()
	d, ok := c.m[value]
	c.mu.Unlock()
	return d, ok
}

func (c *sessionCache) put(value string, d decrypted) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]decrypted)
	}
	if len(c.m) >= sessionCacheSize {
		n := 0
		for k := range c.m { // drop about half, in map (random) order
			delete(c.m, k)
			if n++; n >= sessionCacheSize/2 {
				break
			}
		}
	}
	c.m[value] = d
}
