package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// UserInfo calls md's userinfo endpoint with accessToken, in an
// "Authorization: Bearer" header (never in the URL) with "Accept:
// application/json", bounded by HTTPTimeout and 1 MiB, and returns the
// claims of its 200 JSON answer. Their sub must equal sub (OIDC Core
// §5.3.2).
//
// A token of type DPoP (tokenType, in any case) is sent as
// "Authorization: DPoP" with a proof (ath, the resource nonce of the
// endpoint's origin); a 401 use_dpop_nonce challenge with a new nonce is
// answered by sending the request once more with it (RFC 9449 §9).
//
// Errors wrap ErrUserInfo:
//   - 401 invalid_token when the provider refuses the token;
//   - 503 provider_unavailable (wrapping ErrUnavailable) when it cannot be
//     reached, times out or answers 5xx;
//   - 502 userinfo_unsupported without a usable userinfo_endpoint;
//   - 502 invalid_userinfo_response for any other answer that is not a 200
//     JSON object, including signed (application/jwt) answers, and for
//     another sub (also wrapping ErrUserInfoSubjectMismatch);
//   - 500 server_error when a DPoP token cannot be sent: DPoP is off
//     (wrapping ErrDPoPNotConfigured), no proof algorithm fits (a
//     *DPoPAlgError) or the proof cannot be signed.
func (c *Client) UserInfo(ctx context.Context, md *Metadata, accessToken, tokenType, sub string) (map[string]any, error) {
	if md.UserinfoEndpoint == "" {
		return nil, userinfoFail(http.StatusBadGateway, "userinfo_unsupported", "The provider has no userinfo_endpoint.", nil)
	}
	u, err := url.Parse(md.UserinfoEndpoint)
	if err != nil {
		return nil, userinfoFail(http.StatusBadGateway, "userinfo_unsupported", "The userinfo_endpoint is not a valid URL.", nil)
	}
	dpop := strings.EqualFold(tokenType, "DPoP")
	for attempt := 1; ; attempt++ {
		claims, retry, err := c.userInfoOnce(ctx, md, u, accessToken, dpop, sub)
		if !retry || attempt > 1 {
			return claims, err
		}
	}
}

// userInfoOnce sends the request of UserInfo once. retry reports an
// answer that asks for the request to be sent again with a new DPoP nonce.
func (c *Client) userInfoOnce(ctx context.Context, md *Metadata, u *url.URL, accessToken string, dpop bool, sub string) (_ map[string]any, retry bool, _ error) {
	invalid := func(desc string, cause error) *Error {
		return userinfoFail(http.StatusBadGateway, "invalid_userinfo_response", desc, cause)
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, userinfoFail(http.StatusBadGateway, "userinfo_unsupported", "The userinfo_endpoint is not a valid URL.", nil)
	}
	var sentNonce string
	if dpop {
		proof, nonce, pe := c.resourceProof(md, http.MethodGet, u, accessToken)
		if pe != nil {
			return nil, false, &Error{Code: pe.Code, Description: pe.Description, StatusCode: pe.StatusCode,
				Err: fmt.Errorf("%w: %w", ErrUserInfo, pe.Err)}
		}
		req.Header.Set("Authorization", "DPoP "+accessToken)
		req.Header.Set("DPoP", proof)
		sentNonce = nonce
	} else {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, false, userinfoFail(http.StatusServiceUnavailable, codeUnavailable, "The userinfo endpoint could not be reached.",
			fmt.Errorf("%w: %w", ErrUnavailable, redactURLError(err)))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxTokenResponseBytes+1))
	if err != nil {
		return nil, false, userinfoFail(http.StatusServiceUnavailable, codeUnavailable, "The userinfo response could not be read.",
			fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	if dpop && c.ResourceRetry(u, resp.StatusCode, resp.Header, sentNonce) {
		retry = true
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, retry, userinfoFail(http.StatusUnauthorized, "invalid_token", "The provider refused the access token at the userinfo endpoint.", nil)
	case resp.StatusCode >= 500:
		return nil, false, userinfoFail(http.StatusServiceUnavailable, codeUnavailable,
			"The userinfo endpoint answered "+strconv.Itoa(resp.StatusCode)+".", ErrUnavailable)
	case resp.StatusCode != http.StatusOK:
		return nil, false, invalid("The userinfo endpoint answered "+strconv.Itoa(resp.StatusCode)+".", nil)
	case len(raw) > MaxTokenResponseBytes:
		return nil, false, invalid("The userinfo response is too large.", nil)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, false, invalid("The userinfo response is not JSON.", nil)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil || claims == nil {
		return nil, false, invalid("The userinfo response is not a JSON object.", nil)
	}
	if got, _ := claims["sub"].(string); got != sub {
		return nil, false, invalid("The userinfo sub does not match the ID token.", ErrUserInfoSubjectMismatch)
	}
	return claims, false, nil
}

// userinfoFail is a failed userinfo request, wrapping ErrUserInfo and
// cause.
func userinfoFail(status int, code, desc string, cause error) *Error {
	err := ErrUserInfo
	if cause != nil {
		err = fmt.Errorf("%w: %w", ErrUserInfo, cause)
	}
	return &Error{Code: code, Description: desc, StatusCode: status, Err: err}
}
