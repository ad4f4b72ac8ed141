package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// UserInfo calls md's userinfo endpoint with accessToken, in an
// "Authorization: Bearer" header (never in the URL) with "Accept:
// application/json", bounded by HTTPTimeout and 1 MiB, and returns the
// claims of its 200 JSON answer. Their sub must equal sub (OIDC Core
// §5.3.2).
//
// Errors wrap ErrUserInfo:
//   - 401 invalid_token when the provider refuses the token;
//   - 503 provider_unavailable (wrapping ErrUnavailable) when it cannot be
//     reached, times out or answers 5xx;
//   - 502 userinfo_unsupported without a usable userinfo_endpoint;
//   - 502 invalid_userinfo_response for any other answer that is not a 200
//     JSON object, including signed (application/jwt) answers, and for
//     another sub (also wrapping ErrUserInfoSubjectMismatch).
func (c *Client) UserInfo(ctx context.Context, md *Metadata, accessToken, sub string) (map[string]any, error) {
	fail := func(status int, code, desc string, cause error) *Error {
		err := ErrUserInfo
		if cause != nil {
			err = fmt.Errorf("%w: %w", ErrUserInfo, cause)
		}
		return &Error{Code: code, Description: desc, StatusCode: status, Err: err}
	}
	invalid := func(desc string, cause error) *Error {
		return fail(http.StatusBadGateway, "invalid_userinfo_response", desc, cause)
	}
	if md.UserinfoEndpoint == "" {
		return nil, fail(http.StatusBadGateway, "userinfo_unsupported", "The provider has no userinfo_endpoint.", nil)
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, md.UserinfoEndpoint, nil)
	if err != nil {
		return nil, fail(http.StatusBadGateway, "userinfo_unsupported", "The userinfo_endpoint is not a valid URL.", nil)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, codeUnavailable, "The userinfo endpoint could not be reached.",
			fmt.Errorf("%w: %w", ErrUnavailable, redactURLError(err)))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenResponseBytes+1))
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, codeUnavailable, "The userinfo response could not be read.",
			fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fail(http.StatusUnauthorized, "invalid_token", "The provider refused the access token at the userinfo endpoint.", nil)
	case resp.StatusCode >= 500:
		return nil, fail(http.StatusServiceUnavailable, codeUnavailable,
			"The userinfo endpoint answered "+strconv.Itoa(resp.StatusCode)+".", ErrUnavailable)
	case resp.StatusCode != http.StatusOK:
		return nil, invalid("The userinfo endpoint answered "+strconv.Itoa(resp.StatusCode)+".", nil)
	case len(raw) > MaxTokenResponseBytes:
		return nil, invalid("The userinfo response is too large.", nil)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, invalid("The userinfo response is not JSON.", nil)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, invalid("The userinfo response is not a JSON object.", nil)
	}
	if got, _ := claims["sub"].(string); got != sub {
		return nil, invalid("The userinfo sub does not match the ID token.", ErrUserInfoSubjectMismatch)
	}
	return claims, nil
}
