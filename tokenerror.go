package oidc

import (
	"errors"
	"net/http"
	"strings"
)

// Sentinel errors of the token APIs (Refresh, FetchUserInfo,
// CustomTokenExchange). See also ErrTokenExchange and ErrProviderUnavailable.
var (
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
	// ErrUserInfo: the userinfo request failed or its answer was invalid.
	ErrUserInfo = errors.New("oidc: userinfo request failed")
	// ErrUserInfoSubjectMismatch: the userinfo response names another
	// subject than the ID token (it also wraps ErrUserInfo).
	ErrUserInfoSubjectMismatch = errors.New("oidc: userinfo sub does not match the ID token")
)

// TokenError is the error returned by Context.Refresh and
// Context.CustomTokenExchange when the token endpoint refuses a request, its
// answer is invalid, it cannot be reached, or (for token exchange) the
// request is invalid before anything is sent. The *Error of a callback whose
// code exchange failed wraps one too, with the callback's status.
//
// ErrorCode is the OAuth error code (RFC 6749 §5.2, for example
// "invalid_grant" or "mfa_required", reduced to its allowed character set),
// or one of this package's codes: "invalid_request" (local validation),
// "invalid_token_response" and "invalid_id_token" (a malformed answer),
// "provider_unavailable" (network error, timeout or 5xx) and "server_error"
// (the client authentication could not be prepared, 500). Description is the
// provider's error_description or our explanation; values of the tokens
// sent are removed from it. StatusCode is the HTTP status to answer with: see
// Refresh and CustomTokenExchange.
//
// Every TokenError wraps ErrTokenExchange; those caused by an unreachable
// provider or a 5xx answer also wrap ErrProviderUnavailable, and local
// validation failures wrap ErrBadRequest. Error never contains token values.
type TokenError struct {
	ErrorCode   string
	Description string
	StatusCode  int

	cause error // sentinels and causes, for errors.Is and errors.As
}

// Error returns "oidc: token request failed: CODE: DESCRIPTION".
func (e *TokenError) Error() string {
	msg := "oidc: token request failed: " + e.ErrorCode
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Unwrap returns ErrTokenExchange and the underlying causes.
func (e *TokenError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrTokenExchange}
	}
	return []error{ErrTokenExchange, e.cause}
}

// unavailable reports whether the error is about an unreachable or
// failing (5xx) provider; such failures never change the session.
func (e *TokenError) unavailable() bool { return errors.Is(e.cause, ErrProviderUnavailable) }

// asError converts e into the *Error the ErrorHandler renders.
func (e *TokenError) asError() *Error {
	status := e.StatusCode
	if status < 400 || status > 599 {
		status = http.StatusBadGateway
	}
	return newError(status, e.ErrorCode, e.Description, e)
}

// localTokenError is a request refused before anything was sent (400).
func localTokenError(desc string) *TokenError {
	return &TokenError{ErrorCode: "invalid_request", Description: desc, StatusCode: http.StatusBadRequest, cause: ErrBadRequest}
}

// maxErrorDescription bounds a provider's error_description.
const maxErrorDescription = 512

// cleanDescription makes a provider's error_description safe to log and show:
// printable ASCII only, bounded in length, and without any of the secret
// values that were sent (in case the provider echoes them).
func cleanDescription(desc string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			desc = strings.ReplaceAll(desc, s, redacted)
		}
	}
	desc = strings.Map(func(r rune) rune {
		if r >= 0x20 && r <= 0x7e {
			return r
		}
		return -1
	}, desc)
	if len(desc) > maxErrorDescription {
		desc = desc[:maxErrorDescription]
	}
	return desc
}
