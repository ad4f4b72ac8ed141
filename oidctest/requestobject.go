package oidctest

import (
	"encoding/json"
	"net/url"
	"slices"
)

// jwtClaims are request-object claims that are not authorization
// parameters.
var jwtClaims = []string{"iss", "aud", "exp", "iat", "nbf", "jti", "sub"}

// requestObjectParams verifies a request object (RFC 9101, OpenID Connect
// Core §6.1) sent by clientID and returns its authorization parameters. It
// must be signed (HS* with the client secret, or the key of
// ClientPublicKey; never "none"), name the client in client_id (and in iss,
// when present), have the issuer in aud, and not have expired. Only the
// parameters inside the object are used.
func (p *Provider) requestObjectParams(raw, clientID string, o Options) (url.Values, *authzError) {
	fail := func(desc string) (url.Values, *authzError) {
		return nil, &authzError{code: "invalid_request_object", desc: desc}
	}
	alg, claims, err := verifyClientJWT(raw, o)
	if err != nil {
		return fail("invalid request object: " + err.Error())
	}
	if !o.fapiAssertionAlg(alg) {
		return fail("FAPI 2.0 allows only PS256, ES256 and EdDSA request objects, not " + alg)
	}
	if cid, _ := claims["client_id"].(string); cid != clientID {
		return fail("the request object's client_id does not match the client")
	}
	if iss, present := claims["iss"]; present && iss != clientID {
		return fail("the request object's iss must be the client_id")
	}
	audOK := false
	switch aud := claims["aud"].(type) {
	case string:
		audOK = aud == p.issuer
	case []any:
		audOK = slices.Contains(aud, any(p.issuer))
	}
	if !audOK {
		return fail("the request object's aud must contain the issuer " + p.issuer)
	}
	now := o.Now()
	if _, present := claims["exp"]; present {
		exp, ok := numericClaim(claims, "exp")
		if !ok || !now.Before(exp) {
			return fail("the request object has expired")
		}
	}
	if _, present := claims["nbf"]; present {
		nbf, ok := numericClaim(claims, "nbf")
		if !ok || nbf.After(now) {
			return fail("the request object is not valid yet")
		}
	}
	params := url.Values{}
	for k, v := range claims {
		if slices.Contains(jwtClaims, k) {
			continue
		}
		if list, ok := v.([]any); ok && k == "resource" {
			for _, r := range list {
				if s, ok := r.(string); ok {
					params.Add(k, s)
				}
			}
			continue
		}
		switch v := v.(type) {
		case string:
			params.Set(k, v)
		case json.Number:
			params.Set(k, v.String())
		case bool:
			if v {
				params.Set(k, "true")
			} else {
				params.Set(k, "false")
			}
		case nil:
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return fail("the request object has an unsupported member " + k)
			}
			params.Set(k, string(b))
		}
	}
	return params, nil
}
