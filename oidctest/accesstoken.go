package oidctest

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// EndpointResource is the [Provider.Calls] name of the protected resources
// ([Provider.Resource]), all audiences together.
const EndpointResource = "resource"

// AccessTokenInfo describes an access token the provider issued.
type AccessTokenInfo struct {
	// ClientID is the client the token was issued to.
	ClientID string
	// Subject is the user (sub).
	Subject string
	// Audience is the resource indicator the token is for, or, without
	// one, the userinfo endpoint URL ([Provider.UserinfoAudience]).
	Audience string
	// Scope is the token's scope.
	Scope string
	// JKT is the RFC 7638 thumbprint of the DPoP key the token is bound to
	// (cnf.jkt), or "" for a Bearer token.
	JKT string
	// Expires is when the token stops being accepted.
	Expires time.Time
}

// AccessTokenInfo returns what the provider knows of an access token it
// issued and has not revoked (expired tokens included).
func (p *Provider) AccessTokenInfo(token string) (AccessTokenInfo, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.access[token]
	if a == nil {
		return AccessTokenInfo{}, false
	}
	return AccessTokenInfo{ClientID: a.clientID, Subject: a.sub, Audience: a.aud, Scope: a.scope, JKT: a.jkt, Expires: a.expires}, true
}

// UserinfoAudience is the audience of access tokens issued for no
// resource indicator: the userinfo endpoint URL. The userinfo endpoint
// accepts only those.
func (p *Provider) UserinfoAudience() string { return p.endpointURL(PathUserinfo) }

func (p *Provider) userinfoAudience() string { return p.UserinfoAudience() }

// tokenType is the token_type of a token bound to jkt.
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "Bearer"
}

// newAccessToken returns the value of a new access token for a: random, or
// an RFC 9068 JWT with JWTAccessTokens.
func (p *Provider) newAccessToken(o Options, a *accessGrant, now time.Time) (string, error) {
	if !o.JWTAccessTokens {
		return randomString(), nil
	}
	key := p.currentKey()
	claims := map[string]any{
		"iss": p.issuer, "sub": a.sub, "aud": a.aud, "client_id": a.clientID,
		"iat": now.Unix(), "exp": a.expires.Unix(), "jti": randomString(),
	}
	if a.scope != "" {
		claims["scope"] = a.scope
	}
	if a.jkt != "" {
		claims["cnf"] = map[string]any{"jkt": a.jkt}
	}
	return signWithProvider(p.header(o.Alg, "at+jwt", key), claims, key, o.ClientSecret)
}

// presentedToken authenticates the access token of a request to userinfo
// or a resource for audience (RFC 6750 §2.1, RFC 9449 §7): Bearer for
// unbound tokens, DPoP with a proof of the bound key for DPoP-bound ones.
// It writes the error response itself and returns nil.
func (p *Provider) presentedToken(w http.ResponseWriter, r *http.Request, o Options, endpoint, audience string) (*accessGrant, string) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	isDPoP := strings.EqualFold(scheme, "DPoP") && o.dpopEnabled()
	if !isDPoP && !strings.EqualFold(scheme, "Bearer") {
		p.challenge(w, o, http.StatusUnauthorized, "Bearer", "", "missing access token")
		return nil, ""
	}
	if !isDPoP && o.dpopEnabled() && len(r.Header.Values("DPoP")) > 0 {
		// Like node-oidc-provider: a proof calls for the DPoP scheme.
		p.challenge(w, o, http.StatusBadRequest, "Bearer", "invalid_request", "the authorization scheme must be DPoP when a DPoP proof is sent")
		return nil, ""
	}
	errScheme := "Bearer"
	if isDPoP {
		errScheme = "DPoP"
	}
	p.mu.Lock()
	var a *accessGrant
	if g := p.access[tok]; g != nil {
		cp := *g
		a = &cp
	}
	p.mu.Unlock()
	if tok == "" || a == nil || o.Now().After(a.expires) {
		p.challenge(w, o, http.StatusUnauthorized, errScheme, "invalid_token", "the access token is invalid or expired")
		return nil, ""
	}
	if a.jkt != "" {
		errScheme = "DPoP"
	}
	if a.aud != audience {
		p.challenge(w, o, http.StatusUnauthorized, errScheme, "invalid_token", "the access token is not for this audience")
		return nil, ""
	}
	proof, derr := p.checkDPoP(w, r, o, endpoint, tok, true)
	var desc string
	switch {
	case derr != nil:
		p.challenge(w, o, http.StatusUnauthorized, "DPoP", derr.code, derr.desc)
		return nil, ""
	case isDPoP && a.jkt == "":
		desc = "the access token is not DPoP-bound: present it as a Bearer token"
	case !isDPoP && a.jkt != "":
		desc = "the access token is DPoP-bound: present it with the DPoP scheme and a proof"
	case isDPoP && proof == nil:
		desc = "a DPoP proof is required"
	case isDPoP && proof.jkt != a.jkt:
		desc = "the DPoP proof key does not match the key the access token is bound to"
	default:
		return a, tok
	}
	p.challenge(w, o, http.StatusUnauthorized, errScheme, "invalid_token", desc)
	return nil, ""
}

// challenge writes an RFC 6750 §3 / RFC 9449 §7.1 error: WWW-Authenticate
// with the error in scheme's challenge (none when code is ""), a bare
// challenge of the other scheme when DPoP is on, and a JSON body.
func (p *Provider) challenge(w http.ResponseWriter, o Options, status int, scheme, code, desc string) {
	params := func(s string) string {
		v := s + ` realm="oidctest"`
		if s == scheme && code != "" {
			v += `, error="` + code + `", error_description="` + strings.ReplaceAll(desc, `"`, `'`) + `"`
		}
		if s == "DPoP" {
			v += `, algs="` + strings.Join(o.dpopAlgs(), " ") + `"`
		}
		return v
	}
	w.Header().Add("WWW-Authenticate", params(scheme))
	if o.dpopEnabled() {
		other := "DPoP"
		if scheme == "DPoP" {
			other = "Bearer"
		}
		w.Header().Add("WWW-Authenticate", params(other))
	}
	if code == "" {
		code = "invalid_token"
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// normalizeAccessTokens validates the access-token options.
func normalizeAccessTokens(o *Options) error {
	if o.JWTAccessTokens && o.Alg == "HS256" {
		return errors.New("oidctest: JWTAccessTokens needs an asymmetric Alg, not HS256")
	}
	return nil
}
