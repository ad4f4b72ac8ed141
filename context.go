package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	m    *Middleware
	req  *http.Request
	w    *responseWriter
	rw   responseWriter // storage for w, allocated with the Context
	sess requestSession // the request's session (requestsession.go)
}

// newContext returns the Context of a request served by m: w wraps rw so
// that the session is saved when the headers are written, and r carries
// the Context. The session is read lazily, at its first use.
func (m *Middleware) newContext(rw http.ResponseWriter, r *http.Request) *Context {
	c := &Context{m: m}
	c.rw = responseWriter{ResponseWriter: rw, c: c}
	c.w = &c.rw
	c.req = r.WithContext(context.WithValue(r.Context(), contextKey{}, c))
	c.sess = requestSession{m: m, req: c.req, w: rw}
	return c
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

// storeError returns why the session's state is unknown to this request
// (the session store could not be read), or nil.
func (c *Context) storeError() error { return c.sess.readError() }

// IsAuthenticated reports whether the request carries a valid login session.
func (c *Context) IsAuthenticated() bool {
	if c == nil {
		return false
	}
	return c.sess.authenticated()
}

// IDToken returns the raw ID token of the session, or "".
func (c *Context) IDToken() string {
	if c == nil {
		return ""
	}
	var tok string
	c.sess.read(func(cur *Session) {
		if cur != nil {
			tok = string(cur.IDToken)
		}
	})
	return tok
}

// IDTokenClaims returns the claims of the session's ID token, or nil when the
// request is anonymous. The token was verified at login; the claims are read
// from the encrypted session. When the token lacks "sid", the sid saved at
// login is filled in. The returned map is a copy.
func (c *Context) IDTokenClaims() Claims {
	if c == nil {
		return nil
	}
	return c.sess.idClaims().clone()
}

// User returns the ID-token claims without Config.IdentityClaimFilter's
// protocol claims, or nil when the request is anonymous.
func (c *Context) User() Claims {
	if c == nil {
		return nil
	}
	claims := c.sess.idClaims()
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

// Session returns a copy of the session data and true, or false when there is
// no session. Use SetSession to change it.
func (c *Context) Session() (Session, bool) {
	if c == nil {
		return Session{}, false
	}
	var out *Session
	c.sess.read(func(cur *Session) { out = cur.clone() })
	if out == nil {
		return Session{}, false
	}
	return *out, true
}

// Get returns the application value stored under key in the session.
func (c *Context) Get(key string) (any, bool) {
	if c == nil {
		return nil, false
	}
	var (
		v  any
		ok bool
	)
	c.sess.read(func(cur *Session) {
		if cur != nil {
			v, ok = cur.Values[key]
		}
	})
	return v, ok
}

// Set stores an application value in the session; it is saved with the
// response, so call Set before writing it. The value must be
// JSON-encodable, and key must not be one of the keys the library uses
// (id_token, access_token, refresh_token, token_type, expires_at, sid,
// sessionExpiresAt, loginStartedAt, resourceTokens). Anonymous sessions may
// hold values too.
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
	_, err := c.sess.change(func(cur *Session) (*Session, bool) {
		if cur == nil {
			cur = &Session{}
		}
		if cur.Values == nil {
			cur.Values = map[string]any{}
		}
		cur.Values[key] = value
		return cur, true
	})
	return err
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
	_, err := c.sess.change(func(cur *Session) (*Session, bool) {
		if _, ok := cur.values()[key]; !ok {
			return cur, false
		}
		delete(cur.Values, key)
		return cur, true
	})
	return err
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
	next := s.clone()
	if next.empty() {
		next = nil
	}
	_, err := c.sess.change(func(*Session) (*Session, bool) { return next, true })
	return err
}
