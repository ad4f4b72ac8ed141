package oidctest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// TestingT is the subset of testing.TB the provider needs.
type TestingT interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Endpoint names accepted by [Provider.Calls] and passed to [Options.Intercept].
const (
	EndpointDiscovery  = "discovery"
	EndpointJWKS       = "jwks"
	EndpointAuthorize  = "authorize"
	EndpointToken      = "token"
	EndpointUserinfo   = "userinfo"
	EndpointEndSession = "end_session"
	EndpointRevoke     = "revoke"
	EndpointPAR        = "par"
)

// Endpoint paths, relative to the issuer.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/jwks"
	PathAuthorize  = "/authorize"
	PathToken      = "/token"
	PathUserinfo   = "/userinfo"
	PathEndSession = "/session/end"
	PathRevoke     = "/revoke"
	PathPAR        = "/par"
)

// SessionCookieName is the name of the provider's own (OP) session cookie,
// set on every successful login and cleared by the end-session endpoint.
const SessionCookieName = "oidctest_session"

// Token-exchange (RFC 8693) identifiers understood by the token endpoint.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// DefaultHS256Secret is the default client secret when Options.Alg is
// "HS256": 32 bytes, the minimum go-jose accepts as an HS256 key.
const DefaultHS256Secret = "test-secret-hs256-0123456789abcd"

const (
	codeLifetime = 60 * time.Second
	maxBodyBytes = 1 << 20
)

// Options configures a [Provider]. The zero value is usable: every field has
// a default, listed in its comment.
type Options struct {
	// ClientID is the only client the provider knows. Default "test-client".
	ClientID string
	// ClientSecret authenticates ClientID at the token and revocation
	// endpoints, and is the HS256 MAC key. Default "test-secret", or, when
	// Alg is HS256, [DefaultHS256Secret] (go-jose refuses HMAC keys shorter
	// than the hash).
	ClientSecret string
	// RedirectURIs, if non-empty, restricts redirect_uri at authorize and
	// token (exact string match). When empty any absolute http(s) URL
	// without a fragment is accepted.
	RedirectURIs []string
	// PostLogoutRedirectURIs, if non-empty, restricts
	// post_logout_redirect_uri (exact string match). When empty any absolute
	// http(s) URL without a fragment is accepted.
	PostLogoutRedirectURIs []string
	// Interactive serves an HTML login page at /authorize where a person
	// types any user name (development use); the name becomes sub and name.
	// When false (the default), /authorize logs in Subject immediately
	// (auto-login for tests).
	Interactive bool
	// Subject is the sub of the auto-login user. Default "user-1".
	Subject string
	// Claims are extra claims added to every ID token and userinfo response
	// (e.g. "name", "email"). They never replace protocol claims such as iss,
	// aud, sub or nonce.
	Claims map[string]any
	// Alg is the ID-token signing algorithm: "RS256" (default; "PS256"
	// with FAPI2), "PS256", "ES256", "EdDSA" (Ed25519) or "HS256". HS256
	// MACs with ClientSecret, and then the JWKS is empty.
	Alg string
	// SigningKey, if set, is the provider's first signing key instead of a
	// newly generated one: an *rsa.PrivateKey of at least 2048 bits for
	// RS256 and PS256, an *ecdsa.PrivateKey on P-256 for ES256, or an
	// ed25519.PrivateKey for EdDSA; it must be nil with HS256. Each
	// provider still gets its own kid, and [Provider.RotateKeys] and a
	// change of Alg always generate new keys. Generating a 2048-bit RSA key
	// takes about a tenth of a second, so a test suite that starts many
	// providers runs much faster when they share one key.
	SigningKey crypto.Signer
	// IDTokenLifetime sets exp of ID tokens. Default 1h.
	IDTokenLifetime time.Duration
	// AccessTokenLifetime is the access-token lifetime and the expires_in of
	// token responses. Default 1h.
	AccessTokenLifetime time.Duration
	// AuthorizationResponseIssParameter advertises
	// authorization_response_iss_parameter_supported and adds iss to every
	// authorization response, errors included (RFC 9207).
	AuthorizationResponseIssParameter bool
	// EndSession advertises and serves end_session_endpoint. NewProvider and
	// NewServer set it to true unless DisableEndSession is set, so it only
	// matters for SetOptions, where setting it to false disables the
	// endpoint.
	EndSession bool
	// DisableEndSession removes end_session_endpoint from discovery, and the
	// endpoint answers 404. It wins over EndSession.
	DisableEndSession bool
	// Now is the provider's clock. Default time.Now.
	Now func() time.Time
	// MutateIDToken, if set, is called on every ID token the endpoints issue
	// (authorization responses and token responses, but not the
	// [Provider.IDToken] and [Provider.SignIDToken] helpers) before signing.
	// The header and claims maps are mutable, so tests can mint bad tokens:
	// wrong iss/aud/nonce, missing claims, another kid, alg "none", and so
	// on. The token is signed according to the final header alg: "none"
	// gives an empty signature, HS* use ClientSecret, and any other alg is
	// signed with the current key when the key fits it; otherwise the token
	// carries random signature bytes that no key verifies.
	MutateIDToken func(header map[string]any, claims map[string]any)
	// MutateTokenResponse, if set, may edit the JSON token-endpoint response
	// of every successful grant before it is written.
	MutateTokenResponse func(resp map[string]any)
	// MutateUserinfo, if set, may edit every successful userinfo response
	// before it is written.
	MutateUserinfo func(resp map[string]any)
	// MutateDiscovery, if set, may edit the discovery document before it is
	// written (e.g. a different issuer, http endpoints, extra metadata).
	MutateDiscovery func(doc map[string]any)
	// MutateJWKS, if set, may edit the JWKS document ({"keys": [...]}, keys
	// as generic maps) before it is written.
	MutateJWKS func(jwks map[string]any)
	// Intercept, if set, is called for every request after it is counted and
	// the SetDown check, with the endpoint name (see [EndpointToken] and
	// friends). Returning true means the hook has written the response and
	// the provider does nothing more; this allows arbitrary failures such as
	// a 500 from /token or an HTML body from /userinfo.
	Intercept func(endpoint string, w http.ResponseWriter, r *http.Request) bool
	// Latency delays every response (after counting the call), simulating a
	// slow provider. The delay ends early when the client goes away.
	Latency time.Duration
	// SkipPKCE makes /token ignore code_verifier (simulates a lax OP).
	SkipPKCE bool
	// RequirePKCE makes /authorize reject code-flow requests without a
	// code_challenge.
	RequirePKCE bool
	// RequireSessionForPromptNone makes prompt=none fail with login_required
	// in auto-login mode too unless the browser holds the provider's session
	// cookie from an earlier login. (In Interactive mode this is always the
	// case.)
	RequireSessionForPromptNone bool
	// TokenEndpointAuthMethods lists the accepted client authentication
	// methods at the token, PAR and revocation endpoints, and is advertised
	// in discovery: "client_secret_basic", "client_secret_post",
	// "client_secret_jwt" (an HS256/384/512 assertion keyed with
	// ClientSecret) and "private_key_jwt" (an assertion signed with the key
	// of ClientPublicKey). Default "client_secret_basic" and
	// "client_secret_post".
	TokenEndpointAuthMethods []string
	// ClientPublicKey is the client's registered public key
	// (*rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey). It verifies
	// private_key_jwt client assertions and signed request objects. Required
	// when TokenEndpointAuthMethods contains "private_key_jwt".
	ClientPublicKey crypto.PublicKey
	// DisablePAR removes pushed_authorization_request_endpoint from
	// discovery, and the endpoint answers 404. By default the provider
	// serves Pushed Authorization Requests (RFC 9126) at /par.
	DisablePAR bool
	// RequirePAR advertises require_pushed_authorization_requests and makes
	// /authorize refuse requests that do not use a PAR request_uri.
	RequirePAR bool
	// RequireSignedRequestObject advertises require_signed_request_object
	// and makes /authorize and /par refuse requests without a signed request
	// object (RFC 9101).
	RequireSignedRequestObject bool
	// DisableRefreshTokenRotation keeps refresh tokens valid after use;
	// refresh-grant responses then contain no refresh_token. By default
	// every refresh grant rotates the refresh token and the old one is
	// invalid afterwards.
	DisableRefreshTokenRotation bool
	// RefreshTokenReuseDetection makes the use of an already rotated refresh
	// token revoke its whole family (the refresh token issued in its place
	// and all their access tokens), like Auth0's reuse detection.
	RefreshTokenReuseDetection bool

	// DPoP enables DPoP (RFC 9449, see dpop.go for the rules): discovery
	// advertises dpop_signing_alg_values_supported; the token, PAR and
	// userinfo endpoints and every [Provider.Resource] verify DPoP proofs;
	// a token request with a valid proof gets token_type "DPoP" and an
	// access token (and refresh token) bound to the proof's key; dpop_jkt
	// binds authorization codes. When false, DPoP headers and dpop_jkt are
	// ignored, like a provider that does not know DPoP. DPoPSigningAlgs,
	// RequireDPoP, DPoPNonce, ResourceDPoPNonce and FAPI2 imply it.
	DPoP bool
	// DPoPSigningAlgs are the proof algorithms accepted and advertised, from
	// ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512 and
	// EdDSA. Default ES256, EdDSA, PS256 and RS256 (with FAPI2: ES256, EdDSA
	// and PS256, and only those are allowed).
	DPoPSigningAlgs []string
	// RequireDPoP makes the token endpoint refuse requests (every grant)
	// without a DPoP proof, with 400 invalid_dpop_proof.
	RequireDPoP bool
	// DPoPNonce makes the token and PAR endpoints require a server nonce in
	// DPoP proofs (RFC 9449 §8): a proof without the current nonce gets
	// 400 {"error":"use_dpop_nonce"} and the nonce in a DPoP-Nonce header.
	// Every response to a request with a proof carries the current nonce.
	// See [Provider.DPoPNonce] and [Provider.RotateDPoPNonce].
	DPoPNonce bool
	// ResourceDPoPNonce is DPoPNonce for the userinfo endpoint and every
	// [Provider.Resource] (RFC 9449 §9): 401 with WWW-Authenticate: DPoP
	// error="use_dpop_nonce" and a DPoP-Nonce header. Their nonce is not
	// the token endpoint's (see [Provider.ResourceDPoPNonce]).
	ResourceDPoPNonce bool
	// DPoPProofWindow is how far a proof's iat may be from Now, either way.
	// Default 60s.
	DPoPProofWindow time.Duration
	// DPoPUnboundRefreshTokens follows RFC 9449 §5 for confidential
	// clients: refresh tokens are not bound to the DPoP key, so a refresh
	// with another key (or with none) succeeds and binds the new access
	// token to the key of the refresh request, if any. By default refresh
	// tokens issued with a proof are bound to its key like the access
	// token, and a refresh without a proof of that key is refused with
	// invalid_grant, which is stricter (and what node-oidc-provider does for
	// public clients).
	DPoPUnboundRefreshTokens bool
	// ResourceIndicators enables resource indicators (RFC 8707): resource
	// parameters at /authorize and /par are validated and granted, and the
	// token endpoint issues access tokens for one of them (see resource.go).
	// When false (and Resources is empty) resource parameters are ignored.
	ResourceIndicators bool
	// Resources, if non-empty, are the only resource indicators accepted
	// (exact match; others get invalid_target) and are advertised as
	// protected_resources (RFC 9728 §4). It implies ResourceIndicators.
	// When empty, any absolute URI without a fragment is accepted.
	Resources []string
	// JWTAccessTokens issues access tokens as signed JWTs (RFC 9068, typ
	// at+jwt, signed like the ID tokens with the provider key): iss, sub,
	// aud, client_id, scope, iat, exp, jti, and cnf.jkt when DPoP-bound.
	// The provider still keeps them, so revocation works. Not with HS256.
	JWTAccessTokens bool
	// FAPI2 enforces the FAPI 2.0 Security Profile as an authorization
	// server (see fapi.go): PAR, PKCE S256, response_type code only,
	// private_key_jwt client authentication with PS256, ES256 or EdDSA,
	// DPoP-bound tokens, the iss authorization-response parameter, and
	// ID tokens signed with PS256 (default), ES256 or EdDSA. It overrides
	// RequirePAR, RequirePKCE, RequireDPoP and
	// AuthorizationResponseIssParameter (as if they were all true).
	// TokenEndpointAuthMethods must be empty or only "private_key_jwt".
	FAPI2 bool
}

// Provider is an in-process OpenID provider. Create it with [NewProvider] or
// [NewServer]. Its methods are safe for concurrent use.
type Provider struct {
	issuer    string // with trailing slash
	base      string // issuer without trailing slash
	handler   http.Handler
	srv       *http.Server
	ln        net.Listener
	serveDone chan struct{}
	closeOnce sync.Once
	tmpl      *template.Template

	mu          sync.Mutex
	opts        Options
	key         *signingKey   // nil for HS256
	retired     []*signingKey // earlier keys, only for id_token_hint checks
	down        bool
	calls       map[string]int
	codes       map[string]*codeGrant
	access      map[string]*accessGrant
	refresh     map[string]*grant
	rotated     map[string]string // used refresh token -> family
	sessions    map[string]*opSession
	lastToken   *http.Request
	lastBody    []byte
	lastPresent bool
	pushed      map[string]*pushedRequest // PAR request_uri -> request
	jtis        map[string]time.Time      // client-assertion jti -> exp
	lastPAR     *http.Request
	lastPARBody []byte
	dpop        dpopState
}

type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

type opSession struct {
	id       string
	sid      string
	sub      string
	claims   map[string]any // login-specific claims (interactive "name")
	authTime time.Time
}

type codeGrant struct {
	clientID    string
	redirectURI string
	nonce       string
	challenge   string
	scope       string
	sub         string
	sid         string
	claims      map[string]any
	authTime    time.Time
	expires     time.Time
	used        bool
	issued      []string // access and refresh tokens issued for it
	resources   []string // granted resource indicators (RFC 8707)
	dpopJKT     string   // dpop_jkt of the authorization request
}

type accessGrant struct {
	clientID string
	sub      string
	scope    string
	claims   map[string]any
	expires  time.Time
	family   string
	aud      string // the resource, or the userinfo endpoint URL
	jkt      string // DPoP key thumbprint, "" for Bearer tokens
}

// NewProvider starts a provider on 127.0.0.1 with a random port and closes
// it when the test ends (t.Cleanup). Any error is reported with t.Fatalf.
func NewProvider(t TestingT, opts Options) *Provider {
	t.Helper()
	p, err := NewServer("127.0.0.1:0", opts)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
		return nil
	}
	t.Cleanup(p.Close)
	return p
}

// NewServer starts a provider listening on addr (e.g. "127.0.0.1:0" or
// "localhost:9400"), for use outside tests, such as a development provider
// for an example application. The caller must call [Provider.Close].
//
// The issuer uses the host from addr (127.0.0.1 when the host is empty or
// an unspecified address) and the port actually bound.
func NewServer(addr string, opts Options) (*Provider, error) {
	if err := normalize(&opts, nil); err != nil {
		return nil, err
	}
	key, err := initialSigningKey(opts.Alg, opts.SigningKey)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: invalid address %q: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: listen: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://" + net.JoinHostPort(host, port)

	p := &Provider{
		issuer:    base + "/",
		base:      base,
		ln:        ln,
		serveDone: make(chan struct{}),
		tmpl:      template.Must(template.New("pages").Parse(pageTemplates)),
		opts:      opts,
		key:       key,
		calls:     map[string]int{},
		codes:     map[string]*codeGrant{},
		access:    map[string]*accessGrant{},
		refresh:   map[string]*grant{},
		rotated:   map[string]string{},
		sessions:  map[string]*opSession{},
		pushed:    map[string]*pushedRequest{},
		jtis:      map[string]time.Time{},
		dpop:      newDPoPState(),
	}
	p.handler = p.newMux()
	p.srv = &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(p.serveDone)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// normalize applies defaults and validates. prev is the previous options
// (nil at construction).
func normalize(o *Options, prev *Options) error {
	if o.ClientID == "" {
		o.ClientID = "test-client"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = "test-secret"
		if o.Alg == "HS256" {
			o.ClientSecret = DefaultHS256Secret
		}
	}
	if o.Subject == "" {
		o.Subject = "user-1"
	}
	if o.Alg == "" {
		o.Alg = "RS256"
		if o.FAPI2 {
			o.Alg = "PS256"
		}
	}
	switch o.Alg {
	case "RS256", "PS256", "ES256", "EdDSA", "HS256":
	default:
		return fmt.Errorf("oidctest: unsupported Alg %q (want RS256, PS256, ES256, EdDSA or HS256)", o.Alg)
	}
	if o.IDTokenLifetime <= 0 {
		o.IDTokenLifetime = time.Hour
	}
	if o.AccessTokenLifetime <= 0 {
		o.AccessTokenLifetime = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.TokenEndpointAuthMethods) == 0 {
		o.TokenEndpointAuthMethods = []string{"client_secret_basic", "client_secret_post"}
		if o.FAPI2 {
			o.TokenEndpointAuthMethods = []string{"private_key_jwt"}
		}
	}
	for _, m := range o.TokenEndpointAuthMethods {
		switch m {
		case "client_secret_basic", "client_secret_post", "client_secret_jwt":
		case "private_key_jwt":
			if o.ClientPublicKey == nil {
				return errors.New("oidctest: private_key_jwt requires Options.ClientPublicKey")
			}
		default:
			return fmt.Errorf("oidctest: unsupported token endpoint auth method %q", m)
		}
	}
	if err := checkClientPublicKey(o.ClientPublicKey); err != nil {
		return err
	}
	if prev == nil || (prev.DisableEndSession && !o.DisableEndSession) {
		o.EndSession = !o.DisableEndSession
	}
	return errors.Join(normalizeDPoP(o), normalizeResources(o), normalizeAccessTokens(o), normalizeFAPI2(o))
}

// initialSigningKey returns the first key of a provider: priv (checked
// against alg) or, when priv is nil, a new key.
func initialSigningKey(alg string, priv crypto.Signer) (*signingKey, error) {
	if priv == nil {
		return newSigningKey(alg)
	}
	ok := false
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		ok = (alg == "RS256" || alg == "PS256") && k.N.BitLen() >= 2048
	case *ecdsa.PrivateKey:
		ok = alg == "ES256" && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		ok = alg == "EdDSA"
	}
	if !ok {
		return nil, fmt.Errorf("oidctest: Options.SigningKey %T does not fit Alg %q", priv, alg)
	}
	return &signingKey{kid: randomString()[:16], alg: alg, priv: priv}, nil
}

func newSigningKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil // HS256: no asymmetric key
	}
	if err != nil {
		return nil, fmt.Errorf("oidctest: generate key: %w", err)
	}
	return &signingKey{kid: randomString()[:16], alg: alg, priv: priv}, nil
}

func randomString() string { return rand.Text() + rand.Text() }

// Issuer returns the issuer identifier, e.g. "http://127.0.0.1:PORT/", with
// a trailing slash (like Auth0). It is the iss of every token and the issuer
// in discovery.
func (p *Provider) Issuer() string { return p.issuer }

// URL returns the issuer without the trailing slash, the value applications
// use as issuerBaseURL.
func (p *Provider) URL() string { return p.base }

// ClientID returns the configured client ID.
func (p *Provider) ClientID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opts.ClientID
}

// ClientSecret returns the configured client secret.
func (p *Provider) ClientSecret() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.opts.ClientSecret
}

// Handler returns the provider's HTTP handler (the same one the server
// runs). Tokens always name [Provider.Issuer] as iss, whoever serves them.
func (p *Provider) Handler() http.Handler { return p.handler }

// Close stops the server immediately, closing open connections. It is safe
// to call more than once.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		_ = p.srv.Close()
		<-p.serveDone
	})
}

// RotateKeys replaces the signing key with a new one with a new kid. The old
// key is removed from the JWKS at once, so tokens signed with it no longer
// verify against a freshly fetched JWKS; the provider itself still accepts
// them as id_token_hint. With Alg HS256 there is no key and RotateKeys does
// nothing.
func (p *Provider) RotateKeys() {
	p.mu.Lock()
	alg := p.opts.Alg
	p.mu.Unlock()
	key, err := newSigningKey(alg)
	if err != nil {
		panic(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.installKey(key)
}

func (p *Provider) installKey(key *signingKey) {
	if p.key != nil {
		p.retired = append(p.retired, p.key)
	}
	p.key = key
}

// KeyID returns the kid of the current signing key ("" with HS256).
func (p *Provider) KeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key == nil {
		return ""
	}
	return p.key.kid
}

// PublicKey returns the public half of the current signing key
// (*rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey), or nil with
// HS256.
func (p *Provider) PublicKey() crypto.PublicKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.key == nil {
		return nil
	}
	return p.key.priv.Public()
}

// Calls returns how often an endpoint was called: "discovery", "jwks",
// "authorize", "token", "userinfo", "end_session", "revoke", "par" or
// "resource" (see [EndpointDiscovery] and friends; [EndpointResource]
// counts the calls of every [Provider.Resource]). Requests are counted even while the
// provider is down.
func (p *Provider) Calls(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[endpoint]
}

// ResetCalls sets every call counter to zero.
func (p *Provider) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.calls)
}

// LastTokenRequest returns a clone of the last request made to the token
// endpoint, or nil. Its PostForm (and Form) are parsed, its headers kept,
// and its Body can be read again. Every call returns a new clone.
func (p *Provider) LastTokenRequest() *http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.lastPresent {
		return nil
	}
	c := p.lastToken.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(p.lastBody))
	c.ContentLength = int64(len(p.lastBody))
	return c
}

// SetDown switches the outage simulation: while down, every endpoint answers
// 503 Service Unavailable (calls are still counted).
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// SetOptions mutates the options at runtime. fn runs under the provider's
// lock and must not call methods of p. Defaults are re-applied afterwards;
// an invalid option panics. Changing Alg generates a new signing key.
func (p *Provider) SetOptions(fn func(*Options)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.opts
	next := p.opts
	next.RedirectURIs = slices.Clone(prev.RedirectURIs)
	next.PostLogoutRedirectURIs = slices.Clone(prev.PostLogoutRedirectURIs)
	next.TokenEndpointAuthMethods = slices.Clone(prev.TokenEndpointAuthMethods)
	next.Claims = maps.Clone(prev.Claims)
	next.DPoPSigningAlgs = slices.Clone(prev.DPoPSigningAlgs)
	next.Resources = slices.Clone(prev.Resources)
	fn(&next)
	if err := normalize(&next, &prev); err != nil {
		panic(err)
	}
	if next.Alg != prev.Alg {
		key, err := newSigningKey(next.Alg)
		if err != nil {
			panic(err)
		}
		if key == nil {
			if p.key != nil {
				p.retired = append(p.retired, p.key)
			}
			p.key = nil
		} else {
			p.installKey(key)
		}
	}
	p.opts = next
}

// RevokeAll invalidates every issued access token, refresh token and
// authorization code, and ends every provider session (simulating a user or
// administrator revoking access at the IdP).
func (p *Provider) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.codes)
	clear(p.access)
	clear(p.refresh)
	clear(p.rotated)
	clear(p.sessions)
	clear(p.pushed)
}

// snapshot returns a copy of the options whose maps and slices may be read
// without the lock. Caller holds p.mu.
func (p *Provider) snapshot() Options {
	o := p.opts
	o.RedirectURIs = slices.Clone(o.RedirectURIs)
	o.PostLogoutRedirectURIs = slices.Clone(o.PostLogoutRedirectURIs)
	o.TokenEndpointAuthMethods = slices.Clone(o.TokenEndpointAuthMethods)
	o.Claims = maps.Clone(o.Claims)
	o.DPoPSigningAlgs = slices.Clone(o.DPoPSigningAlgs)
	o.Resources = slices.Clone(o.Resources)
	return o
}

func (p *Provider) currentKey() *signingKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key
}

func (p *Provider) newMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathDiscovery, p.endpoint(EndpointDiscovery, p.serveDiscovery))
	mux.Handle(PathJWKS, p.endpoint(EndpointJWKS, p.serveJWKS))
	mux.Handle(PathAuthorize, p.endpoint(EndpointAuthorize, p.serveAuthorize))
	mux.Handle(PathToken, p.endpoint(EndpointToken, p.serveToken))
	mux.Handle(PathUserinfo, p.endpoint(EndpointUserinfo, p.serveUserinfo))
	mux.Handle(PathEndSession, p.endpoint(EndpointEndSession, p.serveEndSession))
	mux.Handle(PathRevoke, p.endpoint(EndpointRevoke, p.serveRevoke))
	mux.Handle(PathPAR, p.endpoint(EndpointPAR, p.servePAR))
	return mux
}

// endpoint wraps h with call counting, latency, outage and interception.
func (p *Provider) endpoint(name string, h func(http.ResponseWriter, *http.Request, Options)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[name]++
		o := p.snapshot()
		p.mu.Unlock()
		if o.Latency > 0 {
			t := time.NewTimer(o.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "oidctest: provider is down", http.StatusServiceUnavailable)
			return
		}
		if o.Intercept != nil && o.Intercept(name, w, r) {
			return
		}
		h(w, r, o)
	})
}

// endpointURL returns the absolute URL of a path under the issuer.
func (p *Provider) endpointURL(path string) string { return p.base + path }

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request, o Options) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	claims := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "c_hash", "name"}
	for _, k := range slices.Sorted(maps.Keys(o.Claims)) {
		if !slices.Contains(claims, k) {
			claims = append(claims, k)
		}
	}
	doc := map[string]any{
		"issuer":                                     p.issuer,
		"authorization_endpoint":                     p.endpointURL(PathAuthorize),
		"token_endpoint":                             p.endpointURL(PathToken),
		"userinfo_endpoint":                          p.endpointURL(PathUserinfo),
		"jwks_uri":                                   p.endpointURL(PathJWKS),
		"revocation_endpoint":                        p.endpointURL(PathRevoke),
		"response_types_supported":                   []string{"code", "id_token", "code id_token"},
		"response_modes_supported":                   []string{"query", "fragment", "form_post"},
		"grant_types_supported":                      []string{"authorization_code", "implicit", "refresh_token", GrantTypeTokenExchange},
		"subject_types_supported":                    []string{"public"},
		"id_token_signing_alg_values_supported":      []string{o.Alg},
		"token_endpoint_auth_methods_supported":      o.TokenEndpointAuthMethods,
		"revocation_endpoint_auth_methods_supported": o.TokenEndpointAuthMethods,
		"code_challenge_methods_supported":           []string{"S256"},
		"scopes_supported":                           []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                           claims,
		"prompt_values_supported":                    []string{"none", "login", "consent", "select_account"},
		"claims_parameter_supported":                 false,
		"request_parameter_supported":                true,
		"request_uri_parameter_supported":            false,
	}
	doc["request_object_signing_alg_values_supported"] = requestObjectAlgs
	if jwtAlgs := assertionAlgs(o.TokenEndpointAuthMethods); len(jwtAlgs) > 0 {
		doc["token_endpoint_auth_signing_alg_values_supported"] = jwtAlgs
	}
	if !o.DisablePAR {
		doc["pushed_authorization_request_endpoint"] = p.endpointURL(PathPAR)
	}
	if o.parRequired() {
		doc["require_pushed_authorization_requests"] = true
	}
	if o.RequireSignedRequestObject {
		doc["require_signed_request_object"] = true
	}
	if o.EndSession && !o.DisableEndSession {
		doc["end_session_endpoint"] = p.endpointURL(PathEndSession)
	}
	if o.issParameter() {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	if o.dpopEnabled() {
		doc["dpop_signing_alg_values_supported"] = slices.Clone(o.dpopAlgs())
	}
	if len(o.Resources) > 0 {
		doc["protected_resources"] = o.Resources
	}
	if o.FAPI2 {
		fapiDiscovery(doc)
	}
	if o.MutateDiscovery != nil {
		o.MutateDiscovery(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request, o Options) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	keys := []any{}
	if k := p.currentKey(); k != nil {
		jwk, err := publicJWK(k)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		keys = append(keys, jwk)
	}
	doc := map[string]any{"keys": keys}
	if o.MutateJWKS != nil {
		o.MutateJWKS(doc)
	}
	writeJSON(w, http.StatusOK, doc)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = jsonEncode(w, v)
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// readForm parses an application/x-www-form-urlencoded body (at most 1 MiB)
// into r.PostForm and r.Form and returns the raw body.
func readForm(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost {
		return nil, r.ParseForm()
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		return nil, errors.New("content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, err
	}
	post, err := url.ParseQuery(string(body))
	if err != nil {
		return body, err
	}
	r.PostForm = post
	form := url.Values{}
	for k, v := range post {
		form[k] = slices.Clone(v)
	}
	for k, v := range r.URL.Query() {
		form[k] = append(form[k], v...)
	}
	r.Form = form
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}
