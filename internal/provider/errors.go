package provider

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Sentinels. The root package re-exports each one under its own name
// (ErrProviderUnavailable for ErrUnavailable, ErrTokenExchange for
// ErrTokenRequest, the others as they are), so errors.Is holds with either.
var (
	// ErrUnavailable: the provider could not be reached, timed out,
	// answered 5xx, or answered discovery or JWKS requests with a document
	// that cannot be used.
	ErrUnavailable = errors.New("oidc: provider unavailable")
	// ErrIssuerMismatch: the discovered issuer differs from IssuerBaseURL.
	ErrIssuerMismatch = errors.New("oidc: discovered issuer does not match IssuerBaseURL")
	// ErrMTLSEndpointAliasesMissing: UseMTLS is set, but the discovery
	// document has no mtls_endpoint_aliases entry for the token endpoint
	// (or for the PAR endpoint when PAR is set).
	ErrMTLSEndpointAliasesMissing = errors.New("oidc: the provider has no mtls_endpoint_aliases for the token or PAR endpoint")
	// ErrPushedAuthorizationRequest: the PAR endpoint refused the request,
	// answered with an invalid response, or is not configured.
	ErrPushedAuthorizationRequest = errors.New("oidc: pushed authorization request failed")
	// ErrTokenRequest: the token endpoint refused the request or answered
	// with an invalid response.
	ErrTokenRequest = errors.New("oidc: token request failed")
	// ErrUserInfo: the userinfo request failed or its answer was invalid.
	ErrUserInfo = errors.New("oidc: userinfo request failed")
	// ErrUserInfoSubjectMismatch: the userinfo answer names another subject
	// than the ID token.
	ErrUserInfoSubjectMismatch = errors.New("oidc: userinfo sub does not match the ID token")
	// ErrNoRevocationEndpoint: the provider advertises no
	// revocation_endpoint.
	ErrNoRevocationEndpoint = errors.New("the provider has no revocation_endpoint")
)

// Error codes of our own, next to the OAuth codes the provider sends.
const (
	codeUnavailable   = "provider_unavailable"
	codeServerError   = "server_error"
	codeTokenResponse = "invalid_token_response"
)

// Error is a failed request to the provider, or one that could not be made:
// the error (an RFC 6749 §5.2 code from the provider, reduced to its
// character set, or one of our codes), its description (the provider's
// error_description, scrubbed of every secret sent, or our explanation),
// the provider's error_uri (when it sent a usable one) and the HTTP status
// to answer with. Err holds this package's sentinels and the cause; it
// never holds token values or response bodies.
type Error struct {
	Code        string
	Description string
	URI         string
	StatusCode  int
	Err         error
}

// Error returns Message(e.Code, e.Description).
func (e *Error) Error() string { return Message(e.Code, e.Description) }

// Message is the text of a provider error, here and in the root package's
// ProviderError: "oidc: provider error: CODE: DESCRIPTION", without the
// description when there is none.
func Message(code, desc string) string {
	if desc == "" {
		return "oidc: provider error: " + code
	}
	return "oidc: provider error: " + code + ": " + desc
}

// Unwrap returns the sentinels and the cause.
func (e *Error) Unwrap() error { return e.Err }

// Detail is the text to log: the cause, which names the sentinel and the
// underlying failure (a redacted network error, for example), or Error
// when there is no cause.
func (e *Error) Detail() string {
	if e.Err == nil {
		return e.Error()
	}
	return e.Err.Error()
}

// Unavailable reports whether the provider could not be reached, timed
// out or failed (ErrUnavailable).
func (e *Error) Unavailable() bool { return errors.Is(e.Err, ErrUnavailable) }

// unavailable is an outage or an unusable metadata document: code
// provider_unavailable, wrapping ErrUnavailable and cause. Its cause reads
// "oidc: provider unavailable: <cause or desc>".
func unavailable(status int, desc string, cause error) *Error {
	err := fmt.Errorf("%w: %s", ErrUnavailable, desc)
	if cause != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, cause)
	}
	return &Error{Code: codeUnavailable, Description: desc, StatusCode: status, Err: err}
}

// answerStatus is the status of an outage at an endpoint that answered
// status: 503 for a 503 answer, 502 for any other.
func answerStatus(status int) int {
	if status == http.StatusServiceUnavailable {
		return status
	}
	return http.StatusBadGateway
}

// localError is a request that could not be prepared (500 server_error):
// a signing key that fails, no randomness, no discovered issuer.
func localError(desc string, sentinel, cause error) *Error {
	err := sentinel
	switch {
	case sentinel == nil:
		err = cause
	case cause != nil:
		err = fmt.Errorf("%w: %w", sentinel, cause)
	}
	return &Error{Code: codeServerError, Description: desc, StatusCode: http.StatusInternalServerError, Err: err}
}

// maxIssuerInError bounds the discovered issuer quoted in errors and logs.
const maxIssuerInError = 256

// IssuerMismatchError is the cause of a discovery that failed because the
// provider's issuer differs from IssuerBaseURL. Both values are shown:
// neither is secret, and both are reduced to printable ASCII, without
// user information, and bounded.
type IssuerMismatchError struct {
	Configured, Discovered string
}

func newIssuerMismatch(configured, discovered string) *IssuerMismatchError {
	show := func(s string) string {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			s = u.Redacted()
		}
		s = CleanDescription(s)
		if len(s) > maxIssuerInError {
			s = s[:maxIssuerInError] + "..."
		}
		return s
	}
	return &IssuerMismatchError{Configured: show(configured), Discovered: show(discovered)}
}

// Error names both issuers after ErrIssuerMismatch's text.
func (e *IssuerMismatchError) Error() string {
	return fmt.Sprintf("%v: IssuerBaseURL is %q, the provider's discovery document names the issuer %q",
		ErrIssuerMismatch, e.Configured, e.Discovered)
}

// Unwrap makes errors.Is(err, ErrIssuerMismatch) true.
func (e *IssuerMismatchError) Unwrap() error { return ErrIssuerMismatch }
