package oidctest

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// oauthError is an OAuth 2.0 error response (RFC 6749 §5.2).
type oauthError struct {
	status     int
	code, desc string
}

func badRequest(code, desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: code, desc: desc}
}

func invalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: desc}
}

func (e *oauthError) write(w http.ResponseWriter) {
	w.Header().Set("Pragma", "no-cache")
	if e.code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

// grant is what an access or refresh token stands for.
type grant struct {
	clientID  string
	sub       string
	scope     string
	sid       string
	claims    map[string]any
	authTime  time.Time
	family    string
	resources []string // granted resource indicators (RFC 8707)
	jkt       string   // DPoP key a refresh token is bound to
}

// clientPost reads a client's form POST (token endpoint, PAR): POST only,
// size-capped form, recorded for tests, no repeated parameters, and client
// authentication. It writes the error response itself and reports false.
func (p *Provider) clientPost(w http.ResponseWriter, r *http.Request, o Options,
	record func(*http.Request, []byte)) (url.Values, string, bool) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return nil, "", false
	}
	body, ferr := readForm(w, r)
	record(r, body)
	if ferr != nil {
		badRequest("invalid_request", ferr.Error()).write(w)
		return nil, "", false
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 && k != "resource" { // RFC 8707 allows several
			badRequest("invalid_request", k+" is repeated").write(w)
			return nil, "", false
		}
	}
	clientID, oerr := p.authenticateClient(r, form, o)
	if oerr != nil {
		oerr.write(w)
		return nil, "", false
	}
	return form, clientID, true
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request, o Options) {
	form, clientID, ok := p.clientPost(w, r, o, p.recordTokenRequest)
	if !ok {
		return
	}
	proof, derr := p.checkDPoP(w, r, o, EndpointToken, "", false)
	if derr != nil {
		derr.asError().write(w)
		return
	}
	jkt := ""
	if proof != nil {
		jkt = proof.jkt
	} else if o.dpopRequired() {
		badRequest(errInvalidDPoPProof, "a DPoP proof is required").write(w)
		return
	}
	var resp map[string]any
	var oerr *oauthError
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		resp, oerr = p.authorizationCodeGrant(form, o, clientID, jkt)
	case "refresh_token":
		resp, oerr = p.refreshTokenGrant(form, o, clientID, jkt)
	case GrantTypeTokenExchange:
		resp, oerr = p.tokenExchangeGrant(form, o, clientID, jkt)
	case "":
		oerr = badRequest("invalid_request", "grant_type is missing")
	default:
		oerr = badRequest("unsupported_grant_type", "unsupported grant_type "+gt)
	}
	if oerr != nil {
		oerr.write(w)
		return
	}
	if o.MutateTokenResponse != nil {
		o.MutateTokenResponse(resp)
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) recordTokenRequest(r *http.Request, body []byte) {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastToken = c
	p.lastBody = body
	p.lastPresent = true
}

// authenticateClient implements client_secret_basic (RFC 6749 §2.3.1: the
// Base64 credentials are split on the first colon and each part is
// form-urldecoded), client_secret_post, and the JWT assertion methods
// client_secret_jwt and private_key_jwt (see authenticateAssertion).
func (p *Provider) authenticateClient(r *http.Request, form url.Values, o Options) (string, *oauthError) {
	if form.Has("client_assertion") || form.Has("client_assertion_type") {
		return p.authenticateAssertion(r, form, o)
	}
	var id, secret, method string
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, cred, _ := strings.Cut(authz, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return "", invalidClient("unsupported authorization scheme")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return "", invalidClient("malformed Basic credentials")
		}
		u, pw, ok := strings.Cut(string(raw), ":")
		if !ok {
			return "", invalidClient("malformed Basic credentials")
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(u)
		secret, err2 = url.QueryUnescape(pw)
		if err1 != nil || err2 != nil {
			return "", invalidClient("malformed Basic credentials")
		}
		if form.Has("client_secret") {
			return "", badRequest("invalid_request", "more than one client authentication method")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", badRequest("invalid_request", "client_id does not match the Authorization header")
		}
		method = "client_secret_basic"
	} else if form.Has("client_secret") {
		id, secret, method = form.Get("client_id"), form.Get("client_secret"), "client_secret_post"
	} else {
		return "", invalidClient("client authentication is required")
	}
	if !slices.Contains(o.TokenEndpointAuthMethods, method) {
		return "", invalidClient(method + " is not allowed for this client")
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(o.ClientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(o.ClientSecret))
	if idOK&secretOK != 1 {
		return "", invalidClient("client authentication failed")
	}
	return id, nil
}

func (p *Provider) authorizationCodeGrant(form url.Values, o Options, clientID, jkt string) (map[string]any, *oauthError) {
	code := form.Get("code")
	if code == "" {
		return nil, badRequest("invalid_request", "code is missing")
	}
	now := o.Now()
	p.mu.Lock()
	g := p.codes[code]
	if g == nil {
		p.mu.Unlock()
		return nil, badRequest("invalid_grant", "unknown authorization code")
	}
	if g.used {
		// RFC 6749 §4.1.2: revoke what was issued for a replayed code.
		for _, t := range g.issued {
			delete(p.access, t)
			delete(p.refresh, t)
		}
		p.mu.Unlock()
		return nil, badRequest("invalid_grant", "authorization code already used")
	}
	g.used = true // one attempt per code, successful or not
	p.mu.Unlock()

	switch {
	case g.clientID != clientID:
		return nil, badRequest("invalid_grant", "code was issued to another client")
	case now.After(g.expires):
		return nil, badRequest("invalid_grant", "authorization code expired")
	case form.Get("redirect_uri") != g.redirectURI:
		return nil, badRequest("invalid_grant", "redirect_uri does not match the authorization request")
	case len(o.RedirectURIs) > 0 && !slices.Contains(o.RedirectURIs, g.redirectURI):
		return nil, badRequest("invalid_grant", "redirect_uri is not registered")
	}
	if !o.SkipPKCE {
		v := form.Get("code_verifier")
		switch {
		case g.challenge != "" && v == "":
			return nil, badRequest("invalid_grant", "code_verifier is missing")
		case g.challenge != "" && (!validPKCEValue(v) || subtle.ConstantTimeCompare([]byte(s256(v)), []byte(g.challenge)) != 1):
			return nil, badRequest("invalid_grant", "PKCE verification failed")
		case g.challenge == "" && v != "":
			return nil, badRequest("invalid_grant", "code_verifier sent but the authorization request had no code_challenge")
		}
	}
	switch {
	case g.dpopJKT != "" && jkt == "":
		return nil, badRequest("invalid_grant", "the authorization code is bound to a DPoP key (dpop_jkt): a DPoP proof is required")
	case g.dpopJKT != "" && jkt != g.dpopJKT:
		return nil, badRequest("invalid_grant", "the DPoP proof key does not match dpop_jkt")
	}
	aud, oerr := p.tokenAudience(o, form, g.resources, g.scope)
	if oerr != nil {
		return nil, oerr
	}
	gr := grant{
		clientID: clientID, sub: g.sub, scope: g.scope, sid: g.sid,
		claims: g.claims, authTime: g.authTime, family: randomString(),
		resources: g.resources, jkt: jkt,
	}
	resp, issued, err := p.issueTokens(o, gr, g.nonce, true, true, now, aud)
	if err != nil {
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: err.Error()}
	}
	p.mu.Lock()
	g.issued = issued
	p.mu.Unlock()
	return resp, nil
}

func (p *Provider) refreshTokenGrant(form url.Values, o Options, clientID, jkt string) (map[string]any, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, badRequest("invalid_request", "refresh_token is missing")
	}
	p.mu.Lock()
	g := p.refresh[rt]
	if g == nil {
		if fam, ok := p.rotated[rt]; ok && o.RefreshTokenReuseDetection {
			p.revokeFamilyLocked(fam)
		}
		p.mu.Unlock()
		return nil, badRequest("invalid_grant", "invalid refresh token")
	}
	gr := *g
	p.mu.Unlock()

	// Checks that a thief without the client's credentials or key could
	// fail come before rotation, so they do not burn the refresh token.
	if gr.clientID != clientID {
		return nil, badRequest("invalid_grant", "refresh token was issued to another client")
	}
	if gr.jkt != "" && !o.DPoPUnboundRefreshTokens && jkt != gr.jkt {
		if jkt == "" {
			return nil, badRequest("invalid_grant", "the refresh token is DPoP-bound: a DPoP proof of its key is required")
		}
		return nil, badRequest("invalid_grant", "the refresh token is bound to another DPoP key")
	}
	scope := gr.scope
	if form.Has("scope") {
		granted := strings.Fields(gr.scope)
		for _, s := range strings.Fields(form.Get("scope")) {
			if !slices.Contains(granted, s) {
				return nil, badRequest("invalid_scope", "scope exceeds the original grant")
			}
		}
		scope = form.Get("scope")
	}
	aud, oerr := p.tokenAudience(o, form, gr.resources, scope)
	if oerr != nil {
		return nil, oerr
	}
	rotate := !o.DisableRefreshTokenRotation
	if rotate {
		p.mu.Lock()
		if p.refresh[rt] != g { // a concurrent refresh won
			p.mu.Unlock()
			return nil, badRequest("invalid_grant", "invalid refresh token")
		}
		delete(p.refresh, rt)
		p.rotated[rt] = g.family
		p.mu.Unlock()
	}

	issue := gr
	issue.scope = scope
	issue.sid = "" // like Auth0: refresh-grant ID tokens carry no sid
	issue.jkt = jkt
	resp, _, err := p.issueTokens(o, issue, "", true, false, o.Now(), aud)
	if err != nil {
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: err.Error()}
	}
	if rotate {
		newRT := randomString()
		next := gr // keeps the original scope, sid and binding
		p.mu.Lock()
		p.refresh[newRT] = &next
		p.mu.Unlock()
		resp["refresh_token"] = newRT
	}
	return resp, nil
}

func (p *Provider) revokeFamilyLocked(family string) {
	for k, g := range p.refresh {
		if g.family == family {
			delete(p.refresh, k)
		}
	}
	for k, a := range p.access {
		if a.family == family {
			delete(p.access, k)
		}
	}
}

func (p *Provider) tokenExchangeGrant(form url.Values, o Options, clientID, jkt string) (map[string]any, *oauthError) {
	st, stt := form.Get("subject_token"), form.Get("subject_token_type")
	switch {
	case st == "" || stt == "":
		return nil, badRequest("invalid_request", "subject_token and subject_token_type are required")
	case form.Has("actor_token") != form.Has("actor_token_type"):
		return nil, badRequest("invalid_request", "actor_token and actor_token_type go together")
	}
	issuedType := form.Get("requested_token_type")
	if issuedType == "" {
		issuedType = TokenTypeAccessToken
	}
	if issuedType != TokenTypeAccessToken {
		return nil, badRequest("invalid_request", "unsupported requested_token_type")
	}
	now := o.Now()
	gr := grant{clientID: clientID, sub: o.Subject, scope: form.Get("scope"), family: randomString()}
	if stt == TokenTypeAccessToken {
		p.mu.Lock()
		a := p.access[st]
		p.mu.Unlock()
		if a == nil || now.After(a.expires) {
			return nil, badRequest("invalid_grant", "invalid subject_token")
		}
		gr.sub, gr.claims = a.sub, a.claims
	}
	a := &accessGrant{clientID: clientID, sub: gr.sub, scope: gr.scope, claims: gr.claims,
		expires: now.Add(o.AccessTokenLifetime), family: gr.family, aud: p.userinfoAudience(), jkt: jkt}
	at, err := p.newAccessToken(o, a, now)
	if err != nil {
		return nil, &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: err.Error()}
	}
	p.mu.Lock()
	p.access[at] = a
	p.mu.Unlock()
	resp := map[string]any{
		"access_token":      at,
		"issued_token_type": issuedType,
		"token_type":        tokenType(jkt),
		"expires_in":        int64(o.AccessTokenLifetime / time.Second),
	}
	if gr.scope != "" {
		resp["scope"] = gr.scope
	}
	return resp, nil
}

// issueTokens mints an access token for aud (bound to gr.jkt), an ID
// token and optionally a refresh token (bound to gr.jkt unless
// DPoPUnboundRefreshTokens) for gr and stores them. It returns the response
// and the new tokens.
func (p *Provider) issueTokens(o Options, gr grant, nonce string, idToken, withRefresh bool, now time.Time, aud string) (map[string]any, []string, error) {
	a := &accessGrant{clientID: gr.clientID, sub: gr.sub, scope: gr.scope,
		claims: maps.Clone(gr.claims), expires: now.Add(o.AccessTokenLifetime), family: gr.family,
		aud: aud, jkt: gr.jkt}
	at, err := p.newAccessToken(o, a, now)
	if err != nil {
		return nil, nil, err
	}
	resp := map[string]any{
		"access_token": at,
		"token_type":   tokenType(gr.jkt),
		"expires_in":   int64(o.AccessTokenLifetime / time.Second),
		"scope":        gr.scope,
	}
	if idToken {
		claims := p.loginClaims(o, gr.sub, gr.claims, now)
		claims["auth_time"] = gr.authTime.Unix()
		if nonce != "" {
			claims["nonce"] = nonce
		}
		if gr.sid != "" {
			claims["sid"] = gr.sid
		}
		tok, err := p.issueIDToken(o, claims)
		if err != nil {
			return nil, nil, err
		}
		resp["id_token"] = tok
	}
	issued := []string{at}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.access[at] = a
	if withRefresh {
		rt := randomString()
		stored := gr
		stored.claims = maps.Clone(gr.claims)
		if o.DPoPUnboundRefreshTokens {
			stored.jkt = ""
		}
		p.refresh[rt] = &stored
		resp["refresh_token"] = rt
		issued = append(issued, rt)
	}
	return resp, issued, nil
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request, o Options) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		methodNotAllowed(w, "GET, POST")
		return
	}
	if r.URL.Query().Has("access_token") {
		p.challenge(w, o, http.StatusBadRequest, "Bearer", "invalid_request", "access tokens are only accepted in the Authorization header")
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if _, err := readForm(w, r); err == nil && r.PostForm.Has("access_token") {
			p.challenge(w, o, http.StatusBadRequest, "Bearer", "invalid_request", "access tokens are only accepted in the Authorization header")
			return
		}
	}
	a, _ := p.presentedToken(w, r, o, EndpointUserinfo, p.userinfoAudience())
	if a == nil {
		return
	}
	resp := maps.Clone(o.Claims)
	if resp == nil {
		resp = map[string]any{}
	}
	maps.Copy(resp, a.claims)
	resp["sub"] = a.sub
	if o.MutateUserinfo != nil {
		o.MutateUserinfo(resp)
	}
	writeJSON(w, http.StatusOK, resp)
}

// serveRevoke implements RFC 7009 token revocation. Revoking a refresh token
// also revokes the access tokens of its grant.
func (p *Provider) serveRevoke(w http.ResponseWriter, r *http.Request, o Options) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if _, err := readForm(w, r); err != nil {
		badRequest("invalid_request", err.Error()).write(w)
		return
	}
	if _, oerr := p.authenticateClient(r, r.PostForm, o); oerr != nil {
		oerr.write(w)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		badRequest("invalid_request", "token is missing").write(w)
		return
	}
	p.mu.Lock()
	delete(p.access, tok)
	if g := p.refresh[tok]; g != nil {
		p.revokeFamilyLocked(g.family)
	}
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
