package oidctest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Resource indicators (RFC 8707), with Options.ResourceIndicators or
// Options.Resources:
//
//   - /authorize and /par accept one or more resource parameters: absolute
//     URIs without a fragment, and members of Options.Resources when it is
//     set; anything else is invalid_target. The authorization code and the
//     refresh tokens of the grant remember them.
//   - The token endpoint (code and refresh grants) takes at most one
//     resource, which must be one of the granted ones (else 400
//     invalid_target), and issues an access token for it alone: its
//     audience. Without resource, like node-oidc-provider: the userinfo
//     audience ([Provider.UserinfoAudience]) when the scope has openid or
//     nothing was granted, else the granted resource if there is one
//     (several: invalid_target). A refresh may also narrow the scope.
//   - [Provider.Resource] accepts only tokens for its audience, and the
//     userinfo endpoint only tokens for the userinfo audience.
//
// Without the options, resource parameters are ignored like a provider
// without RFC 8707 would, and every access token is for userinfo.

// resourceIndicators reports whether RFC 8707 is on.
func (o *Options) resourceIndicators() bool { return o.ResourceIndicators || len(o.Resources) > 0 }

// normalizeResources validates Options.Resources.
func normalizeResources(o *Options) error {
	for _, r := range o.Resources {
		if !absoluteResource(r) {
			return fmt.Errorf("oidctest: resource %q is not an absolute URI without a fragment", r)
		}
	}
	return nil
}

// absoluteResource checks the syntax of RFC 8707 §2.
func absoluteResource(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.IsAbs() && (u.Host != "" || u.Opaque != "") &&
		!strings.Contains(raw, "#") && !strings.ContainsAny(raw, " \t\r\n")
}

// checkResources validates the resource parameters of an authorization
// request and returns them without duplicates.
func checkResources(params url.Values, o Options) ([]string, *authzError) {
	if !o.resourceIndicators() {
		return nil, nil
	}
	var out []string
	for _, r := range params["resource"] {
		switch {
		case !absoluteResource(r):
			return nil, &authzError{code: "invalid_target", desc: "resource must be an absolute URI without a fragment", redirect: true}
		case len(o.Resources) > 0 && !slices.Contains(o.Resources, r):
			return nil, &authzError{code: "invalid_target", desc: "unknown resource " + r, redirect: true}
		case !slices.Contains(out, r):
			out = append(out, r)
		}
	}
	return out, nil
}

// tokenAudience resolves the audience of an access token request (see
// above). granted are the resources of the grant, scope the token's scope.
func (p *Provider) tokenAudience(o Options, form url.Values, granted []string, scope string) (string, *oauthError) {
	if !o.resourceIndicators() {
		return p.userinfoAudience(), nil
	}
	asked := form["resource"]
	switch {
	case len(asked) > 1:
		return "", badRequest("invalid_target", "only one resource may be requested at the token endpoint")
	case len(asked) == 1 && !slices.Contains(granted, asked[0]):
		return "", badRequest("invalid_target", "the resource was not granted by the authorization request")
	case len(asked) == 1:
		return asked[0], nil
	case len(granted) == 0 || slices.Contains(strings.Fields(scope), "openid"):
		return p.userinfoAudience(), nil
	case len(granted) == 1:
		return granted[0], nil
	}
	return "", badRequest("invalid_target", "several resources were granted: name one with the resource parameter")
}

// Resource returns a protected resource (an API) for tests: it accepts
// only access tokens this provider issued for audience (see
// [Options.ResourceIndicators]; [Provider.UserinfoAudience] for tokens
// without a resource) and still honours, presented with the Bearer scheme,
// or, when DPoP-bound, with the DPoP scheme and a valid proof of the bound
// key (see dpop.go; ath and, with [Options.ResourceDPoPNonce], the nonce
// are required). It answers any method with 200 and JSON: sub, aud,
// scope, client_id, token_type ("Bearer" or "DPoP") and jkt. Failures are
// RFC 6750 / RFC 9449 errors: 401 with WWW-Authenticate (invalid_token,
// invalid_dpop_proof, use_dpop_nonce with a DPoP-Nonce header) and a JSON
// body, or 400 for a token in the query. The proof's htu must be the URL
// the handler was reached at. Calls count as [EndpointResource]; the
// handler ignores SetDown, Latency and Intercept.
func (p *Provider) Resource(audience string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.calls[EndpointResource]++
		o := p.snapshot()
		p.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Query().Has("access_token") {
			p.challenge(w, o, http.StatusBadRequest, "Bearer", "invalid_request", "access tokens are only accepted in the Authorization header")
			return
		}
		a, _ := p.presentedToken(w, r, o, EndpointResource, audience)
		if a == nil {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"sub": a.sub, "aud": a.aud, "scope": a.scope, "client_id": a.clientID,
			"token_type": tokenType(a.jkt), "jkt": a.jkt,
		})
	})
}
