package oidc

import "net/http"

// AttemptSilentLogin returns middleware that tries a silent login
// (prompt=none) once per browser session, like express-openid-connect's
// attemptSilentLogin(): an anonymous GET request that accepts HTML and has
// no skipSilentLogin cookie gets that cookie and is redirected to the
// provider with prompt=none. If the provider still has a session the user
// comes back logged in; otherwise (login_required, or any other failure)
// the callback returns the user anonymously to the same URL, and the
// cookie prevents another attempt. A successful login clears the cookie;
// every logout sets it. Other requests pass through. Handlers must be
// wrapped by Auth; otherwise it answers 500. Config.AttemptSilentLogin
// applies it to every route.
func AttemptSilentLogin() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := contextOrFail(w, r)
			if c == nil {
				return
			}
			if c.m.attemptSilentLogin(w, r, c) {
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// attemptSilentLogin starts a silent login when the request qualifies and
// reports whether it answered the request. Only GET requests qualify: a
// redirect would lose the body of other methods (express tries any method).
func (m *Middleware) attemptSilentLogin(w http.ResponseWriter, r *http.Request, c *Context) bool {
	if r.Method != http.MethodGet || skipSilentLogin(r) || !acceptsHTML(r) || c.IsAuthenticated() {
		return false
	}
	m.setSkipSilentLogin(w.Header())
	c.Login(w, r, LoginOptions{Silent: true})
	return true
}

// skipSilentLogin reports whether the request carries a non-empty
// skipSilentLogin cookie (any value counts, as in express).
func skipSilentLogin(r *http.Request) bool {
	for _, ck := range r.CookiesNamed(skipSilentLoginCookie) {
		if ck.Value != "" {
			return true
		}
	}
	return false
}
