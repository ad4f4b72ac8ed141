package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

type contextKey struct{}

// Context is the per-request view of the login session, the Go counterpart
// of express-openid-connect's req.oidc and res.oidc. Get it with
// FromRequest or FromContext inside a handler wrapped by Auth. Its methods
// are safe for concurrent use.
//
// Outside Auth, FromRequest returns nil, and the methods of a nil *Context
// never panic: the readers answer as for an anonymous request
// (IsAuthenticated false, User and IDTokenClaims nil, IDToken "", Session
// and Get not found, AccessToken nil, RefreshToken ""); Set, Delete and
// SetSession return ErrNoMiddleware, Refresh and FetchUserInfo an *Error
// (500) wrapping it, and CustomTokenExchange a *ProviderError (500)
// wrapping it; Login, Logout, Callback and BackchannelLogout answer with the default
// error page, 500 with an *Error wrapping ErrNoMiddleware (there is no
// Config.ErrorHandler without the middleware).
//
// Session changes (Set, Delete, SetSession, Refresh) are saved when the
// response headers are written. A change made after that cannot reach the
// browser: in cookie mode it is refused with ErrResponseCommitted and the
// session is left as it was; in store mode a session that keeps its store
// id is written to the store at once instead, since the browser's cookie
// still names it (a new session, which needs a new cookie, is refused).
type Context struct {
	m   *Middleware
	req *http.Request
	w   *responseWriter
	rw  responseWriter // storage for w, allocated with the Context

	mu        sync.Mutex
	sess      sessionState
	claims    Claims // decoded ID-token claims, cached
	claimsFor Secret // the id_token the claims were decoded from
	committed bool   // the response headers were written (writer.go)
	frozen    bool   // never save the session in this response (back-channel routes)
}

// FromContext returns the Context that Auth stored in ctx, or nil when the
// request did not pass through Auth.
func FromContext(ctx context.Context) *Context {
	c, _ := ctx.Value(contextKey{}).(*Context)
	return c
}

// FromRequest returns the Context of r, or nil when r did not pass through
// Auth.
func FromRequest(r *http.Request) *Context {
	return FromContext(r.Context())
}

// noMiddlewareError is the *Error of the Context methods that need the
// middleware, called on a nil Context.
func noMiddlewareError() *Error {
	return newError(http.StatusInternalServerError, "server_error",
		"The oidc middleware is not installed for this route (wrap the handler with oidc.Auth).", ErrNoMiddleware)
}

// session returns the loaded session data (nil when anonymous). The caller
// holds c.mu.
func (c *Context) session() *Session {
	c.m.loadSession(&c.sess, c)
	return c.sess.data
}

func (c *Context) hasSessionCookie() bool {
	for _, v := range c.req.Header.Values("Cookie") {
		if strings.Contains(v, c.m.s.sessionName) {
			return true
		}
	}
	return false
}

// storeError returns the session store's read error for this request, if
// any.
func (c *Context) storeError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session()
	return c.sess.storeErr
}

// IsAuthenticated reports whether the request carries a valid login session.
func (c *Context) IsAuthenticated() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session()
	if s == nil || s.IDToken == "" {
		return false
	}
	if c.claims != nil && c.claimsFor == s.IDToken {
		return true
	}
	if _, ok := c.m.claims.c.get(string(s.IDToken)); ok {
		return true // decoded before: a JSON object
	}
	return isJWTObject(string(s.IDToken))
}

// IDToken returns the raw ID token of the session, or "".
func (c *Context) IDToken() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.session(); s != nil {
		return string(s.IDToken)
	}
	return ""
}

// IDTokenClaims returns the claims of the session's ID token, or nil when the
// request is anonymous. The token was verified at login; the claims are read
// from the encrypted session. When the token lacks "sid", the sid saved at
// login is filled in. The returned map is a copy.
func (c *Context) IDTokenClaims() Claims {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.idTokenClaimsLocked().clone()
}

// User returns the ID-token claims without Config.IdentityClaimFilter's
// protocol claims, or nil when the request is anonymous.
func (c *Context) User() Claims {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	claims := c.idTokenClaimsLocked()
	if claims == nil {
		return nil
	}
	user := make(Claims, len(claims))
	for k, v := range claims {
		if !c.m.s.claimFilter[k] {
			user[k] = deepCopy(v)
		}
	}
	return user
}

// idTokenClaimsLocked returns the claims of the session's ID token (with the
// sid fallback), or nil. The map is shared: callers copy it before handing
// it out.
func (c *Context) idTokenClaimsLocked() Claims {
	s := c.session()
	if s == nil || s.IDToken == "" {
		return nil
	}
	if c.claims != nil && c.claimsFor == s.IDToken {
		return c.claims
	}
	claims, err := c.m.claims.get(string(s.IDToken))
	if err != nil {
		return nil
	}
	if _, ok := claims["sid"]; !ok && s.SID != "" {
		claims = claims.clone()
		claims["sid"] = s.SID
	}
	c.claims, c.claimsFor = claims, s.IDToken
	return claims
}

// Session returns a copy of the session data and true, or false when there is
// no session. Use SetSession to change it.
func (c *Context) Session() (Session, bool) {
	if c == nil {
		return Session{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session()
	if s == nil {
		return Session{}, false
	}
	return *s.clone(), true
}

// Get returns the application value stored under key in the session.
func (c *Context) Get(key string) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session()
	if s == nil {
		return nil, false
	}
	v, ok := s.Values[key]
	return v, ok
}

// Set stores an application value in the session; it is saved with the
// response, so call Set before writing it. The value must be
// JSON-encodable, and key must not be one of the keys the library uses
// (id_token, access_token, refresh_token, token_type, expires_at, sid,
// sessionExpiresAt, loginStartedAt). Anonymous sessions may hold values too.
//
// After the response headers were written, Set returns
// ErrResponseCommitted and changes nothing, except in store mode for a
// session that already has a store entry: the entry is then updated at once
// (an error wrapping ErrStoreUnavailable if that fails, with the session
// left as it was). Without the middleware (a nil Context) it returns
// ErrNoMiddleware.
func (c *Context) Set(key string, value any) error {
	if c == nil {
		return ErrNoMiddleware
	}
	if reservedKeys[key] {
		return fmt.Errorf("oidc: session key %q is reserved", key)
	}
	if _, err := json.Marshal(value); err != nil {
		return fmt.Errorf("oidc: session value %q is not JSON-encodable: %w", key, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session()
	if err := c.lateChangeLocked(); err != nil {
		return err
	}
	prev := c.lateSnapshotLocked()
	if s == nil {
		s = &Session{}
		c.sess.data = s
	}
	if s.Values == nil {
		s.Values = map[string]any{}
	}
	s.Values[key] = value
	c.sess.dirty = true
	return c.saveLateLocked(prev)
}

// Delete removes an application value from the session; the change is saved
// with the response. Deleting a key that is not set changes nothing and
// returns nil. Otherwise, after the response headers were written, Delete
// returns ErrResponseCommitted and keeps the value, except in store mode for
// a session that already has a store entry, which is updated at once (as for
// Set). Without the middleware (a nil Context) it returns ErrNoMiddleware.
func (c *Context) Delete(key string) error {
	if c == nil {
		return ErrNoMiddleware
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.session()
	if s == nil {
		return nil
	}
	if _, ok := s.Values[key]; !ok {
		return nil
	}
	if err := c.lateChangeLocked(); err != nil {
		return err
	}
	prev := c.lateSnapshotLocked()
	delete(s.Values, key)
	c.sess.dirty = true
	return c.saveLateLocked(prev)
}

// SetSession replaces the whole session; the change is saved with the
// response. A zero Session logs the user out locally (the cookie is
// cleared). After the response headers were written, SetSession returns
// ErrResponseCommitted and changes nothing, except in store mode for a
// session that already has a store entry: the entry is then replaced (or,
// for a zero Session, destroyed) at once, and the browser's cookie, which
// names it, sees the change from its next request. Without the middleware
// (a nil Context) it returns ErrNoMiddleware.
func (c *Context) SetSession(s Session) error {
	if c == nil {
		return ErrNoMiddleware
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.session()
	if err := c.lateChangeLocked(); err != nil {
		return err
	}
	prev := c.lateSnapshotLocked()
	c.setSessionLocked(s.clone())
	return c.saveLateLocked(prev)
}

func (c *Context) setSessionLocked(s *Session) {
	if s.empty() {
		s = nil
	}
	c.sess.data = s
	c.sess.dirty = true
	c.claims, c.claimsFor = nil, ""
}

// lateChangeLocked reports whether a session change made now can still be
// saved: ErrResponseCommitted when the response headers were written and the
// change could only reach the browser in a new cookie. In store mode a
// session that keeps its store id can still be changed: saveLateLocked
// writes the entry at once. The caller holds c.mu and has loaded the
// session.
func (c *Context) lateChangeLocked() error {
	if !c.committed {
		return nil
	}
	st := &c.sess
	switch {
	case c.frozen || c.m.s.store == nil:
		return ErrResponseCommitted
	case st.storeErr != nil:
		return fmt.Errorf("%w: %w", ErrResponseCommitted, st.storeErr)
	case st.id == "" || st.regenerate || !st.hadValid:
		return ErrResponseCommitted // a new session needs a new cookie
	}
	return nil
}

// lateSnapshotLocked returns what saveLateLocked puts back when a late
// store write fails: a copy of the session before the change, or nil when
// the response is not committed yet (nothing to put back).
func (c *Context) lateSnapshotLocked() *lateSnapshot {
	if !c.committed {
		return nil
	}
	return &lateSnapshot{data: c.sess.data.clone(), dirty: c.sess.dirty}
}

// lateSnapshot is the session state before a change made after the
// response was committed.
type lateSnapshot struct {
	data  *Session
	dirty bool
}

// saveLateLocked saves a change made after the response was committed
// (lateChangeLocked allowed it) to the store at once. If that fails, the
// session is put back as it was (prev) and the error is returned. Before
// the response is committed (prev nil) it does nothing: the change is saved
// with the response. The caller holds c.mu.
func (c *Context) saveLateLocked(prev *lateSnapshot) error {
	if prev == nil {
		return nil
	}
	err := c.m.saveAfterCommit(c)
	if err == nil {
		return nil
	}
	c.m.s.logger.Warn("oidc: session change after the response not saved", "error", err.Error())
	if !errors.Is(err, errSessionGone) {
		c.sess.data, c.sess.dirty = prev.data, prev.dirty
		c.claims, c.claimsFor = nil, ""
	}
	return err
}
