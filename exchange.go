package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
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

// oauth2Config returns the x/oauth2 configuration for the token endpoint and
// the options that carry the client authentication.
func (m *Middleware) oauth2Config(ps *providerState, redirectURI string) (*oauth2.Config, []oauth2.AuthCodeOption, error) {
	authn, err := m.clientAuth(ps)
	if err != nil {
		return nil, nil, err
	}
	cfg := &oauth2.Config{
		ClientID:    m.s.clientID,
		RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   ps.md.AuthorizationEndpoint,
			TokenURL:  ps.md.TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	var opts []oauth2.AuthCodeOption
	if authn.basic {
		// x/oauth2 form-encodes id and secret before Base64 (RFC 6749 §2.3.1).
		cfg.ClientSecret = m.s.clientSecret
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	for k, vs := range authn.params {
		if k == "client_id" {
			continue // x/oauth2 sends it with AuthStyleInParams
		}
		opts = append(opts, oauth2.SetAuthURLParam(k, vs[0]))
	}
	return cfg, opts, nil
}

// outboundContext bounds ctx with HTTPTimeout and carries the outbound
// client for x/oauth2.
func (m *Middleware) outboundContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	return context.WithValue(ctx, oauth2.HTTPClient, m.provider.client), cancel
}

// exchangeCode redeems an authorization code with PKCE.
func (m *Middleware) exchangeCode(ctx context.Context, ps *providerState, code, verifier, redirectURI string, extra map[string]string) (*tokenResponse, error) {
	if ps.md.TokenEndpoint == "" {
		return nil, unavailable(errors.New("the provider has no token_endpoint"))
	}
	cfg, opts, err := m.oauth2Config(ps, redirectURI)
	if err != nil {
		return nil, err
	}
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	for _, params := range []map[string]string{m.s.tokenParams, extra} {
		for k, v := range params {
			switch k {
			case "grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret",
				"client_assertion", "client_assertion_type":
				continue
			}
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	ctx, cancel := m.outboundContext(ctx)
	defer cancel()
	tok, err := cfg.Exchange(ctx, code, opts...)
	if err != nil {
		return nil, tokenError(err)
	}
	return m.readToken(tok)
}

// readToken validates the token response members the middleware relies on.
func (m *Middleware) readToken(tok *oauth2.Token) (*tokenResponse, error) {
	if tok.AccessToken == "" {
		return nil, newError(http.StatusBadGateway, "invalid_token_response", "the token response has no access_token", ErrTokenExchange)
	}
	tt := tok.TokenType
	switch strings.ToLower(tt) {
	case "bearer":
		tt = "Bearer"
	case "dpop":
	default:
		return nil, newError(http.StatusBadGateway, "invalid_token_response", "the token response has an unsupported token_type", ErrTokenExchange)
	}
	out := &tokenResponse{
		accessToken:  tok.AccessToken,
		refreshToken: tok.RefreshToken,
		tokenType:    tt,
		expiresIn:    tok.ExpiresIn,
	}
	if id, ok := tok.Extra("id_token").(string); ok {
		out.idToken = id
	}
	return out, nil
}

// tokenError maps an x/oauth2 error to an *Error without echoing the
// response body (which may contain tokens).
func tokenError(err error) *Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := http.StatusBadRequest
		code := sanitizeCode(re.ErrorCode)
		if code == "" {
			code = "invalid_token_response"
			status = http.StatusBadGateway
		}
		desc := re.ErrorDescription
		if desc == "" {
			desc = "the token endpoint refused the request"
		}
		return newError(status, code, desc, errors.Join(ErrTokenExchange, errors.New(code)))
	}
	return newError(http.StatusBadGateway, "provider_unavailable", "the token endpoint could not be reached",
		errors.Join(ErrTokenExchange, ErrProviderUnavailable, redactURLError(err)))
}
