package oidc

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
