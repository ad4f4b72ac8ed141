package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// BackchannelLogoutEvent is the member of a logout token's "events" claim
// that marks it as an OpenID Connect Back-Channel Logout token.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// maxBackchannelBody bounds the body of a back-channel logout request.
const maxBackchannelBody = 64 << 10

// maxReplayEntries bounds the in-process jti replay cache.
const maxReplayEntries = 10000

// BackchannelLogoutConfig turns on OpenID Connect Back-Channel Logout 1.0
// (express-openid-connect's backchannelLogout option). The provider then
// POSTs logout tokens to Routes.BackchannelLogout (register BaseURL +
// "/backchannel-logout" as the client's backchannel_logout_uri), and every
// authenticated request is checked against the logouts received.
//
// The defaults keep "logout markers" in Store, so that they work with
// cookie sessions and with store sessions, and across several instances
// that share the store:
//
//   - a token with a sid logs out that one provider session: the marker
//     "<iss>|<sid>" is written;
//   - a token with only a sub logs out every session of that user that
//     existed when the logout arrived: the marker "<iss>|<sub>" is written;
//   - each marker records when the logout was received (its "loggedOutAt"
//     member, Unix microseconds of Config.Now) and the logout token's iat
//     (its header's "iat", Unix seconds), and lives as long as the longest
//     possible remaining session: Session.AbsoluteDuration, or
//     Session.RollingDuration when there is no absolute limit;
//   - a session is logged out by a marker of its sid or sub when its login
//     started (Session.LoginStartedAt) at or before the logout was received,
//     unless its ID token was issued (iat) after the logout token, that is
//     by the provider after the logout. Sessions without a recorded login
//     start (made by express-openid-connect or an older version) are logged
//     out when their ID token's iat is at or before the logout token's iat;
//   - markers written by express-openid-connect carry only their write
//     time (their cookie's expires - maxAge, in milliseconds), which then
//     serves as the logout time.
//
// A later login by the same user is therefore not affected, nothing needs
// to be deleted at login, and older sessions never come back. At the
// callback, the new session goes through IsLoggedOut before it is saved:
// a login whose provider session was logged out meanwhile (for example an
// authorization response held back and delivered after the logout) is
// refused with ErrLoggedOut (401) and creates no session. The instances
// sharing a store should have synchronised clocks: logins and logouts are
// ordered by their times.
//
// The check needs no request to the provider: before discovery has
// succeeded, markers are looked up under the issuer spellings that
// IssuerBaseURL allows (with and without a trailing slash), afterwards
// under the discovered issuer. Logged-in users keep working while the
// provider is down.
//
// Either a Store (this one, or Session.Store) or custom IsLoggedOut (or
// DisableIsLoggedOut) and OnLogoutToken hooks are required.
type BackchannelLogoutConfig struct {
	// Store keeps the logout markers and the replay cache of token ids.
	// Default: Session.Store.
	Store Store

	// IsLoggedOut reports whether the authenticated request's session has
	// been logged out through the back channel. It runs for every
	// authenticated request except to the logout and back-channel routes.
	// When it reports true, the session is cleared and the request goes on
	// as anonymous (AuthRequired and RequiresAuth then ask for a login).
	// When it fails, the request is answered 503 with Retry-After through
	// Config.ErrorHandler (or the status of an error implementing
	// interface{ StatusCode() int }), the session is left as it is and
	// nobody is served as logged in. It also runs at the end of every
	// login, after OnLogin, with c showing the new session: true refuses
	// the login (ErrLoggedOut, 401) and an error fails it (503, or its
	// StatusCode()); no session is created either way. Default: the marker
	// check above.
	IsLoggedOut func(r *http.Request, c *Context) (bool, error)

	// DisableIsLoggedOut turns the check off, for applications that log
	// sessions out themselves in OnLogoutToken (for example by destroying
	// store sessions directly). Express: isLoggedOut: false.
	DisableIsLoggedOut bool

	// OnLogin runs at the end of every successful login, with c already
	// showing the new session. Changes it makes to the session are
	// discarded; use Config.AfterCallback for that. An error fails the
	// login (503, or its StatusCode()) and no session is created. Default:
	// none. express-openid-connect's default deletes the user's markers,
	// which brings back every older session they logged out; here a new
	// login is told apart from older sessions by its start time instead,
	// so no marker ever needs deleting.
	OnLogin func(r *http.Request, c *Context) error

	// DisableOnLogin turns OnLogin off (express: onLogin: false). As the
	// default is none, it only matters together with OnLogin.
	DisableOnLogin bool

	// OnLogoutToken runs for every valid logout token, with its verified
	// claims (iss, aud, iat, exp, jti, events, and sub and/or sid). An
	// error is answered 400 application_error, so the provider may retry.
	// Default: write the markers described above.
	OnLogoutToken func(ctx context.Context, claims Claims) error
}

// backchannelSettings is the resolved BackchannelLogoutConfig.
type backchannelSettings struct {
	route         string // "": not mounted (RouteDisabled)
	store         Store  // nil with custom hooks only
	isLoggedOut   func(*http.Request, *Context) (bool, error)
	onLogin       func(*http.Request, *Context) error
	onLogoutToken func(context.Context, Claims) error
	markerTTL     time.Duration
	replay        replayCache
	// issuers are the issuer spellings markers are looked up under until
	// discovery has succeeded.
	issuers []string
}

// backchannelRoute returns the mounted back-channel logout route, or "".
func (s *settings) backchannelRoute() string {
	if s.bcl == nil {
		return ""
	}
	return s.bcl.route
}

// resolveBackchannel validates Config.BackchannelLogout and
// Routes.BackchannelLogout. It runs after the session and route validators;
// the comparison with the other routes needs them valid (routesOK).
func (s *settings) resolveBackchannel(v *validator, routesOK bool) {
	bc := s.cfg.BackchannelLogout
	if bc == nil {
		return
	}
	mark := v.mark()
	b := &backchannelSettings{store: bc.Store}
	if b.store == nil {
		b.store = s.cfg.Session.Store
	}
	customGate := bc.IsLoggedOut != nil || bc.DisableIsLoggedOut
	if b.store == nil && !(customGate && bc.OnLogoutToken != nil) {
		v.fail("BackchannelLogout.Store", `Back-Channel Logout requires a "BackchannelLogout.Store" (you can also `+
			`reuse "Session.Store" if you have stateful sessions) or custom hooks for "IsLoggedOut" and "OnLogoutToken"`)
	}
	b.route = s.backchannelRouteOf(v, routesOK)
	if !v.clean(mark) {
		return
	}

	// The longest a session that exists now can still live: the absolute
	// limit, or the idle timeout when there is none (each use of a session
	// runs the check, so an idle session ends before its marker does).
	// Express uses min(rolling, absolute), which is 0 without an absolute
	// limit (the marker then expires at once).
	b.markerTTL = s.absoluteDur
	if b.markerTTL <= 0 {
		b.markerTTL = s.rollingDur
	}

	switch {
	case bc.DisableIsLoggedOut:
	case bc.IsLoggedOut != nil:
		b.isLoggedOut = bc.IsLoggedOut
	default:
		b.isLoggedOut = defaultIsLoggedOut
	}
	if !bc.DisableOnLogin {
		b.onLogin = bc.OnLogin
	}
	b.issuers = issuerSpellings(s.issuerBaseURL)
	b.onLogoutToken = bc.OnLogoutToken
	if b.onLogoutToken == nil {
		b.onLogoutToken = func(ctx context.Context, claims Claims) error {
			return s.writeLogoutMarkers(ctx, claims)
		}
	}
	s.bcl = b
}

// backchannelRouteOf checks Routes.BackchannelLogout and returns the route
// to mount ("" when disabled). It must differ from the other routes, which
// is checked when they are valid (routesOK).
func (s *settings) backchannelRouteOf(v *validator, routesOK bool) string {
	route := s.cfg.Routes.BackchannelLogout
	switch route {
	case "":
		route = "/backchannel-logout"
	case RouteDisabled:
		return ""
	default:
		if !strings.HasPrefix(route, "/") {
			route = "/" + route
		}
		if strings.HasPrefix(route, "//") || strings.ContainsAny(route, "?#\\ \t\r\n\x00") {
			v.fail("Routes.BackchannelLogout", "must be a path relative to BaseURL, such as %q", "/backchannel-logout")
			return ""
		}
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/") // matched with an optional trailing slash
		}
	}
	if !routesOK {
		return route
	}
	for _, other := range []string{s.loginRoute, s.logoutRoute, s.callbackRoute} {
		if strings.EqualFold(strings.TrimSuffix(route, "/"), strings.TrimSuffix(other, "/")) {
			v.fail("Routes.BackchannelLogout", "must differ from the login, logout and callback routes")
			break
		}
	}
	return route
}

// ---------------------------------------------------------------------------
// The POST route.

// BackchannelLogout answers a back-channel logout request (OpenID Connect
// Back-Channel Logout 1.0 §2.5-2.8), for applications that mount the route
// themselves (Routes.BackchannelLogout = RouteDisabled). It needs
// Config.BackchannelLogout. The request never needs a session or a CSRF
// token, and the response never sets a cookie.
//
// The body must be application/x-www-form-urlencoded (else 415), at most
// 64 KiB (else 413), with exactly one logout_token. The token is validated
// per §2.6: signature with the provider's keys and Config.IDTokenSigningAlg
// only; iss, aud, iat and exp (both required, with Config.ClockTolerance);
// the back-channel logout event; no nonce; sub or sid; typ absent, "JWT" or
// "logout+jwt"; jti required and not seen before. Success is 200 with an
// empty body; anything else is 400 with a JSON {error, error_description}.
// Every response carries Cache-Control: no-store. On a nil Context (a
// handler not wrapped by Auth) it answers 500 with the default error page.
func (c *Context) BackchannelLogout(w http.ResponseWriter, r *http.Request) {
	if c == nil {
		defaultErrorHandler(w, r, noMiddlewareError())
		return
	}
	m := c.m
	c.mu.Lock()
	c.committed, c.frozen = true, true // never read, extend or clear the session here
	c.mu.Unlock()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if m.s.bcl == nil {
		writeBackchannelError(w, http.StatusBadRequest, "invalid_request", "back-channel logout is not enabled")
		return
	}
	if err := m.backchannelLogout(r); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = newError(http.StatusBadRequest, "invalid_request", "invalid logout request", err)
		}
		// The provider's logout did not take effect: a misconfiguration (audience,
		// algorithm) or an outage leaves users logged in, so it is a Warn.
		m.s.logger.Warn("oidc: back-channel logout rejected", "status", e.Status, "code", e.Code, "description", e.Description)
		writeBackchannelError(w, e.Status, e.Code, e.Description)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func writeBackchannelError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// backchannelLogout validates the request and runs OnLogoutToken. Errors are
// *Error values with status 400, 413 or 415.
func (m *Middleware) backchannelLogout(r *http.Request) error {
	b := m.s.bcl
	invalid := func(desc string, sentinels ...error) error {
		cause := ErrInvalidLogoutToken
		if len(sentinels) > 0 {
			cause = fmt.Errorf("%w: %w", ErrInvalidLogoutToken, sentinels[0])
		}
		return newError(http.StatusBadRequest, "invalid_request", desc, cause)
	}
	if r.Method != http.MethodPost {
		return newError(http.StatusMethodNotAllowed, "invalid_request", "use POST", ErrBadRequest)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return newError(http.StatusUnsupportedMediaType, "invalid_request",
			"the body must be application/x-www-form-urlencoded", ErrBadRequest)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxBackchannelBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large", ErrBadRequest)
		}
		return newError(http.StatusBadRequest, "invalid_request", "the body is malformed", ErrBadRequest)
	}
	vals := r.PostForm["logout_token"]
	switch {
	case len(vals) == 0 || vals[0] == "":
		return invalid("Missing logout_token")
	case len(vals) > 1:
		return invalid("logout_token must be sent once")
	}
	claims, err := m.verifyLogoutToken(r.Context(), vals[0])
	if err != nil {
		return err
	}

	// Replays (§2.6 step 8): the jti is remembered until the token expires,
	// in process and, with a store, in "<iss>|jti|<jti>" for every
	// instance. Concurrent deliveries of one token may both pass; logging
	// out twice is harmless.
	now := m.s.now()
	exp, _ := numericClaim(claims, "exp")
	until := exp.Add(m.s.tolerance + time.Second)
	key := claims.String("iss") + "|jti|" + claims.String("jti")
	if !b.replay.reserve(key, until, now) {
		return invalid("the logout token was already used", ErrLogoutTokenReplay)
	}
	appErr := func(cause error) error {
		b.replay.release(key)
		return newError(http.StatusBadRequest, "application_error", "The application failed to invalidate the session.", cause)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.s.httpTimeout)
	defer cancel()
	if b.store != nil {
		seen, err := getEntry(ctx, b.store, key)
		if err != nil {
			return appErr(err)
		}
		if seen != nil {
			return invalid("the logout token was already used", ErrLogoutTokenReplay)
		}
	}
	if err := b.onLogoutToken(ctx, claims.clone()); err != nil {
		return appErr(err)
	}
	if b.store != nil {
		nowS := now.Unix()
		ttl := until.Sub(now)
		entry := encodeEntry(key, storeEntry{
			Header: storeHeader{IAT: nowS, UAT: nowS, EXP: until.Unix()},
			Cookie: &storeCookie{Expires: now.UnixMilli() + ttl.Milliseconds(), MaxAge: ttl.Milliseconds()},
		})
		if err := b.store.Set(ctx, key, entry, until); err != nil {
			// The logout itself succeeded; only the cross-instance replay
			// check is lost for this token.
			m.s.logger.Warn("oidc: back-channel logout token id not stored", "error", err.Error())
		}
	}
	return nil
}

// verifyLogoutToken applies OpenID Connect Back-Channel Logout 1.0 §2.6.
// Error descriptions never include the token.
func (m *Middleware) verifyLogoutToken(ctx context.Context, raw string) (Claims, error) {
	invalid := func(desc string) error {
		return newError(http.StatusBadRequest, "invalid_request", desc, ErrInvalidLogoutToken)
	}
	if len(raw) > provider.MaxJWTBytes {
		return nil, invalid("the logout token is too large")
	}
	parts := strings.Split(raw, ".")
	if len(parts) == 5 {
		return nil, invalid("encrypted logout tokens are not supported")
	}
	if len(parts) != 3 {
		return nil, invalid("the logout token is not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalid("the logout token header is malformed")
	}
	var hdr map[string]any
	if json.Unmarshal(hb, &hdr) != nil || hdr == nil {
		return nil, invalid("the logout token header is malformed")
	}
	if typ, present := hdr["typ"]; present {
		t, _ := typ.(string)
		t = strings.TrimPrefix(strings.ToLower(t), "application/")
		if t != "jwt" && t != "logout+jwt" {
			return nil, invalid(`the logout token typ must be "logout+jwt"`)
		}
	}
	md, err := m.discover(ctx)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "temporarily_unavailable",
			"the provider's metadata is unavailable; try again later", err)
	}
	vctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	if _, err := m.provider.VerifySignature(vctx, md, raw); err != nil {
		if pe := fromProvider(err); pe != err { // the keys could not be fetched
			return nil, newError(http.StatusBadRequest, "invalid_request", "the logout token signature is invalid",
				fmt.Errorf("%w: %w", ErrInvalidLogoutToken, pe))
		}
		return nil, invalid("the logout token signature is invalid")
	}
	claims, err := decodeClaims(raw)
	if err != nil {
		return nil, invalid("the logout token payload is not a JSON object")
	}
	if iss, _ := claims["iss"].(string); iss == "" || iss != md.Issuer {
		return nil, invalid("the logout token issuer does not match the provider")
	}
	if !audienceContains(claims["aud"], m.s.clientID) {
		return nil, invalid("the logout token audience does not include this client")
	}
	now, tol := m.s.now(), m.s.tolerance
	iat, ok := numericClaim(claims, "iat")
	if !ok {
		return nil, invalid("the logout token has no numeric iat claim")
	}
	if iat.After(now.Add(tol)) {
		return nil, invalid("the logout token was issued in the future")
	}
	exp, ok := numericClaim(claims, "exp")
	if !ok {
		return nil, invalid("the logout token has no numeric exp claim")
	}
	if !now.Before(exp.Add(tol)) {
		return nil, invalid("the logout token has expired")
	}
	if _, present := claims["nbf"]; present {
		nbf, ok := numericClaim(claims, "nbf")
		if !ok || nbf.After(now.Add(tol)) {
			return nil, invalid("the logout token is not valid yet (nbf)")
		}
	}
	events, _ := claims["events"].(map[string]any)
	if ev, ok := events[BackchannelLogoutEvent].(map[string]any); !ok || ev == nil {
		return nil, invalid("Logout Token must contain events claim with backchannel-logout event")
	}
	if _, present := claims["nonce"]; present {
		return nil, invalid("Logout Token must not contain nonce claim")
	}
	for _, k := range []string{"sub", "sid"} {
		if v, present := claims[k]; present {
			if s, ok := v.(string); !ok || s == "" {
				return nil, invalid("the logout token " + k + " claim must be a non-empty string")
			}
		}
	}
	if claims.String("sub") == "" && claims.String("sid") == "" {
		return nil, invalid("Logout Token must contain sub or sid claim")
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return nil, invalid("the logout token has no jti claim")
	}
	return claims, nil
}

// audienceContains reports whether aud (a string or an array of strings)
// contains clientID.
func audienceContains(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		for _, v := range a {
			if s, _ := v.(string); s == clientID {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Markers.

// markerKey is express-openid-connect's marker key: "<iss>|<sid or sub>".
func markerKey(iss, id string) string { return iss + "|" + id }

// writeLogoutMarkers is the default OnLogoutToken: a "<iss>|<sid>" marker
// when the token has a sid (that session only), else a "<iss>|<sub>" marker
// (every session of the user). Each records the logout token's iat and the
// time the logout was received; later times already recorded are kept.
func (s *settings) writeLogoutMarkers(ctx context.Context, claims Claims) error {
	store := s.bcl.store
	if store == nil {
		return errors.New("oidc: BackchannelLogout has no Store")
	}
	iss := claims.String("iss")
	id := claims.String("sid")
	if id == "" {
		id = claims.String("sub")
	}
	if iss == "" || id == "" {
		return errors.New("oidc: the logout token must have a 'sid' or a 'sub'")
	}
	key := markerKey(iss, id)
	now := s.now()
	logoutIAT := now.Unix()
	if iat, ok := numericClaim(claims, "iat"); ok {
		logoutIAT = iat.Unix()
	}
	receivedAt := now.UnixMicro()
	prev, err := getEntry(ctx, store, key)
	if err != nil {
		return err
	}
	if prev != nil {
		logoutIAT = max(logoutIAT, prev.Header.IAT)
		prevAt, _ := markerTimes(prev)
		receivedAt = max(receivedAt, prevAt)
	}
	ttl := s.bcl.markerTTL
	expiry := now.Add(ttl)
	entry := encodeEntry(key, storeEntry{
		Header:      storeHeader{IAT: logoutIAT, UAT: now.Unix(), EXP: expiry.Unix()},
		Cookie:      &storeCookie{Expires: now.UnixMilli() + ttl.Milliseconds(), MaxAge: ttl.Milliseconds()},
		LoggedOutAt: receivedAt,
	})
	if err := store.Set(ctx, key, entry, expiry); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return nil
}

// maxMarkerMillis bounds the write time derived from a marker's cookie
// member (the year 2286), so that the conversion to microseconds cannot
// overflow.
const maxMarkerMillis = 1e13

// markerTimes returns when a marker's logout was received, in Unix
// microseconds, and the logout time in Unix seconds (the logout token's
// iat), each 0 when unknown. Markers written by express-openid-connect only
// carry their write time, their cookie's expires - maxAge in milliseconds;
// it stands for both, the microseconds rounded up to the end of that
// millisecond (a login that started in the same millisecond counts as
// started before the logout).
func markerTimes(e *storeEntry) (receivedAt, logoutIAT int64) {
	receivedAt = e.LoggedOutAt
	if receivedAt <= 0 {
		receivedAt = 0
		if ck := e.Cookie; ck != nil && ck.MaxAge >= 0 && ck.Expires > ck.MaxAge {
			if ms := ck.Expires - ck.MaxAge; ms < maxMarkerMillis {
				receivedAt = ms*1000 + 999
			}
		}
	}
	logoutIAT = e.Header.IAT
	if logoutIAT <= 0 {
		logoutIAT = receivedAt / 1e6
	}
	return receivedAt, logoutIAT
}

// loginTimes are the times of a session that the marker check compares.
type loginTimes struct {
	startedAt int64 // Session.LoginStartedAt, Unix microseconds (0: unknown)
	idIAT     int64 // the ID token's iat, Unix seconds (0: unknown)
}

// loggedOutBy reports whether a marker logs out a session: when its login
// started at or before the logout was received, unless the provider issued
// its ID token after the logout token. Without a login start (sessions made
// by express-openid-connect or an older version), the ID token's iat
// decides: at or before the logout time. A marker or session without any
// usable time is logged out, as in express-openid-connect.
func loggedOutBy(marker *storeEntry, lt loginTimes) bool {
	if marker == nil {
		return false
	}
	receivedAt, logoutIAT := markerTimes(marker)
	if logoutIAT > 0 && lt.idIAT > logoutIAT {
		return false // issued by the provider after the logout
	}
	if lt.startedAt > 0 && receivedAt > 0 {
		return lt.startedAt <= receivedAt
	}
	return true
}

// issuerSpellings returns the issuers that discovery would accept for
// issuerBaseURL, as marker keys may use them: the URL as configured (or,
// for a URL of a .well-known document, the part before "/.well-known/"),
// and its normalised form, each with and without a trailing slash.
func issuerSpellings(issuerBaseURL string) []string {
	base := issuerBaseURL
	if i := strings.Index(base, "/.well-known/"); i >= 0 {
		base = base[:i]
	}
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range []string{base, provider.NormalizeIssuer(base)} {
		add(v)
		if strings.HasSuffix(v, "/") {
			add(strings.TrimSuffix(v, "/"))
		} else {
			add(v + "/")
		}
	}
	return out
}

// markerIssuers returns the issuers to look markers up under: the
// discovered one once discovery has succeeded (it cannot change, as it must
// match IssuerBaseURL), else the spellings IssuerBaseURL allows. It never
// asks the provider, so the check works while the provider is down.
func (m *Middleware) markerIssuers() []string {
	if md := m.provider.Discovered(); md != nil {
		return []string{md.Issuer}
	}
	return m.s.bcl.issuers
}

// defaultIsLoggedOut checks the "<iss>|<sid>" and "<iss>|<sub>" markers,
// in parallel.
func defaultIsLoggedOut(r *http.Request, c *Context) (bool, error) {
	m := c.m
	var sid, sub string
	var lt loginTimes
	c.mu.Lock()
	if claims := c.idTokenClaimsLocked(); claims != nil {
		sid, sub = claims.String("sid"), claims.String("sub")
		if iat, ok := numericClaim(claims, "iat"); ok && iat.Unix() > 0 {
			lt.idIAT = iat.Unix()
		}
		lt.startedAt = c.session().LoginStartedAt
	}
	c.mu.Unlock()
	var keys []string
	for _, iss := range m.markerIssuers() {
		for _, id := range []string{sid, sub} {
			if id != "" && !slices.Contains(keys, markerKey(iss, id)) {
				keys = append(keys, markerKey(iss, id))
			}
		}
	}
	if len(keys) == 0 {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.s.httpTimeout)
	defer cancel()
	type result struct {
		out bool
		err error
	}
	results := make([]result, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			e, err := getEntry(ctx, m.s.bcl.store, key)
			results[i] = result{loggedOutBy(e, lt), err}
		})
	}
	wg.Wait()
	for _, res := range results {
		if res.err != nil {
			return false, res.err
		}
	}
	for _, res := range results {
		if res.out {
			return true, nil
		}
	}
	return false, nil
}

// ---------------------------------------------------------------------------
// The check on every request, and the login hook.

// backchannelGate runs IsLoggedOut for an authenticated request. It clears
// a logged-out session and reports true to go on; on failure it answers
// the request (503 unless the error says otherwise) without touching the
// session, and reports false.
func (m *Middleware) backchannelGate(w http.ResponseWriter, r *http.Request, c *Context) bool {
	b := m.s.bcl
	if b == nil || b.isLoggedOut == nil || !c.IsAuthenticated() {
		return true
	}
	out, err := b.isLoggedOut(r, c)
	if err == nil {
		if out {
			_ = c.SetSession(Session{}) // before the response: cannot fail
		}
		return true
	}
	m.s.logger.Error("oidc: back-channel logout check failed", "error", err.Error())
	c.mu.Lock()
	c.committed, c.frozen = true, true // neither clear nor extend the session
	c.mu.Unlock()
	var e *Error
	if !errors.As(err, &e) {
		cause := err
		if !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, ErrProviderUnavailable) {
			cause = fmt.Errorf("%w: %w", ErrLogoutCheck, err)
		}
		e = newError(statusOf(err, http.StatusServiceUnavailable), "temporarily_unavailable",
			"Your session cannot be checked right now. Please try again shortly.", cause)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	m.s.errorHandler(w, r, e)
	return false
}

// backchannelLogin runs OnLogin and then IsLoggedOut with the new session
// in place, then puts the previous one back for the caller to save. A new
// session that IsLoggedOut reports as logged out refuses the login with
// ErrLoggedOut.
func (m *Middleware) backchannelLogin(r *http.Request, c *Context, next, prev *Session) error {
	b := m.s.bcl
	if b == nil || (b.onLogin == nil && b.isLoggedOut == nil) {
		return nil
	}
	c.mu.Lock()
	c.setSessionLocked(next.clone())
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.setSessionLocked(prev.clone())
		c.mu.Unlock()
	}()
	if b.onLogin != nil {
		if err := b.onLogin(r, c); err != nil {
			return loginCheckError(err)
		}
	}
	if b.isLoggedOut == nil {
		return nil
	}
	out, err := b.isLoggedOut(r, c)
	if err != nil {
		m.s.logger.Warn("oidc: back-channel logout check failed at login", "error", err.Error())
		return loginCheckError(err)
	}
	if out {
		m.s.logger.Info("oidc: login refused: its provider session was logged out through the back channel")
		return newError(http.StatusUnauthorized, "session_logged_out",
			"This login was ended by a logout at the login provider. Please log in again.", ErrLoggedOut)
	}
	return nil
}

// loginCheckError turns an OnLogin or IsLoggedOut failure at login into the
// callback's error: 503 unless the error carries a status.
func loginCheckError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	cause := err
	if !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, ErrProviderUnavailable) {
		cause = errors.Join(ErrLogoutCheck, err)
	}
	return newError(statusOf(err, http.StatusServiceUnavailable), "temporarily_unavailable",
		"The login cannot be completed right now. Please try again shortly.", cause)
}

// ---------------------------------------------------------------------------
// Replay cache.

// replayCache remembers logout token ids until they expire, in process.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// reserve records key until until and reports whether it was new.
func (rc *replayCache) reserve(key string, until, now time.Time) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen == nil {
		rc.seen = map[string]time.Time{}
	}
	if t, ok := rc.seen[key]; ok && now.Before(t) {
		return false
	}
	if len(rc.seen) >= maxReplayEntries {
		for k, t := range rc.seen {
			if !now.Before(t) {
				delete(rc.seen, k)
			}
		}
		for k := range rc.seen {
			if len(rc.seen) < maxReplayEntries {
				break
			}
			delete(rc.seen, k) // full of live entries: forget arbitrary ones
		}
	}
	rc.seen[key] = until
	return true
}

// release forgets key, after a failed logout, so the provider may retry.
func (rc *replayCache) release(key string) {
	rc.mu.Lock()
	delete(rc.seen, key)
	rc.mu.Unlock()
}
