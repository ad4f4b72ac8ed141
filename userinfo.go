package oidc

import (
	"context"
	"fmt"
	"net/http"
)

// FetchUserInfo calls the provider's userinfo endpoint with the session's
// access token and returns the claims it answers with. The token is sent in
// an "Authorization: Bearer" header (never in the URL), with "Accept:
// application/json"; the request is bounded by Config.HTTPTimeout and the
// answer by 1 MiB. A DPoP token (see DPoPConfig) is sent as
// "Authorization: DPoP" with a proof, and once more with the endpoint's
// nonce when it answers use_dpop_nonce. Nothing is stored in the session: keep what you need
// yourself, for example with Context.Set or in Config.AfterCallback.
//
// The answer's sub must equal the ID token's sub (OIDC Core §5.3.2);
// otherwise the claims are discarded and the error wraps
// ErrUserInfoSubjectMismatch.
//
// Errors are *Error values wrapping ErrUserInfo (except for a missing token
// and a nil Context); when the provider was involved they wrap the
// *ProviderError too, with the same status, code and description:
//   - ErrNoAccessToken (401) when the session has no access token or no ID
//     token; no request is made;
//   - 401 "invalid_token" when the provider refuses the token (it may have
//     expired: see Context.Refresh);
//   - 503 wrapping ErrProviderUnavailable when the provider cannot be
//     reached, times out or answers 5xx, or its metadata cannot be
//     discovered;
//   - 502 for any other answer that is not a 200 JSON object, including
//     signed (application/jwt) answers, which are not supported;
//   - 500 "server_error" for a DPoP token that cannot be sent: Config.DPoP
//     is nil (wrapping ErrDPoPNotConfigured), or no proof algorithm fits
//     the provider (wrapping a *DPoPAlgorithmError);
//   - 500 wrapping ErrNoMiddleware on a nil Context (a handler not wrapped
//     by Auth).
func (c *Context) FetchUserInfo(ctx context.Context) (Claims, error) {
	if c == nil {
		return nil, noMiddlewareError()
	}
	m := c.m
	var at, typ string
	c.sess.read(func(s *Session) {
		if s != nil && s.IDToken != "" {
			at, typ = string(s.AccessToken), s.TokenType
		}
	})
	sub := c.sess.idClaims().String("sub")
	if at == "" || sub == "" {
		return nil, newError(http.StatusUnauthorized, "no_access_token",
			"An access token is required to fetch user info but none was found in the session.", ErrNoAccessToken)
	}
	md, err := m.discover(ctx)
	if err != nil {
		return nil, newError(http.StatusServiceUnavailable, "provider_unavailable", "The provider cannot be reached right now.",
			fmt.Errorf("%w: %w: %w", ErrUserInfo, ErrProviderUnavailable, err)) // an issuer mismatch too
	}
	claims, err := m.provider.UserInfo(ctx, md, at, typ, sub)
	if err != nil {
		return nil, providerPage(err)
	}
	return claims, nil
}
