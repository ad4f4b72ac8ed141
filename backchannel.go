package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
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
//   - a token with only a sub logs out every session of that user that began
//     before the token was issued: the marker "<iss>|<sub>" is written;
//   - each marker records the logout time (StoreEntry.Header.IAT, Unix
//     seconds) and lives as long as the longest possible remaining session:
//     Session.AbsoluteDuration, or Session.RollingDuration when there is no
//     absolute limit;
//   - a session is logged out when a marker for its sid or sub exists and
//     its ID token was issued (iat) at or before the logout time. A later
//     login by the same user is therefore not affected, and nothing needs to
//     be deleted at login, so older sessions never come back.
//
// Markers written by express-openid-connect carry no logout time; they log
// out every session of their sid or sub, as in express-openid-connect.
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
	// nobody is served as logged in. Default: the marker check above.
	IsLoggedOut func(r *http.Request, c *Context) (bool, error)

	// DisableIsLoggedOut turns the check off, for applications that log
	// sessions out themselves in OnLogoutToken (for example by destroying
	// store sessions directly). Express: isLoggedOut: false.
	DisableIsLoggedOut bool

	// OnLogin runs at the end of every successful login, with c already
	// showing the new session. Changes it makes to the session are
	// discarded; use Config.AfterCallback for that. An error fails the
	// login (503, or its StatusCode()) and no session is created. Default:
	// remove a marker of the new session's sid that would otherwise log the
	// new session out (one written in the same second as the login, or by
	// express-openid-connect), and an express-openid-connect marker of its
	// sub. Markers with a logout time are otherwise left alone.
	OnLogin func(r *http.Request, c *Context) error

	// DisableOnLogin turns OnLogin off. Express: onLogin: false.
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
}

// backchannelRoute returns the mounted back-channel logout route, or "".
func (s *settings) backchannelRoute() string {
	if s.bcl == nil {
		return ""
	}
	return s.bcl.route
}

// resolveBackchannel validates Config.BackchannelLogout and
// Routes.BackchannelLogout. It runs after resolveSession and resolveRoutes.
func (s *settings) resolveBackchannel(cfg Config) error {
	bc := cfg.BackchannelLogout
	if bc == nil {
		return nil
	}
	b := &backchannelSettings{store: bc.Store}
	if b.store == nil {
		b.store = cfg.Session.Store
	}
	customGate := bc.IsLoggedOut != nil || bc.DisableIsLoggedOut
	if b.store == nil && !(customGate && bc.OnLogoutToken != nil) {
		return cfgErr("BackchannelLogout.Store", `Back-Channel Logout requires a "BackchannelLogout.Store" (you can also `+
			`reuse "Session.Store" if you have stateful sessions) or custom hooks for "IsLoggedOut" and "OnLogoutToken"`)
	}

	route := cfg.Routes.BackchannelLogout
	switch route {
	case "":
		route = "/backchannel-logout"
	case RouteDisabled:
		route = ""
	default:
		if !strings.HasPrefix(route, "/") {
			route = "/" + route
		}
		if strings.HasPrefix(route, "//") || strings.ContainsAny(route, "?#\\ \t\r\n\x00") {
			return cfgErr("Routes.BackchannelLogout", "must be a path relative to BaseURL, such as %q", "/backchannel-logout")
		}
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/") // matched with an optional trailing slash
		}
	}
	if route != "" {
		for _, other := range []string{s.loginRoute, s.logoutRoute, s.callbackRoute} {
			if strings.EqualFold(strings.TrimSuffix(route, "/"), strings.TrimSuffix(other, "/")) {
				return cfgErr("Routes.BackchannelLogout", "must differ from the login, logout and callback routes")
			}
		}
	}
	b.route = route

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
	switch {
	case bc.DisableOnLogin:
	case bc.OnLogin != nil:
		b.onLogin = bc.OnLogin
	case b.store != nil:
		b.onLogin = defaultOnLogin
	}
	b.onLogoutToken = bc.OnLogoutToken
	if b.onLogoutToken == nil {
		b.onLogoutToken = func(ctx context.Context, claims Claims) error {
			return s.writeLogoutMarkers(ctx, claims)
		}
	}
	s.bcl = b
	return nil
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
// Every response carries Cache-Control: no-store.
func (c *Context) BackchannelLogout(w http.ResponseWriter, r *http.Request) {
	m := c.m
	c.mu.Lock()
	c.committed = true // never read, extend or clear the session here
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
		m.s.logger.Info("oidc: back-channel logout rejected", "error", e.Error())
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
		seen, err := markerGet(ctx, b.store, key)
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
		entry := &StoreEntry{
			Header: StoreHeader{IAT: nowS, UAT: nowS, EXP: until.Unix()},
			Cookie: &StoreCookie{Expires: now.UnixMilli() + ttl.Milliseconds(), MaxAge: ttl.Milliseconds()},
			ID:     key,
		}
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
	if len(raw) > maxJWTBytes {
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
	ps, err := m.provider.get(ctx)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "temporarily_unavailable",
			"the provider's metadata is unavailable; try again later", err)
	}
	vctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	if _, err := ps.keys.VerifySignature(vctx, raw); err != nil {
		return nil, invalid("the logout token signature is invalid")
	}
	claims, err := decodeClaims(raw)
	if err != nil {
		return nil, invalid("the logout token payload is not a JSON object")
	}
	if iss, _ := claims["iss"].(string); iss == "" || iss != ps.md.Issuer {
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

// markerGet reads a marker. An entry stored under another key is a store
// fault, reported as an error.
func markerGet(ctx context.Context, store Store, key string) (*StoreEntry, error) {
	e, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	if e != nil && e.ID != "" && e.ID != key {
		return nil, fmt.Errorf("%w: the store returned an entry for another key", ErrStoreUnavailable)
	}
	return e, nil
}

// writeLogoutMarkers is the default OnLogoutToken: a "<iss>|<sid>" marker
// when the token has a sid (that session only), else a "<iss>|<sub>" marker
// (every session of the user). Each records the logout time, the token's
// iat; a later time already recorded is kept.
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
	logoutAt := s.now().Unix()
	if iat, ok := numericClaim(claims, "iat"); ok {
		logoutAt = iat.Unix()
	}
	prev, err := markerGet(ctx, store, key)
	if err != nil {
		return err
	}
	if prev != nil && prev.Header.IAT > logoutAt {
		logoutAt = prev.Header.IAT
	}
	now := s.now()
	ttl := s.bcl.markerTTL
	expiry := now.Add(ttl)
	entry := &StoreEntry{
		Header: StoreHeader{IAT: logoutAt, UAT: now.Unix(), EXP: expiry.Unix()},
		Cookie: &StoreCookie{Expires: now.UnixMilli() + ttl.Milliseconds(), MaxAge: ttl.Milliseconds()},
		ID:     key,
	}
	if err := store.Set(ctx, key, entry, expiry); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return nil
}

// loggedOutBy reports whether a marker logs out a session whose ID token
// was issued at loginIAT (0: unknown).
func loggedOutBy(marker *StoreEntry, loginIAT int64) bool {
	if marker == nil {
		return false
	}
	// No logout time (express-openid-connect's markers), or an unknown
	// login time: logged out.
	return marker.Header.IAT == 0 || loginIAT == 0 || loginIAT <= marker.Header.IAT
}

// sessionMarkers returns the issuer and the sid and sub of the current
// session, for the default hooks.
func sessionMarkers(ctx context.Context, c *Context) (iss, sid, sub string, loginIAT int64, err error) {
	claims := c.IDTokenClaims()
	if claims == nil {
		return "", "", "", 0, nil
	}
	iss, err = c.m.knownIssuer(ctx)
	if err != nil {
		return "", "", "", 0, err
	}
	if iat, ok := numericClaim(claims, "iat"); ok && iat.Unix() > 0 {
		loginIAT = iat.Unix()
	}
	return iss, claims.String("sid"), claims.String("sub"), loginIAT, nil
}

// defaultIsLoggedOut checks the "<iss>|<sid>" and "<iss>|<sub>" markers,
// in parallel.
func defaultIsLoggedOut(r *http.Request, c *Context) (bool, error) {
	m := c.m
	ctx, cancel := context.WithTimeout(r.Context(), m.s.httpTimeout)
	defer cancel()
	iss, sid, sub, loginIAT, err := sessionMarkers(ctx, c)
	if err != nil || iss == "" {
		return false, err
	}
	var keys []string
	for _, id := range []string{sid, sub} {
		if id != "" {
			keys = append(keys, markerKey(iss, id))
		}
	}
	type result struct {
		out bool
		err error
	}
	results := make([]result, len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		wg.Go(func() {
			e, err := markerGet(ctx, m.s.bcl.store, key)
			results[i] = result{loggedOutBy(e, loginIAT), err}
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

// defaultOnLogin removes the markers that would log the new session out at
// once: a sid marker not older than the login (same second, or OP clock
// oddities) or without a logout time, and a sub marker without a logout
// time (express-openid-connect's). Sub markers with a logout time stay, so
// the user's older sessions stay logged out.
func defaultOnLogin(r *http.Request, c *Context) error {
	m := c.m
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.s.httpTimeout)
	defer cancel()
	iss, sid, sub, loginIAT, err := sessionMarkers(ctx, c)
	if err != nil || iss == "" {
		return err
	}
	store := m.s.bcl.store
	check := func(id string, stale func(*StoreEntry) bool) error {
		if id == "" {
			return nil
		}
		key := markerKey(iss, id)
		e, err := markerGet(ctx, store, key)
		if err != nil || e == nil || !stale(e) {
			return err
		}
		if err := store.Destroy(ctx, key); err != nil {
			return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		return nil
	}
	if err := check(sid, func(e *StoreEntry) bool { return loggedOutBy(e, loginIAT) }); err != nil {
		return err
	}
	return check(sub, func(e *StoreEntry) bool { return e.Header.IAT == 0 })
}

// knownIssuer returns the discovered issuer: the cached one when discovery
// has ever succeeded (the issuer cannot change, as it must match
// IssuerBaseURL), so the check needs no request to the provider.
func (m *Middleware) knownIssuer(ctx context.Context) (string, error) {
	d := m.provider
	d.mu.Lock()
	cur := d.cur
	d.mu.Unlock()
	if cur != nil {
		return cur.md.Issuer, nil
	}
	ps, err := d.get(ctx)
	if err != nil {
		return "", err
	}
	return ps.md.Issuer, nil
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
			c.SetSession(Session{})
		}
		return true
	}
	m.s.logger.Error("oidc: back-channel logout check failed", "error", err.Error())
	c.mu.Lock()
	c.committed = true // neither clear nor extend the session
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

// backchannelOnLogin runs OnLogin with the new session in place, then puts
// the previous one back for the caller to save.
func (m *Middleware) backchannelOnLogin(r *http.Request, c *Context, next, prev *Session) error {
	b := m.s.bcl
	if b == nil || b.onLogin == nil {
		return nil
	}
	c.mu.Lock()
	c.setSessionLocked(next.clone())
	c.mu.Unlock()
	err := b.onLogin(r, c)
	c.mu.Lock()
	c.setSessionLocked(prev.clone())
	c.mu.Unlock()
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return newError(statusOf(err, http.StatusServiceUnavailable), "temporarily_unavailable",
		"The login cannot be completed right now. Please try again shortly.", errors.Join(ErrLogoutCheck, err))
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
