package oidc

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
	c boundedCache[decrypted]
}

func (c *sessionCache) get(value string) (decrypted, bool) { return c.c.get(value) }

func (c *sessionCache) put(value string, d decrypted) { c.c.put(value, d, sessionCacheSize) }
