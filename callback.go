package oidc

import (
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/internal/provider"
	"github.com/openidconnect-go/oidc/internal/safeurl"
	"github.com/openidconnect-go/oidc/internal/state"
	"github.com/openidconnect-go/oidc/internal/transaction"
	"github.com/openidconnect-go/oidc/internal/uricomp"
)

// maxCallbackBody bounds a form_post callback body.
const maxCallbackBody = 1 << 20

// maxTxCookie bounds a transaction cookie value that is looked at; a cookie
// cannot be longer anyway.
const maxTxCookie = 8 << 10

// CallbackOptions are the options of Context.Callback.
type CallbackOptions struct {
	// RedirectURI is the redirect_uri the login used, when it is not the
	// built-in callback route (for custom callback routes).
	RedirectURI string
	// TokenEndpointParams are extra parameters for the token request,
	// merged over Config.TokenEndpointParams. The parameters the request
	// sets itself (grant_type, code, redirect_uri, code_verifier and the
	// client authentication's) fail the callback with 500 "invalid_request"
	// naming the key (ErrBadRequest).
	TokenEndpointParams map[string]string
}

// Callback completes a login: it checks the transaction cookie and the
// provider's response, verifies the ID token, exchanges the code when the
// flow has one, stores the session and redirects to the login's returnTo.
// The transaction cookie is cleared whatever the outcome, except for a
// response that cannot belong to it (another state, or delivered by another
// method than the login asked for). Errors are rendered with
// Config.ErrorHandler (400 for an invalid response). On a nil Context (a
// handler not wrapped by Auth) it answers 500 with the default error page.
func (c *Context) Callback(w http.ResponseWriter, r *http.Request, opts CallbackOptions) {
	if c == nil {
		defaultErrorHandler(w, r, noMiddlewareError())
		return
	}
	m := c.m
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	tx, status := m.readTransaction(r)
	var st map[string]any
	if status != txMissing {
		st, _ = state.Decode(tx.State)
	}
	var params url.Values
	var err error
	if status == txFound {
		err = m.checkResponseMode(r, tx)
	}
	if err == nil {
		params, err = callbackParams(r)
	}
	if err == nil {
		// A response for another transaction (an older tab, or a forged
		// callback) leaves this browser's transaction in place, so that its
		// own callback still completes. Otherwise the transaction is used up,
		// whatever the outcome.
		if status != txFound || params.Get("state") == tx.State {
			m.clearTransaction(h)
		}
		err = m.callback(w, r, c, opts, params, tx, status, st)
	}
	if err == nil {
		return
	}
	if errors.Is(err, errStaleCallback) {
		redirect(w, r, m.s.baseURL.String())
		return
	}
	if silent, _ := st["attemptingSilentLogin"].(bool); silent {
		// A failed silent login returns the user anonymously, without a loop.
		// The provider's "log in first" answers are the expected outcome.
		if errors.Is(err, ErrAuthorization) {
			m.s.logger.Debug("oidc: silent login failed", "error", err.Error())
		} else {
			m.logLoginFailure("oidc: silent login failed", err)
		}
		redirect(w, r, m.returnTo(st))
		return
	}
	m.logLoginFailure("oidc: login failed", err)
	m.s.errorHandler(w, r, err)
}

// logLoginFailure logs a failed or refused login at Warn: the status, the
// error code and the description (our own text, or the provider's after
// provider.CleanDescription) and, when the application refused the login
// (AfterCallback, or a back-channel logout hook), its reason. Tokens, codes,
// cookie values and raw provider answers are never logged.
func (m *Middleware) logLoginFailure(msg string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		m.s.logger.Warn(msg, "error", provider.CleanDescription(err.Error()))
		return
	}
	attrs := []any{"status", e.Status, "code", e.Code, "description", e.Description}
	if reason := applicationReason(e.Err); reason != "" {
		attrs = append(attrs, "reason", reason)
	}
	m.s.logger.Warn(msg, attrs...)
}

// applicationReason returns the application's own error behind a login
// that AfterCallback or a back-channel logout hook refused, made safe to
// log, or "".
func applicationReason(err error) string {
	if !errors.Is(err, ErrLoginRejected) && !errors.Is(err, ErrLogoutCheck) {
		return ""
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return ""
	}
	var parts []string
	for _, e := range joined.Unwrap() {
		if e != nil && e != ErrLoginRejected && e != ErrLogoutCheck {
			parts = append(parts, e.Error())
		}
	}
	return provider.CleanDescription(strings.Join(parts, "; "))
}

var errStaleCallback = errors.New("stale callback")

func (m *Middleware) callback(w http.ResponseWriter, r *http.Request, c *Context, opts CallbackOptions,
	params url.Values, tx transaction.Transaction, status txStatus, st map[string]any) error {
	switch status {
	case txExpired:
		return newError(http.StatusBadRequest, "missing_transaction", "The login took too long and has expired. Please log in again.",
			ErrMissingTransaction)
	case txMissing:
		if c.IsAuthenticated() {
			return errStaleCallback // the back button, or a replayed callback
		}
		desc := strconv.Quote(m.s.txName) + " cookie not found. "
		if hint := m.otherHostHint(r); hint != "" {
			desc += hint
		} else {
			desc += "Ensure the login flow is initiated through the login route before the callback " +
				"is processed. If using SameSite=None cookies, verify the application is served over HTTPS. For several " +
				"applications on one domain, give each its own TransactionCookie.Name and Session.Cookie.Path."
		}
		return newError(http.StatusBadRequest, "missing_transaction", desc, ErrMissingTransaction)
	}
	md, err := m.discover(r.Context())
	if err != nil {
		return unavailable(err)
	}
	flow := tx.ResponseType
	if flow == "" {
		flow = m.s.responseType // a transaction written by express-openid-connect
	}
	// RFC 9207: check iss before anything else in the response.
	if iss, ok := params["iss"]; ok {
		if len(iss) != 1 || iss[0] != md.Issuer {
			return newError(http.StatusBadRequest, "invalid_response", "the iss parameter does not match the provider", ErrIssuerParameter)
		}
	} else if (md.IssParameterSupported || m.s.requireIss) && !flowHasIDToken(flow) {
		// requireIss: ProfileFAPI2 requires it whatever the provider says.
		// In flows that return an ID token from the authorization endpoint,
		// its verified iss claim binds the response to the issuer, and
		// providers (node-oidc-provider, as RFC 9207 §2.4 allows) leave the
		// parameter out. Which flow it is comes from the transaction, never
		// from the parameters the response happens to carry.
		return newError(http.StatusBadRequest, "invalid_response", "the iss parameter is missing", ErrIssuerParameter)
	}
	got := params.Get("state")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(tx.State)) != 1 || st == nil {
		return newError(http.StatusBadRequest, "invalid_state", "the state parameter does not match this login", ErrStateMismatch)
	}
	if code := params.Get("error"); code != "" {
		cause := ErrAuthorization
		if code == "invalid_target" {
			cause = errors.Join(ErrAuthorization, ErrInvalidTarget)
		}
		return newError(http.StatusBadRequest, provider.SanitizeCode(code), provider.CleanDescription(params.Get("error_description")), cause)
	}

	redirectURI := m.s.redirectURI
	if opts.RedirectURI != "" {
		abs, ok := safeurl.Resolve(m.s.baseURL, opts.RedirectURI)
		if !ok {
			return newError(http.StatusInternalServerError, "server_error", "CallbackOptions.RedirectURI must be on BaseURL's origin", nil)
		}
		redirectURI = abs
	}
	checks := idTokenChecks{nonce: tx.Nonce, maxAge: tx.MaxAge}
	sess := &Session{}
	var claims Claims
	switch flow {
	case "id_token":
		claims, err = m.verifyIDToken(r.Context(), md, params.Get("id_token"), checks)
		if err != nil {
			return err
		}
		sess.IDToken = Secret(params.Get("id_token"))
	case "code", "code id_token":
		code := params.Get("code")
		if code == "" {
			return newError(http.StatusBadRequest, "invalid_response", "the authorization code is missing", ErrBadRequest)
		}
		var front Claims
		if flow == "code id_token" {
			hc := checks
			hc.code = code
			if front, err = m.verifyIDToken(r.Context(), md, params.Get("id_token"), hc); err != nil {
				return err
			}
		}
		tok, err := m.exchangeCode(r.Context(), md, code, tx.CodeVerifier, redirectURI, opts.TokenEndpointParams)
		if err != nil {
			return err
		}
		if claims, err = m.verifyIDToken(r.Context(), md, tok.IDToken, checks); err != nil {
			return err
		}
		if front != nil && front.String("sub") != claims.String("sub") {
			return newError(http.StatusBadRequest, "invalid_id_token", "the two ID tokens name different users", ErrInvalidIDToken)
		}
		sess.IDToken = Secret(tok.IDToken)
		sess.AccessToken = Secret(tok.AccessToken)
		sess.RefreshToken = Secret(tok.RefreshToken)
		sess.TokenType = tok.TokenType
		if tok.ExpiresIn > 0 {
			sess.ExpiresAt = m.s.now().Unix() + tok.ExpiresIn
		}
	default:
		return newError(http.StatusBadRequest, "invalid_request", "unknown response type in the transaction", ErrBadRequest)
	}
	sess.SID = claims.String("sid")
	sess.LoginStartedAt = tx.Started
	if err := m.applySessionExpiry(sess, claims); err != nil {
		return err
	}
	return m.finishLogin(w, r, c, sess, claims, st)
}

// applySessionExpiry honours the provider's session_expiry claim (IPSIE).
func (m *Middleware) applySessionExpiry(sess *Session, claims Claims) error {
	v, ok := claims["session_expiry"].(float64)
	if !ok || v != float64(int64(v)) || v <= 0 || v >= 1e10 {
		return nil // absent or implausible: ignored, as express-openid-connect does
	}
	sess.SessionExpiresAt = int64(v)
	ref := m.s.now().Unix()
	if iat, ok := claims["iat"].(float64); ok && iat > 0 && iat < 1e10 {
		ref = int64(iat)
	}
	if sess.SessionExpiresAt-sessionExpiryLeeway <= ref {
		return newError(http.StatusBadRequest, "invalid_session_expiry", "The session_expiry claim is in the past at login time.", ErrInvalidIDToken)
	}
	return nil
}

// finishLogin runs AfterCallback, merges the new session with the current
// one (express-openid-connect's fixation rules) and redirects.
func (m *Middleware) finishLogin(w http.ResponseWriter, r *http.Request, c *Context, sess *Session, claims Claims, st map[string]any) error {
	var prev *Session
	c.sess.read(func(cur *Session) { prev = cur.clone() })
	prevClaims := c.sess.idClaims()
	sameUser := prevClaims != nil && prevClaims.String("sub") == claims.String("sub")
	loginStartedAt := sess.LoginStartedAt

	merge := func(base, next *Session) *Session {
		out := next.clone()
		if base != nil {
			vals := map[string]any{}
			for k, v := range base.Values {
				vals[k] = v
			}
			for k, v := range next.Values {
				vals[k] = v
			}
			out.Values = vals
		}
		return out
	}
	var carried *Session
	if prevClaims == nil || sameUser {
		carried = prev // anonymous values (a basket) and same-user values survive
	}
	if m.s.cfg.AfterCallback != nil {
		// The hook sees the new session through the Context too; what it
		// returns is the session.
		var out Session
		err := c.sess.with(merge(carried, sess), func() error {
			var err error
			out, err = m.s.cfg.AfterCallback(w, r, *sess.clone(), publicState(st))
			return err
		})
		if err != nil {
			return newError(statusOf(err, http.StatusForbidden), "login_rejected", "The login was refused by the application.",
				errors.Join(ErrLoginRejected, err))
		}
		sess = out.clone()
	}
	final := merge(carried, sess)
	if final.empty() || final.IDToken == "" {
		return newError(http.StatusForbidden, "login_rejected", "The login was refused by the application.",
			errors.Join(ErrLoginRejected, errors.New("AfterCallback returned a session without an ID token")))
	}
	// The login's start time is ours, not the application's: back-channel
	// logout relies on it.
	final.LoginStartedAt = loginStartedAt
	// Back-channel logout's OnLogin hook and logout check (backchannelgate.go).
	if err := m.backchannelLogin(r, c, final); err != nil {
		return err
	}
	// Save now, so that a session that cannot be stored (too large for a
	// cookie, or a store failure) fails the login instead of redirecting as
	// if logged in. A new login gets a new store id (session fixation).
	err := c.sess.login(final, !sameUser)
	if errors.Is(err, errSessionTooLarge) {
		return newError(http.StatusInternalServerError, "session_too_large",
			"The session is too large for a cookie; keep less in it or use a Session.Store.", err)
	}
	if errors.Is(err, ErrInvalidSessionID) {
		return newError(http.StatusInternalServerError, "server_error",
			"The session could not be created: Session.Genid returned an unusable session id.", err)
	}
	if err != nil {
		return newError(http.StatusServiceUnavailable, "session_store_unavailable",
			"The session could not be saved. Please try again shortly.", err)
	}
	m.clearSkipSilentLogin(w.Header())
	redirect(w, r, m.returnTo(st))
	return nil
}

// publicState returns the login state without our internal keys.
func publicState(st map[string]any) map[string]any {
	out := make(map[string]any, len(st))
	for k, v := range st {
		if k != "rnd" {
			out[k] = v
		}
	}
	return out
}

// returnTo picks the post-login target from the state, re-checked against
// BaseURL's origin.
func (m *Middleware) returnTo(st map[string]any) string {
	if rt, _ := st["returnTo"].(string); rt != "" {
		if abs, ok := safeurl.Resolve(m.s.baseURL, rt); ok {
			return abs
		}
	}
	return m.s.baseURL.String()
}

// redirect answers 303 to a POST (so the browser does not re-POST) and 302
// otherwise.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Location", target)
	w.WriteHeader(status)
}

// flowHasIDToken reports whether the authorization response of flow
// carries an ID token.
func flowHasIDToken(flow string) bool {
	return flow == "id_token" || flow == "code id_token"
}

// txStatus is what the callback found in the transaction cookie.
type txStatus int

const (
	txMissing txStatus = iota // no valid transaction cookie
	txFound                   // a valid, current transaction
	txExpired                 // a valid transaction past TransactionCookie.MaxAge
)

// readTransaction reads the transaction cookie, or its SameSite fallback
// when the configuration writes one, in either format, and checks its age.
func (m *Middleware) readTransaction(r *http.Request) (transaction.Transaction, txStatus) {
	tx, ok := m.readTransactionCookie(r, m.s.txName)
	if !ok && m.s.writesTxFallback() {
		tx, ok = m.readTransactionCookie(r, m.s.txFallback)
	}
	switch {
	case !ok:
		return transaction.Transaction{}, txMissing
	case !m.txCurrent(tx):
		return tx, txExpired
	}
	return tx, txFound
}

// readTransactionCookie returns the first cookie called name that opens (the
// sealed format) or verifies (express's signed format) under that name and
// holds a valid transaction.
func (m *Middleware) readTransactionCookie(r *http.Request, name string) (transaction.Transaction, bool) {
	for _, ck := range r.CookiesNamed(name) {
		if len(ck.Value) > maxTxCookie {
			continue
		}
		var value string
		if cookiecrypto.IsSealed(ck.Value) {
			b, err := m.txSealer.Open(name, ck.Value)
			if err != nil {
				continue
			}
			value = string(b)
		} else {
			v, ok := m.keys.Verify(name, uricomp.Decode(ck.Value))
			if !ok {
				continue
			}
			value = v
		}
		if tx, err := transaction.Parse(value); err == nil {
			return tx, true
		}
	}
	return transaction.Transaction{}, false
}

// txCurrent reports whether tx started less than TransactionCookie.MaxAge
// ago, allowing ClockTolerance for a start in the future (another
// instance's clock). Transactions without a start time, as
// express-openid-connect writes them, are current.
func (m *Middleware) txCurrent(tx transaction.Transaction) bool {
	if tx.Started == 0 {
		return true
	}
	started := time.UnixMicro(tx.Started)
	now := m.s.now()
	if started.After(now.Add(m.s.tolerance)) {
		m.s.logger.Warn("oidc: a login transaction starts in the future; check that the clocks of all instances agree",
			"ahead", started.Sub(now).String())
		return false
	}
	return now.Sub(started) < m.s.txMaxAge
}

// clearTransaction deletes the transaction cookie and, with
// LegacySameSiteCookie, its fallback.
func (m *Middleware) clearTransaction(h http.Header) {
	addCookie(h, m.s.txCookieClear())
	if m.s.legacySameSite {
		addCookie(h, m.s.txFallbackClear())
	}
}

// checkResponseMode refuses a response delivered otherwise than the
// transaction asked for: a form_post response comes as a POST, with no
// response parameters in the query, and a query response as a GET. Such a
// response cannot belong to the transaction (it may be forged, or replayed
// from a log or history), so the transaction is not used up.
func (m *Middleware) checkResponseMode(r *http.Request, tx transaction.Transaction) error {
	mode := tx.ResponseMode
	if mode == "" {
		mode = m.s.effectiveResponseMode() // a transaction written by express-openid-connect
	}
	wrong := func(desc string) error {
		return newError(http.StatusBadRequest, "invalid_request", desc, ErrBadRequest)
	}
	switch mode {
	case "form_post":
		if r.Method != http.MethodPost {
			return wrong("this login asked for response_mode form_post, but the response did not arrive as a POST")
		}
		q := r.URL.Query()
		for _, k := range [...]string{"state", "code", "id_token", "iss", "error", "error_description", "error_uri",
			"access_token", "token_type", "expires_in", "session_state", "response"} {
			if q.Has(k) {
				return wrong("this login asked for response_mode form_post, but the response has parameters in the URL query")
			}
		}
	case "query":
		if r.Method != http.MethodGet {
			return wrong("this login asked for response_mode query, but the response did not arrive as a GET")
		}
	default:
		return wrong("unknown response mode in the transaction")
	}
	return nil
}

// callbackParams returns the authorization response parameters: the form
// body of a POST, or the query of a GET.
func callbackParams(r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, newError(http.StatusUnsupportedMediaType, "invalid_request",
			"the callback body must be application/x-www-form-urlencoded", ErrBadRequest)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxCallbackBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, "invalid_request", "the callback body is too large", ErrBadRequest)
		}
		return nil, newError(http.StatusBadRequest, "invalid_request", "the callback body is malformed", ErrBadRequest)
	}
	return r.PostForm, nil
}

// maxHostInError bounds a request's Host quoted in an error.
const maxHostInError = 255

// otherHostHint explains a callback without its transaction cookie that
// arrived at another host than BaseURL's (for example 127.0.0.1 for
// localhost): the cookie was set on the host the login started on, and the
// browser does not send it to another host. It returns "" when the hosts
// agree.
func (m *Middleware) otherHostHint(r *http.Request) string {
	if r.Host == "" {
		return ""
	}
	rh, rp := splitHostPort(r.Host, m.s.baseURL.Scheme)
	bh, bp := splitHostPort(m.s.baseURL.Host, m.s.baseURL.Scheme)
	if rh == bh && rp == bp {
		return ""
	}
	host := provider.CleanDescription(r.Host)
	if len(host) > maxHostInError {
		host = host[:maxHostInError]
	}
	base := m.s.baseURL.String()
	return "The callback arrived at host " + host + " but BaseURL is " + base + "; open the application at " + base +
		" (cookies set for one host are not sent to another)."
}
