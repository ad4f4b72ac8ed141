package oidc

import (
	"errors"
	"fmt"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// DPoP errors (see DPoPConfig).
var (
	// ErrDPoPNotConfigured: a DPoP-bound access token was to be used
	// (FetchUserInfo, Context.Client), or Context.DPoPProof was called,
	// but Config.DPoP is nil.
	ErrDPoPNotConfigured = provider.ErrDPoPNotConfigured
	// ErrNotDPoPBound: Context.DPoPProof was called for a session whose
	// access token is not a DPoP token.
	ErrNotDPoPBound = errors.New("oidc: the session's access token is not DPoP-bound")
	// ErrDPoPBearerDowngrade: DPoP was requested from a provider that
	// advertises DPoP support and it issued a Bearer token (see
	// DPoPConfig.AllowBearerDowngrade). It also wraps ErrTokenExchange.
	ErrDPoPBearerDowngrade = provider.ErrDPoPBearerDowngrade
)

// DPoPAlgorithmError is the cause of a request that was not sent because
// no DPoP proof algorithm fits both the DPoP key (or DPoPConfig.Alg) and
// the provider's dpop_signing_alg_values_supported: the *ProviderError
// (500 "server_error") of the login, callback, Refresh, token exchange,
// FetchUserInfo or Context.Client wraps it. Find it with errors.As.
type DPoPAlgorithmError struct {
	// Configured is DPoPConfig.Alg, or "" when it was to be chosen.
	Configured string
	// Key lists the algorithms the key can sign (only Configured when it is
	// set).
	Key []string
	// Provider is the provider's dpop_signing_alg_values_supported.
	Provider []string

	err error // the error it was converted from, with its sentinels
}

// Error names both lists. The message is the one of the internal error
// the type was converted from, which names the same fields.
func (e *DPoPAlgorithmError) Error() string {
	var ae *provider.DPoPAlgError
	if errors.As(e.err, &ae) {
		return ae.Error()
	}
	return fmt.Sprintf("oidc: no usable DPoP algorithm (configured %q, key %v, provider %v)", e.Configured, e.Key, e.Provider)
}

// Unwrap returns the sentinels of the failed request (ErrTokenExchange,
// ErrPushedAuthorizationRequest or ErrUserInfo).
func (e *DPoPAlgorithmError) Unwrap() error { return e.err }

// publicCause returns the cause of an internal/provider error with the
// internal error types converted to public ones (*DPoPAlgorithmError).
func publicCause(err error) error {
	var ae *provider.DPoPAlgError
	if !errors.As(err, &ae) {
		return err
	}
	return &DPoPAlgorithmError{Configured: ae.Configured, Key: ae.Key, Provider: ae.Provider, err: err}
}
