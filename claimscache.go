package oidc

import "sync"

// claimsCacheSize bounds the decoded-claims cache.
const claimsCacheSize = 4096

// claimsCache keeps the decoded claims of recently seen ID tokens, so that a
// user's requests decode the same token once rather than on every request.
// Entries are immutable; callers receive copies.
type claimsCache struct {
	mu sync.Mutex
	m  map[string]Claims
}

// get returns the claims of token, decoding and caching them on a miss.
func (c *claimsCache) get(token string) (Claims, error) {
	c.mu.Lock()
	claims, ok := c.m[token]
	c.mu.Unlock()
	if ok {
		return claims, nil
	}
	claims, err := decodeClaims(token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]Claims)
	}
	if len(c.m) >= claimsCacheSize {
		n := 0
		for k := range c.m { // drop about half, in map (random) order
			delete(c.m, k)
			if n++; n >= claimsCacheSize/2 {
				break
			}
		}
	}
	c.m[token] = claims
	c.mu.Unlock()
	return claims, nil
}
