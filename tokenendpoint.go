package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxTokenResponseBytes bounds token-endpoint and userinfo response bodies.
const maxTokenResponseBytes = 1 << 20

// secretParams are the form parameters whose values must never appear in an
// error, even when the provider echoes them back.
var secretParams = []string{
	"refresh_token", "subject_token", "actor_token", "code", "code_verifier",
	"client_secret", "client_assertion",
}

// postTokenEndpoint sends form to the provider's token endpoint with the
// configured client authentication (HTTP Basic or form parameters, from
// clientAuth; assertions are minted afresh for each call) and returns the
// decoded JSON response. Every grant uses it: the authorization code
// (exchangeCode), refresh and token exchange.
//
// Errors are *TokenError: a non-2xx answer carries the provider's error and
// error_description (StatusCode is the provider's HTTP status); a 5xx
// answer, a network error or a timeout also wraps ErrProviderUnavailable; a
// 2xx answer that is not a JSON object is "invalid_token_response" (502). Response bodies are capped at 1 MiB and
// never copied into errors; the provider's error_description is kept only
// after every secret sent (sentSecrets) is removed from it.
func (m *Middleware) postTokenEndpoint(ctx context.Context, ps *providerState, form url.Values) (map[string]any, error) {
	// Discovery has already applied any mtls_endpoint_aliases.
	tokenURL := ps.md.TokenEndpoint
	if tokenURL == "" {
		return nil, &TokenError{ErrorCode: "provider_unavailable", Description: "the provider has no token_endpoint",
			StatusCode: http.StatusServiceUnavailable, cause: ErrProviderUnavailable}
	}
	authn, err := m.clientAuth(ps)
	if err != nil {
		return nil, &TokenError{ErrorCode: "server_error", Description: "the client authentication could not be prepared",
			StatusCode: http.StatusInternalServerError, cause: err}
	}
	body := make(url.Values, len(form)+len(authn.params))
	for k, vs := range form {
		body[k] = vs
	}
	for k, vs := range authn.params {
		body[k] = vs
	}
	secrets := m.sentSecrets(body, authn)

	ctx, cancel := m.outboundContext(ctx)
	defer cancel()
	req, err := m.clientPost(ctx, tokenURL, body, authn)
	if err != nil {
		return nil, &TokenError{ErrorCode: "provider_unavailable", Description: "the token endpoint URL is invalid",
			StatusCode: http.StatusServiceUnavailable, cause: ErrProviderUnavailable}
	}
	resp, err := m.provider.client.Do(req)
	if err != nil {
		return nil, &TokenError{ErrorCode: "provider_unavailable", Description: "the token endpoint could not be reached",
			StatusCode: http.StatusServiceUnavailable, cause: fmt.Errorf("%w: %w", ErrProviderUnavailable, redactURLError(err))}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes+1))
	if err != nil {
		return nil, &TokenError{ErrorCode: "provider_unavailable", Description: "the token response could not be read",
			StatusCode: http.StatusServiceUnavailable, cause: fmt.Errorf("%w: %w", ErrProviderUnavailable, err)}
	}
	if len(raw) > maxTokenResponseBytes {
		return nil, &TokenError{ErrorCode: "invalid_token_response", Description: "the token response is too large",
			StatusCode: http.StatusBadGateway}
	}
	doc, parseErr := decodeTokenBody(resp.Header.Get("Content-Type"), raw)
	status := resp.StatusCode
	if status >= 200 && status < 300 {
		if parseErr != nil {
			return nil, &TokenError{ErrorCode: "invalid_token_response", Description: "the token response is not a JSON object",
				StatusCode: http.StatusBadGateway}
		}
		return doc, nil
	}
	code, _ := doc["error"].(string)
	code = sanitizeCode(code)
	desc, _ := doc["error_description"].(string)
	desc = cleanDescription(desc, secrets...)
	te := &TokenError{ErrorCode: code, Description: desc, StatusCode: status}
	switch {
	case status >= 500:
		te.cause = ErrProviderUnavailable
		if te.ErrorCode == "" {
			te.ErrorCode = "provider_unavailable"
		}
		if te.Description == "" {
			te.Description = "the token endpoint answered " + strconv.Itoa(status)
		}
	case status >= 400:
		if te.ErrorCode == "" {
			te.ErrorCode = "invalid_token_response"
		}
		if te.Description == "" {
			te.Description = "the token endpoint refused the request"
		}
	default: // 1xx, 3xx: redirects are not followed
		te.ErrorCode = "invalid_token_response"
		te.Description = "the token endpoint answered " + strconv.Itoa(status)
		te.StatusCode = http.StatusBadGateway
	}
	return nil, te
}

// sentSecrets returns the secret values of a request to a token-style
// endpoint, in every form a provider might echo back in an
// error_description: raw, form-encoded as in the body, and the HTTP Basic
// credentials.
func (m *Middleware) sentSecrets(body url.Values, authn clientAuthn) []string {
	secrets := []string{m.s.clientSecret}
	for _, k := range secretParams {
		if v := body.Get(k); v != "" {
			secrets = append(secrets, v)
		}
	}
	for _, v := range secrets {
		if e := url.QueryEscape(v); e != v {
			secrets = append(secrets, e)
		}
	}
	if authn.basic {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(m.s.clientID)+":"+url.QueryEscape(m.s.clientSecret))))
	}
	return secrets
}

// decodeTokenBody decodes a token-endpoint body: JSON, or (like x/oauth2,
// for providers such as GitHub) form-encoded when the content type says so.
func decodeTokenBody(contentType string, raw []byte) (map[string]any, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(vals))
		for k, v := range vals {
			out[k] = v[0]
		}
		return out, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return out, nil
}

// stringMember returns a string member of a token response.
func stringMember(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}

// expiresInMember reads expires_in, a JSON number or a numeric string (as
// x/oauth2 accepts). ok is false when it is absent or malformed.
func expiresInMember(doc map[string]any) (int64, bool) {
	var f float64
	switch v := doc["expires_in"].(type) {
	case float64:
		f = v
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		f = n
	default:
		return 0, false
	}
	if math.IsNaN(f) || f < 0 || f > math.MaxInt32 {
		return 0, false
	}
	return int64(f), true
}
