package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// ErrForbidden: a logged-in user failed a claim check (ClaimEquals,
// ClaimIncludes, ClaimCheck). The guards report it to Config.ErrorHandler
// in a 403 *Error with the code "forbidden".
var ErrForbidden = errors.New("oidc: the user's claims do not allow this route")

// RequiresAuth returns middleware that lets only logged-in users through.
// An anonymous request that accepts HTML is redirected to the login page and
// comes back to the same URL afterwards (GET only; other methods come back to
// BaseURL). Other anonymous requests, and every request when
// Config.ErrorOnRequiredAuth is set, get 401. Handlers must be wrapped by
// Auth; otherwise the guard answers 500.
func RequiresAuth() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := contextOrFail(w, r)
			if c == nil {
				return
			}
			if !c.IsAuthenticated() {
				c.m.requireLogin(w, r, c)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// contextOrFail returns the request's Context, or answers 500 and returns
// nil when the handler is not wrapped by Auth (a wiring error).
func contextOrFail(w http.ResponseWriter, r *http.Request) *Context {
	c := FromRequest(r)
	if c == nil {
		defaultErrorHandler(w, r, noMiddlewareError())
	}
	return c
}

// requireLogin answers an anonymous request to a protected route.
func (m *Middleware) requireLogin(w http.ResponseWriter, r *http.Request, c *Context) {
	if err := c.storeError(); err != nil {
		// The session exists but cannot be read now: not a login, a retry.
		m.s.errorHandler(w, r, newError(http.StatusServiceUnavailable, "session_store_unavailable",
			"Your session cannot be read right now. Please try again shortly.", err))
		return
	}
	if !m.s.cfg.ErrorOnRequiredAuth && acceptsHTML(r) {
		c.Login(w, r, LoginOptions{})
		return
	}
	m.s.errorHandler(w, r, newError(http.StatusUnauthorized, "unauthorized",
		"Authentication is required for this route.", nil))
}

// acceptsHTML mirrors Express's req.accepts('html'): true when there is no
// Accept header, or when text/html, text/* or */* is acceptable (q > 0).
func acceptsHTML(r *http.Request) bool {
	values := r.Header.Values("Accept")
	if len(values) == 0 {
		return true
	}
	for _, header := range values {
		for part := range strings.SplitSeq(header, ",") {
			media, params, _ := strings.Cut(part, ";")
			media = strings.ToLower(strings.TrimSpace(media))
			if media != "text/html" && media != "text/*" && media != "*/*" {
				continue
			}
			if qZero(params) {
				continue
			}
			return true
		}
	}
	return false
}

func qZero(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && q <= 0
		}
	}
	return false
}

// ClaimEquals returns middleware that lets through only logged-in users
// whose ID token has the claim with exactly the value (express-openid-connect's
// claimEquals). Types are strict: a JSON string never equals a number or a
// boolean ("1" is not 1), numbers compare numerically whatever the Go type of
// value (int, float64, ...), and a nil value matches a JSON null claim, not
// a missing one. Array and object claims never match.
//
// Anonymous requests are handled as by RequiresAuth (a login redirect for
// HTML, else 401). Unlike express-openid-connect, a logged-in user who fails
// the check gets 403 (Config.ErrorHandler with an *Error wrapping
// ErrForbidden), not a new login.
//
// ClaimEquals panics when claim is empty or value is not a string, a
// number, a boolean or nil: these are programming errors, reported when the
// routes are built (express throws a TypeError at construction).
func ClaimEquals(claim string, value any) func(http.Handler) http.Handler {
	if claim == "" {
		panic("oidc: ClaimEquals: claim must be a non-empty string")
	}
	want, ok := primitive(value)
	if !ok {
		panic("oidc: ClaimEquals: value must be a string, number, boolean or nil")
	}
	return claimGuard(func(claims Claims) bool {
		got, present := claims[claim]
		return present && strictEqual(got, want)
	})
}

// ClaimIncludes returns middleware that lets through only logged-in users
// whose ID-token claim contains every one of values (express-openid-connect's
// claimIncludes). The claim may be an array, or a string of values separated
// by single spaces (as "scope" is); any other claim fails, as does a missing
// one. Values compare strictly, as in ClaimEquals. With no values, any string
// or array claim passes.
//
// Anonymous users and failures are handled as by ClaimEquals. ClaimIncludes
// panics when claim is empty or a value is not a string, a number, a boolean
// or nil.
func ClaimIncludes(claim string, values ...any) func(http.Handler) http.Handler {
	if claim == "" {
		panic("oidc: ClaimIncludes: claim must be a non-empty string")
	}
	want := make([]any, len(values))
	for i, v := range values {
		p, ok := primitive(v)
		if !ok {
			panic("oidc: ClaimIncludes: values must be strings, numbers, booleans or nil")
		}
		want[i] = p
	}
	return claimGuard(func(claims Claims) bool {
		var have []any
		switch got := claims[claim].(type) {
		case string:
			for _, s := range strings.Split(got, " ") {
				have = append(have, s)
			}
		case []any:
			have = got
		default:
			return false
		}
		for _, w := range want {
			found := false
			for _, h := range have {
				if strictEqual(h, w) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// ClaimCheck returns middleware that lets through only logged-in users for
// whom fn returns true (express-openid-connect's claimCheck). fn receives the
// request's Context and a copy of the ID-token claims (with the session's
// sid filled in, as IDTokenClaims returns them); it is never called for
// anonymous users. Keep rules exact: for example an email-domain rule should
// compare the part after the only "@" (or use email_verified and an exact
// domain), not strings.HasSuffix on the whole address.
//
// Anonymous users and failures are handled as by ClaimEquals. ClaimCheck
// panics when fn is nil.
func ClaimCheck(fn func(c *Context, claims Claims) bool) func(http.Handler) http.Handler {
	if fn == nil {
		panic("oidc: ClaimCheck: fn must not be nil")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := contextOrFail(w, r)
			if c == nil {
				return
			}
			claims := c.IDTokenClaims()
			if claims == nil {
				c.m.requireLogin(w, r, c)
				return
			}
			if !fn(c, claims) {
				c.m.forbidden(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// claimGuard builds a guard from a check over the (uncopied, read-only)
// ID-token claims.
func claimGuard(check func(Claims) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := contextOrFail(w, r)
			if c == nil {
				return
			}
			claims := c.sess.idClaims() // immutable: read without the lock
			ok := claims != nil && check(claims)
			switch {
			case claims == nil:
				c.m.requireLogin(w, r, c)
			case !ok:
				c.m.forbidden(w, r)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// forbidden answers a logged-in user who failed a claim check.
func (m *Middleware) forbidden(w http.ResponseWriter, r *http.Request) {
	m.s.errorHandler(w, r, newError(http.StatusForbidden, "forbidden",
		"You do not have access to this route.", ErrForbidden))
}

// primitive normalises a JSON primitive for strictEqual: strings, booleans
// and nil as they are, every Go number kind (and json.Number) as float64,
// like the claims decoded by encoding/json. ok is false for anything else.
func primitive(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool, float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.String:
		return rv.String(), true
	case reflect.Bool:
		return rv.Bool(), true
	}
	return nil, false
}

// strictEqual is JavaScript's === between a decoded claim value and a
// normalised expected primitive: same JSON type and value; arrays and
// objects never equal anything.
func strictEqual(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case string:
		g, ok := got.(string)
		return ok && g == w
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case float64:
		switch g := got.(type) {
		case float64:
			return g == w
		case json.Number:
			f, err := g.Float64()
			return err == nil && f == w
		}
	}
	return false
}
