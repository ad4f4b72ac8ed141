package provider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// clientAssertionType is the client_assertion_type of JWT client
// authentication (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// jwtLifetime is the lifetime of client assertions and request objects
// (exp = iat + 60 s, as in express-openid-connect).
const jwtLifetime = 60 * time.Second

// clientAuthn is how the client authenticates one request: HTTP Basic with
// the secret, or extra form parameters.
type clientAuthn struct {
	basic  bool       // client_secret_basic
	params url.Values // client_id, client_secret or client assertions
}

// clientAuth returns the client authentication for one token-endpoint, PAR
// or revocation request. Assertion-based methods mint a fresh assertion
// per call. Errors are server_error (500).
func (c *Client) clientAuth(md *Metadata) (clientAuthn, *Error) {
	switch c.s.AuthMethod {
	case AuthSecretBasic:
		return clientAuthn{basic: true}, nil
	case AuthSecretPost:
		return clientAuthn{params: url.Values{"client_id": {c.s.ClientID}, "client_secret": {c.s.ClientSecret}}}, nil
	case AuthSecretJWT, AuthPrivateKeyJWT:
		assertion, err := c.clientAssertion(md)
		if err != nil {
			return clientAuthn{}, err
		}
		return clientAuthn{params: url.Values{
			"client_id":             {c.s.ClientID},
			"client_assertion_type": {clientAssertionType},
			"client_assertion":      {assertion},
		}}, nil
	default: // none, tls_client_auth (the certificate is the HTTP client's)
		return clientAuthn{params: url.Values{"client_id": {c.s.ClientID}}}, nil
	}
}

// clientAssertion mints a client assertion (RFC 7523 §3): iss = sub =
// client_id, aud = the discovered issuer identifier as a single string, a
// random jti, iat = nbf = now and exp = now + 60 s; no kid header.
func (c *Client) clientAssertion(md *Metadata) (string, *Error) {
	if md == nil || md.Issuer == "" {
		return "", localError("the client assertion needs the discovered issuer", nil, nil)
	}
	claims, err := c.jwtClaims(md.Issuer)
	if err != nil {
		return "", err
	}
	claims["sub"] = c.s.ClientID
	var key any = c.s.AssertionKey
	if c.s.AuthMethod == AuthSecretJWT {
		key = []byte(c.s.ClientSecret)
	}
	tok, serr := signJWT(key, c.s.AssertionAlg, "", claims)
	if serr != nil {
		return "", localError("the client assertion could not be signed", nil, serr)
	}
	return tok, nil
}

// jwtClaims returns the claims shared by client assertions and request
// objects: iss = client_id, aud, a random 128-bit jti (hex), iat = nbf = now
// and exp = now + 60 s.
func (c *Client) jwtClaims(aud string) (map[string]any, *Error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(c.s.Random, b); err != nil {
		return nil, localError("no randomness", nil, err)
	}
	now := c.s.Now().Unix()
	return map[string]any{
		"iss": c.s.ClientID,
		"aud": aud,
		"jti": hex.EncodeToString(b),
		"iat": now,
		"nbf": now,
		"exp": now + int64(jwtLifetime/time.Second),
	}, nil
}

// signJWT signs claims as a compact JWS with alg. key is a []byte MAC key
// or a crypto.Signer; kid, when set, goes into the header. No typ header.
func signJWT(key any, alg, kid string, claims map[string]any) (string, error) {
	var k any
	switch key := key.(type) {
	case []byte, *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		k = key
	case crypto.Signer:
		k = cryptosigner.Opaque(pssEqualsHash{key}) // HSMs, KMS and other opaque signers
	default:
		return "", fmt.Errorf("oidc: unsupported signing key %T", key)
	}
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// pssEqualsHash makes RSA-PSS signatures of an opaque signer use a salt as
// long as the hash, as RFC 7518 §3.5 requires; cryptosigner asks for the
// longest possible salt, which strict verifiers refuse.
type pssEqualsHash struct{ crypto.Signer }

func (s pssEqualsHash) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if p, ok := opts.(*rsa.PSSOptions); ok && p.SaltLength == rsa.PSSSaltLengthAuto {
		q := *p
		q.SaltLength = rsa.PSSSaltLengthEqualsHash
		opts = &q
	}
	return s.Signer.Sign(r, digest, opts)
}
