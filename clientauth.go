package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// Client authentication methods at the token and PAR endpoints.
const (
	authNone          = "none"
	authSecretBasic   = "client_secret_basic"
	authSecretPost    = "client_secret_post"
	authSecretJWT     = "client_secret_jwt"
	authPrivateKeyJWT = "private_key_jwt"
	authTLSClient     = "tls_client_auth" // selected by UseMTLS only
)

// clientAssertionType is the client_assertion_type of JWT client
// authentication (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// jwtLifetime is the lifetime of client assertions and request objects
// (exp = iat + 60 s, as in express-openid-connect).
const jwtLifetime = 60 * time.Second

// minRSABits is the smallest RSA key accepted for signing (RFC 7518 §3.3).
const minRSABits = 2048

// ErrMTLSEndpointAliasesMissing: UseMTLS is set, but the provider's
// discovery document has no mtls_endpoint_aliases entry for the token
// endpoint (or for the PAR endpoint when PushedAuthorizationRequests is
// set). Discovery fails with it (wrapping ErrProviderUnavailable), as
// express-openid-connect's MtlsError mtls_endpoint_aliases_missing.
var ErrMTLSEndpointAliasesMissing = errors.New("oidc: the provider has no mtls_endpoint_aliases for the token or PAR endpoint")

// asymmetricAlgs are the JWS algorithms accepted for private_key_jwt and
// request objects.
var asymmetricAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}

// hmacKeyBytes is the minimum MAC key length per HS* algorithm
// (RFC 7518 §3.2).
var hmacKeyBytes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// ParsePrivateKeyPEM parses a PEM-encoded private key, for
// Config.ClientAssertionSigningKey and Config.RequestObjectSigningKey:
// PKCS #8 ("PRIVATE KEY": RSA, ECDSA or Ed25519), PKCS #1
// ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Encrypted keys are not
// supported. Errors never contain key material.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("oidc: no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("oidc: encrypted PEM keys are not supported; decrypt the key first")
	default:
		return nil, fmt.Errorf("oidc: unsupported PEM block type %q (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, errors.New("oidc: the PEM block does not hold a valid private key")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("oidc: %T keys cannot sign", key)
	}
	if _, err := signingAlgsFor(signer); err != nil {
		return nil, err
	}
	return signer, nil
}

// publicKeyOf returns key's public key, or an error for nil or broken
// signers (a typed nil pointer, for example).
func publicKeyOf(key crypto.Signer) (pub crypto.PublicKey, err error) {
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

// signingAlgsFor returns the JWS algorithms key can sign with, the default
// first.
func signingAlgsFor(key crypto.Signer) ([]string, error) {
	pub, err := publicKeyOf(key)
	if err != nil {
		return nil, err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil {
			return nil, errors.New("the RSA key is empty")
		}
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA keys must have at least %d bits", minRSABits)
		}
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		if pub == nil || pub.Curve == nil {
			return nil, errors.New("the ECDSA key is empty")
		}
		switch pub.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("the ECDSA curve %s is not supported (want P-256, P-384 or P-521)", pub.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("the Ed25519 key is malformed")
		}
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA, ECDSA or Ed25519)", key)
}

// resolveSigningKey validates an asymmetric signing key and its algorithm,
// deriving the algorithm from the key when alg is empty and derive is true.
func resolveSigningKey(keyOption, algOption string, key crypto.Signer, alg string, derive bool) (string, error) {
	algs, err := signingAlgsFor(key)
	if err != nil {
		return "", cfgErr(keyOption, "%v", err)
	}
	if alg == "" {
		if !derive {
			return "", cfgErr(algOption, "is required when %s is set", keyOption)
		}
		return algs[0], nil
	}
	if strings.EqualFold(alg, "none") || strings.HasPrefix(alg, "HS") {
		return "", cfgErr(algOption, "must be an asymmetric algorithm, not %q", alg)
	}
	if !asymmetricAlgs[alg] {
		return "", cfgErr(algOption, "unsupported algorithm %q (want RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA)", alg)
	}
	for _, a := range algs {
		if a == alg {
			return alg, nil
		}
	}
	return "", cfgErr(algOption, "%s does not fit the key of %s (it can sign %s)", alg, keyOption, strings.Join(algs, ", "))
}

// resolveClientAuth picks and validates the client authentication method
// and the client-assertion key, and reads PushedAuthorizationRequests,
// AttemptSilentLogin and UseMTLS (or AUTH0_MTLS). It follows
// express-openid-connect's rules (lib/config.js), reporting every
// combination express rejects or that would leave a key unused. The checks
// that depend on the response type are skipped when it is invalid.
func (s *settings) resolveClientAuth(v *validator) {
	cfg := s.cfg
	s.par = cfg.PushedAuthorizationRequests
	s.silentLogin = cfg.AttemptSilentLogin
	s.useMTLS = cfg.UseMTLS
	if !s.useMTLS {
		if e, _ := v.env("", "AUTH0_MTLS"); strings.EqualFold(e, "true") {
			s.useMTLS, s.mtlsFromEnv = true, true
		}
	}
	method := cfg.ClientAuthMethod
	switch method {
	case "", authNone, authSecretBasic, authSecretPost, authSecretJWT, authPrivateKeyJWT:
	case authTLSClient, "self_signed_tls_client_auth":
		v.fail("ClientAuthMethod", "%q cannot be set explicitly; set UseMTLS for tls_client_auth", method)
		return
	default:
		v.fail("ClientAuthMethod", `must be "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt" or "none"`)
		return
	}
	if s.useMTLS {
		s.resolveMTLSAuth(v)
		return
	}
	s.resolveAuthMethod(v, method)
}

// mtlsNote tells, in an error about UseMTLS, that it was turned on by the
// AUTH0_MTLS environment variable.
func (s *settings) mtlsNote() string {
	if s.mtlsFromEnv {
		return " (UseMTLS is on because the AUTH0_MTLS environment variable is \"true\")"
	}
	return ""
}

// resolveMTLSAuth checks the tls_client_auth configuration of UseMTLS:
// an HTTPClient that presents a certificate, and none of the other
// client-authentication options.
func (s *settings) resolveMTLSAuth(v *validator) {
	cfg := s.cfg
	note := s.mtlsNote()
	if cfg.HTTPClient == nil {
		v.fail("HTTPClient", "is required with UseMTLS: its transport must present the client certificate%s", note)
	} else if t, ok := transportOf(cfg.HTTPClient).(*http.Transport); ok {
		tc := t.TLSClientConfig
		if tc == nil || (len(tc.Certificates) == 0 && tc.GetClientCertificate == nil) {
			v.fail("HTTPClient", "has no client certificate for UseMTLS (set Transport.TLSClientConfig.Certificates or GetClientCertificate)%s", note)
		}
	}
	if s.clientSecret != "" {
		v.fail("ClientSecret", "must not be set with UseMTLS (tls_client_auth)%s%s", envNote(s.clientSecretFromEnv, "CLIENT_SECRET"), note)
	}
	if cfg.ClientAssertionSigningKey != nil {
		v.fail("ClientAssertionSigningKey", "must not be set with UseMTLS (tls_client_auth)%s", note)
	}
	if cfg.ClientAuthMethod != "" {
		v.fail("ClientAuthMethod", "must not be set with UseMTLS, which uses tls_client_auth%s", note)
	}
	if cfg.ClientAssertionSigningAlg != "" {
		v.fail("ClientAssertionSigningAlg", "must not be set with UseMTLS (tls_client_auth)%s", note)
	}
	if s.responseType != "" && !strings.Contains(s.responseType, "code") {
		// Only code-bearing flows reach the token endpoint, where the
		// certificate binds the tokens.
		s.logger.Warn("oidc: UseMTLS has no effect without a code flow (response_type containing \"code\")")
	}
	if u, err := url.Parse(s.issuerBaseURL); err == nil && strings.HasSuffix(strings.ToLower(u.Hostname()), ".auth0.com") {
		s.logger.Warn("oidc: UseMTLS with an *.auth0.com issuer; Auth0 serves mTLS on custom domains")
	}
	s.authMethod = authTLSClient
}

// resolveAuthMethod checks a client authentication method other than
// tls_client_auth, choosing the default when method is empty.
func (s *settings) resolveAuthMethod(v *validator, method string) {
	cfg := s.cfg
	key := cfg.ClientAssertionSigningKey
	why := fmt.Sprintf("for the ClientAuthMethod %q", method)
	if method == "" {
		switch {
		case key != nil:
			method = authPrivateKeyJWT
		case s.responseType == "":
			return // the default depends on the response type, which is invalid
		case s.responseType == "id_token" && !s.par:
			method = authNone
		case s.responseType == "id_token":
			method = authSecretBasic
			why = "with PushedAuthorizationRequests and " + method
		default:
			method = authSecretBasic
			why = fmt.Sprintf("for response_type %q with %s", s.responseType, method)
		}
	}
	secretRequired := func() {
		if s.clientSecret == "" && !v.has("ClientSecret") {
			v.fail("ClientSecret", "is required %s; %s", why, clientSecretHint)
		}
	}
	switch method {
	case authSecretBasic, authSecretPost:
		secretRequired()
	case authSecretJWT:
		secretRequired()
		alg := cfg.ClientAssertionSigningAlg
		if alg == "" {
			alg = "HS256"
		}
		n, ok := hmacKeyBytes[alg]
		switch {
		case !ok:
			v.fail("ClientAssertionSigningAlg", `must be "HS256", "HS384" or "HS512" for client_secret_jwt`)
		case s.clientSecret != "" && len(s.clientSecret) < n:
			v.fail("ClientSecret", "must be at least %d bytes for %s client assertions (RFC 7518 §3.2)%s",
				n, alg, envNote(s.clientSecretFromEnv, "CLIENT_SECRET"))
		default:
			s.assertionAlg = alg
		}
	case authPrivateKeyJWT:
		if key == nil {
			v.fail("ClientAssertionSigningKey", `is required for a ClientAuthMethod of "private_key_jwt"`)
			break
		}
		alg, err := resolveSigningKey("ClientAssertionSigningKey", "ClientAssertionSigningAlg", key, cfg.ClientAssertionSigningAlg, true)
		if !v.add(err) {
			s.assertionKey, s.assertionAlg = key, alg
		}
	case authNone:
		switch {
		case s.responseType != "" && s.responseType != "id_token":
			v.fail("ClientAuthMethod", `"none" (public clients) is not supported for the code or hybrid flow`)
		case s.par:
			v.fail("ClientAuthMethod", `"none" (public clients) is not supported with PushedAuthorizationRequests`)
		}
	}
	if key != nil && method != authPrivateKeyJWT {
		v.fail("ClientAssertionSigningKey", "is only used with the ClientAuthMethod \"private_key_jwt\", not %q", method)
	}
	if cfg.ClientAssertionSigningAlg != "" && method != authPrivateKeyJWT && method != authSecretJWT {
		v.fail("ClientAssertionSigningAlg", "is only used with the ClientAuthMethod \"private_key_jwt\" or \"client_secret_jwt\", not %q", method)
	}
	s.authMethod = method
}

// resolveRequestObject checks the signed request object (JAR) options.
func (s *settings) resolveRequestObject(v *validator) {
	cfg := s.cfg
	rk := cfg.RequestObjectSigningKey
	if rk == nil {
		if cfg.RequestObjectSigningAlg != "" {
			v.fail("RequestObjectSigningAlg", "is only used with RequestObjectSigningKey")
		}
		if cfg.RequestObjectSigningKeyID != "" {
			v.fail("RequestObjectSigningKeyID", "is only used with RequestObjectSigningKey")
		}
		return
	}
	alg, err := resolveSigningKey("RequestObjectSigningKey", "RequestObjectSigningAlg", rk, cfg.RequestObjectSigningAlg, false)
	if v.add(err) {
		return
	}
	s.requestKey, s.requestAlg, s.requestKeyID = rk, alg, cfg.RequestObjectSigningKeyID
	if !s.par {
		s.logger.Warn("oidc: Using JAR without PAR is permitted but not recommended for FAPI compliance. Consider enabling PushedAuthorizationRequests.")
	}
}

// transportOf returns the effective transport of c.
func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport == nil {
		return http.DefaultTransport
	}
	return c.Transport
}

// clientAuth returns the client authentication for one token-endpoint (or
// PAR) request. Assertion-based methods mint a fresh assertion per call.
func (m *Middleware) clientAuth(ps *providerState) (clientAuthn, error) {
	switch m.s.authMethod {
	case authSecretBasic:
		return clientAuthn{basic: true}, nil
	case authSecretPost:
		return clientAuthn{params: url.Values{"client_id": {m.s.clientID}, "client_secret": {m.s.clientSecret}}}, nil
	case authSecretJWT, authPrivateKeyJWT:
		assertion, err := m.clientAssertion(ps)
		if err != nil {
			return clientAuthn{}, err
		}
		return clientAuthn{params: url.Values{
			"client_id":             {m.s.clientID},
			"client_assertion_type": {clientAssertionType},
			"client_assertion":      {assertion},
		}}, nil
	default: // none, tls_client_auth (the certificate is the HTTP client's)
		return clientAuthn{params: url.Values{"client_id": {m.s.clientID}}}, nil
	}
}

// clientAssertion mints a client assertion (RFC 7523 §3): iss = sub =
// client_id, aud = the discovered issuer identifier as a single string, a
// random jti, iat = nbf = now and exp = now + 60 s; no kid header.
func (m *Middleware) clientAssertion(ps *providerState) (string, error) {
	if ps == nil || ps.md.Issuer == "" {
		return "", newError(http.StatusInternalServerError, "server_error", "the client assertion needs the discovered issuer", nil)
	}
	claims, err := m.jwtClaims(ps.md.Issuer)
	if err != nil {
		return "", err
	}
	claims["sub"] = m.s.clientID
	var key any = m.s.assertionKey
	if m.s.authMethod == authSecretJWT {
		key = []byte(m.s.clientSecret)
	}
	tok, err := signJWT(key, m.s.assertionAlg, "", claims)
	if err != nil {
		return "", newError(http.StatusInternalServerError, "server_error", "the client assertion could not be signed", err)
	}
	return tok, nil
}

// jwtClaims returns the claims shared by client assertions and request
// objects: iss = client_id, aud, a random 128-bit jti (hex), iat = nbf = now
// and exp = now + 60 s.
func (m *Middleware) jwtClaims(aud string) (map[string]any, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(m.s.random, b); err != nil {
		return nil, newError(http.StatusInternalServerError, "server_error", "no randomness", err)
	}
	now := m.s.now().Unix()
	return map[string]any{
		"iss": m.s.clientID,
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

// mtlsAliases is the RFC 8705 §5 mtls_endpoint_aliases object.
type mtlsAliases map[string]json.RawMessage

func (a mtlsAliases) get(name string) string {
	var s string
	if raw, ok := a[name]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// applyMTLSAliases points the token, PAR and userinfo endpoints of md at
// their mtls_endpoint_aliases when UseMTLS is set (RFC 8705 §5). The token
// alias is required, and the PAR alias with PushedAuthorizationRequests; a
// missing userinfo alias keeps the standard endpoint.
func (s *settings) applyMTLSAliases(md *metadata) error {
	if !s.useMTLS {
		return nil
	}
	var aliases mtlsAliases
	if len(md.MTLSEndpointAliases) > 0 {
		_ = json.Unmarshal(md.MTLSEndpointAliases, &aliases) // not an object: no aliases
	}
	tok := aliases.get("token_endpoint")
	if tok == "" {
		return fmt.Errorf("%w: %w: token_endpoint", ErrProviderUnavailable, ErrMTLSEndpointAliasesMissing)
	}
	md.TokenEndpoint = tok
	if s.par {
		par := aliases.get("pushed_authorization_request_endpoint")
		if par == "" {
			return fmt.Errorf("%w: %w: pushed_authorization_request_endpoint", ErrProviderUnavailable, ErrMTLSEndpointAliasesMissing)
		}
		raw, _ := json.Marshal(par)
		md.PAREndpoint = raw
	}
	if ui := aliases.get("userinfo_endpoint"); ui != "" {
		md.UserinfoEndpoint = ui
	} else {
		s.logger.Debug("oidc: no mtls_endpoint_aliases.userinfo_endpoint; using userinfo_endpoint")
	}
	return nil
}

// clientPost builds a form POST to a token-style endpoint (token, PAR) with
// the client authentication applied: HTTP Basic with both parts
// form-encoded before Base64 (RFC 6749 §2.3.1, as x/oauth2 does), or the
// parameters already in form.
func (m *Middleware) clientPost(ctx context.Context, endpoint string, form url.Values, authn clientAuthn) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if authn.basic {
		req.SetBasicAuth(url.QueryEscape(m.s.clientID), url.QueryEscape(m.s.clientSecret))
	}
	return req, nil
}
