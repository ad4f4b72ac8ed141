package oidc

import (
	"context"
	"errors"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// This file is the root package's boundary to internal/provider, which
// holds the provider wire code: discovery, keys, client authentication,
// PAR and JAR, the token endpoint, userinfo and revocation.

// providerSettings is the internal/provider configuration of s. New builds
// it once, after validation.
func (s *settings) providerSettings() provider.Settings {
	ps := provider.Settings{
		IssuerBaseURL: s.issuerBaseURL,
		ClientID:      s.clientID,
		ClientSecret:  s.clientSecret,
		AuthMethod:    s.authMethod,
		AssertionKey:  s.assertionKey,
		AssertionAlg:  s.assertionAlg,
		RequestKey:    s.requestKey,
		RequestAlg:    s.requestAlg,
		RequestKeyID:  s.requestKeyID,
		PAR:           s.par,
		UseMTLS:       s.useMTLS,
		IDTokenAlg:    s.alg,
		HTTPClient:    s.httpClient,
		HTTPTimeout:   s.httpTimeout,
		UserAgent:     s.userAgent,
		DiscoveryTTL:  s.discoveryTTL,
		JWKSMaxAge:    s.jwksMaxAge,
		Logger:        s.logger,
		Now:           s.now,
		Random:        s.random,
	}
	if d := s.dpop; d != nil {
		ps.DPoPKey, ps.DPoPAlg, ps.DPoPAllowBearer = d.key, d.alg, d.allowBearer
	}
	return ps
}

// fromProvider converts the *provider.Error in err's chain, which every
// error of internal/provider holds, into the public *ProviderError with
// the same fields and cause. Any other error is returned unchanged.
func fromProvider(err error) error {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return err
	}
	cause := publicCause(pe.Err)
	if pe.Code == "invalid_target" {
		cause = errors.Join(ErrInvalidTarget, cause)
	}
	return &ProviderError{Code: pe.Code, Description: pe.Description, URI: pe.URI, StatusCode: pe.StatusCode, cause: cause}
}

// providerPage is the *Error page of an internal/provider error: the
// ProviderError's status, code and description, wrapping it (see
// ProviderError.page).
func providerPage(err error) error {
	var pe *ProviderError
	if errors.As(fromProvider(err), &pe) {
		return pe.page()
	}
	return err
}

// discover returns the provider's current metadata (cached; see
// provider.Client.Discover). Errors are *ProviderError values.
func (m *Middleware) discover(ctx context.Context) (*provider.Metadata, error) {
	md, err := m.provider.Discover(ctx)
	if err != nil {
		return nil, fromProvider(err)
	}
	return md, nil
}
