package provider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync/atomic"
)

// DPoP (RFC 9449) on the client side:
//
//   - Every token-endpoint request (authorization code, refresh, token
//     exchange) and every PAR request carries a fresh proof (post.go);
//     revocation requests do not (RFC 9449 defines no proof there).
//   - A 400 use_dpop_nonce answer with a DPoP-Nonce header is retried once
//     with that nonce, the whole request rebuilt (a new proof and a new
//     client assertion). The latest nonce of each authorization-server
//     origin is kept in memory (dpopnonce.go), and so is, separately, the
//     latest nonce of each resource origin (userinfo and the application's
//     APIs, RFC 9449 §9).
//   - The proof algorithm comes from the provider's
//     dpop_signing_alg_values_supported when it advertises some
//     (dpopalg.go).
//   - Code-flow authorization requests carry dpop_jkt, the key's RFC 7638
//     thumbprint, so that the code is bound to the key (RFC 9449 §10).
//   - Userinfo and resource requests send "Authorization: DPoP <token>" and
//     a proof with ath (dpopresource.go).

// dpopJWTType is the typ header of DPoP proofs.
const dpopJWTType = "dpop+jwt"

// ErrDPoPNotConfigured: a DPoP-bound access token was to be used, but the
// client has no DPoP key.
var ErrDPoPNotConfigured = errors.New("oidc: the access token is DPoP-bound but DPoP is not configured")

// ErrDPoPBearerDowngrade: DPoP was requested from a provider that
// advertises DPoP support, and it issued a Bearer token.
var ErrDPoPBearerDowngrade = errors.New("oidc: the provider issued a Bearer token although a DPoP-bound token was requested")

// DPoPKey is the client's DPoP key, prepared once: its public JWK, the JWK
// thumbprint and the proof algorithms it can sign. It is immutable.
type DPoPKey struct {
	signer crypto.Signer
	jwk    json.RawMessage // the public JWK, members in RFC 7638 order
	jkt    string          // base64url SHA-256 thumbprint of jwk
	algs   []string        // the algorithms the key can sign, default first
	// headers holds the base64url-encoded proof header of each algorithm.
	headers map[string]string
}

// rsaDPoPAlgs are the proof algorithms of RSA keys, the default first.
var rsaDPoPAlgs = []string{"PS256", "RS256", "PS384", "PS512", "RS384", "RS512"}

// NewDPoPKey prepares key for DPoP proofs: an ECDSA key on P-256 (ES256),
// P-384 (ES384) or P-521 (ES512), an Ed25519 key (EdDSA), or an RSA key of
// at least 2048 bits (PS256 by default; RS256, PS384, PS512, RS384,
// RS512). Errors name the problem, never key material.
func NewDPoPKey(key crypto.Signer) (*DPoPKey, error) {
	if key == nil {
		return nil, errors.New("no key")
	}
	pub, err := PublicKey(key)
	if err != nil {
		return nil, err
	}
	k := &DPoPKey{signer: key}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve == nil {
			return nil, errors.New("the ECDSA key is empty")
		}
		var crv, alg string
		switch pub.Curve {
		case elliptic.P256():
			crv, alg = "P-256", "ES256"
		case elliptic.P384():
			crv, alg = "P-384", "ES384"
		case elliptic.P521():
			crv, alg = "P-521", "ES512"
		default:
			return nil, fmt.Errorf("the ECDSA curve %s is not supported (want P-256, P-384 or P-521)", pub.Curve.Params().Name)
		}
		raw, err := pub.Bytes() // 0x04 || X || Y, each of the curve's size
		if err != nil {
			return nil, errors.New("the ECDSA key is malformed")
		}
		size := (len(raw) - 1) / 2
		enc := base64.RawURLEncoding
		k.jwk = marshalJWK(map[string]string{"crv": crv, "kty": "EC", "x": enc.EncodeToString(raw[1 : 1+size]), "y": enc.EncodeToString(raw[1+size:])})
		k.algs = []string{alg}
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("the Ed25519 key is malformed")
		}
		k.jwk = marshalJWK(map[string]string{"crv": "Ed25519", "kty": "OKP", "x": base64.RawURLEncoding.EncodeToString(pub)})
		k.algs = []string{"EdDSA"}
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil {
			return nil, errors.New("the RSA key is empty")
		}
		if pub.N.BitLen() < 2048 {
			return nil, errors.New("RSA keys must have at least 2048 bits")
		}
		k.jwk = marshalJWK(map[string]string{"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes())})
		k.algs = rsaDPoPAlgs
	default:
		return nil, fmt.Errorf("unsupported key type %T (want ECDSA, Ed25519 or RSA)", key)
	}
	sum := sha256.Sum256(k.jwk)
	k.jkt = base64.RawURLEncoding.EncodeToString(sum[:])
	k.headers = make(map[string]string, len(k.algs))
	for _, alg := range k.algs {
		hdr, err := json.Marshal(struct {
			Typ string          `json:"typ"`
			Alg string          `json:"alg"`
			JWK json.RawMessage `json:"jwk"`
		}{dpopJWTType, alg, k.jwk})
		if err != nil {
			return nil, err
		}
		k.headers[alg] = base64.RawURLEncoding.EncodeToString(hdr)
	}
	return k, nil
}

// Thumbprint returns the key's JWK SHA-256 thumbprint (RFC 7638),
// base64url-encoded: the value of dpop_jkt and of the cnf.jkt of tokens
// bound to the key.
func (k *DPoPKey) Thumbprint() string { return k.jkt }

// Algs returns the proof algorithms the key can sign, the default first.
func (k *DPoPKey) Algs() []string { return slices.Clone(k.algs) }

// CanSign reports whether the key can sign proofs with alg.
func (k *DPoPKey) CanSign(alg string) bool { return slices.Contains(k.algs, alg) }

// PublicKey returns key's public key, or an error for broken signers (a
// typed nil pointer, for example): the one check of every configured
// signing key, DPoP's and the client-authentication keys.
func PublicKey(key crypto.Signer) (pub crypto.PublicKey, err error) {
	defer func() {
		if recover() != nil {
			pub, err = nil, errors.New("the key has no public key")
		}
	}()
	pub = key.Public()
	if pub == nil {
		return nil, errors.New("the key has no public key")
	}
	return pub, nil
}

// marshalJWK encodes the required members of a public JWK in
// lexicographic order without whitespace, the RFC 7638 §3 input of the
// thumbprint (encoding/json sorts map keys).
func marshalJWK(members map[string]string) json.RawMessage {
	b, _ := json.Marshal(members) // strings only: cannot fail
	return b
}

// dpopState is a Client's DPoP key and what it learns of the servers: the
// latest nonces and the algorithm chosen for the current metadata.
type dpopState struct {
	key         *DPoPKey
	alg         string // configured; "" to choose
	allowBearer bool
	asNonces    nonceStore // authorization servers: token, PAR
	rsNonces    nonceStore // resource servers: userinfo, APIs
	choice      atomic.Pointer[algChoice]
}

// newDPoPState returns the DPoP state of s, or nil when DPoP is off.
func newDPoPState(s Settings) *dpopState {
	if s.DPoPKey == nil {
		return nil
	}
	return &dpopState{
		key: s.DPoPKey, alg: s.DPoPAlg, allowBearer: s.DPoPAllowBearer,
		asNonces: nonceStore{max: maxASNonces},
		rsNonces: nonceStore{max: maxRSNonces},
	}
}

// DPoP reports whether the client sends DPoP proofs.
func (c *Client) DPoP() bool { return c.dpop != nil }
