package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ClientAssertionType is the client_assertion_type of JWT client
// authentication (RFC 7523 §2.2), used by client_secret_jwt and
// private_key_jwt.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime bounds exp - now of a client assertion.
const maxAssertionLifetime = 10 * time.Minute

var (
	hmacAlgs       = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}
	asymmetricAlgs = []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	}
	requestObjectAlgs = []string{
		"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
	}
)

// assertionAlgs returns token_endpoint_auth_signing_alg_values_supported for
// the enabled methods.
func assertionAlgs(methods []string) []string {
	var out []string
	if slices.Contains(methods, "private_key_jwt") {
		for _, a := range asymmetricAlgs {
			out = append(out, string(a))
		}
	}
	if slices.Contains(methods, "client_secret_jwt") {
		for _, a := range hmacAlgs {
			out = append(out, string(a))
		}
	}
	return out
}

func checkClientPublicKey(k crypto.PublicKey) error {
	switch k := k.(type) {
	case nil:
	case *rsa.PublicKey:
		if k == nil {
			return errors.New("oidctest: ClientPublicKey is a nil *rsa.PublicKey")
		}
	case *ecdsa.PublicKey:
		if k == nil {
			return errors.New("oidctest: ClientPublicKey is a nil *ecdsa.PublicKey")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errors.New("oidctest: ClientPublicKey is not a valid ed25519.PublicKey")
		}
	default:
		return fmt.Errorf("oidctest: unsupported ClientPublicKey type %T", k)
	}
	return nil
}

// verifyClientJWT checks the signature of a JWT from the client: HS* with
// ClientSecret, any other algorithm with ClientPublicKey; "none" is never
// accepted. It returns the algorithm and the claims.
func verifyClientJWT(raw string, o Options) (string, map[string]any, error) {
	jws, err := jose.ParseSignedCompact(raw, append(slices.Clone(hmacAlgs), asymmetricAlgs...))
	if err != nil {
		return "", nil, fmt.Errorf("malformed or unsigned JWT: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return "", nil, errors.New("the JWT must have exactly one signature")
	}
	alg := jws.Signatures[0].Header.Algorithm
	var payload []byte
	if strings.HasPrefix(alg, "HS") {
		// Verified by hand: go-jose refuses secrets shorter than the hash,
		// which registered clients may well have.
		parts := strings.Split(raw, ".")
		want, err := signBytes(alg, []byte(o.ClientSecret), []byte(parts[0]+"."+parts[1]))
		if err != nil {
			return "", nil, err
		}
		got, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || !hmac.Equal(got, want) {
			return "", nil, errors.New("signature verification failed")
		}
		payload = jws.UnsafePayloadWithoutVerification()
	} else {
		if o.ClientPublicKey == nil {
			return "", nil, errors.New("no public key is registered for the client")
		}
		if payload, err = jws.Verify(o.ClientPublicKey); err != nil {
			return "", nil, errors.New("signature verification failed")
		}
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return "", nil, errors.New("the JWT payload is not a JSON object")
	}
	return alg, claims, nil
}

// numericClaim returns a NumericDate claim as a time.
func numericClaim(claims map[string]any, name string) (time.Time, bool) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// authenticateAssertion implements client_secret_jwt and private_key_jwt
// (RFC 7523 §2.2, OpenID Connect Core §9): iss and sub are the client_id,
// aud is the issuer identifier as a single string, exp is in the future (at
// most 10 minutes), nbf and iat (when present) are not in the future, and
// jti is never seen twice while the assertion is valid.
func (p *Provider) authenticateAssertion(r *http.Request, form url.Values, o Options) (string, *oauthError) {
	if r.Header.Get("Authorization") != "" || form.Has("client_secret") {
		return "", badRequest("invalid_request", "more than one client authentication method")
	}
	if form.Get("client_assertion_type") != ClientAssertionType {
		return "", invalidClient("unsupported client_assertion_type")
	}
	raw := form.Get("client_assertion")
	if raw == "" {
		return "", invalidClient("client_assertion is missing")
	}
	alg, claims, err := verifyClientJWT(raw, o)
	if err != nil {
		return "", invalidClient("invalid client assertion: " + err.Error())
	}
	method := "private_key_jwt"
	if strings.HasPrefix(alg, "HS") {
		method = "client_secret_jwt"
	}
	if !slices.Contains(o.TokenEndpointAuthMethods, method) {
		return "", invalidClient(method + " is not allowed for this client")
	}
	if !o.fapiAssertionAlg(alg) {
		return "", invalidClient("FAPI 2.0 allows only PS256, ES256 and EdDSA client assertions, not " + alg)
	}
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	switch {
	case iss != o.ClientID || sub != o.ClientID:
		return "", invalidClient("the client assertion's iss and sub must be the client_id")
	case form.Has("client_id") && form.Get("client_id") != o.ClientID:
		return "", invalidClient("client_id does not match the client assertion")
	}
	if aud, ok := claims["aud"].(string); !ok || aud != p.issuer {
		return "", invalidClient("the client assertion's aud must be the issuer identifier " + p.issuer + " as a single string")
	}
	now := o.Now()
	exp, ok := numericClaim(claims, "exp")
	switch {
	case !ok:
		return "", invalidClient("the client assertion has no exp")
	case !now.Before(exp):
		return "", invalidClient("the client assertion has expired")
	case exp.Sub(now) > maxAssertionLifetime:
		return "", invalidClient("the client assertion's exp is too far in the future")
	}
	for _, c := range [...]string{"nbf", "iat"} {
		if _, present := claims[c]; !present {
			continue
		}
		t, ok := numericClaim(claims, c)
		if !ok || t.After(now) {
			return "", invalidClient("the client assertion's " + c + " is invalid or in the future")
		}
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return "", invalidClient("the client assertion has no jti")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.jtis {
		if now.After(e) {
			delete(p.jtis, k)
		}
	}
	if _, seen := p.jtis[jti]; seen {
		return "", invalidClient("the client assertion was replayed (jti already used)")
	}
	p.jtis[jti] = exp
	return o.ClientID, nil
}
