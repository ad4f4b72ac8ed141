package provider

import (
	"encoding/json"
	"net/url"
	"strconv"
)

// requestObject signs the authorization parameters as a request object
// (JAR, RFC 9101): every parameter, then client_id, iss = client_id, aud =
// the discovered issuer identifier, a random jti, iat = nbf = now and exp =
// now + 60 s. The header has alg and, when configured, kid; no typ, as in
// express-openid-connect. max_age becomes a JSON number and a claims
// parameter holding a JSON object becomes that object (OpenID Connect Core
// §6.1); every other parameter stays a string. Errors are server_error
// (500).
func (c *Client) requestObject(md *Metadata, params url.Values) (string, *Error) {
	if md == nil || md.Issuer == "" {
		return "", localError("the request object needs the discovered issuer as its audience", nil, nil)
	}
	claims := make(map[string]any, len(params)+6)
	for k, vs := range params {
		switch {
		case k == "resource" && len(vs) > 1:
			claims[k] = vs // RFC 8707 §2.1: several resources are an array
		case len(vs) > 0:
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
	std, err := c.jwtClaims(md.Issuer)
	if err != nil {
		return "", err
	}
	for k, v := range std {
		claims[k] = v
	}
	claims["client_id"] = c.s.ClientID
	tok, serr := signJWT(c.s.RequestKey, c.s.RequestAlg, c.s.RequestKeyID, claims)
	if serr != nil {
		return "", localError("the request object could not be signed", nil, serr)
	}
	return tok, nil
}
