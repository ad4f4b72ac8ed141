package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// SignJWT builds a compact JWS from header and claims, signed according to
// header["alg"] with key:
//
//   - "none": key is ignored and the signature is empty;
//   - "HS256", "HS384", "HS512": key is a []byte or string MAC secret;
//   - "RS256", "RS384", "RS512", "PS256", "PS384", "PS512": *rsa.PrivateKey;
//   - "ES256", "ES384", "ES512": *ecdsa.PrivateKey on the matching curve;
//   - "EdDSA": ed25519.PrivateKey.
//
// Nothing is added to header or claims. It is meant for tests that need
// tokens the provider would never issue (other keys, other algorithms, a
// MAC keyed with a public key, ...).
func SignJWT(header, claims map[string]any, key any) (string, error) {
	alg, _ := header["alg"].(string)
	input, err := signingInput(header, claims)
	if err != nil {
		return "", err
	}
	sig, err := signBytes(alg, key, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func signingInput(header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("oidctest: encode JWT header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: encode JWT claims: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c), nil
}

func hashFor(alg string) (crypto.Hash, func() hash.Hash, error) {
	if len(alg) != 5 {
		return 0, nil, fmt.Errorf("oidctest: unsupported alg %q", alg)
	}
	switch alg[2:] {
	case "256":
		return crypto.SHA256, sha256.New, nil
	case "384":
		return crypto.SHA384, sha512.New384, nil
	case "512":
		return crypto.SHA512, sha512.New, nil
	}
	return 0, nil, fmt.Errorf("oidctest: unsupported alg %q", alg)
}

func errKeyType(alg string) error {
	return fmt.Errorf("oidctest: key type does not fit alg %q", alg)
}

func signBytes(alg string, key any, input []byte) ([]byte, error) {
	if alg == "none" {
		return nil, nil
	}
	if alg == "EdDSA" {
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, errKeyType(alg)
		}
		return ed25519.Sign(k, input), nil
	}
	ch, newHash, err := hashFor(alg)
	if err != nil {
		return nil, err
	}
	h := newHash()
	switch alg[:2] {
	case "HS":
		var secret []byte
		switch k := key.(type) {
		case []byte:
			secret = k
		case string:
			secret = []byte(k)
		default:
			return nil, errKeyType(alg)
		}
		m := hmac.New(newHash, secret)
		m.Write(input)
		return m.Sum(nil), nil
	case "RS", "PS":
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, errKeyType(alg)
		}
		h.Write(input)
		if alg[0] == 'R' {
			return rsa.SignPKCS1v15(rand.Reader, k, ch, h.Sum(nil))
		}
		return rsa.SignPSS(rand.Reader, k, ch, h.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES":
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, errKeyType(alg)
		}
		bits := k.Curve.Params().BitSize
		if want := map[string]int{"256": 256, "384": 384, "512": 521}[alg[2:]]; bits != want {
			return nil, errKeyType(alg)
		}
		size := (bits + 7) / 8
		h.Write(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, h.Sum(nil))
		if err != nil {
			return nil, err
		}
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("oidctest: unsupported alg %q", alg)
}

// signWithProvider signs a token the way the endpoints do: by the final
// header alg, using the provider key or the client secret, falling back to
// random signature bytes when no provider key fits the alg.
func signWithProvider(header, claims map[string]any, key *signingKey, secret string) (string, error) {
	alg, _ := header["alg"].(string)
	var k any
	switch {
	case strings.HasPrefix(alg, "HS"):
		k = []byte(secret)
	case key != nil:
		k = key.priv
	}
	tok, err := SignJWT(header, claims, k)
	if err == nil {
		return tok, nil
	}
	input, ierr := signingInput(header, claims)
	if ierr != nil {
		return "", ierr
	}
	junk := make([]byte, 256)
	_, _ = io.ReadFull(rand.Reader, junk)
	return input + "." + base64.RawURLEncoding.EncodeToString(junk), nil
}

func publicJWK(k *signingKey) (map[string]any, error) {
	jwk := jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig", Algorithm: k.alg}
	raw, err := jwk.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(raw, &m)
	return m, err
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// leftHalfHash computes c_hash/at_hash: base64url of the left half of the
// hash (of the alg's size) of the ASCII value.
func leftHalfHash(alg, value string) string {
	_, newHash, err := hashFor(alg)
	switch {
	case alg == "EdDSA":
		newHash = sha512.New // Ed25519 hashes with SHA-512
	case err != nil:
		newHash = sha256.New
	}
	h := newHash()
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// header returns the default JOSE header for the provider's tokens.
func (p *Provider) header(alg, typ string, key *signingKey) map[string]any {
	h := map[string]any{"alg": alg, "typ": typ}
	if key != nil && alg != "HS256" {
		h["kid"] = key.kid
	}
	return h
}

// SignIDToken signs claims with the current key (kid set in the header) and
// the configured Alg; no claims are added. [Options.MutateIDToken] is not
// applied. It returns "" if the claims cannot be encoded as JSON.
func (p *Provider) SignIDToken(claims map[string]any) string {
	p.mu.Lock()
	key, o := p.key, p.snapshot()
	p.mu.Unlock()
	tok, err := signWithProvider(p.header(o.Alg, "JWT", key), claims, key, o.ClientSecret)
	if err != nil {
		return ""
	}
	return tok
}

// IDToken returns a valid, signed ID token for sub: iss, aud (the client
// ID), sub, iat, exp, nonce (if non-empty), then [Options.Claims], then
// extra. Keys in extra override everything; a nil value in extra removes
// that claim. [Options.MutateIDToken] is not applied.
func (p *Provider) IDToken(sub, nonce string, extra map[string]any) string {
	p.mu.Lock()
	o := p.snapshot()
	p.mu.Unlock()
	claims := p.loginClaims(o, sub, nil, o.Now())
	if nonce != "" {
		claims["nonce"] = nonce
	}
	applyExtra(claims, extra)
	return p.SignIDToken(claims)
}

// LogoutToken returns a signed back-channel logout token (header typ
// "logout+jwt") with iss, aud, iat, exp (2 minutes), jti, the
// back-channel-logout event, and sub and sid when non-empty. Keys in extra
// override; a nil value removes the claim.
func (p *Provider) LogoutToken(sub, sid string, extra map[string]any) string {
	p.mu.Lock()
	key, o := p.key, p.snapshot()
	p.mu.Unlock()
	now := o.Now()
	claims := map[string]any{
		"iss":    p.issuer,
		"aud":    o.ClientID,
		"iat":    now.Unix(),
		"exp":    now.Add(2 * time.Minute).Unix(),
		"jti":    randomString(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sub != "" {
		claims["sub"] = sub
	}
	if sid != "" {
		claims["sid"] = sid
	}
	applyExtra(claims, extra)
	tok, err := signWithProvider(p.header(o.Alg, "logout+jwt", key), claims, key, o.ClientSecret)
	if err != nil {
		return ""
	}
	return tok
}

func applyExtra(claims, extra map[string]any) {
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
		} else {
			claims[k] = v
		}
	}
}

// issueIDToken builds, mutates and signs an ID token for an endpoint.
func (p *Provider) issueIDToken(o Options, claims map[string]any) (string, error) {
	key := p.currentKey()
	header := p.header(o.Alg, "JWT", key)
	if o.MutateIDToken != nil {
		o.MutateIDToken(header, claims)
	}
	return signWithProvider(header, claims, key, o.ClientSecret)
}

// verifyHint checks an id_token_hint issued by this provider (any key it
// has used, expiry not checked) and returns its claims.
func (p *Provider) verifyHint(o Options, token string) (map[string]any, error) {
	alg := jose.SignatureAlgorithm(o.Alg)
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, err
	}
	var keys []any
	if o.Alg == "HS256" {
		keys = append(keys, []byte(o.ClientSecret))
	} else {
		p.mu.Lock()
		if p.key != nil {
			keys = append(keys, p.key.priv.Public())
		}
		for _, k := range p.retired {
			if k.alg == o.Alg {
				keys = append(keys, k.priv.Public())
			}
		}
		p.mu.Unlock()
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify(k); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, errors.New("signature verification failed")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	if claims["iss"] != p.issuer {
		return nil, errors.New("wrong issuer")
	}
	if !audContains(claims["aud"], o.ClientID) {
		return nil, errors.New("wrong audience")
	}
	return claims, nil
}

func audContains(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		for _, v := range a {
			if v == clientID {
				return true
			}
		}
	}
	return false
}

// s256 returns BASE64URL(SHA256(verifier)).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
