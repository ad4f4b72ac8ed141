package oidc

// claimsCacheSize bounds the decoded-claims cache.
const claimsCacheSize = 4096

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
	c.c.put(token, claims, claimsCacheSize)
	return claims, nil
}
