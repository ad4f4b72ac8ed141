package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// FetchUserInfo calls the provider's userinfo endpoint with the session's
// access token and returns the claims it answers with. The token is sent in
// an "Authorization: Bearer" header (never in the URL), with "Accept:
// application/json"; the request is bounded by Config.HTTPTimeout and the
// answer by 1 MiB. Nothing is stored in the session: keep what you need
// yourself, for example with Context.Set or in Config.AfterCallback.
//
// The answer's sub must equal the ID token's sub (OIDC Core §5.3.2);
// otherwise the claims are discarded and the error wraps
// ErrUserInfoSubjectMismatch.
//
// Errors are *Error values wrapping ErrUserInfo (except for a missing token):
//   - ErrNoAccessToken (401) when the session has no access token or no ID
//     token; no request is made;
//   - 401 "invalid_token" when the provider refuses the token (it may have
//     expired: see Context.Refresh);
//   - 503 wrapping ErrProviderUnavailable when the provider cannot be
//     reached, times out or answers 5xx;
//   - 502 for any other answer that is not a 200 JSON object, including
//     signed (application/jwt) answers, which are not supported;
//   - 500 wrapping ErrNoMiddleware on a nil Context (a handler not wrapped
//     by Auth).
func (c *Context) FetchUserInfo(ctx context.Context) (Claims, error) {
	if c == nil {
		return nil, noMiddlewareError()
	}
	m := c.m
	c.mu.Lock()
	var at, sub string
	if s := c.session(); s != nil && s.IDToken != "" {
		at = string(s.AccessToken)
		sub = c.idTokenClaimsLocked().String("sub")
	}
	c.mu.Unlock()
	if at == "" || sub == "" {
		return nil, newError(http.StatusUnauthorized, "no_access_token",
			"An access token is required to fetch user info but none was found in the session.", ErrNoAccessToken)
	}
	fail := func(status int, code, desc string, cause error) error {
		if cause == nil {
			cause = ErrUserInfo
		} else {
			cause = fmt.Errorf("%w: %w", ErrUserInfo, cause)
		}
		return newError(status, code, desc, cause)
	}
	ps, err := m.provider.get(ctx)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "provider_unavailable", "The provider cannot be reached right now.", err)
	}
	endpoint := ps.md.UserinfoEndpoint
	if endpoint == "" {
		return nil, fail(http.StatusBadGateway, "userinfo_unsupported", "The provider has no userinfo_endpoint.", nil)
	}
	rctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, fail(http.StatusBadGateway, "userinfo_unsupported", "The userinfo_endpoint is not a valid URL.", nil)
	}
	req.Header.Set("Authorization", "Bearer "+at)
	req.Header.Set("Accept", "application/json")
	resp, err := m.provider.client.Do(req)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "provider_unavailable", "The userinfo endpoint could not be reached.",
			fmt.Errorf("%w: %w", ErrProviderUnavailable, redactURLError(err)))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes+1))
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "provider_unavailable", "The userinfo response could not be read.",
			fmt.Errorf("%w: %w", ErrProviderUnavailable, err))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fail(http.StatusUnauthorized, "invalid_token", "The provider refused the access token at the userinfo endpoint.", nil)
	case resp.StatusCode >= 500:
		return nil, fail(http.StatusServiceUnavailable, "provider_unavailable",
			"The userinfo endpoint answered "+strconv.Itoa(resp.StatusCode)+".", ErrProviderUnavailable)
	case resp.StatusCode != http.StatusOK:
		return nil, fail(http.StatusBadGateway, "invalid_userinfo_response",
			"The userinfo endpoint answered "+strconv.Itoa(resp.StatusCode)+".", nil)
	case len(raw) > maxTokenResponseBytes:
		return nil, fail(http.StatusBadGateway, "invalid_userinfo_response", "The userinfo response is too large.", nil)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fail(http.StatusBadGateway, "invalid_userinfo_response", "The userinfo response is not JSON.", nil)
	}
	var claims Claims
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, fail(http.StatusBadGateway, "invalid_userinfo_response", "The userinfo response is not a JSON object.", nil)
	}
	if got, _ := claims["sub"].(string); got != sub {
		return nil, fail(http.StatusBadGateway, "invalid_userinfo_response",
			"The userinfo sub does not match the ID token.", ErrUserInfoSubjectMismatch)
	}
	return claims, nil
}
