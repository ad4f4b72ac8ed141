package oidc

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
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

	// Client authentication and authorization-request extras (clientauth.go).
	assertionKey crypto.Signer // private_key_jwt
	assertionAlg string        // private_key_jwt or client_secret_jwt
	requestKey   crypto.Signer // JAR
	requestAlg   string
	requestKeyID string
	par          bool
	silentLogin  bool
	useMTLS      bool

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
	getLoginState func(*http.Request, LoginOptions) (map[string]any, error)

	bcl *backchannelSettings // nil: back-channel logout off (backchannel.go)
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

// resolve applies environment fallbacks and defaults and validates cfg.
func resolve(cfg Config) (*settings, error) {
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env := func(v, key string) string {
		if v != "" {
			return v
		}
		s, _ := lookup(key)
		return strings.TrimSpace(s)
	}
	s := &settings{cfg: cfg}
	s.logger = cfg.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}

	// Secrets.
	secrets := cfg.Secret
	if len(secrets) == 0 {
		if v := env("", "SECRET"); v != "" {
			secrets = Secrets{v}
		}
	}
	if len(secrets) == 0 {
		return nil, cfgErr("Secret", "is required (or set the SECRET environment variable)")
	}
	for i, sec := range secrets {
		if len(sec) < minSecretLength {
			return nil, cfgErr(fmt.Sprintf("Secret[%d]", i), "must be at least %d bytes", minSecretLength)
		}
		s.secrets = append(s.secrets, []byte(sec))
	}

	// URLs and client.
	s.issuerBaseURL = env(cfg.IssuerBaseURL, "ISSUER_BASE_URL")
	if s.issuerBaseURL == "" {
		return nil, cfgErr("IssuerBaseURL", "is required (or set ISSUER_BASE_URL)")
	}
	if u, err := url.Parse(s.issuerBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, cfgErr("IssuerBaseURL", "must be an absolute http or https URL")
	}
	base := env(cfg.BaseURL, "BASE_URL")
	if base == "" {
		return nil, cfgErr("BaseURL", "is required (or set BASE_URL)")
	}
	bu, err := url.Parse(base)
	if err != nil || (bu.Scheme != "https" && bu.Scheme != "http") || bu.Host == "" || bu.User != nil {
		return nil, cfgErr("BaseURL", "must be an absolute http or https URL")
	}
	if bu.RawQuery != "" || bu.Fragment != "" {
		return nil, cfgErr("BaseURL", "must not have a query or fragment")
	}
	if bu.Path == "" {
		bu.Path = "/"
	}
	s.baseURL = bu
	s.basePath = strings.TrimRight(bu.Path, "/")
	s.clientID = env(cfg.ClientID, "CLIENT_ID")
	if s.clientID == "" {
		return nil, cfgErr("ClientID", "is required (or set CLIENT_ID)")
	}
	s.clientSecret = env(string(cfg.ClientSecret), "CLIENT_SECRET")

	if err := s.resolveAuthParams(cfg); err != nil {
		return nil, err
	}
	if err := s.resolveClient(cfg); err != nil {
		return nil, err
	}
	if err := s.resolveClientAuth(cfg, lookup); err != nil {
		return nil, err
	}
	if err := s.resolveSession(cfg); err != nil {
		return nil, err
	}
	if err := s.resolveRoutes(cfg); err != nil {
		return nil, err
	}
	if err := s.resolveBackchannel(cfg); err != nil { // backchannel.go
		return nil, err
	}

	// Behaviour and plumbing.
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
	s.httpTimeout = cfg.HTTPTimeout
	if s.httpTimeout == 0 {
		s.httpTimeout = defaultHTTPTimeout
	}
	if s.httpTimeout < minHTTPTimeout {
		return nil, cfgErr("HTTPTimeout", "must be at least %s", minHTTPTimeout)
	}
	s.httpClient = cfg.HTTPClient
	if s.httpClient == nil {
		s.httpClient = &http.Client{Timeout: s.httpTimeout}
	}
	s.userAgent = cfg.HTTPUserAgent
	if s.userAgent == "" {
		s.userAgent = defaultUserAgent
	}
	s.discoveryTTL = cfg.DiscoveryCacheMaxAge
	if s.discoveryTTL < 0 {
		return nil, cfgErr("DiscoveryCacheMaxAge", "must not be negative")
	}
	if s.discoveryTTL == 0 {
		s.discoveryTTL = defaultDiscoveryMaxAge
	}
	s.jwksMaxAge = cfg.JWKSCacheMaxAge
	if s.jwksMaxAge < 0 {
		return nil, cfgErr("JWKSCacheMaxAge", "must not be negative")
	}
	if s.jwksMaxAge == 0 {
		s.jwksMaxAge = defaultJWKSMaxAge
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
	s.auth0Logout = cfg.Auth0Logout
	s.idpLogout = cfg.IDPLogout || boolOr(cfg.Auth0Logout, false)
	s.logoutParams = cfg.LogoutParams
	s.tokenParams = cfg.TokenEndpointParams
	s.getLoginState = cfg.GetLoginState
	if s.getLoginState == nil {
		s.getLoginState = defaultLoginState
	}
	return s, nil
}

func (s *settings) resolveAuthParams(cfg Config) error {
	p := map[string]string{
		"response_type": defaultResponseType,
		"scope":         defaultScope,
	}
	for k, v := range cfg.AuthorizationParams {
		if v == "" {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	rt := p["response_type"]
	if rt == "" {
		rt = defaultResponseType
		p["response_type"] = rt
	}
	switch rt {
	case "id_token", "code", "code id_token":
	default:
		return cfgErr(`AuthorizationParams["response_type"]`, `must be one of "id_token", "code", "code id_token"`)
	}
	scope := p["scope"]
	if scope == "" {
		scope = defaultScope
		p["scope"] = scope
	}
	if !openidScope.MatchString(scope) {
		return cfgErr(`AuthorizationParams["scope"]`, `must contain "openid"`)
	}
	rm, set := p["response_mode"]
	if !set && rt != "code" {
		rm = "form_post"
		p["response_mode"] = rm
	}
	if rt == "code" {
		if set && rm != "query" && rm != "form_post" {
			return cfgErr(`AuthorizationParams["response_mode"]`, `must be "query" or "form_post" for response_type "code"`)
		}
	} else if rm != "form_post" {
		return cfgErr(`AuthorizationParams["response_mode"]`, `must be "form_post" for response_type %q`, rt)
	}
	if v, ok := p["max_age"]; ok {
		if _, err := parseMaxAge(v); err != nil {
			return cfgErr(`AuthorizationParams["max_age"]`, "must be a non-negative integer number of seconds")
		}
	}
	for _, k := range []string{"nonce", "state", "code_challenge", "code_challenge_method", "code_verifier"} {
		if _, ok := p[k]; ok {
			return cfgErr(fmt.Sprintf("AuthorizationParams[%q]", k), "is generated per login and cannot be configured")
		}
	}
	s.authParams = p
	s.responseType = rt
	s.responseMode = rm
	return nil
}

func (s *settings) resolveClient(cfg Config) error {
	alg := cfg.IDTokenSigningAlg
	if alg == "" {
		alg = defaultIDTokenSigningAlg
	}
	if strings.EqualFold(alg, "none") {
		return cfgErr("IDTokenSigningAlg", `must not be "none"`)
	}
	if !knownSigningAlgs[alg] {
		return cfgErr("IDTokenSigningAlg", "unsupported algorithm %q", alg)
	}
	if strings.HasPrefix(alg, "HS") && s.clientSecret == "" {
		return cfgErr("ClientSecret", "is required for ID tokens with HMAC based algorithms (%s)", alg)
	}
	s.alg = alg
	return nil
}

func (s *settings) resolveSession(cfg Config) error {
	sc := cfg.Session
	s.rolling = boolOr(sc.Rolling, true)
	s.rollingDur = sc.RollingDuration
	s.absoluteDur = sc.AbsoluteDuration
	if s.rolling {
		if s.rollingDur < 0 {
			return cfgErr("Session.RollingDuration", "must be positive when Session.Rolling is true")
		}
		if s.rollingDur == 0 {
			s.rollingDur = defaultRollingDuration
		}
	} else {
		if s.rollingDur != 0 {
			return cfgErr("Session.RollingDuration", "must be zero when Session.Rolling is false")
		}
		if s.absoluteDur < 0 {
			return cfgErr("Session.AbsoluteDuration", "must be positive when Session.Rolling is false")
		}
	}
	if s.absoluteDur == 0 {
		s.absoluteDur = defaultAbsoluteDuration
	}
	for opt, d := range map[string]time.Duration{"Session.RollingDuration": s.rollingDur, "Session.AbsoluteDuration": s.absoluteDur} {
		if d > 0 && d < time.Second {
			return cfgErr(opt, "must be at least one second")
		}
	}

	s.store = sc.Store
	s.genid = sc.Genid
	if s.genid == nil {
		s.genid = s.defaultGenid
	}
	s.signStoreID = boolOr(sc.SignSessionStoreCookie, true)
	s.requireSigned = boolOr(sc.RequireSignedSessionStoreCookie, s.signStoreID)
	if s.requireSigned && !s.signStoreID {
		return cfgErr("Session.RequireSignedSessionStoreCookie", "requires Session.SignSessionStoreCookie")
	}
	if s.store == nil && (sc.Genid != nil || sc.SignSessionStoreCookie != nil || sc.RequireSignedSessionStoreCookie != nil) {
		s.logger.Warn("oidc: Session.Genid and Session.SignSessionStoreCookie only apply with Session.Store")
	}
	s.touch = sc.TouchInterval
	if s.touch == 0 {
		s.touch = defaultTouchInterval
	}

	s.sessionName = sc.Name
	if s.sessionName == "" {
		s.sessionName = defaultSessionName
	}
	if !sessionNamePattern.MatchString(s.sessionName) {
		return cfgErr("Session.Name", "may contain only letters, digits, '_', '.' and '-'")
	}

	c := sc.Cookie
	https := s.baseURL.Scheme == "https"
	a := cookieAttrs{
		domain:    c.Domain,
		path:      c.Path,
		transient: c.Transient,
		httpOnly:  boolOr(c.HTTPOnly, true),
		secure:    boolOr(c.Secure, https),
		sameSite:  c.SameSite,
	}
	if a.path == "" {
		a.path = "/"
	}
	if !strings.HasPrefix(a.path, "/") || strings.ContainsAny(a.path, ";\x00\r\n\t ") {
		return cfgErr("Session.Cookie.Path", "must be an absolute path such as \"/\"")
	}
	if strings.ContainsAny(a.domain, ";,/\\ \t\r\n\x00") {
		return cfgErr("Session.Cookie.Domain", "is not a valid domain")
	}
	if a.sameSite == 0 || a.sameSite == http.SameSiteDefaultMode {
		a.sameSite = http.SameSiteLaxMode
	}
	if a.sameSite != http.SameSiteLaxMode && a.sameSite != http.SameSiteStrictMode && a.sameSite != http.SameSiteNoneMode {
		return cfgErr("Session.Cookie.SameSite", "must be Lax, Strict or None")
	}
	if a.secure && !https {
		return cfgErr("Session.Cookie.Secure", "cookies set with the Secure attribute are not sent over the http BaseURL")
	}
	if !a.secure && https {
		s.logger.Warn("oidc: Session.Cookie.Secure is false although BaseURL is https")
	}
	if a.sameSite == http.SameSiteNoneMode && !a.secure {
		return cfgErr("Session.Cookie.SameSite", "None requires Session.Cookie.Secure (and an https BaseURL)")
	}
	s.cookie = a
	if err := checkCookiePrefixes(s.sessionCookiesWritten()); err != nil {
		return err
	}
	if s.chunkSize(0) < minChunkSize {
		return cfgErr("Session.Cookie.Path", "together with Session.Cookie.Domain and Session.Name is too long for a cookie")
	}

	s.txName = cfg.TransactionCookie.Name
	if s.txName == "" {
		s.txName = defaultTransactionName
	}
	if !sessionNamePattern.MatchString(s.txName) {
		return cfgErr("TransactionCookie.Name", "may contain only letters, digits, '_', '.' and '-'")
	}
	s.txSameSite = cfg.TransactionCookie.SameSite
	if s.txSameSite == 0 || s.txSameSite == http.SameSiteDefaultMode {
		s.txSameSite = a.sameSite
	}
	if s.txSameSite != http.SameSiteLaxMode && s.txSameSite != http.SameSiteStrictMode && s.txSameSite != http.SameSiteNoneMode {
		return cfgErr("TransactionCookie.SameSite", "must be Lax, Strict or None")
	}
	if s.txSameSite == http.SameSiteNoneMode && !a.secure && s.responseMode != "form_post" {
		return cfgErr("TransactionCookie.SameSite", "None requires Session.Cookie.Secure (and an https BaseURL)")
	}
	s.txFallback = txFallbackName(s.txName)
	s.legacySameSite = boolOr(cfg.LegacySameSiteCookie, true)
	s.txMaxAge = cfg.TransactionCookie.MaxAge
	switch {
	case s.txMaxAge < 0:
		return cfgErr("TransactionCookie.MaxAge", "must not be negative")
	case s.txMaxAge == 0:
		s.txMaxAge = defaultTransactionMaxAge
	case s.txMaxAge < minTransactionMaxAge:
		return cfgErr("TransactionCookie.MaxAge", "must be at least %s", minTransactionMaxAge)
	}
	s.txExpress = cfg.TransactionCookie.ExpressFormat
	if err := checkCookiePrefixes(s.txCookiesWritten()); err != nil {
		return err
	}
	if s.responseMode == "form_post" && !https {
		s.logger.Warn("oidc: response_mode form_post over an http BaseURL relies on browsers accepting Secure cookies on http://localhost")
	}
	return nil
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

func (s *settings) resolveRoutes(cfg Config) error {
	route := func(option, v, def string) (string, error) {
		switch v {
		case "":
			return def, nil
		case RouteDisabled:
			return "", nil
		}
		if !strings.HasPrefix(v, "/") {
			v = "/" + v
		}
		if strings.HasPrefix(v, "//") || strings.ContainsAny(v, "?#\\ \t\r\n\x00") {
			return "", cfgErr(option, "must be a path relative to BaseURL, such as %q", def)
		}
		return v, nil
	}
	var err error
	if s.loginRoute, err = route("Routes.Login", cfg.Routes.Login, "/login"); err != nil {
		return err
	}
	if s.logoutRoute, err = route("Routes.Logout", cfg.Routes.Logout, "/logout"); err != nil {
		return err
	}
	if s.callbackRoute, err = route("Routes.Callback", cfg.Routes.Callback, "/callback"); err != nil {
		return err
	}
	if ru, ok := s.authParams["redirect_uri"]; ok {
		abs, ok := safeurl.Resolve(s.baseURL, ru)
		if !ok {
			return cfgErr(`AuthorizationParams["redirect_uri"]`, "must be a URL on BaseURL's origin")
		}
		s.redirectURI = abs
		delete(s.authParams, "redirect_uri")
	} else if s.callbackRoute != "" {
		s.redirectURI = joinURL(s.baseURL.String(), s.callbackRoute)
	} else {
		return cfgErr(`AuthorizationParams["redirect_uri"]`, "is required when Routes.Callback is disabled")
	}
	s.postLogoutRedirect = s.baseURL.String()
	if p := cfg.Routes.PostLogoutRedirect; p != "" {
		target := p
		if u, err := url.Parse(p); err == nil && !u.IsAbs() && !strings.HasPrefix(p, "//") {
			target = joinURL(s.baseURL.String(), p)
		}
		abs, ok := safeurl.Resolve(s.baseURL, target)
		if !ok {
			return cfgErr("Routes.PostLogoutRedirect", "must be relative to BaseURL or on BaseURL's origin")
		}
		s.postLogoutRedirect = abs
	}
	return nil
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
