package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// minRSABits is the smallest RSA key accepted for signing (RFC 7518 §3.3).
const minRSABits = 2048

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

// signingAlgsFor returns the JWS algorithms key can sign with, the default
// first.
func signingAlgsFor(key crypto.Signer) ([]string, error) {
	pub, err := provider.PublicKey(key)
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
	case "", provider.AuthNone, provider.AuthSecretBasic, provider.AuthSecretPost, provider.AuthSecretJWT, provider.AuthPrivateKeyJWT:
	case provider.AuthTLSClient, "self_signed_tls_client_auth":
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
	s.authMethod = provider.AuthTLSClient
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
			method = provider.AuthPrivateKeyJWT
		case s.responseType == "":
			return // the default depends on the response type, which is invalid
		case s.responseType == "id_token" && !s.par:
			method = provider.AuthNone
		case s.responseType == "id_token":
			method = provider.AuthSecretBasic
			why = "with PushedAuthorizationRequests and " + method
		default:
			method = provider.AuthSecretBasic
			why = fmt.Sprintf("for response_type %q with %s", s.responseType, method)
		}
	}
	secretRequired := func() {
		if s.clientSecret == "" && !v.has("ClientSecret") {
			v.fail("ClientSecret", "is required %s; %s", why, clientSecretHint)
		}
	}
	switch method {
	case provider.AuthSecretBasic, provider.AuthSecretPost:
		secretRequired()
	case provider.AuthSecretJWT:
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
	case provider.AuthPrivateKeyJWT:
		if key == nil {
			v.fail("ClientAssertionSigningKey", `is required for a ClientAuthMethod of "private_key_jwt"`)
			break
		}
		alg, err := resolveSigningKey("ClientAssertionSigningKey", "ClientAssertionSigningAlg", key, cfg.ClientAssertionSigningAlg, true)
		if !v.add(err) {
			s.assertionKey, s.assertionAlg = key, alg
		}
	case provider.AuthNone:
		switch {
		case s.responseType != "" && s.responseType != "id_token":
			v.fail("ClientAuthMethod", `"none" (public clients) is not supported for the code or hybrid flow`)
		case s.par:
			v.fail("ClientAuthMethod", `"none" (public clients) is not supported with PushedAuthorizationRequests`)
		}
	}
	if key != nil && method != provider.AuthPrivateKeyJWT {
		v.fail("ClientAssertionSigningKey", "is only used with the ClientAuthMethod \"private_key_jwt\", not %q", method)
	}
	if cfg.ClientAssertionSigningAlg != "" && method != provider.AuthPrivateKeyJWT && method != provider.AuthSecretJWT {
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
