package oidc

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// Sentinel errors. Errors returned or reported by this package wrap one of
// them where it applies, so callers can branch with errors.Is.
var (
	// ErrInvalidConfig: the Config was rejected; see *ConfigError.
	ErrInvalidConfig = errors.New("oidc: invalid config")
	// ErrProviderUnavailable: the OpenID provider could not be reached,
	// timed out, answered 5xx, or answered a discovery or JWKS request with
	// a document that cannot be used. The *ProviderError of such failures
	// has the code "provider_unavailable".
	ErrProviderUnavailable = provider.ErrUnavailable
	// ErrIssuerMismatch: the discovered issuer differs from IssuerBaseURL (see
	// Config.IssuerBaseURL for what matches). Logins and callbacks then fail
	// with the *Error 500 "issuer_mismatch", which names both issuers and
	// wraps ErrIssuerMismatch but not ErrProviderUnavailable: the provider
	// answers, and retrying does not help. The token APIs (Refresh,
	// CustomTokenExchange, FetchUserInfo) report it like any other failed
	// discovery, also wrapping ErrProviderUnavailable.
	ErrIssuerMismatch = provider.ErrIssuerMismatch
	// ErrMTLSEndpointAliasesMissing: UseMTLS is set, but the provider's
	// discovery document has no mtls_endpoint_aliases entry for the token
	// endpoint (or for the PAR endpoint when PushedAuthorizationRequests is
	// set). Discovery fails with it (wrapping ErrProviderUnavailable), as
	// express-openid-connect's MtlsError mtls_endpoint_aliases_missing.
	ErrMTLSEndpointAliasesMissing = provider.ErrMTLSEndpointAliasesMissing
	// ErrMissingTransaction: a callback arrived without a valid transaction
	// cookie (not started here, expired, or tampered with).
	ErrMissingTransaction = errors.New("oidc: login transaction cookie not found")
	// ErrStateMismatch: the state parameter did not match the transaction.
	ErrStateMismatch = errors.New("oidc: state mismatch")
	// ErrIssuerParameter: the RFC 9207 iss parameter was wrong or missing.
	ErrIssuerParameter = errors.New("oidc: unexpected iss parameter")
	// ErrAuthorization: the provider answered the authorization request with
	// an error (for example login_required or access_denied).
	ErrAuthorization = errors.New("oidc: authorization error")
	// ErrInvalidIDToken: an ID token failed validation.
	ErrInvalidIDToken = errors.New("oidc: invalid ID token")
	// ErrNonceMismatch: the ID token's nonce did not match the transaction
	// (it also wraps ErrInvalidIDToken).
	ErrNonceMismatch = errors.New("oidc: nonce mismatch")
	// ErrTokenExchange: the token endpoint refused the request or answered
	// with an invalid response, or the request was refused before it was
	// sent. Every *ProviderError of Refresh, CustomTokenExchange and the
	// callback's code exchange wraps it.
	ErrTokenExchange = provider.ErrTokenRequest
	// ErrPushedAuthorizationRequest: the provider's PAR endpoint refused the
	// pushed authorization request or answered with an invalid response, or
	// the provider has no usable PAR endpoint.
	ErrPushedAuthorizationRequest = provider.ErrPushedAuthorizationRequest
	// ErrLoginRejected: AfterCallback refused the login.
	ErrLoginRejected = errors.New("oidc: login rejected by AfterCallback")
	// ErrNoMiddleware: a guard or helper ran without the Auth middleware.
	ErrNoMiddleware = errors.New("oidc: no oidc.Context in the request; wrap the handler with oidc.Auth")
	// ErrBadRequest: the request itself was malformed, or an option passed
	// to a Context method (LoginOptions, CallbackOptions, RefreshOptions,
	// TokenExchangeOptions) cannot be used; the error names the option.
	ErrBadRequest = errors.New("oidc: bad request")
	// ErrResponseCommitted: a session change (Context.Set, Delete,
	// SetSession, Refresh) was refused because the response headers were
	// already written and the change could no longer be saved. The session
	// is left as it was. In store mode a change to a session that keeps its
	// store id is still saved (to the store, at once) and does not fail.
	ErrResponseCommitted = errors.New("oidc: the response headers were already written; the session change cannot be saved")

	// Token APIs (Refresh, FetchUserInfo, CustomTokenExchange). See also
	// ErrTokenExchange and ErrProviderUnavailable.

	// ErrSessionExpired: the provider's session_expiry ceiling (minus a 30 s
	// leeway) has been reached, so the session's tokens may no longer be
	// refreshed. The user must log in again.
	ErrSessionExpired = errors.New("oidc: the upstream IdP session has expired")
	// ErrNoAccessToken: the session holds no access token (anonymous, or an
	// implicit-flow login).
	ErrNoAccessToken = errors.New("oidc: the session has no access token")
	// ErrNoRefreshToken: the session holds no refresh token (anonymous, the
	// provider issued none, or an invalid_grant answer ended the session or,
	// with Config.KeepSessionOnInvalidGrant, removed the tokens).
	ErrNoRefreshToken = errors.New("oidc: the session has no refresh token")
	// ErrInvalidTarget: the provider refused a resource indicator (RFC
	// 8707 invalid_target): a resource it does not know, one the login did
	// not ask for (Context.AccessTokenFor), or several where one is needed.
	// From the token or PAR endpoint, the *ProviderError has the Code
	// "invalid_target" and wraps it (with ErrTokenExchange or
	// ErrPushedAuthorizationRequest), and the session is left as it was; an
	// authorization response with that error fails the login with an *Error
	// "invalid_target" wrapping it and ErrAuthorization.
	ErrInvalidTarget = errors.New("oidc: the provider refused the resource (invalid_target)")
	// ErrUserInfo: the userinfo request failed or its answer was invalid.
	ErrUserInfo = provider.ErrUserInfo
	// ErrUserInfoSubjectMismatch: the userinfo response names another
	// subject than the ID token (it also wraps ErrUserInfo).
	ErrUserInfoSubjectMismatch = provider.ErrUserInfoSubjectMismatch

	// Back-channel logout (backchannel*.go, logoutmarkers.go).

	// ErrInvalidLogoutToken: a back-channel logout token failed validation.
	ErrInvalidLogoutToken = errors.New("oidc: invalid logout token")
	// ErrLogoutTokenReplay: a logout token's jti was seen before (it also
	// wraps ErrInvalidLogoutToken).
	ErrLogoutTokenReplay = errors.New("oidc: logout token replayed")
	// ErrLogoutCheck: a BackchannelLogout IsLoggedOut or OnLogin hook
	// failed. Errors of the default hooks wrap ErrStoreUnavailable or
	// ErrProviderUnavailable instead.
	ErrLogoutCheck = errors.New("oidc: back-channel logout check failed")
	// ErrLoggedOut: a login was refused because its new session is already
	// logged out through the back channel (the provider ended that session,
	// or every session of the user, after the login started and before its
	// response was delivered).
	ErrLoggedOut = errors.New("oidc: the login's provider session was logged out")

	// Store-backed sessions.

	// ErrInvalidSessionID: Session.Genid returned an id that cannot be used
	// as a session id (empty, longer than 256 bytes, or containing a byte
	// that is not printable ASCII, or one of ';', ',', '"', '\', '.' and
	// '|'), or the id of the session it replaces.
	ErrInvalidSessionID = errors.New("oidc: Session.Genid returned an unusable session id")
)

// ConfigError reports an invalid Config option. Option names the field, in Go
// syntax (for example "Session.Cookie.Secure"); Reason says what is wrong
// and, for options with an environment fallback (SECRET, ISSUER_BASE_URL,
// BASE_URL, CLIENT_ID, CLIENT_SECRET, AUTH0_MTLS), names the variable.
//
// New reports every invalid option at once: one *ConfigError, or several
// joined with errors.Join (one line each). errors.As finds the first one,
// and errors.Is(err, ErrInvalidConfig) holds either way; to list them all,
// unwrap with interface{ Unwrap() []error }.
type ConfigError struct {
	Option string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("oidc: invalid config: %s: %s", e.Option, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// Error is the error reported to Config.ErrorHandler (the error page), and
// returned by some Context methods (FetchUserInfo, and Refresh for
// failures before the provider is asked). Status is the HTTP status the
// middleware answers with, Code an OAuth-style error code and Description a
// human-readable explanation. Neither carries secrets or tokens; the
// provider's own error_description is passed through and must be escaped
// before it is rendered. When the provider was involved (an outage, an
// issuer mismatch, a refused or invalid PAR, token or userinfo request),
// Err is or wraps the *ProviderError.
type Error struct {
	Status      int
	Code        string
	Description string
	Err         error
}

func (e *Error) Error() string {
	msg := "oidc: " + e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status.
func (e *Error) StatusCode() int { return e.Status }

func newError(status int, code, desc string, cause error) *Error {
	return &Error{Status: status, Code: code, Description: desc, Err: cause}
}

// statusOf returns the status carried by err, or fallback.
func statusOf(err error, fallback int) int {
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		if s := sc.StatusCode(); s >= 400 && s <= 599 {
			return s
		}
	}
	return fallback
}

// ProviderError is an error of the OpenID provider, or of a request to it:
// what the token endpoint (authorization code, refresh, token exchange),
// the PAR endpoint, the userinfo endpoint, discovery or the JWKS answered,
// or that they could not be reached or used. errors.As finds it in every
// error of a Context method that involved the provider: Refresh,
// CustomTokenExchange, TokenSource and Client (through Refresh) return it;
// FetchUserInfo returns, and Login and Callback report to the
// ErrorHandler, an *Error (the page) wrapping it. Failures that never
// reach the provider keep their own errors and sentinels (no refresh
// token, an expired IdP session, a response already committed), except
// that the token APIs report a refused request of their own as a
// ProviderError too (see below).
//
// Code is the OAuth error code (RFC 6749 §5.2, for example "invalid_grant"
// or "mfa_required", reduced to its allowed character set), or one of this
// package's codes:
//   - "provider_unavailable": a network error, a timeout, a 5xx answer, or
//     a discovery or JWKS document that cannot be used (StatusCode 503 for
//     a network error, a timeout or a 503 answer; else 502 or, from the
//     token endpoint, the provider's status); it wraps
//     ErrProviderUnavailable;
//   - "issuer_mismatch" (500): the discovered issuer differs from
//     IssuerBaseURL (it wraps ErrIssuerMismatch);
//   - "invalid_token_response", "invalid_id_token", "invalid_par_response",
//     "invalid_userinfo_response", "userinfo_unsupported" (502): an answer
//     that cannot be used;
//   - "invalid_token" (401): the userinfo endpoint refused the access token;
//   - "invalid_request" (400): a token request that Refresh or
//     CustomTokenExchange refused before sending it (a reserved parameter,
//     inconsistent options); it wraps ErrBadRequest;
//   - "server_error" (500): a request that could not be prepared (a client
//     assertion, request object or DPoP proof that could not be signed, a
//     missing PAR endpoint, no DPoP proof algorithm that fits the provider:
//     see DPoPAlgorithmError).
//
// Description is the provider's error_description, reduced to printable
// ASCII, bounded, and with every secret and token value sent removed; or
// our explanation. URI is the provider's error_uri when it sent an
// absolute http(s) URL without any of those values; otherwise "".
// StatusCode is the HTTP status to answer with (see each method; for OAuth
// errors of Refresh it is the provider's status).
//
// It wraps the sentinels of its source: ErrTokenExchange (the token
// endpoint), ErrPushedAuthorizationRequest (PAR), ErrUserInfo (userinfo),
// and ErrProviderUnavailable or ErrIssuerMismatch as above. Error never
// contains token values.
type ProviderError struct {
	Code        string
	Description string
	URI         string
	StatusCode  int

	cause error // sentinels and causes, for errors.Is and errors.As
}

// Error returns "oidc: provider error: CODE: DESCRIPTION" (without ": "
// and the description when there is none).
func (e *ProviderError) Error() string { return provider.Message(e.Code, e.Description) }

// Unwrap returns the sentinels and the underlying cause.
func (e *ProviderError) Unwrap() error { return e.cause }

// unavailable reports whether the provider could not be reached or failed
// (5xx); such failures never change the session.
func (e *ProviderError) unavailable() bool { return errors.Is(e.cause, ErrProviderUnavailable) }

// page returns the *Error the ErrorHandler renders for e: its status (502
// when it is not an error status), code and description, wrapping e.
func (e *ProviderError) page() *Error {
	status := e.StatusCode
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
	}
	return newError(status, e.Code, e.Description, e)
}

// tokenError is a token-request failure the root package detects itself
// (a refused option, an ID token that does not match): it wraps
// ErrTokenExchange and cause.
func tokenError(status int, code, desc string, cause error) *ProviderError {
	err := ErrTokenExchange
	if cause != nil {
		err = fmt.Errorf("%w: %w", ErrTokenExchange, cause)
	}
	return &ProviderError{Code: code, Description: desc, StatusCode: status, cause: err}
}

// localTokenError is a token request refused before anything was sent
// (400 invalid_request, wrapping ErrBadRequest).
func localTokenError(desc string) *ProviderError {
	return tokenError(http.StatusBadRequest, "invalid_request", desc, ErrBadRequest)
}

// unavailable is the error page of a login or callback that cannot use the
// provider: 503 provider_unavailable, except for an issuer mismatch, which
// is a configuration problem that retrying does not fix: 500
// issuer_mismatch, naming both issuers.
func unavailable(cause error) *Error {
	var mm *provider.IssuerMismatchError
	if errors.As(cause, &mm) {
		return newError(http.StatusInternalServerError, "issuer_mismatch", fmt.Sprintf(
			"The login is misconfigured: this application's IssuerBaseURL is %q, but the login provider names its issuer %q. "+
				"Set IssuerBaseURL to the provider's issuer.", mm.Configured, mm.Discovered), cause)
	}
	return newError(http.StatusServiceUnavailable, "provider_unavailable",
		"The login provider cannot be reached right now. Please try again shortly.", cause)
}
