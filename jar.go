package oidc

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// requestObject signs the authorization parameters as a request object
// (JAR, RFC 9101): every parameter, then client_id, iss = client_id, aud =
// the discovered issuer identifier, a random jti, iat = nbf = now and exp =
// now + 60 s. The header has alg and, when configured, kid; no typ, as in
// express-openid-connect. max_age becomes a JSON number and a claims
// parameter holding a JSON object becomes that object (OpenID Connect Core
// §6.1); every other parameter stays a string.
func (m *Middleware) requestObject(ps *providerState, params url.Values) (string, error) {
	if ps == nil || ps.md.Issuer == "" {
		return "", newError(http.StatusInternalServerError, "server_error", "the request object needs the discovered issuer as its audience", nil)
	}
	claims := make(map[string]any, len(params)+6)
	for k, vs := range params {
		if len(vs) > 0 {
			claims[k] = vs[0]
		}
	}
	if v, ok := claims["max_age"].(string); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			claims["max_age"] = n
		}
	}
	if v, ok := claims["claims"].(string); ok {
		var obj map[string]any
		if json.Unmarshal([]byte(v), &obj) == nil && obj != nil {
			claims["claims"] = json.RawMessage(v)
		}
	}
	std, err := m.jwtClaims(ps.md.Issuer)
	if err != nil {
		return "", err
	}
	for k, v := range std {
		claims[k] = v
	}
	claims["client_id"] = m.s.clientID
	tok, err := signJWT(m.s.requestKey, m.s.requestAlg, m.s.requestKeyID, claims)
	if err != nil {
		return "", newError(http.StatusInternalServerError, "server_error", "the request object could not be signed", err)
	}
	return tok, nil
}
