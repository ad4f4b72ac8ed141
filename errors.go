package oidc

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Errors returned or reported by this package wrap one of
// them where it applies, so callers can branch with errors.Is.
var (
	// ErrInvalidConfig: the Config was rejected; see *ConfigError.
	ErrInvalidConfig = errors.New("oidc: invalid config")
	// ErrProviderUnavailable: the OpenID provider could not be reached or
	// answered with an error while its metadata or keys were fetched.
	ErrProviderUnavailable = errors.New("oidc: provider unavailable")
	// ErrIssuerMismatch: the discovered issuer differs from IssuerBaseURL (see
	// Config.IssuerBaseURL for what matches). Logins and callbacks then fail
	// with the *Error 500 "issuer_mismatch", which names both issuers and
	// wraps ErrIssuerMismatch but not ErrProviderUnavailable: the provider
	// answers, and retrying does not help. The token APIs (Refresh,
	// CustomTokenExchange, FetchUserInfo) report it like any other failed
	// discovery, also wrapping ErrProviderUnavailable.
	ErrIssuerMismatch = errors.New("oidc: discovered issuer does not match IssuerBaseURL")
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
	// with an invalid response.
	ErrTokenExchange = errors.New("oidc: token request failed")
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

	// Back-channel logout (backchannel.go).

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

// Error is the error reported to Config.ErrorHandler, and returned by
// Context methods that talk to the provider. Status is the HTTP status the
// middleware answers with, Code an OAuth-style error code and Description a
// human-readable explanation. Neither carries secrets or tokens; the
// provider's own error_description is passed through and must be escaped
// before it is rendered.
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

// unavailable is the error page of a login or callback that cannot use the
// provider: 503 provider_unavailable, except for an issuer mismatch, which
// is a configuration problem that retrying does not fix: 500
// issuer_mismatch, naming both issuers.
func unavailable(cause error) *Error {
	var mm *issuerMismatchError
	if errors.As(cause, &mm) {
		return newError(http.StatusInternalServerError, "issuer_mismatch", fmt.Sprintf(
			"The login is misconfigured: this application's IssuerBaseURL is %q, but the login provider names its issuer %q. "+
				"Set IssuerBaseURL to the provider's issuer.", mm.configured, mm.discovered), cause)
	}
	return newError(http.StatusServiceUnavailable, "provider_unavailable",
		"The login provider cannot be reached right now. Please try again shortly.", cause)
}
