package oidc

import (
	"context"
	"errors"
	"net/http"
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

// oauth2Config returns the x/oauth2 configuration for the token endpoint.
func (m *Middleware) oauth2Config(ps *providerState, redirectURI string) *oauth2.Config {
	style := oauth2.AuthStyleInHeader // client_secret_basic: form-encoded id and secret (RFC 6749 §2.3.1)
	if m.s.authMethod == "client_secret_post" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     m.s.clientID,
		ClientSecret: m.s.clientSecret,
		RedirectURL:  redirectURI,
		Endpoint: oauth2.Endpoint{
			AuthURL:   ps.md.AuthorizationEndpoint,
			TokenURL:  ps.md.TokenEndpoint,
			AuthStyle: style,
		},
	}
}

// exchangeCode redeems an authorization code with PKCE.
func (m *Middleware) exchangeCode(ctx context.Context, ps *providerState, code, verifier, redirectURI string, extra map[string]string) (*tokenResponse, error) {
	if ps.md.TokenEndpoint == "" {
		return nil, unavailable(errors.New("the provider has no token_endpoint"))
	}
	var opts []oauth2.AuthCodeOption
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	for _, params := range []map[string]string{m.s.tokenParams, extra} {
		for k, v := range params {
			switch k {
			case "grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret":
				continue
			}
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, m.provider.client)
	tok, err := m.oauth2Config(ps, redirectURI).Exchange(ctx, code, opts...)
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
