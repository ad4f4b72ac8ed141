package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

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

// Decode stores the claims in the value v points to, typically a struct with
// json tags, through a JSON round trip: the rules of encoding/json apply
// (field names match case-insensitively, unknown claims are ignored, and a
// claim of the wrong type is an error). It fails on nil Claims, such as
// those of an anonymous request, and leaves v as it is then.
//
//	var user struct {
//		Sub   string   `json:"sub"`
//		Roles []string `json:"roles"`
//	}
//	err := oidc.FromRequest(r).User().Decode(&user)
func (c Claims) Decode(v any) error {
	if c == nil {
		return errors.New("oidc: no claims to decode")
	}
	b, err := json.Marshal(map[string]any(c))
	if err != nil {
		return fmt.Errorf("oidc: encoding the claims: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("oidc: decoding the claims: %w", err)
	}
	return nil
}
