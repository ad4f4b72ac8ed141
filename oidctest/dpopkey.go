package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DPoPKey is a client's DPoP key pair (RFC 9449), for tests that mint
// proofs by hand. Create one with [NewDPoPKey].
type DPoPKey struct {
	// Alg is the proof's JWS algorithm: "ES256", "EdDSA", "PS256" or
	// "RS256" (any algorithm [SignJWT] knows for Key also works).
	Alg string
	// Key is the private key.
	Key crypto.Signer
	// Now sets the iat of the proofs. Default time.Now; set it to the
	// provider's [Options.Now] when the test runs a fake clock.
	Now func() time.Time
}

// NewDPoPKey generates a key for alg: "ES256" (P-256), "EdDSA" (Ed25519),
// "PS256" or "RS256" (RSA 2048).
func NewDPoPKey(alg string) (*DPoPKey, error) {
	var key crypto.Signer
	var err error
	switch alg {
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "PS256", "RS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("oidctest: unsupported DPoP alg %q (want ES256, EdDSA, PS256 or RS256)", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("oidctest: generate DPoP key: %w", err)
	}
	return &DPoPKey{Alg: alg, Key: key}, nil
}

// PublicJWK returns the public key as a JWK (only the public members, no
// kid), as it appears in the jwk header of the proofs.
func (k *DPoPKey) PublicJWK() map[string]any {
	raw, err := jose.JSONWebKey{Key: k.Key.Public()}.MarshalJSON()
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// Thumbprint returns the base64url JWK SHA-256 thumbprint (RFC 7638) of
// the public key: the jkt of tokens bound to it and the value of dpop_jkt.
func (k *DPoPKey) Thumbprint() string {
	tp, err := jwkThumbprint(k.Key.Public())
	if err != nil {
		return ""
	}
	return tp
}

// jwkThumbprint computes the RFC 7638 SHA-256 thumbprint of a public key.
func jwkThumbprint(pub crypto.PublicKey) (string, error) {
	sum, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// AccessTokenHash returns the ath of a proof for accessToken:
// base64url(SHA-256(accessToken)) (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DPoPProof returns a fresh DPoP proof signed with key for a request of
// method to target (its query and fragment are dropped for htu), with a
// random jti and iat = key.Now(). nonce adds the nonce claim and
// accessToken the ath claim, when they are non-empty.
func DPoPProof(key *DPoPKey, method, target, nonce, accessToken string) (string, error) {
	return key.ProofWith(method, target, nonce, accessToken, nil)
}

// ProofWith is [DPoPProof] with a hook: mutate may edit the header (typ,
// alg, jwk) and the claims (jti, htm, htu, iat, nonce, ath) before
// signing, so tests can mint wrong proofs. The proof is signed with Key
// according to the final header alg (see [SignJWT]).
func (k *DPoPKey) ProofWith(method, target, nonce, accessToken string, mutate func(header, claims map[string]any)) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("oidctest: DPoP proof target: %w", err)
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	header := map[string]any{"typ": dpopJWTType, "alg": k.Alg, "jwk": k.PublicJWK()}
	claims := map[string]any{
		"jti": rand.Text(),
		"htm": method,
		"htu": u.String(),
		"iat": now().Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		claims["ath"] = AccessTokenHash(accessToken)
	}
	if mutate != nil {
		mutate(header, claims)
	}
	return SignJWT(header, claims, k.Key)
}
