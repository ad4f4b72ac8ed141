package oidc

import (
	"crypto"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Config configures the middleware returned by Auth and New. Its field names
// and defaults follow express-openid-connect's options. A zero value is
// filled in from the environment (ISSUER_BASE_URL, BASE_URL, CLIENT_ID,
// CLIENT_SECRET, SECRET) and from the documented defaults; everything is
// validated once, when the middleware is built.
type Config struct {
	// Secret holds the secrets that protect the session and transaction
	// cookies. The first one encrypts and signs; every one is tried when
	// reading, so a new secret can be put in front of the old one to rotate.
	// Each must be at least 8 bytes; 32 random bytes are recommended.
	// Default: the SECRET environment variable.
	Secret Secrets

	// IssuerBaseURL is the OpenID provider's issuer URL; discovery reads
	// IssuerBaseURL + "/.well-known/openid-configuration". The issuer the
	// discovery document names must match it: scheme and host are compared
	// case-insensitively, an empty path equals "/", and a trailing slash
	// difference is accepted ("https://op.example/tenant" matches
	// "https://op.example/tenant/"); anything else (another host, such as
	// localhost for 127.0.0.1, port or path) fails logins with the error
	// "issuer_mismatch" (ErrIssuerMismatch). An IssuerBaseURL that names a
	// /.well-known/ document is fetched as is and not compared. ID tokens
	// must then carry exactly the discovered issuer. Default:
	// ISSUER_BASE_URL.
	IssuerBaseURL string

	// BaseURL is the absolute URL where the application is served, including
	// any path prefix. The callback URL is BaseURL + Routes.Callback, and
	// redirects never leave BaseURL's origin. Default: BASE_URL.
	BaseURL string

	// ClientID is the client identifier registered at the provider.
	// Default: CLIENT_ID.
	ClientID string

	// ClientSecret is the client secret, required for the code and hybrid
	// flows with client_secret_basic, client_secret_post or
	// client_secret_jwt, and for HS* ID-token algorithms. Default:
	// CLIENT_SECRET.
	ClientSecret Secret

	// ClientAuthMethod is how the client authenticates at the token endpoint
	// and the PAR endpoint, for every grant: "client_secret_basic",
	// "client_secret_post", "client_secret_jwt" (an HS256 assertion keyed
	// with ClientSecret), "private_key_jwt" (an assertion signed with
	// ClientAssertionSigningKey) or "none". Default: "private_key_jwt" when
	// ClientAssertionSigningKey is set, else "none" for the implicit
	// id_token flow without PushedAuthorizationRequests, else
	// "client_secret_basic". With UseMTLS it is tls_client_auth and must
	// not be set.
	ClientAuthMethod string

	// ClientAssertionSigningKey signs the private_key_jwt client assertion:
	// an RSA (at least 2048 bits), ECDSA (P-256, P-384, P-521) or Ed25519
	// private key, or any crypto.Signer with such a public key (an HSM or
	// KMS key). ParsePrivateKeyPEM reads a PEM file. Setting it makes
	// "private_key_jwt" the default ClientAuthMethod.
	ClientAssertionSigningKey crypto.Signer

	// ClientAssertionSigningAlg is the JWS algorithm of the client
	// assertion. For private_key_jwt: RS256, RS384, RS512, PS256, PS384,
	// PS512, ES256, ES384, ES512 or EdDSA, and it must fit the key; default
	// RS256 for RSA keys, ES256/ES384/ES512 by curve, EdDSA for Ed25519. For
	// client_secret_jwt: HS256 (default), HS384 or HS512, with a
	// ClientSecret at least as long as the hash.
	ClientAssertionSigningAlg string

	// RequestObjectSigningKey turns on signed request objects (JAR, RFC
	// 9101): the authorization parameters travel as a JWT in the "request"
	// parameter, and the authorization URL carries only client_id and
	// request (or client_id and request_uri with PAR). Same key types as
	// ClientAssertionSigningKey.
	RequestObjectSigningKey crypto.Signer

	// RequestObjectSigningAlg is the JWS algorithm of request objects
	// (RS*, PS*, ES*, EdDSA), required with RequestObjectSigningKey.
	RequestObjectSigningAlg string

	// RequestObjectSigningKeyID is the kid header of request objects.
	// Default: no kid.
	RequestObjectSigningKeyID string

	// PushedAuthorizationRequests sends the authorization parameters to the
	// provider's pushed_authorization_request_endpoint (RFC 9126), with
	// client authentication, and redirects the browser with the returned
	// request_uri only. The provider must advertise the endpoint; otherwise
	// logins fail with 500. Public clients (ClientAuthMethod "none") cannot
	// use it.
	PushedAuthorizationRequests bool

	// AttemptSilentLogin tries a silent login (prompt=none) once per
	// browser session, on the first anonymous GET request that accepts HTML,
	// as the AttemptSilentLogin middleware does on every route. It runs
	// after the AuthRequired check, so it only matters with AuthRequired
	// false.
	AttemptSilentLogin bool

	// UseMTLS authenticates the client with its TLS certificate
	// (tls_client_auth, RFC 8705): HTTPClient is required and its transport
	// must present the certificate; ClientSecret, ClientAssertionSigningKey
	// and ClientAuthMethod must not be set. The token, PAR and userinfo
	// requests go to the provider's mtls_endpoint_aliases; discovery fails
	// when the token alias (or the PAR alias, with PAR) is missing.
	// Default: the AUTH0_MTLS environment variable ("true").
	UseMTLS bool

	// Profile makes New check the configuration against a security
	// profile, and gives the profile's secure defaults to unset options.
	// "" (default): none. ProfileFAPI2: the FAPI 2.0 Security Profile (see
	// ProfileFAPI2 for what it requires and sets).
	Profile Profile

	// DPoP turns on DPoP (RFC 9449): tokens bound to a key of the
	// application, useless to whoever steals them without the key. Nil:
	// off. See DPoPConfig.
	DPoP *DPoPConfig

	// AuthRequired makes every route that the middleware wraps require a
	// login, as if wrapped with RequiresAuth. Default: true. Use Bool(false)
	// and guard single routes with RequiresAuth instead. GET and POST
	// requests to the path of the redirect_uri (an application's own
	// callback route, with Routes.Callback disabled) are never guarded.
	AuthRequired *bool

	// ErrorOnRequiredAuth answers 401 instead of redirecting to the login
	// page when a login is required.
	ErrorOnRequiredAuth bool

	// IDPLogout makes /logout also log the user out at the provider
	// (RP-initiated logout). Auth0Logout implies it.
	IDPLogout bool

	// Auth0Logout forces (true) or forbids (false) Auth0's /v2/logout
	// endpoint. Nil auto-detects it from an issuer host ending in .auth0.com.
	Auth0Logout *bool

	// LogoutParams are extra query parameters for the provider's logout
	// endpoint. An empty value removes a parameter.
	LogoutParams map[string]string

	// BackchannelLogout turns on OpenID Connect Back-Channel Logout: the
	// POST route Routes.BackchannelLogout and a check of every authenticated
	// request against the logouts received. Nil: off. See
	// BackchannelLogoutConfig.
	BackchannelLogout *BackchannelLogoutConfig

	// Session configures the session cookie.
	Session SessionConfig

	// TransactionCookie configures the short-lived cookie that carries one
	// login transaction (nonce, state, PKCE verifier).
	TransactionCookie TransactionCookieConfig

	// LegacySameSiteCookie also writes a fallback transaction cookie without
	// a SameSite attribute when the main one is SameSite=None, for browsers
	// that mishandle SameSite=None. Default: true.
	LegacySameSiteCookie *bool

	// AuthorizationParams are the default parameters of the authorization
	// request. Keys: "response_type" ("id_token" (default), "code" or
	// "code id_token"), "response_mode" ("form_post" by default, "query" is
	// also allowed for the code flow), "scope" (default
	// "openid profile email"; must contain "openid") and any other parameter,
	// such as "audience", "prompt" or "max_age". An empty value removes a key.
	// "resource" names one or more resource indicators (RFC 8707), separated
	// by spaces: each is an absolute URI without a fragment and is sent as
	// its own resource parameter (in the request object a JSON array); see
	// Context.AccessTokenFor.
	// The parameters generated for every login (nonce, state,
	// code_challenge, code_challenge_method, code_verifier) and client_id
	// (always ClientID) are refused with a *ConfigError.
	AuthorizationParams map[string]string

	// TokenEndpointParams are extra parameters for the authorization-code
	// and refresh token requests. The parameters those requests set
	// themselves (grant_type, code, redirect_uri, code_verifier,
	// refresh_token, client_id, client_secret, client_assertion,
	// client_assertion_type) are refused with a *ConfigError.
	TokenEndpointParams map[string]string

	// MaxResourceTokens is how many access tokens for other resources
	// (Context.AccessTokenFor) a session keeps besides its own access
	// token; beyond it the least recently used one is dropped. In cookie
	// mode fewer are kept when the cookie would otherwise exceed its size
	// cap (see Context.AccessTokenFor); sessions that hold tokens for many
	// APIs suit Session.Store. Default: 4; at most 64; negative values are
	// rejected.
	MaxResourceTokens int

	// KeepSessionOnInvalidGrant keeps the login when Context.Refresh gets
	// the OAuth error invalid_grant (the refresh token expired or was
	// revoked, or the user's consent or account is gone): only the access
	// and refresh tokens (and the resource tokens of
	// Context.AccessTokenFor) are removed from the session, and the user
	// stays logged in without API tokens. By default the session ends instead (its
	// cookie is cleared and its Session.Store entry destroyed), so that the
	// next protected request starts a new login.
	KeepSessionOnInvalidGrant bool

	// Routes configures the built-in routes.
	Routes Routes

	// GetLoginState builds the state carried through a login; the result
	// comes back as the second argument of AfterCallback. The default returns
	// {"returnTo": opts.ReturnTo}. The "returnTo" key picks the post-login
	// redirect; it is checked to stay on BaseURL's origin.
	GetLoginState func(r *http.Request, opts LoginOptions) (map[string]any, error)

	// AfterCallback runs after a successful callback, with the new session.
	// During the call, FromRequest(r) already reflects the new tokens. It may
	// return a modified session, or an error to refuse the login: then no
	// session is created and the user gets an error page whose status is
	// taken from an error implementing interface{ StatusCode() int }, else 403.
	AfterCallback func(w http.ResponseWriter, r *http.Request, s Session, state map[string]any) (Session, error)

	// IdentityClaimFilter lists the claims that Context.User leaves out.
	// Default: aud, iss, iat, exp, nbf, nonce, azp, auth_time, s_hash,
	// at_hash, c_hash.
	IdentityClaimFilter []string

	// IDTokenSigningAlg is the only accepted ID-token signature algorithm.
	// Default: "RS256". "none" is rejected.
	IDTokenSigningAlg string

	// ClockTolerance is the leeway for ID-token exp, nbf, iat and auth_time.
	// Default: 60s. A negative value means no leeway.
	ClockTolerance time.Duration

	// HTTPTimeout bounds every request to the provider. Default: 5s; the
	// minimum is 500ms.
	HTTPTimeout time.Duration

	// HTTPClient sends every request to the provider (proxies, custom TLS).
	// Default: a client with HTTPTimeout.
	HTTPClient *http.Client

	// HTTPUserAgent is the User-Agent of requests to the provider.
	HTTPUserAgent string

	// DiscoveryCacheMaxAge is how long discovered metadata is reused.
	// Default: 10 minutes. When a refresh fails, the last good metadata is
	// kept.
	DiscoveryCacheMaxAge time.Duration

	// JWKSCacheMaxAge is how long the provider's signing keys (its JWKS)
	// are used without being fetched again. Older keys are re-fetched
	// before the next token is verified, so a key the provider removed
	// stops being trusted within this time, and a key replaced without a
	// new kid is picked up. When the re-fetch fails the cached keys are
	// kept and the re-fetch is retried after a back-off. Independently, a
	// token that the cached keys do not verify triggers one re-fetch (at
	// most one such re-fetch per 30 seconds). Default: 10 minutes; negative
	// values are rejected.
	JWKSCacheMaxAge time.Duration

	// Logger receives diagnostics. It never receives secrets, tokens, codes or
	// cookie values. Operational problems are logged at Warn or Error: the
	// provider unreachable or misconfigured (issuer mismatch), store
	// failures, refused logins with their reason, and configuration
	// warnings; Debug and Info carry detail. Default: slog.Default(), at
	// Warn and above only, looked up for every record (so a later
	// slog.SetDefault applies). To turn logging off, set
	// slog.New(slog.DiscardHandler).
	Logger *slog.Logger

	// ErrorHandler renders errors (for example a failed callback, or the
	// provider being unreachable). err is an *Error. Default: a small plain
	// page with the status and a short explanation.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Now returns the current time. Default: time.Now.
	Now func() time.Time

	// Random is the source of randomness for nonces, PKCE verifiers, state
	// and cookie encryption. Default: crypto/rand.Reader.
	Random io.Reader

	// LookupEnv reads the environment fallbacks. Default: os.LookupEnv. Set
	// it to a function that always returns false to ignore the environment.
	LookupEnv func(key string) (string, bool)
}

// SessionConfig configures the session and its cookie.
type SessionConfig struct {
	// Rolling extends the session on every response, up to
	// AbsoluteDuration. Default: true.
	Rolling *bool

	// RollingDuration is the idle timeout of a rolling session. Default: 24h.
	// It must be zero when Rolling is false.
	RollingDuration time.Duration

	// AbsoluteDuration is the maximum session lifetime, counted from its
	// creation. Default: 7 days. A negative value means no absolute limit,
	// which is only allowed for rolling sessions.
	AbsoluteDuration time.Duration

	// Name is the cookie name; chunks are Name.0, Name.1, ... Default:
	// "appSession". Letters, digits, '_', '.' and '-' only.
	Name string

	// Cookie holds the cookie attributes.
	Cookie CookieConfig

	// Store keeps sessions server-side; the cookie then carries only a
	// random session id. Default: none (the session lives in the cookie).
	// NewMemoryStore suits one instance; redisstore, or any
	// alexedwards/scs store through FromSCS, several. The stored values are
	// express-openid-connect's JSON, so Node and Go applications can share
	// a store.
	Store Store

	// Genid generates session ids for Store. Default: 16 random bytes in
	// hex, as express-openid-connect does. An id must be 1 to 256 bytes of
	// printable ASCII without ';', ',', '"', '\', '.' or '|' (the store also
	// holds back-channel logout markers, whose keys contain '|'); another id
	// fails the login with ErrInvalidSessionID.
	Genid func(r *http.Request) (string, error)

	// SignSessionStoreCookie signs the session-id cookie (express's
	// "id.signature" format), so that guessed or planted ids are refused.
	// Default: true. express-openid-connect's default is false: in a fleet
	// where Node and Go applications share the store and the cookie, set
	// Bool(false) on the Go side too (or turn signing on in express).
	SignSessionStoreCookie *bool

	// RequireSignedSessionStoreCookie refuses unsigned session-id cookies.
	// Default: the SignSessionStoreCookie setting. To move from unsigned
	// cookies (express's default) to signed ones without logging everybody
	// out, set it to Bool(false) for a while: unsigned cookies are then
	// still accepted, and re-issued signed on their next response. It
	// cannot be true while SignSessionStoreCookie is false.
	RequireSignedSessionStoreCookie *bool

	// TouchInterval is how long an unchanged rolling session goes before its
	// cookie (or store entry) is re-issued with a new expiry. Re-issuing on
	// every response, as express-openid-connect does, costs an encryption
	// per request; with the interval, the idle timeout may end up to
	// TouchInterval early. Default: 1 minute. A negative value re-issues on
	// every response.
	TouchInterval time.Duration
}

// CookieConfig holds session-cookie attributes. Domain and Path also apply to
// the transaction cookie.
type CookieConfig struct {
	// Domain is the cookie's Domain attribute. Default: none (host-only).
	Domain string
	// Path is the cookie's Path attribute. Default: "/".
	Path string
	// Transient makes the session cookie a browser-session cookie, without
	// Expires.
	Transient bool
	// HTTPOnly hides the cookie from JavaScript. Default: true.
	HTTPOnly *bool
	// Secure restricts the cookie to https. Default: true when BaseURL is
	// https. It cannot be true with an http BaseURL.
	Secure *bool
	// SameSite is Lax (default), Strict or None. None requires Secure.
	SameSite http.SameSite
}

// TransactionCookieConfig configures the login transaction cookie.
type TransactionCookieConfig struct {
	// Name of the cookie. Default: "auth_verification". The fallback cookie
	// (see LegacySameSiteCookie) is named "_" + Name, except that a name
	// with a "__Host-" or "__Secure-" prefix keeps its prefix in front:
	// "__Host-tx" has the fallback "__Host-_tx".
	Name string
	// SameSite used unless the response mode is form_post, which always
	// uses None. Default: Session.Cookie.SameSite.
	SameSite http.SameSite
	// MaxAge is how long a login may take from the login redirect to the
	// callback; an older transaction is refused (400) and the user has to
	// log in again. The cookie's Expires is set to match. Transactions
	// written by express-openid-connect carry no start time and are not
	// limited. Default: 1 hour; the minimum is 1 minute.
	MaxAge time.Duration
	// ExpressFormat writes express-openid-connect's signed, unencrypted
	// format, so Node instances can complete logins started here; reading
	// always accepts both formats. By default the transaction cookie is
	// encrypted, so that its nonce and PKCE verifier cannot be read. Use it
	// only while Node and Go instances share a deployment.
	ExpressFormat bool
}

// RouteDisabled, as the value of a Routes field, turns that built-in route
// off, so that the application can mount its own.
const RouteDisabled = "-"

// Routes configures the paths of the built-in routes, relative to BaseURL.
type Routes struct {
	// Login is the GET login route. Default: "/login".
	Login string
	// Logout is the GET logout route. Default: "/logout".
	Logout string
	// Callback is the GET and POST callback route. Default: "/callback".
	Callback string
	// PostLogoutRedirect is where the user lands after logout, relative to
	// BaseURL or an absolute URL on BaseURL's origin. Default: BaseURL.
	PostLogoutRedirect string
	// BackchannelLogout is the POST route that receives back-channel logout
	// tokens, mounted only with Config.BackchannelLogout. Default:
	// "/backchannel-logout".
	BackchannelLogout string
}

// Bool returns a pointer to v, for the optional boolean fields of Config.
func Bool(v bool) *bool { return &v }
