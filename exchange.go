package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// tokenResponse is what the middleware keeps from a token response.
type tokenResponse struct {
	idToken      string
	accessToken  string
	refreshToken string
	tokenType    string
	expiresIn    int64
}

// clientAuthn is how the client authenticates at the token endpoint (and
// PAR): HTTP Basic with the secret, or extra form parameters. clientAuth
// (clientauth.go) builds one per request.
type clientAuthn struct {
	basic  bool       // client_secret_basic
	params url.Values // client_id, client_secret or client assertions
}

// outboundContext bounds ctx with HTTPTimeout.
func (m *Middleware) outboundContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.s.httpTimeout)
}

// codeReserved are the parameters of the code exchange that
// CallbackOptions.TokenEndpointParams cannot set; exchangeCode refuses them
// (Config.TokenEndpointParams is checked by New, against the same keys and
// refresh_token).
var codeReserved = map[string]bool{
	"grant_type": true, "code": true, "redirect_uri": true, "code_verifier": true, "client_id": true,
	"client_secret": true, "client_assertion": true, "client_assertion_type": true,
}

// exchangeCode redeems an authorization code with PKCE at the token
// endpoint, through the same path as the other grants (postTokenEndpoint):
// the configured client authentication, a 1 MiB cap on the answer, and
// provider descriptions scrubbed of every secret sent. extra (the
// callback's TokenEndpointParams) is merged over Config.TokenEndpointParams.
//
// Errors are *Error values for the callback: 400 with the provider's OAuth
// error code when it refuses the code; 400 invalid_token_response when its
// answer cannot be used; 503 (or 502 for a 5xx other than 503)
// provider_unavailable when it cannot be reached or fails. They wrap the
// *TokenError, and so ErrTokenExchange.
func (m *Middleware) exchangeCode(ctx context.Context, ps *providerState, code, verifier, redirectURI string, extra map[string]string) (*tokenResponse, error) {
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if codeReserved[k] {
			return nil, newError(http.StatusInternalServerError, "invalid_request",
				fmt.Sprintf("CallbackOptions.TokenEndpointParams[%q] cannot be set: the token request sets it", k), ErrBadRequest)
		}
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	for _, params := range []map[string]string{m.s.tokenParams, extra} { // both checked for reserved keys
		for k, v := range params {
			form.Set(k, v)
		}
	}
	doc, err := m.postTokenEndpoint(ctx, ps, form)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return nil, callbackTokenError(te)
		}
		return nil, err
	}
	tok, te := readToken(doc)
	if te != nil {
		return nil, callbackTokenError(te)
	}
	return tok, nil
}

// readToken validates the members of a code-exchange answer that the
// middleware relies on. Errors are invalid_token_response.
func readToken(doc map[string]any) (*tokenResponse, *TokenError) {
	invalid := func(desc string) *TokenError {
		return &TokenError{ErrorCode: "invalid_token_response", Description: desc, StatusCode: http.StatusBadGateway}
	}
	out := &tokenResponse{accessToken: stringMember(doc, "access_token"), idToken: stringMember(doc, "id_token")}
	if out.accessToken == "" {
		return nil, invalid("the token response has no access_token")
	}
	tt := stringMember(doc, "token_type")
	switch strings.ToLower(tt) {
	case "bearer":
		out.tokenType = "Bearer"
	case "dpop":
		out.tokenType = tt
	default:
		return nil, invalid("the token response has an unsupported token_type")
	}
	if v, present := doc["expires_in"]; present && v != nil {
		n, ok := expiresInMember(doc)
		if !ok {
			return nil, invalid("the token response has an invalid expires_in")
		}
		out.expiresIn = n
	}
	if v, present := doc["refresh_token"]; present && v != nil {
		rt, ok := v.(string)
		if !ok {
			return nil, invalid("the token response has an invalid refresh_token")
		}
		out.refreshToken = rt
	}
	return out, nil
}

// callbackTokenError turns a token-endpoint failure at the callback into
// the *Error the ErrorHandler renders. An unreachable or failing (5xx)
// endpoint is provider_unavailable: 503, or 502 when it answered with
// another 5xx status. A failure to prepare the client authentication is
// 500. Everything else (an OAuth error, an answer that cannot be used) is
// 400 with the error code, as for the other invalid callback responses.
//
// The *Error wraps a copy of te whose StatusCode is the status chosen here.
func callbackTokenError(te *TokenError) *Error {
	cp := *te
	code := te.ErrorCode
	switch {
	case te.unavailable():
		code, cp.StatusCode = "provider_unavailable", http.StatusServiceUnavailable
		if te.StatusCode >= 500 && te.StatusCode != http.StatusServiceUnavailable {
			cp.StatusCode = http.StatusBadGateway
		}
	case te.StatusCode == http.StatusInternalServerError:
		// Only local failures are 500 without ErrProviderUnavailable.
	default:
		cp.StatusCode = http.StatusBadRequest
	}
	return newError(cp.StatusCode, code, te.Description, &cp)
}
