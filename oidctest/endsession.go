package oidctest

import (
	"net/http"
	"net/url"
	"strings"
)

// serveEndSession implements OpenID Connect RP-Initiated Logout 1.0.
//
// id_token_hint, when present, must be an ID token of this provider for the
// client (signature checked with the current or an earlier key; expiry is
// not checked). client_id, when present, must be the client.
// post_logout_redirect_uri requires client_id or id_token_hint and must be
// allowed (see [Options.PostLogoutRedirectURIs]); otherwise the answer is a
// 400 page and nobody is logged out. On success the provider session is
// ended, its cookie cleared, and the browser is redirected to
// post_logout_redirect_uri (with state) or shown a "logged out" page.
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request, o Options) {
	if !o.EndSession || o.DisableEndSession {
		http.NotFound(w, r)
		return
	}
	var params url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		params = r.URL.Query()
	case http.MethodPost:
		if _, err := readForm(w, r); err != nil {
			p.errorPage(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		params = r.Form
	default:
		methodNotAllowed(w, "GET, POST")
		return
	}
	for _, k := range [...]string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
		if len(params[k]) > 1 {
			p.errorPage(w, http.StatusBadRequest, "invalid_request", k+" is repeated")
			return
		}
	}
	hint := params.Get("id_token_hint")
	if hint != "" {
		if _, err := p.verifyHint(o, hint); err != nil {
			p.errorPage(w, http.StatusBadRequest, "invalid_request", "invalid id_token_hint: "+err.Error())
			return
		}
	}
	clientID := params.Get("client_id")
	if clientID != "" && clientID != o.ClientID {
		p.errorPage(w, http.StatusBadRequest, "invalid_client", "unknown client_id")
		return
	}
	target := params.Get("post_logout_redirect_uri")
	if target != "" {
		if hint == "" && clientID == "" {
			p.errorPage(w, http.StatusBadRequest, "invalid_request", "post_logout_redirect_uri requires client_id or id_token_hint")
			return
		}
		if !allowedURI(target, o.PostLogoutRedirectURIs) {
			p.errorPage(w, http.StatusBadRequest, "invalid_request", "post_logout_redirect_uri is not registered for this client")
			return
		}
	}

	if c, err := r.Cookie(SessionCookieName); err == nil {
		p.mu.Lock()
		delete(p.sessions, c.Value)
		p.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookieName,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	if target == "" {
		p.messagePage(w, http.StatusOK, "You are logged out", "You have been signed out of the development provider.")
		return
	}
	if state := params.Get("state"); state != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + url.Values{"state": {state}}.Encode()
	}
	redirect(w, target)
}
