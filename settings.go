package oidc

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/safeurl"
)

// Defaults, as in express-openid-connect.
const (
	defaultSessionName       = "appSession"
	defaultTransactionName   = "auth_verification"
	defaultScope             = "openid profile email"
	defaultResponseType      = "id_token"
	defaultRollingDuration   = 24 * time.Hour
	defaultAbsoluteDuration  = 7 * 24 * time.Hour
	defaultClockTolerance    = 60 * time.Second
	defaultHTTPTimeout       = 5 * time.Second
	minHTTPTimeout           = 500 * time.Millisecond
	defaultDiscoveryMaxAge   = 10 * time.Minute
	defaultJWKSMaxAge        = 10 * time.Minute
	defaultTouchInterval     = time.Minute
	defaultTransactionMaxAge = time.Hour
	minTransactionMaxAge     = time.Minute
	defaultIDTokenSigningAlg = "RS256"
	defaultUserAgent         = "openidconnect-go/" + Version
	minSecretLength          = 8
	minChunkSize             = 1024
)

// Version is this library's version, sent in the default User-Agent.
const Version = "0.1.0"

var (
	sessionNamePattern = regexp.MustCompile(`^[0-9a-zA-Z_.-]+$`)
	openidScope        = regexp.MustCompile(`\bopenid\b`)
)

func defaultIdentityClaimFilter() []string {
	return []string{"aud", "iss", "iat", "exp", "nbf", "nonce", "azp", "auth_time", "s_hash", "at_hash", "c_hash"}
}

var knownSigningAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"HS256": true, "HS384": true, "HS512": true,
	"EdDSA": true,
}

// settings is the validated, defaulted form of Config used at run time.
type settings struct {
	cfg Config

	secrets       [][]byte
	issuerBaseURL string
	baseURL       *url.URL
	basePath      string // BaseURL path without trailing slash
	clientID      string
	clientSecret  string
	authMethod    string
	// clientSecretFromEnv: clientSecret was read from CLIENT_SECRET.
	clientSecretFromEnv bool

	// Client authentication and authorization-request extras (clientauth.go).
	assertionKey crypto.Signer // private_key_jwt
	assertionAlg string        // private_key_jwt or client_secret_jwt
	requestKey   crypto.Signer // JAR
	requestAlg   string
	requestKeyID string
	par          bool
	silentLogin  bool
	useMTLS      bool
	mtlsFromEnv  bool // useMTLS was turned on by AUTH0_MTLS

	authRequired   bool
	rolling        bool
	rollingDur     time.Duration
	absoluteDur    time.Duration // <0: none
	sessionName    string
	cookie         cookieAttrs
	txName         string
	txFallback     string // name of the SameSite fallback transaction cookie
	txSameSite     http.SameSite
	txMaxAge       time.Duration
	txExpress      bool // write express's signed transaction format
	legacySameSite bool
	store          Store
	genid          func(*http.Request) (string, error)
	signStoreID    bool
	requireSigned  bool
	touch          time.Duration // <0: every response

	authParams   map[string]string
	responseType string
	responseMode string
	redirectURI  string

	loginRoute, logoutRoute, callbackRoute string
	postLogoutRedirect                     string

	claimFilter   map[string]bool
	alg           string
	tolerance     time.Duration
	httpTimeout   time.Duration
	httpClient    *http.Client
	userAgent     string
	discoveryTTL  time.Duration
	jwksMaxAge    time.Duration
	logger        *slog.Logger
	now           func() time.Time
	random        io.Reader
	errorHandler  func(http.ResponseWriter, *http.Request, error)
	auth0Logout   *bool
	idpLogout     bool
	logoutParams  map[string]string
	tokenParams   map[string]string
	maxResTokens  int // Config.MaxResourceTokens
	getLoginState func(*http.Request, LoginOptions) (map[string]any, error)

	bcl  *backchannelSettings // nil: back-channel logout off (backchannelconfig.go)
	dpop *dpopSettings        // nil: DPoP off (dpop.go)

	requireIss bool // the RFC 9207 iss parameter is required (Profile, fapi2.go)
}

// cookieAttrs are the attributes shared by the cookies the middleware writes.
type cookieAttrs struct {
	domain    string
	path      string
	transient bool
	httpOnly  bool
	secure    bool
	sameSite  http.SameSite
}

func cfgErr(option, format string, args ...any) error {
	return &ConfigError{Option: option, Reason: fmt.Sprintf(format, args...)}
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// validator collects the problems found in a Config, so that New reports
// every invalid option at once rather than the first one.
type validator struct {
	lookup func(string) (string, bool)
	errs   []error
}

// fail records that option is invalid.
func (v *validator) fail(option, format string, args ...any) {
	v.errs = append(v.errs, cfgErr(option, format, args...))
}

// add records err (a *ConfigError) unless it is nil, and reports whether
// it did.
func (v *validator) add(err error) bool {
	if err == nil {
		return false
	}
	v.errs = append(v.errs, err)
	return true
}

// duration checks an optional, non-negative duration option: zero means
// def; a negative value is reported (and returned, unused).
func (v *validator) duration(option string, d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		v.fail(option, "must not be negative")
	case d == 0:
		return def
	}
	return d
}

// mark returns the number of problems so far, for clean.
func (v *validator) mark() int { return len(v.errs) }

// clean reports whether no problem was recorded since mark.
func (v *validator) clean(mark int) bool { return len(v.errs) == mark }

// has reports whether a problem of option was recorded, so that a check
// can leave out a second report of the same missing value.
func (v *validator) has(option string) bool {
	for _, err := range v.errs {
		if ce, ok := err.(*ConfigError); ok && ce.Option == option {
			return true
		}
	}
	return false
}

// env returns val, or when it is empty the environment variable key,
// trimmed. fromEnv reports that the value came from the environment.
func (v *validator) env(val, key string) (_ string, fromEnv bool) {
	if val != "" {
		return val, false
	}
	e, _ := v.lookup(key)
	e = strings.TrimSpace(e)
	return e, e != ""
}

// err returns nil, the one problem found, or errors.Join of all of them.
func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return v.errs[0]
	}
	return errors.Join(v.errs...)
}

// envNote tells, in an error about an invalid value, that the value was
// read from the environment variable key.
func envNote(fromEnv bool, key string) string {
	if !fromEnv {
		return ""
	}
	return " (it was read from the " + key + " environment variable)"
}

// resolve applies environment fallbacks and defaults and validates cfg. It
// reports every invalid option, each as a *ConfigError (joined with
// errors.Join when there are several), in the order of Config's fields
// roughly. Every settings area has its own small validator; a check whose
// input is itself invalid is skipped, so that one mistake is reported
// once.
func resolve(cfg Config) (*settings, error) {
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v := &validator{lookup: lookup}
	s := &settings{cfg: cfg}
	s.resolvePlumbing()
	s.applyProfileDefaults(v) // fapi2.go
	s.resolveSecrets(v)
	s.resolveIssuer(v)
	s.resolveBaseURL(v)
	s.resolveClientID(v)
	flowOK := s.resolveAuthParams(v)
	s.resolveIDTokenAlg(v)
	s.resolveClientAuth(v)    // clientauth.go
	s.resolveRequestObject(v) // clientauth.go
	s.resolveDPoP(v)          // dpop.go
	s.resolveSessionLifetime(v)
	s.resolveSessionStore(v)
	cookieOK := s.resolveSessionCookie(v)
	s.resolveTransactionCookie(v, cookieOK && flowOK)
	routesOK := s.resolveRoutes(v)
	s.resolveBackchannel(v, routesOK) // backchannelconfig.go
	s.resolveHTTP(v)
	s.resolveBehaviour(v)
	s.checkProfile(v) // fapi2.go
	if err := v.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// resolvePlumbing sets the logger, clock, randomness and hooks, which need
// no validation. It runs first: the validators log their warnings.
func (s *settings) resolvePlumbing() {
	cfg := s.cfg
	s.logger = cfg.Logger
	if s.logger == nil {
		s.logger = defaultLogger()
	}
	s.now = cfg.Now
	if s.now == nil {
		s.now = time.Now
	}
	s.random = cfg.Random
	if s.random == nil {
		s.random = rand.Reader
	}
	s.errorHandler = cfg.ErrorHandler
	if s.errorHandler == nil {
		s.errorHandler = defaultErrorHandler
	}
	s.getLoginState = cfg.GetLoginState
	if s.getLoginState == nil {
		s.getLoginState = defaultLoginState
	}
}

// resolveSecrets checks Secret, or the SECRET environment variable.
func (s *settings) resolveSecrets(v *validator) {
	secrets, fromEnv := s.cfg.Secret, false
	if len(secrets) == 0 {
		if e, ok := v.env("", "SECRET"); ok {
			secrets, fromEnv = Secrets{e}, true
		}
	}
	if len(secrets) == 0 {
		v.fail("Secret", "is required; set Config.Secret or the SECRET environment variable")
		return
	}
	for i, sec := range secrets {
		option := fmt.Sprintf("Secret[%d]", i)
		switch {
		case sec == "":
			v.fail(option, `is empty; when it is read with os.Getenv("SECRET"), the SECRET environment variable may be unset`)
		case len(sec) < minSecretLength:
			v.fail(option, "must be at least %d bytes%s", minSecretLength, envNote(fromEnv, "SECRET"))
		default:
			s.secrets = append(s.secrets, []byte(sec))
		}
	}
}

// resolveIssuer checks IssuerBaseURL, or ISSUER_BASE_URL.
func (s *settings) resolveIssuer(v *validator) {
	iss, fromEnv := v.env(s.cfg.IssuerBaseURL, "ISSUER_BASE_URL")
	if iss == "" {
		v.fail("IssuerBaseURL", "is required; set Config.IssuerBaseURL or the ISSUER_BASE_URL environment variable")
		return
	}
	if u, err := url.Parse(iss); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.fail("IssuerBaseURL", "must be an absolute http or https URL%s", envNote(fromEnv, "ISSUER_BASE_URL"))
		return
	}
	s.issuerBaseURL = iss
}

// resolveBaseURL checks BaseURL, or BASE_URL. s.baseURL stays nil when it
// is invalid, which the checks that depend on it look at.
func (s *settings) resolveBaseURL(v *validator) {
	base, fromEnv := v.env(s.cfg.BaseURL, "BASE_URL")
	if base == "" {
		v.fail("BaseURL", "is required; set Config.BaseURL or the BASE_URL environment variable")
		return
	}
	note := envNote(fromEnv, "BASE_URL")
	bu, err := url.Parse(base)
	if err != nil || (bu.Scheme != "https" && bu.Scheme != "http") || bu.Host == "" || bu.User != nil {
		v.fail("BaseURL", "must be an absolute http or https URL%s", note)
		return
	}
	if bu.RawQuery != "" || bu.Fragment != "" {
		v.fail("BaseURL", "must not have a query or fragment%s", note)
		return
	}
	if bu.Path == "" {
		bu.Path = "/"
	}
	s.baseURL = bu
	s.basePath = strings.TrimRight(bu.Path, "/")
	if bu.Scheme == "http" && !isLoopbackHost(bu.Hostname()) {
		s.logger.Warn("oidc: BaseURL is http on a host other than localhost; session cookies travel unencrypted "+
			"and without the Secure attribute (use https outside local development)", "BaseURL", bu.String())
	}
}

// resolveClientID checks ClientID (or CLIENT_ID) and reads ClientSecret (or
// CLIENT_SECRET), which resolveIDTokenAlg and resolveClientAuth check.
func (s *settings) resolveClientID(v *validator) {
	s.clientID, _ = v.env(s.cfg.ClientID, "CLIENT_ID")
	if s.clientID == "" {
		v.fail("ClientID", "is required; set Config.ClientID or the CLIENT_ID environment variable")
	}
	s.clientSecret, s.clientSecretFromEnv = v.env(string(s.cfg.ClientSecret), "CLIENT_SECRET")
}

// clientSecretHint ends an error that asks for a ClientSecret.
const clientSecretHint = "set Config.ClientSecret or the CLIENT_SECRET environment variable"

// authParamsGenerated are the authorization parameters the middleware sets
// for every login, with the reason they cannot be configured.
var authParamsGenerated = map[string]string{
	"nonce":                 "is generated for every login",
	"state":                 "is generated for every login (use GetLoginState to carry data through the login)",
	"code_challenge":        "is generated for every login (PKCE)",
	"code_challenge_method": "is always S256 (PKCE)",
	"code_verifier":         "is generated for every login (PKCE) and never sent to the authorization endpoint",
	"client_id":             "is always ClientID",
}

// resolveAuthParams checks AuthorizationParams. It sets s.responseType
// when response_type is valid, and reports whether both response_type and
// response_mode are (the transaction cookie depends on them).
func (s *settings) resolveAuthParams(v *validator) (flowOK bool) {
	p := map[string]string{
		"response_type": defaultResponseType,
		"scope":         defaultScope,
	}
	for k, val := range s.cfg.AuthorizationParams {
		if val == "" {
			delete(p, k)
			continue
		}
		p[k] = val
	}
	s.authParams = p
	for _, k := range slices.Sorted(maps.Keys(authParamsGenerated)) {
		if _, ok := p[k]; ok {
			v.fail(fmt.Sprintf("AuthorizationParams[%q]", k), "cannot be configured: it %s", authParamsGenerated[k])
		}
	}
	if p["scope"] == "" {
		p["scope"] = defaultScope
	}
	if !openidScope.MatchString(p["scope"]) {
		v.fail(`AuthorizationParams["scope"]`, `must contain "openid"`)
	}
	if val, ok := p["max_age"]; ok {
		if _, err := parseMaxAge(val); err != nil {
			v.fail(`AuthorizationParams["max_age"]`, "must be a non-negative integer number of seconds")
		}
	}
	if msg := checkResourceParam(p["resource"]); msg != "" {
		v.fail(`AuthorizationParams["resource"]`, "%s", msg)
	}

	rt := p["response_type"]
	if rt == "" {
		rt = defaultResponseType
		p["response_type"] = rt
	}
	switch rt {
	case "id_token", "code", "code id_token":
	default:
		v.fail(`AuthorizationParams["response_type"]`, `must be one of "id_token", "code", "code id_token"`)
		return false
	}
	s.responseType = rt
	rm, set := p["response_mode"]
	if !set && rt != "code" {
		rm = "form_post"
		p["response_mode"] = rm
	}
	if rt == "code" {
		if set && rm != "query" && rm != "form_post" {
			v.fail(`AuthorizationParams["response_mode"]`, `must be "query" or "form_post" for response_type "code"`)
			return false
		}
	} else if rm != "form_post" {
		v.fail(`AuthorizationParams["response_mode"]`, `must be "form_post" for response_type %q`, rt)
		return false
	}
	s.responseMode = rm
	return true
}

// resolveIDTokenAlg checks IDTokenSigningAlg, and that HS* algorithms have
// a ClientSecret.
func (s *settings) resolveIDTokenAlg(v *validator) {
	alg := s.cfg.IDTokenSigningAlg
	if alg == "" {
		alg = defaultIDTokenSigningAlg
	}
	switch {
	case strings.EqualFold(alg, "none"):
		v.fail("IDTokenSigningAlg", `must not be "none"`)
	case !knownSigningAlgs[alg]:
		v.fail("IDTokenSigningAlg", "unsupported algorithm %q", alg)
	case strings.HasPrefix(alg, "HS") && s.clientSecret == "":
		v.fail("ClientSecret", "is required for ID tokens with HMAC based algorithms (%s); %s", alg, clientSecretHint)
	default:
		s.alg = alg
	}
}

// resolveSessionLifetime checks Session.Rolling, RollingDuration and
// AbsoluteDuration.
func (s *settings) resolveSessionLifetime(v *validator) {
	sc := s.cfg.Session
	s.rolling = boolOr(sc.Rolling, true)
	s.rollingDur = sc.RollingDuration
	s.absoluteDur = sc.AbsoluteDuration
	switch {
	case s.rolling && s.rollingDur < 0:
		v.fail("Session.RollingDuration", "must be positive when Session.Rolling is true")
	case s.rolling && s.rollingDur == 0:
		s.rollingDur = defaultRollingDuration
	case s.rolling && s.rollingDur < time.Second:
		v.fail("Session.RollingDuration", "must be at least one second")
	case !s.rolling && s.rollingDur != 0:
		v.fail("Session.RollingDuration", "must be zero when Session.Rolling is false")
	}
	switch {
	case s.absoluteDur == 0:
		s.absoluteDur = defaultAbsoluteDuration
	case s.absoluteDur < 0 && !s.rolling:
		v.fail("Session.AbsoluteDuration", "must be positive when Session.Rolling is false")
	case s.absoluteDur > 0 && s.absoluteDur < time.Second:
		v.fail("Session.AbsoluteDuration", "must be at least one second")
	}
}

// resolveSessionStore checks the Session.Store options: Genid, the signing
// of the session-id cookie and TouchInterval.
func (s *settings) resolveSessionStore(v *validator) {
	sc := s.cfg.Session
	s.store = sc.Store
	s.genid = sc.Genid
	if s.genid == nil {
		s.genid = s.defaultGenid
	}
	s.signStoreID = boolOr(sc.SignSessionStoreCookie, true)
	s.requireSigned = boolOr(sc.RequireSignedSessionStoreCookie, s.signStoreID)
	if s.requireSigned && !s.signStoreID {
		v.fail("Session.RequireSignedSessionStoreCookie", "requires Session.SignSessionStoreCookie")
	}
	if sc.Store == nil && (sc.Genid != nil || sc.SignSessionStoreCookie != nil || sc.RequireSignedSessionStoreCookie != nil) {
		s.logger.Warn("oidc: Session.Genid and Session.SignSessionStoreCookie only apply with Session.Store")
	}
	s.touch = sc.TouchInterval
	if s.touch == 0 {
		s.touch = defaultTouchInterval
	}
}

// resolveSessionCookie checks Session.Name and Session.Cookie. It reports
// whether they are valid and known (the Secure default needs BaseURL), as
// the transaction cookie shares their attributes.
func (s *settings) resolveSessionCookie(v *validator) bool {
	mark := v.mark()
	sc := s.cfg.Session
	s.sessionName = sc.Name
	if s.sessionName == "" {
		s.sessionName = defaultSessionName
	}
	nameOK := sessionNamePattern.MatchString(s.sessionName)
	if !nameOK {
		v.fail("Session.Name", "may contain only letters, digits, '_', '.' and '-'")
	}

	c := sc.Cookie
	a := cookieAttrs{
		domain:    c.Domain,
		path:      c.Path,
		transient: c.Transient,
		httpOnly:  boolOr(c.HTTPOnly, true),
		sameSite:  c.SameSite,
	}
	if a.path == "" {
		a.path = "/"
	}
	if !strings.HasPrefix(a.path, "/") || strings.ContainsAny(a.path, ";\x00\r\n\t ") {
		v.fail("Session.Cookie.Path", "must be an absolute path such as \"/\"")
	}
	if strings.ContainsAny(a.domain, ";,/\\ \t\r\n\x00") {
		v.fail("Session.Cookie.Domain", "is not a valid domain")
	}
	if a.sameSite == 0 || a.sameSite == http.SameSiteDefaultMode {
		a.sameSite = http.SameSiteLaxMode
	}
	sameSiteOK := a.sameSite == http.SameSiteLaxMode || a.sameSite == http.SameSiteStrictMode || a.sameSite == http.SameSiteNoneMode
	if !sameSiteOK {
		v.fail("Session.Cookie.SameSite", "must be Lax, Strict or None")
	}
	s.cookie = a
	if s.baseURL == nil {
		return false // Secure and the prefix rules depend on BaseURL's scheme
	}
	https := s.baseURL.Scheme == "https"
	a.secure = boolOr(c.Secure, https)
	s.cookie = a
	switch {
	case a.secure && !https:
		v.fail("Session.Cookie.Secure", "cookies set with the Secure attribute are not sent over the http BaseURL")
	case !a.secure && https:
		s.logger.Warn("oidc: Session.Cookie.Secure is false although BaseURL is https")
	}
	if a.sameSite == http.SameSiteNoneMode && !a.secure {
		v.fail("Session.Cookie.SameSite", "None requires Session.Cookie.Secure (and an https BaseURL)")
	}
	if !v.clean(mark) {
		return false
	}
	if v.add(checkCookiePrefixes(s.sessionCookiesWritten())) {
		return false
	}
	if s.chunkSize(0) < minChunkSize {
		v.fail("Session.Cookie.Path", "together with Session.Cookie.Domain and Session.Name is too long for a cookie")
		return false
	}
	return true
}

// resolveTransactionCookie checks TransactionCookie and LegacySameSiteCookie.
// The checks that involve the session cookie's attributes or the response
// mode run only when those are valid (depsOK).
func (s *settings) resolveTransactionCookie(v *validator, depsOK bool) {
	tc := s.cfg.TransactionCookie
	mark := v.mark()
	s.txName = tc.Name
	if s.txName == "" {
		s.txName = defaultTransactionName
	}
	if !sessionNamePattern.MatchString(s.txName) {
		v.fail("TransactionCookie.Name", "may contain only letters, digits, '_', '.' and '-'")
	}
	s.txFallback = txFallbackName(s.txName)
	s.legacySameSite = boolOr(s.cfg.LegacySameSiteCookie, true)
	s.txExpress = tc.ExpressFormat
	s.txMaxAge = v.duration("TransactionCookie.MaxAge", tc.MaxAge, defaultTransactionMaxAge)
	if s.txMaxAge > 0 && s.txMaxAge < minTransactionMaxAge {
		v.fail("TransactionCookie.MaxAge", "must be at least %s", minTransactionMaxAge)
	}
	s.txSameSite = tc.SameSite
	switch s.txSameSite {
	case http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode:
	case 0, http.SameSiteDefaultMode:
		s.txSameSite = s.cookie.sameSite // the session cookie's
	default:
		v.fail("TransactionCookie.SameSite", "must be Lax, Strict or None")
	}
	if !depsOK || !v.clean(mark) {
		return
	}
	if s.txSameSite == http.SameSiteNoneMode && !s.cookie.secure && s.responseMode != "form_post" {
		v.fail("TransactionCookie.SameSite", "None requires Session.Cookie.Secure (and an https BaseURL)")
		return
	}
	if v.add(checkCookiePrefixes(s.txCookiesWritten())) {
		return
	}
	if s.responseMode == "form_post" && s.baseURL.Scheme != "https" {
		s.logger.Warn("oidc: response_mode form_post over an http BaseURL relies on browsers accepting Secure cookies on http://localhost")
	}
}

// resolveHTTP checks the options of requests to the provider and of its
// caches.
func (s *settings) resolveHTTP(v *validator) {
	cfg := s.cfg
	s.httpTimeout = cfg.HTTPTimeout
	if s.httpTimeout == 0 {
		s.httpTimeout = defaultHTTPTimeout
	}
	if s.httpTimeout < minHTTPTimeout {
		v.fail("HTTPTimeout", "must be at least %s", minHTTPTimeout)
	}
	s.httpClient = cfg.HTTPClient
	if s.httpClient == nil {
		s.httpClient = &http.Client{Timeout: s.httpTimeout}
	}
	s.userAgent = cfg.HTTPUserAgent
	if s.userAgent == "" {
		s.userAgent = defaultUserAgent
	}
	s.discoveryTTL = v.duration("DiscoveryCacheMaxAge", cfg.DiscoveryCacheMaxAge, defaultDiscoveryMaxAge)
	s.jwksMaxAge = v.duration("JWKSCacheMaxAge", cfg.JWKSCacheMaxAge, defaultJWKSMaxAge)
}

// tokenParamsReserved are the token-request parameters that
// TokenEndpointParams cannot set, with the reason: the protocol and client
// authentication parameters of the authorization-code and refresh grants.
var tokenParamsReserved = map[string]string{
	"grant_type":            "is set by the grant",
	"code":                  "is the authorization code of the callback",
	"redirect_uri":          "is the redirect_uri of the login",
	"code_verifier":         "is the PKCE verifier of the login",
	"refresh_token":         "is the session's refresh token",
	"client_id":             "is set by the client authentication",
	"client_secret":         "is set by the client authentication",
	"client_assertion":      "is set by the client authentication",
	"client_assertion_type": "is set by the client authentication",
}

// resolveBehaviour checks the remaining options: AuthRequired, the claim
// filter, the clock tolerance, logout and TokenEndpointParams.
func (s *settings) resolveBehaviour(v *validator) {
	cfg := s.cfg
	s.authRequired = boolOr(cfg.AuthRequired, true)
	s.claimFilter = map[string]bool{}
	filter := cfg.IdentityClaimFilter
	if filter == nil {
		filter = defaultIdentityClaimFilter()
	}
	for _, c := range filter {
		s.claimFilter[c] = true
	}
	s.tolerance = cfg.ClockTolerance
	switch {
	case s.tolerance == 0:
		s.tolerance = defaultClockTolerance
	case s.tolerance < 0:
		s.tolerance = 0
	}
	s.auth0Logout = cfg.Auth0Logout
	s.idpLogout = cfg.IDPLogout || boolOr(cfg.Auth0Logout, false)
	s.logoutParams = cfg.LogoutParams
	s.tokenParams = cfg.TokenEndpointParams
	for _, k := range slices.Sorted(maps.Keys(cfg.TokenEndpointParams)) {
		if why, ok := tokenParamsReserved[k]; ok {
			v.fail(fmt.Sprintf("TokenEndpointParams[%q]", k), "cannot be set: it %s", why)
		}
	}
	switch n := cfg.MaxResourceTokens; {
	case n == 0:
		s.maxResTokens = defaultMaxResourceTokens
	case n < 0 || n > maxMaxResourceTokens:
		v.fail("MaxResourceTokens", "must be between 1 and %d (0: the default, %d)", maxMaxResourceTokens, defaultMaxResourceTokens)
	default:
		s.maxResTokens = n
	}
	if len(cfg.TokenEndpointParams) > 0 && s.responseType == "id_token" {
		s.logger.Warn(`oidc: TokenEndpointParams has no effect with response_type "id_token", which makes no token requests`)
	}
}

// writtenCookie is a cookie the middleware writes, with the option that
// names it.
type writtenCookie struct {
	option string
	line   setCookie
}

// sessionCookiesWritten returns the session cookie, a chunk of it and the
// skipSilentLogin cookie, each with the attributes it is written with.
func (s *settings) sessionCookiesWritten() []writtenCookie {
	exp := time.Unix(1700000000, 0)
	return []writtenCookie{
		{"Session.Name", s.sessionCookie(s.sessionName, "", exp)},
		{"Session.Name", s.sessionCookie(s.sessionName+".0", "", exp)},
		// Written by setSkipSilentLogin (logout.go); its name has no prefix.
		{"Session.Cookie", setCookie{name: skipSilentLoginCookie, domain: s.cookie.domain, path: s.cookie.path,
			httpOnly: true, secure: s.cookie.secure, sameSite: s.cookie.sameSite}},
	}
}

// txCookiesWritten returns the transaction cookie and, when the
// configuration writes it, its SameSite fallback, each with the attributes
// it is written and cleared with.
func (s *settings) txCookiesWritten() []writtenCookie {
	exp := time.Unix(1700000000, 0)
	out := []writtenCookie{
		{"TransactionCookie.Name", s.txCookie("", exp)},
		{"TransactionCookie.Name", s.txCookieClear()},
	}
	if s.writesTxFallback() {
		out = append(out, writtenCookie{"TransactionCookie.Name", s.txFallbackCookie("", exp)})
	}
	if s.legacySameSite {
		out = append(out, writtenCookie{"TransactionCookie.Name", s.txFallbackClear()})
	}
	return out
}

// checkCookiePrefixes checks every cookie in cs with checkCookiePrefix.
func checkCookiePrefixes(cs []writtenCookie) error {
	for _, c := range cs {
		if err := checkCookiePrefix(c.option, c.line); err != nil {
			return err
		}
	}
	return nil
}

// cookiePrefix returns the prefix of name that browsers give special
// protection (RFC 6265bis §4.1.3: "__Host-" or "__Secure-", matched
// case-insensitively as browsers do), as it is written in name, or "".
func cookiePrefix(name string) string {
	for _, p := range [...]string{"__Host-", "__Secure-"} {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return name[:len(p)]
		}
	}
	return ""
}

// checkCookiePrefix enforces the __Secure- and __Host- cookie-name rules on
// a Set-Cookie line: browsers drop a line that breaks them.
func checkCookiePrefix(option string, c setCookie) error {
	switch strings.ToLower(cookiePrefix(c.name)) {
	case "__host-":
		if !c.secure {
			return cfgErr(option, "a __Host- cookie (%s) requires Session.Cookie.Secure", c.name)
		}
		if c.domain != "" {
			return cfgErr(option, "a __Host- cookie (%s) must not have Session.Cookie.Domain", c.name)
		}
		if c.path != "/" {
			return cfgErr(option, "a __Host- cookie (%s) requires Session.Cookie.Path \"/\"", c.name)
		}
	case "__secure-":
		if !c.secure {
			return cfgErr(option, "a __Secure- cookie (%s) requires Session.Cookie.Secure", c.name)
		}
	}
	return nil
}

// resolveRoutes checks Routes and the redirect_uri. It reports whether the
// login, logout and callback routes are valid (the back-channel route must
// differ from them).
func (s *settings) resolveRoutes(v *validator) bool {
	mark := v.mark()
	route := func(option, val, def string) string {
		switch val {
		case "":
			return def
		case RouteDisabled:
			return ""
		}
		if !strings.HasPrefix(val, "/") {
			val = "/" + val
		}
		if strings.HasPrefix(val, "//") || strings.ContainsAny(val, "?#\\ \t\r\n\x00") {
			v.fail(option, "must be a path relative to BaseURL, such as %q", def)
			return ""
		}
		return val
	}
	rt := s.cfg.Routes
	s.loginRoute = route("Routes.Login", rt.Login, "/login")
	s.logoutRoute = route("Routes.Logout", rt.Logout, "/logout")
	s.callbackRoute = route("Routes.Callback", rt.Callback, "/callback")
	routesOK := v.clean(mark)
	ru, hasRU := s.authParams["redirect_uri"]
	delete(s.authParams, "redirect_uri")
	switch {
	case !hasRU && rt.Callback == RouteDisabled:
		v.fail(`AuthorizationParams["redirect_uri"]`, "is required when Routes.Callback is disabled")
	case s.baseURL == nil:
		// The redirect URIs are resolved against BaseURL.
	case hasRU:
		if abs, ok := safeurl.Resolve(s.baseURL, ru); ok {
			s.redirectURI = abs
		} else {
			v.fail(`AuthorizationParams["redirect_uri"]`, "must be a URL on BaseURL's origin")
		}
	case s.callbackRoute != "":
		s.redirectURI = joinURL(s.baseURL.String(), s.callbackRoute)
	}
	if s.baseURL == nil {
		return routesOK
	}
	s.postLogoutRedirect = s.baseURL.String()
	if p := rt.PostLogoutRedirect; p != "" {
		target := p
		if u, err := url.Parse(p); err == nil && !u.IsAbs() && !strings.HasPrefix(p, "//") {
			target = joinURL(s.baseURL.String(), p)
		}
		if abs, ok := safeurl.Resolve(s.baseURL, target); ok {
			s.postLogoutRedirect = abs
		} else {
			v.fail("Routes.PostLogoutRedirect", "must be relative to BaseURL or on BaseURL's origin")
		}
	}
	return routesOK
}

// joinURL joins a base URL and a path the way url-join does for the simple
// cases express-openid-connect uses: exactly one slash between them.
func joinURL(base, path string) string {
	if path == "" {
		return base
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}

// defaultGenid returns 16 random bytes in hex, like express-openid-connect.
func (s *settings) defaultGenid(*http.Request) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.random, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func defaultLoginState(_ *http.Request, opts LoginOptions) (map[string]any, error) {
	return map[string]any{"returnTo": opts.ReturnTo}, nil
}
