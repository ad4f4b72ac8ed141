package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/safeurl"
	"github.com/openidconnect-go/oidc/internal/state"
	"github.com/openidconnect-go/oidc/internal/transaction"
	"github.com/openidconnect-go/oidc/internal/uricomp"
)

// LoginOptions are the options of Context.Login.
type LoginOptions struct {
	// ReturnTo is where the user lands after the login: a path or an
	// absolute URL on BaseURL's origin (anything else falls back to
	// BaseURL). Default: the current URL for GET requests, else BaseURL.
	ReturnTo string
	// AuthorizationParams override Config.AuthorizationParams for this
	// login; an empty value removes a parameter. response_type and
	// response_mode cannot change per login. The parameters generated for
	// every login (nonce, state, code_challenge, code_challenge_method,
	// code_verifier), client_id, and with Silent a prompt other than
	// "none", are refused: the login fails with 500 "invalid_request"
	// naming the key (ErrBadRequest).
	AuthorizationParams map[string]string
	// Silent asks the provider not to show any page (prompt=none); when it
	// answers login_required, the user returns anonymously.
	Silent bool
}

// Login starts a login: it stores a new transaction in the transaction
// cookie and redirects the browser to the provider. Errors (for example an
// unreachable provider, 503) are rendered with Config.ErrorHandler. On a nil
// Context (a handler not wrapped by Auth) it answers 500 with the default
// error page.
//
// A GET (or HEAD) request that arrived at another name of BaseURL's
// loopback host (127.0.0.1 or [::1] for localhost, or the reverse, with the
// same port) is first redirected to the same path and query on BaseURL,
// before anything is stored: the callback returns to BaseURL, and the
// browser would not send it the transaction cookie set on another host.
func (c *Context) Login(w http.ResponseWriter, r *http.Request, opts LoginOptions) {
	if c == nil {
		defaultErrorHandler(w, r, noMiddlewareError())
		return
	}
	m := c.m
	if err := m.login(w, r, opts); err != nil {
		// Discovery has logged its own failures.
		if !errors.Is(err, ErrProviderUnavailable) && !errors.Is(err, ErrIssuerMismatch) {
			m.logLoginFailure("oidc: login could not start", err)
		}
		m.s.errorHandler(w, r, err)
	}
}

func (m *Middleware) login(w http.ResponseWriter, r *http.Request, opts LoginOptions) error {
	if target, ok := m.loopbackAliasRedirect(r); ok {
		m.s.logger.Debug("oidc: login on another name of BaseURL's loopback host; redirecting to BaseURL first")
		w.Header().Set("Cache-Control", "no-store")
		redirect(w, r, target)
		return nil
	}
	if err := checkLoginOptions(opts); err != nil {
		return err
	}
	md, err := m.discover(r.Context())
	if err != nil {
		return unavailable(err)
	}
	base := m.s.baseURL
	switch {
	case opts.ReturnTo != "":
		if abs, ok := safeurl.Resolve(base, opts.ReturnTo); ok {
			opts.ReturnTo = abs
		} else {
			opts.ReturnTo = base.String()
		}
	case r.Method == http.MethodGet:
		if rt := safeurl.FromRequest(base, originalRequest(r)); rt != "" {
			opts.ReturnTo = rt
		} else {
			opts.ReturnTo = base.String()
		}
	default:
		opts.ReturnTo = base.String()
	}

	params := map[string]string{"redirect_uri": m.s.redirectURI}
	for k, v := range m.s.authParams {
		params[k] = v
	}
	for k, v := range opts.AuthorizationParams {
		if v == "" {
			delete(params, k)
		} else {
			params[k] = v
		}
	}
	if params["response_type"] != m.s.responseType || params["response_mode"] != m.s.responseMode {
		return newError(http.StatusInternalServerError, "invalid_request",
			"response_type and response_mode cannot be changed per login", nil)
	}
	if !openidScope.MatchString(params["scope"]) {
		return newError(http.StatusInternalServerError, "invalid_request", `scope must contain "openid"`, nil)
	}
	redirectURI, ok := safeurl.Resolve(base, params["redirect_uri"])
	if !ok {
		return newError(http.StatusInternalServerError, "invalid_request", "redirect_uri must be on BaseURL's origin", nil)
	}
	params["redirect_uri"] = redirectURI

	st, err := m.s.getLoginState(r, opts)
	if err != nil {
		return newError(http.StatusInternalServerError, "server_error", "GetLoginState failed", err)
	}
	if st == nil {
		st = map[string]any{}
	}
	if opts.Silent {
		st["attemptingSilentLogin"] = true
		params["prompt"] = "none"
	}
	rnd, err := randomString(m.s.random, 16)
	if err != nil {
		return newError(http.StatusInternalServerError, "server_error", "no randomness", err)
	}
	st["rnd"] = rnd // makes state unguessable; express's state is not
	encoded, err := state.Encode(st)
	if err != nil {
		return newError(http.StatusInternalServerError, "server_error", "the login state is not JSON-encodable", err)
	}
	nonce, err := randomString(m.s.random, 32)
	if err != nil {
		return newError(http.StatusInternalServerError, "server_error", "no randomness", err)
	}
	tx := transaction.Transaction{Nonce: nonce, State: encoded, ResponseType: m.s.responseType,
		ResponseMode: m.s.effectiveResponseMode(), Started: m.s.now().UnixMicro()}
	if v, ok := params["max_age"]; ok {
		ma, err := parseMaxAge(v)
		if err != nil {
			return newError(http.StatusInternalServerError, "invalid_request", "max_age must be a non-negative integer", nil)
		}
		tx.MaxAge = &ma
	}
	query := url.Values{}
	for k, v := range params {
		if k == "resource" {
			// RFC 8707: one parameter per resource.
			query[k] = splitResources(v)
			continue
		}
		query.Set(k, v)
	}
	query.Set("nonce", nonce)
	query.Set("state", encoded)
	if m.s.responseType != "id_token" {
		verifier, err := randomString(m.s.random, 32)
		if err != nil {
			return newError(http.StatusInternalServerError, "server_error", "no randomness", err)
		}
		tx.CodeVerifier = verifier
		sum := sha256.Sum256([]byte(verifier))
		query.Set("code_challenge_method", "S256")
		query.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	}
	query.Set("client_id", m.s.clientID)

	// JAR and PAR (internal/provider) apply here; a failure leaves no
	// transaction.
	target, err := m.provider.AuthorizationURL(r.Context(), md, query)
	if err != nil {
		return providerPage(err)
	}
	if err := m.storeTransaction(w.Header(), tx); err != nil {
		return newError(http.StatusInternalServerError, "server_error", "the transaction cookie could not be written", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
	return nil
}

// checkLoginOptions refuses per-login authorization parameters that the
// middleware sets itself (nonce, state, PKCE, client_id), and a prompt that
// contradicts Silent: express-openid-connect drops them silently.
func checkLoginOptions(opts LoginOptions) error {
	invalid := func(desc string) error {
		return newError(http.StatusInternalServerError, "invalid_request", desc, ErrBadRequest)
	}
	for _, k := range slices.Sorted(maps.Keys(opts.AuthorizationParams)) {
		if why, ok := authParamsGenerated[k]; ok {
			return invalid(fmt.Sprintf("LoginOptions.AuthorizationParams[%q] cannot be set: it %s", k, why))
		}
	}
	if msg := checkResourceParam(opts.AuthorizationParams["resource"]); msg != "" {
		return invalid(`LoginOptions.AuthorizationParams["resource"] ` + msg)
	}
	if p := opts.AuthorizationParams["prompt"]; opts.Silent && p != "" && p != "none" {
		return invalid(`LoginOptions.AuthorizationParams["prompt"] conflicts with Silent, which sends prompt=none`)
	}
	return nil
}

// loopbackAliasRedirect returns the URL on BaseURL of a GET (or HEAD)
// request that arrived at another name of BaseURL's loopback host
// (localhost, 127.0.0.1, [::1], with the same port), so that a login
// starts, and sets its transaction cookie, on the host that the callback
// returns to. Other hosts are left alone: behind a reverse proxy the Host
// header often names an internal host, and sending the browser there would
// fail or loop.
func (m *Middleware) loopbackAliasRedirect(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", false
	}
	base := m.s.baseURL
	rh, rp := splitHostPort(r.Host, base.Scheme)
	bh, bp := splitHostPort(base.Host, base.Scheme)
	if rh == bh || rp != bp || !isLoopbackHost(rh) || !isLoopbackHost(bh) {
		return "", false
	}
	u := originalRequest(r).URL
	if !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	target := url.URL{Scheme: base.Scheme, Host: base.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	return target.String(), true
}

// splitHostPort splits a Host header or URL host into the host name (lower
// case, without brackets or a final dot) and the port (the default port of
// scheme when there is none).
func splitHostPort(hostport, scheme string) (host, port string) {
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["), ".")
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(host), port
}

// originalRequest returns r with its URL as the client sent it (RequestURI),
// like Express's req.originalUrl: a handler behind http.StripPrefix still
// returns to the full path.
func originalRequest(r *http.Request) *http.Request {
	if r.RequestURI == "" || r.RequestURI == r.URL.RequestURI() {
		return r
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	return r2
}

// storeTransaction writes the transaction cookie, and the SameSite fallback
// cookie when the configuration needs one. Both expire
// TransactionCookie.MaxAge after the transaction's start. Nothing is written
// when either value cannot be built.
func (m *Middleware) storeTransaction(h http.Header, tx transaction.Transaction) error {
	exp := time.UnixMicro(tx.Started).Add(m.s.txMaxAge)
	main, err := m.encodeTransaction(m.s.txName, tx)
	if err != nil {
		return err
	}
	var fallback string
	if m.s.writesTxFallback() {
		if fallback, err = m.encodeTransaction(m.s.txFallback, tx); err != nil {
			return err
		}
	}
	addCookie(h, m.s.txCookie(main, exp))
	if fallback != "" {
		addCookie(h, m.s.txFallbackCookie(fallback, exp))
	}
	return nil
}

// encodeTransaction returns the value of the cookie called name that
// carries tx: encrypted and bound to name (cookiecrypto.Sealer), or, with
// TransactionCookie.ExpressFormat, express-openid-connect's signed JSON,
// percent-encoded like encodeURIComponent.
func (m *Middleware) encodeTransaction(name string, tx transaction.Transaction) (string, error) {
	value := tx.Marshal()
	if m.s.txExpress {
		return uricomp.Encode(m.keys.Sign(name, value)), nil
	}
	return m.txSealer.Seal(name, []byte(value))
}

// effectiveResponseMode is the response mode the provider answers with:
// the configured one, or "query" for the code flow without one.
func (s *settings) effectiveResponseMode() string {
	if s.responseMode == "" {
		return "query"
	}
	return s.responseMode
}

// txCookieMode returns the transaction cookie's SameSite and Secure: None
// and Secure for form_post (the callback is a cross-site POST).
func (s *settings) txCookieMode() (http.SameSite, bool) {
	if s.responseMode == "form_post" {
		return http.SameSiteNoneMode, true
	}
	if s.txSameSite == http.SameSiteNoneMode {
		return http.SameSiteNoneMode, true
	}
	return s.txSameSite, s.cookie.secure
}

// writesTxFallback reports whether logins also write the SameSite fallback
// transaction cookie (LegacySameSiteCookie with a SameSite=None cookie).
// Only then is the fallback read.
func (s *settings) writesTxFallback() bool {
	sameSite, _ := s.txCookieMode()
	return sameSite == http.SameSiteNoneMode && s.legacySameSite
}

// txFallbackName returns the name of the SameSite fallback of the
// transaction cookie called name: "_" + name, as express-openid-connect
// names it, except that a "__Host-" or "__Secure-" prefix stays in front
// ("__Host-tx" gives "__Host-_tx"), so that the fallback keeps the
// protection the prefix gives against cookies planted by sibling domains.
func txFallbackName(name string) string {
	if p := cookiePrefix(name); p != "" {
		return p + "_" + name[len(p):]
	}
	return "_" + name
}

// txCookie returns the transaction cookie's Set-Cookie line.
func (s *settings) txCookie(value string, exp time.Time) setCookie {
	sameSite, secure := s.txCookieMode()
	return setCookie{
		name: s.txName, value: value, domain: s.cookie.domain, path: s.cookie.path,
		expires: exp, httpOnly: true, secure: secure, sameSite: sameSite,
	}
}

// txFallbackCookie returns the fallback cookie's Set-Cookie line: no
// SameSite, Secure like the session cookie (as in express), and always
// Secure for a prefixed name, which requires it.
func (s *settings) txFallbackCookie(value string, exp time.Time) setCookie {
	return setCookie{
		name: s.txFallback, value: value, domain: s.cookie.domain, path: s.cookie.path,
		expires: exp, httpOnly: true, secure: s.cookie.secure || cookiePrefix(s.txFallback) != "",
	}
}

// txCookieClear returns the line that deletes the transaction cookie, with
// the attributes it was written with.
func (s *settings) txCookieClear() setCookie {
	c := s.txCookie("", epoch)
	c.httpOnly = false
	return c
}

// txFallbackClear returns the line that deletes the fallback cookie.
func (s *settings) txFallbackClear() setCookie {
	c := s.txFallbackCookie("", epoch)
	c.httpOnly = false
	return c
}

func parseMaxAge(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid max_age")
	}
	return n, nil
}

// randomString returns n random bytes from r, base64url-encoded.
func randomString(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// isLoopbackHost reports whether host (without port or brackets) names the
// local machine: localhost or a loopback IP address.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
