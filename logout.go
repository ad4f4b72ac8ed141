package oidc

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/openidconnect-go/oidc/internal/provider"
	"github.com/openidconnect-go/oidc/internal/safeurl"
)

// LogoutOptions are the options of Context.Logout.
type LogoutOptions struct {
	// ReturnTo is where the user lands after the logout: a path relative to
	// BaseURL or an absolute URL on BaseURL's origin (anything else falls
	// back to Routes.PostLogoutRedirect). Default:
	// Routes.PostLogoutRedirect, else BaseURL.
	ReturnTo string
	// LogoutParams override Config.LogoutParams for this logout; an empty
	// value removes a parameter (for example "id_token_hint").
	LogoutParams map[string]string
}

// Logout ends the local session (the cookie is cleared in this response,
// even while the provider is unreachable) and redirects: with
// Config.IDPLogout to the provider's end-session endpoint, else to
// ReturnTo.
//
// When the session holds a refresh token and the provider advertises a
// revocation_endpoint (with UseMTLS, its mtls_endpoint_aliases entry when
// present), the refresh token is revoked there (RFC 7009, with
// token_type_hint=refresh_token and the token endpoint's client
// authentication). The revocation runs in the background after the
// response, bounded by HTTPTimeout and at most 2 seconds; a failure is
// logged at Warn and never fails or delays the logout.
//
// On a nil Context (a handler not wrapped by Auth) it answers 500 with the
// default error page.
func (c *Context) Logout(w http.ResponseWriter, r *http.Request, opts LogoutOptions) {
	if c == nil {
		defaultErrorHandler(w, r, noMiddlewareError())
		return
	}
	m := c.m
	returnURL := m.s.postLogoutRedirect
	if opts.ReturnTo != "" {
		target := opts.ReturnTo
		if u, err := url.Parse(target); err == nil && !u.IsAbs() && strings.TrimSpace(target) == target &&
			!strings.HasPrefix(target, "//") && !strings.HasPrefix(target, "\\") {
			target = joinURL(m.s.baseURL.String(), target)
		}
		if abs, ok := safeurl.Resolve(m.s.baseURL, target); ok {
			returnURL = abs
		}
	}
	m.setSkipSilentLogin(w.Header())
	idToken, refreshToken := "", ""
	_, _ = c.sess.change(func(s *Session) (*Session, bool) { // before the response: cannot fail
		if s != nil {
			idToken, refreshToken = string(s.IDToken), string(s.RefreshToken)
		}
		return nil, true
	})
	w.Header().Set("Cache-Control", "no-store")

	target := returnURL
	if m.s.idpLogout {
		if u, ok := m.idpLogoutURL(r, idToken, returnURL, opts.LogoutParams); ok {
			target = u
		}
	}
	// Best effort, in the background: never delays or fails the logout.
	m.revokeRefreshToken(r.Context(), refreshToken)
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// idpLogoutURL builds the provider's logout URL, or reports false when the
// provider is unreachable or has no logout endpoint (the logout then stays
// local).
func (m *Middleware) idpLogoutURL(r *http.Request, idToken, returnURL string, extra map[string]string) (string, bool) {
	md, err := m.discover(r.Context())
	if err != nil {
		m.s.logger.Warn("oidc: provider unreachable at logout; logged out locally only", "error", err.Error())
		return "", false
	}
	params := map[string]string{}
	for k, v := range m.s.logoutParams {
		params[k] = v
	}
	if idToken != "" {
		params["id_token_hint"] = idToken
	}
	params["post_logout_redirect_uri"] = returnURL
	for k, v := range extra {
		params[k] = v
	}
	q := url.Values{}
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	if m.auth0Mode(md.Issuer) {
		iss, err := url.Parse(md.Issuer)
		if err != nil {
			return "", false
		}
		out := url.Values{}
		if rt := q.Get("post_logout_redirect_uri"); rt != "" {
			out.Set("returnTo", rt)
		}
		out.Set("client_id", m.s.clientID)
		for k, v := range q {
			if k != "post_logout_redirect_uri" && k != "id_token_hint" && k != "client_id" {
				out[k] = v
			}
		}
		u := url.URL{Scheme: iss.Scheme, Host: iss.Host, Path: "/v2/logout", RawQuery: out.Encode()}
		return u.String(), true
	}
	if md.EndSessionEndpoint == "" {
		m.s.logger.Warn("oidc: the provider has no end_session_endpoint; logged out locally only")
		return "", false
	}
	if q.Get("client_id") == "" {
		q.Set("client_id", m.s.clientID)
	}
	u, err := provider.WithQuery(md.EndSessionEndpoint, q)
	if err != nil {
		return "", false
	}
	return u, true
}

// auth0Mode reports whether logout uses Auth0's /v2/logout.
func (m *Middleware) auth0Mode(issuer string) bool {
	if m.s.auth0Logout != nil {
		return *m.s.auth0Logout
	}
	u, err := url.Parse(issuer)
	return err == nil && strings.HasSuffix(strings.ToLower(u.Hostname()), ".auth0.com")
}

const skipSilentLoginCookie = "skipSilentLogin"

// setSkipSilentLogin marks the browser so that no silent login is tried
// (after a logout).
func (m *Middleware) setSkipSilentLogin(h http.Header) {
	addCookie(h, setCookie{name: skipSilentLoginCookie, value: "true",
		domain: m.s.cookie.domain, path: m.s.cookie.path,
		httpOnly: true, secure: m.s.cookie.secure, sameSite: m.s.cookie.sameSite})
}

// clearSkipSilentLogin allows silent logins again (after a login).
func (m *Middleware) clearSkipSilentLogin(h http.Header) {
	addCookie(h, setCookie{name: skipSilentLoginCookie, expires: epoch,
		domain: m.s.cookie.domain, path: m.s.cookie.path,
		httpOnly: true, secure: m.s.cookie.secure, sameSite: m.s.cookie.sameSite})
}
