package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// DPoPConfig turns on DPoP (RFC 9449, Demonstrating Proof of Possession)
// for Config.DPoP. The provider then binds the access token (and, with most
// providers, the refresh token) to a key of the application, so that a
// stolen token is useless without the key:
//
//   - every token request (the code exchange, Refresh,
//     CustomTokenExchange) and every pushed authorization request carries a
//     fresh proof signed with Key, and code-flow authorization requests
//     carry dpop_jkt (the key's RFC 7638 thumbprint), which binds the code
//     to the key;
//   - a token issued as DPoP is kept with the type "DPoP"
//     (AccessToken.Type, Session.TokenType), and FetchUserInfo,
//     Context.Client and Context.DPoPProof send it as "Authorization: DPoP
//     <token>" with a proof for the request (its method, URL and the
//     token's hash);
//   - when a server asks for a nonce (use_dpop_nonce and a DPoP-Nonce
//     header), the request is sent once more with it; the latest nonce of
//     each server origin is kept in memory, authorization servers and
//     resource servers apart, so each instance learns its own with one
//     extra round trip.
//
// The proof algorithm is Alg, or, when the provider advertises
// dpop_signing_alg_values_supported, the first of those that the key can
// sign; Alg must then be among them. When none fits, token requests and
// logins fail with a *ProviderError (500, wrapping a *DPoPAlgorithmError
// that names both lists), logged at Warn.
//
// express-openid-connect has no DPoP.
type DPoPConfig struct {
	// Key signs the proofs: an ECDSA P-256 key (ES256, recommended), an
	// Ed25519 key (EdDSA), or an RSA key of at least 2048 bits (PS256 by
	// default, or RS256); P-384 and P-521 keys (ES384, ES512) and the other
	// RSA algorithms work too. Any crypto.Signer with such a public key
	// will do (an HSM or KMS key). All instances of an application must
	// share the key, as the tokens of every session are bound to it.
	//
	// Key is required, except in development: with an http BaseURL on a
	// loopback host (localhost, 127.0.0.1, ::1), a nil Key makes New
	// generate one for Alg (ES256 by default) and log a Warn that DPoP-bound
	// tokens will not survive a restart.
	Key crypto.Signer

	// Alg is the proof algorithm (see Key). Default: chosen from the
	// provider's dpop_signing_alg_values_supported, else ES256, EdDSA,
	// ES384 or ES512 by key, PS256 for RSA keys.
	Alg string

	// AllowBearerDowngrade accepts a Bearer token from a provider that
	// advertises DPoP support (dpop_signing_alg_values_supported), logged
	// at Info. By default such an answer to the code exchange fails the
	// login (400 invalid_token_response) and Refresh fails with a
	// *ProviderError (502 invalid_token_response), both wrapping
	// ErrDPoPBearerDowngrade: a provider that knows DPoP and drops the
	// binding is misconfigured, or the answer was tampered with. Bearer
	// tokens from a provider that advertises no DPoP support are always
	// accepted (it ignores proofs, RFC 9449 §5).
	AllowBearerDowngrade bool
}

// dpopSettings is the validated DPoPConfig.
type dpopSettings struct {
	key         *provider.DPoPKey
	alg         string // "" to choose
	allowBearer bool
}

// development reports whether BaseURL is http on a loopback host, the one
// setting in which a DPoP key may be generated.
func (s *settings) development() bool {
	return s.baseURL != nil && s.baseURL.Scheme == "http" && isLoopbackHost(s.baseURL.Hostname())
}

// resolveDPoP checks Config.DPoP, generating a key in development.
func (s *settings) resolveDPoP(v *validator) {
	d := s.cfg.DPoP
	if d == nil {
		return
	}
	if _, set := s.authParams["dpop_jkt"]; set {
		v.fail(`AuthorizationParams["dpop_jkt"]`, "cannot be configured with DPoP: it is the thumbprint of DPoP.Key")
	}
	key := d.Key
	if key == nil {
		switch {
		case s.baseURL == nil:
			return // BaseURL is invalid, and says whether this is development
		case !s.development():
			v.fail("DPoP.Key", "is required: all instances must share the key the tokens are bound to "+
				"(a key is only generated in development, with an http BaseURL on a loopback host)")
			return
		}
		k, err := s.generateDPoPKey(d.Alg)
		if err != nil {
			v.fail("DPoP.Alg", "%v", err)
			return
		}
		key = k
		s.logger.Warn("oidc: DPoP.Key is not set; a DPoP key was generated for this process (development only). " +
			"DPoP-bound tokens, and the sessions holding them, will not survive a restart")
	}
	if _, err := resolveSigningKey("DPoP.Key", "DPoP.Alg", key, d.Alg, true); v.add(err) {
		return
	}
	pk, err := provider.NewDPoPKey(key)
	if err != nil {
		v.fail("DPoP.Key", "%v", err)
		return
	}
	if d.Alg != "" && !pk.CanSign(d.Alg) {
		v.fail("DPoP.Alg", "%s is not a DPoP proof algorithm of this key (it can sign %s)", d.Alg, strings.Join(pk.Algs(), ", "))
		return
	}
	if s.responseType != "" && !strings.Contains(s.responseType, "code") {
		s.logger.Warn(`oidc: DPoP has no effect without a code flow (response_type containing "code")`)
	}
	s.dpop = &dpopSettings{key: pk, alg: d.Alg, allowBearer: d.AllowBearerDowngrade}
}

// generateDPoPKey generates a development key for alg (ES256 when empty).
func (s *settings) generateDPoPKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "", "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), s.random)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), s.random)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), s.random)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(s.random)
		return k, err
	case "PS256", "PS384", "PS512", "RS256", "RS384", "RS512":
		return rsa.GenerateKey(s.random, minRSABits)
	}
	return nil, fmt.Errorf("unsupported algorithm %q (want ES256, EdDSA, PS256, RS256, ES384, ES512, PS384, PS512, RS384 or RS512)", alg)
}

// tokenTypeName normalises an access token type: "Bearer" and "DPoP" in
// any case become those spellings; other types are kept as they are.
func tokenTypeName(t string) string {
	switch {
	case strings.EqualFold(t, "bearer"):
		return "Bearer"
	case strings.EqualFold(t, "dpop"):
		return "DPoP"
	}
	return t
}
