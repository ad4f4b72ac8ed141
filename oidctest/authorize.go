package oidctest

import (
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// authzRequest is a validated authorization request.
type authzRequest struct {
	clientID     string
	redirectURI  string
	responseMode string
	scope        string
	state        string
	nonce        string
	challenge    string
	prompt       []string
	maxAge       int64
	hasMaxAge    bool
	code         bool
	idToken      bool
	params       url.Values
	resources    []string // RFC 8707 resource indicators
	dpopJKT      string   // RFC 9449 §10 dpop_jkt
}

// authzError is an authorization error. When redirect is false the
// redirect_uri cannot be trusted and an error page is shown instead.
type authzError struct {
	code, desc string
	redirect   bool
}

func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request, o Options) {
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
	loginPost := r.Method == http.MethodPost && o.Interactive && r.PostForm.Has("username")
	if loginPost {
		// The login page re-posts the already expanded parameters.
		params = maps.Clone(params)
		delete(params, "username")
	} else {
		var aerr *authzError
		if params, aerr = p.expandRequest(params, o); aerr != nil {
			p.errorPage(w, http.StatusBadRequest, aerr.code, aerr.desc)
			return
		}
	}

	req, aerr := parseAuthorize(params, o)
	if aerr != nil {
		if !aerr.redirect {
			p.errorPage(w, http.StatusBadRequest, aerr.code, aerr.desc)
			return
		}
		p.sendAuthzError(w, req, o, aerr.code, aerr.desc)
		return
	}

	now := o.Now()
	sess := p.lookupSession(r)
	promptNone := slices.Contains(req.prompt, "none")
	fresh := func(s *opSession) bool {
		return s != nil && (!req.hasMaxAge || now.Sub(s.authTime) <= time.Duration(req.maxAge)*time.Second)
	}

	switch {
	case loginPost:
		user := strings.TrimSpace(r.PostForm.Get("username"))
		if user == "" {
			p.loginPage(w, req, o, "Please enter a user name.")
			return
		}
		sess = p.startSession(w, sess, user, map[string]any{"name": user}, now)
	case promptNone:
		switch {
		case fresh(sess):
		case sess == nil && !o.Interactive && !o.RequireSessionForPromptNone:
			sess = p.startSession(w, nil, o.Subject, nil, now)
		default:
			p.sendAuthzError(w, req, o, "login_required", "end-user authentication is required")
			return
		}
	case o.Interactive:
		if !fresh(sess) || slices.Contains(req.prompt, "login") || slices.Contains(req.prompt, "select_account") {
			p.loginPage(w, req, o, "")
			return
		}
	default:
		sess = p.startSession(w, sess, o.Subject, nil, now)
	}
	p.completeAuthorize(w, req, o, sess, now)
}

func parseAuthorize(params url.Values, o Options) (*authzRequest, *authzError) {
	req := &authzRequest{params: params}
	page := func(desc string) *authzError {
		return &authzError{code: "invalid_request", desc: desc}
	}
	for _, k := range [...]string{"client_id", "redirect_uri"} {
		if len(params[k]) > 1 {
			return req, page(k + " is repeated")
		}
	}
	req.clientID = params.Get("client_id")
	if req.clientID == "" {
		return req, page("client_id is missing")
	}
	if req.clientID != o.ClientID {
		return req, &authzError{code: "invalid_client", desc: "unknown client_id"}
	}
	req.redirectURI = params.Get("redirect_uri")
	if req.redirectURI == "" {
		return req, page("redirect_uri is missing")
	}
	if !allowedURI(req.redirectURI, o.RedirectURIs) {
		return req, page("redirect_uri is not registered for this client")
	}

	// From here on errors go back to redirect_uri.
	fail := func(code, desc string) *authzError {
		return &authzError{code: code, desc: desc, redirect: true}
	}
	mode := params.Get("response_mode")
	rt := strings.Fields(params.Get("response_type"))
	slices.Sort(rt)
	switch strings.Join(rt, " ") {
	case "code":
		req.code = true
	case "id_token":
		req.idToken = true
	case "code id_token":
		req.code, req.idToken = true, true
	}
	switch {
	case mode == "query" || mode == "fragment" || mode == "form_post":
		req.responseMode = mode
	case req.idToken:
		req.responseMode = "fragment"
	default:
		req.responseMode = "query"
	}
	for _, k := range [...]string{"response_type", "response_mode", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "prompt", "max_age", "dpop_jkt"} {
		if len(params[k]) > 1 {
			return req, fail("invalid_request", k+" is repeated")
		}
	}
	req.state = params.Get("state")
	if len(params["response_type"]) == 0 {
		return req, fail("invalid_request", "response_type is missing")
	}
	if !req.code && !req.idToken {
		return req, fail("unsupported_response_type", "response_type must be code, id_token or code id_token")
	}
	if o.FAPI2 && (req.idToken || !req.code) {
		return req, fail("unsupported_response_type", "FAPI 2.0 allows only response_type code")
	}
	if mode != "" && mode != req.responseMode {
		return req, fail("invalid_request", "unsupported response_mode")
	}
	if req.idToken && mode == "query" {
		req.responseMode = "fragment"
		return req, fail("invalid_request", "response_mode query is not allowed when an id_token is returned")
	}
	req.scope = params.Get("scope")
	if !slices.Contains(strings.Fields(req.scope), "openid") {
		return req, fail("invalid_scope", "scope must contain openid")
	}
	if params.Has("request") {
		return req, fail("request_not_supported", "request objects are not supported")
	}
	if params.Has("request_uri") {
		return req, fail("request_uri_not_supported", "request_uri is not supported")
	}
	req.nonce = params.Get("nonce")
	if req.idToken && req.nonce == "" {
		return req, fail("invalid_request", "nonce is required when an id_token is returned")
	}
	req.challenge = params.Get("code_challenge")
	method := params.Get("code_challenge_method")
	switch {
	case req.challenge == "" && method != "":
		return req, fail("invalid_request", "code_challenge_method without code_challenge")
	case req.challenge != "" && (method == "" || method == "plain"):
		return req, fail("invalid_request", "PKCE method plain is not supported, use S256")
	case req.challenge != "" && method != "S256":
		return req, fail("invalid_request", "unsupported code_challenge_method")
	case req.challenge != "" && !validPKCEValue(req.challenge):
		return req, fail("invalid_request", "malformed code_challenge")
	case req.challenge == "" && req.code && o.pkceRequired():
		return req, fail("invalid_request", "code_challenge is required")
	}
	if params.Has("max_age") {
		n, err := strconv.ParseInt(params.Get("max_age"), 10, 64)
		if err != nil || n < 0 {
			return req, fail("invalid_request", "max_age must be a non-negative integer")
		}
		req.maxAge, req.hasMaxAge = n, true
	}
	req.prompt = strings.Fields(params.Get("prompt"))
	if slices.Contains(req.prompt, "none") && len(req.prompt) > 1 {
		return req, fail("invalid_request", "prompt=none cannot be combined with other values")
	}
	if o.dpopEnabled() && params.Has("dpop_jkt") {
		req.dpopJKT = params.Get("dpop_jkt")
		if b, err := base64.RawURLEncoding.DecodeString(req.dpopJKT); err != nil || len(b) != 32 {
			return req, fail("invalid_request", "dpop_jkt must be a base64url JWK SHA-256 thumbprint")
		}
	}
	var aerr *authzError
	req.resources, aerr = checkResources(params, o)
	if aerr != nil {
		return req, aerr
	}
	return req, nil
}

// validPKCEValue checks the RFC 7636 code_verifier/code_challenge syntax:
// 43 to 128 characters of [A-Za-z0-9-._~].
func validPKCEValue(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// allowedURI reports whether raw is acceptable as a redirect target: an
// exact member of allowed, or, when allowed is empty, an absolute http(s)
// URL without a fragment.
func allowedURI(raw string, allowed []string) bool {
	if len(allowed) > 0 {
		return slices.Contains(allowed, raw)
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		!strings.Contains(raw, "#") && !strings.ContainsAny(raw, " \t\r\n\\")
}

func (p *Provider) lookupSession(r *http.Request) *opSession {
	c, err := r.Cookie(SessionCookieName)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sessions[c.Value]
	if s == nil {
		return nil
	}
	cp := *s
	return &cp
}

// startSession records a login. It reuses prev when the user is the same
// (refreshing auth_time), else replaces it, and sets the session cookie.
func (p *Provider) startSession(w http.ResponseWriter, prev *opSession, sub string, claims map[string]any, now time.Time) *opSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s *opSession
	if prev != nil && prev.sub == sub && p.sessions[prev.id] != nil {
		s = p.sessions[prev.id]
	} else {
		if prev != nil {
			delete(p.sessions, prev.id)
		}
		s = &opSession{id: randomString(), sid: randomString()[:20], sub: sub}
		p.sessions[s.id] = s
	}
	s.claims = maps.Clone(claims)
	s.authTime = now
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookieName,
		Value:    s.id,
		Path:     "/",
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	cp := *s
	return &cp
}

// loginClaims merges Options.Claims, the login's own claims and the
// protocol claims (which win).
func (p *Provider) loginClaims(o Options, sub string, login map[string]any, now time.Time) map[string]any {
	claims := maps.Clone(o.Claims)
	if claims == nil {
		claims = map[string]any{}
	}
	maps.Copy(claims, login)
	claims["iss"] = p.issuer
	claims["aud"] = o.ClientID
	claims["sub"] = sub
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(o.IDTokenLifetime).Unix()
	return claims
}

func (p *Provider) completeAuthorize(w http.ResponseWriter, req *authzRequest, o Options, sess *opSession, now time.Time) {
	out := url.Values{}
	var code string
	if req.code {
		code = randomString()
		p.mu.Lock()
		for k, c := range p.codes {
			if now.After(c.expires.Add(time.Hour)) {
				delete(p.codes, k)
			}
		}
		p.codes[code] = &codeGrant{
			clientID:    req.clientID,
			redirectURI: req.redirectURI,
			nonce:       req.nonce,
			challenge:   req.challenge,
			scope:       req.scope,
			sub:         sess.sub,
			sid:         sess.sid,
			claims:      maps.Clone(sess.claims),
			authTime:    sess.authTime,
			expires:     now.Add(codeLifetime),
			resources:   req.resources,
			dpopJKT:     req.dpopJKT,
		}
		p.mu.Unlock()
		out.Set("code", code)
	}
	if req.idToken {
		claims := p.loginClaims(o, sess.sub, sess.claims, now)
		claims["nonce"] = req.nonce
		claims["auth_time"] = sess.authTime.Unix()
		claims["sid"] = sess.sid
		if req.code {
			claims["c_hash"] = leftHalfHash(o.Alg, code)
		}
		tok, err := p.issueIDToken(o, claims)
		if err != nil {
			p.errorPage(w, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		out.Set("id_token", tok)
	}
	p.sendAuthzResponse(w, req, o, out)
}

func (p *Provider) sendAuthzError(w http.ResponseWriter, req *authzRequest, o Options, code, desc string) {
	out := url.Values{}
	out.Set("error", code)
	out.Set("error_description", desc)
	p.sendAuthzResponse(w, req, o, out)
}

// sendAuthzResponse delivers params (plus state and iss) to the redirect URI
// using the request's response mode.
func (p *Provider) sendAuthzResponse(w http.ResponseWriter, req *authzRequest, o Options, out url.Values) {
	if req.state != "" {
		out.Set("state", req.state)
	}
	if o.issParameter() {
		out.Set("iss", p.issuer)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	switch req.responseMode {
	case "form_post":
		p.formPostPage(w, req.redirectURI, out)
	case "fragment":
		base, _, _ := strings.Cut(req.redirectURI, "#")
		redirect(w, base+"#"+out.Encode())
	default:
		base, _, _ := strings.Cut(req.redirectURI, "#")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
			if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
				sep = ""
			}
		}
		redirect(w, base+sep+out.Encode())
	}
}

func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusFound)
}
