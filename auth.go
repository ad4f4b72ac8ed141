package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/internal/provider"
)

// Middleware is the OpenID Connect middleware built from a Config. It mounts
// the login, logout and callback routes and keeps the session in an
// encrypted cookie. Build it with New; wrap handlers with Handler.
type Middleware struct {
	s        *settings
	keys     *cookiecrypto.Keyring
	txSealer *cookiecrypto.Sealer // the transaction cookie's encryption (login.go)
	// provider talks to the OpenID provider (internal/provider, provider.go).
	provider *provider.Client
	// refreshes de-duplicates concurrent refresh_token grants (tokens.go).
	refreshes refreshGroup
	// grantTurns makes the AccessTokenFor grants of one request take
	// turns (resource.go).
	grantTurns grantTurns
	// claims caches decoded ID-token claims (cache.go).
	claims claimsCache
	// backend keeps the sessions between requests: in the cookie
	// (cookiebackend.go) or in Session.Store (storebackend.go).
	backend sessionBackend
	// revocations tracks the background refresh-token revocations started
	// by logouts (revoke.go), so that tests can wait for them; revoking
	// counts those in flight, to bound them.
	revocations sync.WaitGroup
	revoking    atomic.Int32
	// redirectRel and redirectFull locate the path of the configured
	// redirect_uri (isRedirectPath): relative to BaseURL's path when it lies
	// under it, else the whole path ("" when unused).
	redirectRel, redirectFull string
}

// New validates cfg and builds the middleware. It never contacts the
// provider: discovery happens lazily, at the first login or callback, so an
// application starts even while its provider is down. Every invalid option
// is reported at once: the error is a *ConfigError, or errors.Join of
// several (see ConfigError).
func New(cfg Config) (*Middleware, error) {
	s, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	keys, err := cookiecrypto.NewKeyring(s.secrets, s.random)
	if err != nil {
		return nil, cfgErr("Secret", "%v", err)
	}
	txSealer, err := cookiecrypto.NewSealer(cookiecrypto.TransactionPurpose, s.secrets, s.random)
	if err != nil {
		return nil, cfgErr("Secret", "%v", err)
	}
	m := &Middleware{s: s, keys: keys, txSealer: txSealer, backend: newSessionBackend(s, keys)}
	m.provider = provider.New(s.providerSettings())
	m.redirectRel, m.redirectFull = redirectPaths(s.basePath, s.redirectURI)
	if s.authRequired && (m.redirectRel == "/" || m.redirectFull == "/") {
		s.logger.Warn("oidc: the redirect_uri is the application's root; AuthRequired does not guard GET and POST requests to it")
	}
	return m, nil
}

// Auth validates cfg and returns a middleware that wraps a handler with
// login, logout, callback and session handling. It is New(cfg).Handler.
//
//	auth, err := oidc.Auth(oidc.Config{ /* ... */ })
//	if err != nil { log.Fatal(err) }
//	http.ListenAndServe(":3000", auth(mux))
func Auth(cfg Config) (func(http.Handler) http.Handler, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return m.Handler, nil
}

// Handler wraps next. Requests to the built-in routes are answered by the
// middleware; every other request reaches next with an *oidc.Context in its
// context (see FromRequest), after the AuthRequired check.
//
// A request goes one way: a Context is made, whose session is read at its
// first use (lazily); serve answers a built-in route or runs the guards and
// next; and the session is saved once, when the response headers are
// written (commit), at the latest here.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if prev := FromContext(r.Context()); prev != nil && prev.m.s.sessionName == m.s.sessionName {
			m.s.errorHandler(w, r, newError(http.StatusInternalServerError, "server_error",
				"the oidc middleware is installed twice with the same session name", nil))
			return
		}
		c := m.newContext(w, r)
		m.serve(c.w, c.req, c, next)
		c.w.commit()
	})
}

// serve answers the request: the back-channel POST (which leaves the
// session alone), the back-channel logout check, a built-in route, or the
// application's handler behind AuthRequired and silent login.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, c *Context, next http.Handler) {
	route := m.route(r.URL.Path)
	// Back-channel logout (backchannelroute.go): the provider's POST needs
	// no session; every other authenticated request but a logout is checked
	// (backchannelgate.go).
	if route != "" && route == m.s.backchannelRoute() && r.Method == http.MethodPost {
		c.BackchannelLogout(w, r)
		return
	}
	if (route == "" || route != m.s.logoutRoute) && !m.backchannelGate(w, r, c) {
		return
	}
	switch {
	case route == "":
	case route == m.s.loginRoute && r.Method == http.MethodGet:
		c.Login(w, r, LoginOptions{ReturnTo: m.s.baseURL.String()})
		return
	case route == m.s.logoutRoute && r.Method == http.MethodGet:
		c.Logout(w, r, LogoutOptions{})
		return
	case route == m.s.callbackRoute && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		c.Callback(w, r, CallbackOptions{})
		return
	}
	// The application's own callback route (Routes.Callback disabled, the
	// configured redirect_uri pointing at a handler that calls
	// Context.Callback) receives anonymous browsers by design: guarding it
	// would send every authorization response back to the provider, in a
	// loop.
	if (r.Method == http.MethodGet || r.Method == http.MethodPost) && m.isRedirectPath(r.URL.Path) {
		next.ServeHTTP(w, r)
		return
	}
	if m.s.authRequired && !c.IsAuthenticated() {
		m.requireLogin(w, r, c)
		return
	}
	if m.s.silentLogin && m.attemptSilentLogin(w, r, c) {
		return // after the AuthRequired check, as in express
	}
	next.ServeHTTP(w, r)
}

// route returns the built-in route path matches ("/login", ...) or "".
// Paths are matched relative to BaseURL's path when the request carries it
// (so both a mounted and a prefix-stripped application work),
// case-insensitively and with an optional trailing slash, like Express.
func (m *Middleware) route(path string) string {
	p := relativePath(m.s.basePath, path)
	for _, rt := range [...]string{m.s.loginRoute, m.s.logoutRoute, m.s.callbackRoute, m.s.backchannelRoute()} {
		if rt != "" && strings.EqualFold(p, rt) {
			return rt
		}
	}
	return ""
}

// relativePath returns path relative to basePath when it lies under it
// (compared case-insensitively), else path itself, without a trailing slash
// ("" for basePath itself).
func relativePath(basePath, path string) string {
	p := path
	if bp := basePath; bp != "" && len(p) >= len(bp) && strings.EqualFold(p[:len(bp)], bp) &&
		(len(p) == len(bp) || p[len(bp)] == '/') {
		p = p[len(bp):]
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}

// redirectPaths returns the path of redirectURI as isRedirectPath matches
// it: relative to basePath (rel, "/" for BaseURL itself) when it lies under
// it, else the whole path (full).
func redirectPaths(basePath, redirectURI string) (rel, full string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return "", ""
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if basePath == "" || (len(p) >= len(basePath) && strings.EqualFold(p[:len(basePath)], basePath) &&
		(len(p) == len(basePath) || p[len(basePath)] == '/')) {
		rel = relativePath(basePath, p)
		if rel == "" {
			rel = "/"
		}
		return rel, ""
	}
	return "", relativePath("", p)
}

// isRedirectPath reports whether path is the path of the configured
// redirect_uri, matched like the built-in routes: relative to BaseURL's
// path when the request carries it, case-insensitively and with an optional
// trailing slash.
func (m *Middleware) isRedirectPath(path string) bool {
	if m.redirectRel != "" {
		p := relativePath(m.s.basePath, path)
		if p == "" {
			p = "/"
		}
		return strings.EqualFold(p, m.redirectRel)
	}
	return m.redirectFull != "" && strings.EqualFold(relativePath("", path), m.redirectFull)
}
