package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxPARResponse bounds a PAR response body.
const maxPARResponse = 64 << 10

// parEndpoint returns the provider's pushed_authorization_request_endpoint
// (its mTLS alias with UseMTLS). A missing or malformed endpoint is a
// configuration mismatch between the app and the provider: 500
// server_error, as in express-openid-connect.
func (md *Metadata) parEndpoint() (string, *Error) {
	misconfigured := func(desc string) (string, *Error) {
		return "", localError(desc, ErrPushedAuthorizationRequest, nil)
	}
	raw := md.PAREndpoint
	if len(raw) == 0 || string(raw) == "null" {
		return misconfigured("pushed_authorization_request_endpoint must be configured on the issuer to use PushedAuthorizationRequests")
	}
	var ep string
	if err := json.Unmarshal(raw, &ep); err != nil || ep == "" {
		return misconfigured("the issuer's pushed_authorization_request_endpoint must be a string")
	}
	if !md.sameSchemeURL(ep) {
		return misconfigured("the issuer's pushed_authorization_request_endpoint is not an absolute URL (https for an https issuer)")
	}
	return ep, nil
}

// sameSchemeURL reports whether ep is an absolute http(s) URL with a host,
// https for an https issuer: the rule for the endpoints that discovery
// does not check itself (PAR, revocation).
func (md *Metadata) sameSchemeURL(ep string) bool {
	u, err := url.Parse(ep)
	return err == nil && u.IsAbs() && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") &&
		(!strings.HasPrefix(md.Issuer, "https:") || u.Scheme == "https")
}

// pushAuthorizationRequest posts params with the client authentication to
// the PAR endpoint (RFC 9126 §2) and returns the request_uri of its 201
// answer. Errors wrap ErrPushedAuthorizationRequest: an OAuth error from
// the provider is 400 with its code and scrubbed description; an
// unreachable endpoint 502 provider_unavailable (wrapping ErrUnavailable);
// any other answer that is not a usable 201 is 502 invalid_par_response.
func (c *Client) pushAuthorizationRequest(ctx context.Context, md *Metadata, target string, params url.Values) (string, *Error) {
	r, err := c.post(ctx, md, parEP, target, params, maxPARResponse)
	if err != nil {
		if err.Unavailable() {
			err.StatusCode = http.StatusBadGateway
		}
		return "", err
	}
	if r.tooLarge {
		return "", parFailure("the PAR response could not be read")
	}
	if r.status != http.StatusCreated {
		if code, desc, uri := r.oauthError(); code != "" && r.status >= 400 && r.status < 500 {
			if desc == "" {
				desc = "the PAR endpoint refused the request"
			}
			return "", &Error{Code: code, Description: desc, URI: uri, StatusCode: http.StatusBadRequest,
				Err: fmt.Errorf("%w: %s", ErrPushedAuthorizationRequest, code)}
		}
		return "", parFailure("the PAR endpoint answered " + strconv.Itoa(r.status))
	}
	var out struct {
		RequestURI string  `json:"request_uri"`
		ExpiresIn  float64 `json:"expires_in"`
	}
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json"); !isJSON || json.Unmarshal(r.body, &out) != nil {
		return "", parFailure("the PAR response is not JSON")
	}
	if out.RequestURI == "" || out.ExpiresIn <= 0 {
		return "", parFailure("the PAR response has no request_uri or no positive expires_in")
	}
	return out.RequestURI, nil
}

// parFailure is a PAR answer that cannot be used (502).
func parFailure(desc string) *Error {
	return &Error{Code: "invalid_par_response", Description: desc, StatusCode: http.StatusBadGateway, Err: ErrPushedAuthorizationRequest}
}
