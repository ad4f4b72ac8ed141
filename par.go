package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// ErrPushedAuthorizationRequest: the provider's PAR endpoint refused the
// pushed authorization request or answered with an invalid response.
var ErrPushedAuthorizationRequest = errors.New("oidc: pushed authorization request failed")

// maxPARResponse bounds a PAR response body.
const maxPARResponse = 64 << 10

// authorizationURL returns where the login redirects the browser: the
// authorization endpoint with params, after turning them into a signed
// request object (JAR) and pushing them to the PAR endpoint when
// configured.
func (m *Middleware) authorizationURL(ctx context.Context, ps *providerState, params url.Values) (string, error) {
	var endpoint string
	if m.s.par {
		var err error
		if endpoint, err = m.parEndpoint(ps); err != nil {
			return "", err
		}
	}
	if m.s.requestKey != nil {
		ro, err := m.requestObject(ps, params)
		if err != nil {
			return "", err
		}
		params = url.Values{"client_id": {m.s.clientID}, "request": {ro}}
	}
	if m.s.par {
		uri, err := m.pushAuthorizationRequest(ctx, ps, endpoint, params)
		if err != nil {
			return "", err
		}
		params = url.Values{"client_id": {m.s.clientID}, "request_uri": {uri}}
	}
	target, err := withQuery(ps.md.AuthorizationEndpoint, params)
	if err != nil {
		return "", unavailable(err)
	}
	return target, nil
}

// parEndpoint returns the provider's pushed_authorization_request_endpoint
// (its mTLS alias with UseMTLS). A missing or malformed endpoint is a
// configuration mismatch between the app and the provider: 500, as in
// express-openid-connect.
func (m *Middleware) parEndpoint(ps *providerState) (string, error) {
	raw := ps.md.PAREndpoint
	if len(raw) == 0 || string(raw) == "null" {
		return "", newError(http.StatusInternalServerError, "server_error",
			"pushed_authorization_request_endpoint must be configured on the issuer to use PushedAuthorizationRequests",
			ErrPushedAuthorizationRequest)
	}
	var ep string
	if err := json.Unmarshal(raw, &ep); err != nil || ep == "" {
		return "", newError(http.StatusInternalServerError, "server_error",
			"the issuer's pushed_authorization_request_endpoint must be a string", ErrPushedAuthorizationRequest)
	}
	u, err := url.Parse(ep)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		(strings.HasPrefix(ps.md.Issuer, "https:") && u.Scheme != "https") {
		return "", newError(http.StatusInternalServerError, "server_error",
			"the issuer's pushed_authorization_request_endpoint is not an absolute URL (https for an https issuer)",
			ErrPushedAuthorizationRequest)
	}
	return ep, nil
}

// pushAuthorizationRequest posts params with the client authentication to
// the PAR endpoint (RFC 9126 §2) and returns the request_uri of its 201
// answer. An OAuth error from the provider gives 400 with its error code;
// any other failure gives 502. Errors never carry the parameters.
func (m *Middleware) pushAuthorizationRequest(ctx context.Context, ps *providerState, endpoint string, params url.Values) (string, error) {
	authn, err := m.clientAuth(ps)
	if err != nil {
		return "", err
	}
	form := url.Values{}
	for k, vs := range params {
		form[k] = vs
	}
	for k, vs := range authn.params {
		form[k] = vs
	}
	ctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	req, err := m.clientPost(ctx, endpoint, form, authn)
	if err != nil {
		return "", parFailure("the PAR request could not be built", nil)
	}
	resp, err := m.provider.client.Do(req)
	if err != nil {
		return "", newError(http.StatusBadGateway, "provider_unavailable", "the PAR endpoint could not be reached",
			errors.Join(ErrPushedAuthorizationRequest, ErrProviderUnavailable, redactURLError(err)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPARResponse+1))
	if err != nil || len(body) > maxPARResponse {
		return "", parFailure("the PAR response could not be read", err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if resp.StatusCode != http.StatusCreated {
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if isJSON && json.Unmarshal(body, &oe) == nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			if code := sanitizeCode(oe.Error); code != "" {
				desc := oe.Description
				if desc == "" {
					desc = "the PAR endpoint refused the request"
				}
				return "", newError(http.StatusBadRequest, code, desc, errors.Join(ErrPushedAuthorizationRequest, errors.New(code)))
			}
		}
		return "", parFailure(fmt.Sprintf("the PAR endpoint answered %d", resp.StatusCode), nil)
	}
	var out struct {
		RequestURI string  `json:"request_uri"`
		ExpiresIn  float64 `json:"expires_in"`
	}
	if !isJSON || json.Unmarshal(body, &out) != nil {
		return "", parFailure("the PAR response is not JSON", nil)
	}
	if out.RequestURI == "" || out.ExpiresIn <= 0 {
		return "", parFailure("the PAR response has no request_uri or no positive expires_in", nil)
	}
	return out.RequestURI, nil
}

func parFailure(desc string, cause error) *Error {
	return newError(http.StatusBadGateway, "invalid_par_response", desc, errors.Join(ErrPushedAuthorizationRequest, cause))
}
