package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// codeReserved are the parameters of the code exchange that
// CallbackOptions.TokenEndpointParams cannot set; exchangeCode refuses them
// (Config.TokenEndpointParams is checked by New, against the same keys and
// refresh_token).
var codeReserved = map[string]bool{
	"grant_type": true, "code": true, "redirect_uri": true, "code_verifier": true, "client_id": true,
	"client_secret": true, "client_assertion": true, "client_assertion_type": true,
}

// exchangeCode redeems an authorization code with PKCE at the token
// endpoint, through the path of every grant (provider.Client.Token): the
// configured client authentication, a 1 MiB cap on the answer, and
// provider descriptions scrubbed of every secret sent. extra (the
// callback's TokenEndpointParams) is merged over Config.TokenEndpointParams.
//
// Errors are *Error values for the callback: 400 with the provider's OAuth
// error code when it refuses the code; 400 invalid_token_response when its
// answer cannot be used; 503 (or 502 for a 5xx other than 503)
// provider_unavailable when it cannot be reached or fails. They wrap the
// *ProviderError, and so ErrTokenExchange.
func (m *Middleware) exchangeCode(ctx context.Context, md *provider.Metadata, code, verifier, redirectURI string, extra map[string]string) (*provider.Tokens, error) {
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if codeReserved[k] {
			return nil, newError(http.StatusInternalServerError, "invalid_request",
				fmt.Sprintf("CallbackOptions.TokenEndpointParams[%q] cannot be set: the token request sets it", k), ErrBadRequest)
		}
	}
	form := url.Values{"grant_type": {provider.GrantAuthorizationCode}, "code": {code}, "redirect_uri": {redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	for _, params := range []map[string]string{m.s.tokenParams, extra} { // both checked for reserved keys
		for k, v := range params {
			form.Set(k, v)
		}
	}
	doc, err := m.provider.Token(ctx, md, form)
	var tok *provider.Tokens
	if err == nil {
		tok, err = doc.Tokens(provider.GrantAuthorizationCode)
	}
	if err != nil {
		var pe *ProviderError
		if errors.As(fromProvider(err), &pe) {
			return nil, callbackTokenError(pe)
		}
		return nil, err
	}
	return tok, nil
}

// callbackTokenError turns a token-endpoint failure at the callback into
// the *Error the ErrorHandler renders. An unreachable or failing (5xx)
// endpoint is provider_unavailable: 503, or 502 when it answered with
// another 5xx status. A failure to prepare the client authentication is
// 500. Everything else (an OAuth error, an answer that cannot be used) is
// 400 with the error code, as for the other invalid callback responses.
//
// The *Error wraps a copy of pe whose StatusCode is the status chosen here.
func callbackTokenError(pe *ProviderError) *Error {
	cp := *pe
	code := pe.Code
	switch {
	case pe.unavailable():
		code, cp.StatusCode = "provider_unavailable", http.StatusServiceUnavailable
		if pe.StatusCode >= 500 && pe.StatusCode != http.StatusServiceUnavailable {
			cp.StatusCode = http.StatusBadGateway
		}
	case pe.StatusCode == http.StatusInternalServerError:
		// Only local failures are 500 without ErrProviderUnavailable.
	default:
		cp.StatusCode = http.StatusBadRequest
	}
	return newError(cp.StatusCode, code, pe.Description, &cp)
}
