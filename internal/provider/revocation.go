package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// maxRevocationResponse bounds the part of a revocation answer that is read
// (only its error code is used).
const maxRevocationResponse = 64 << 10

// Revoke revokes a refresh token at the provider's revocation endpoint
// (RFC 7009), with the client authentication of the token endpoint (a
// fresh assertion for the JWT methods). Cached metadata is used when there
// is some; otherwise discovery runs, bounded by ctx.
//
// Errors are discovery's and revocationEndpoint's, post's, and for a
// refusal the provider's code with its status (provider_unavailable,
// wrapping ErrUnavailable, for a 5xx answer; invalid_revocation_response
// without a code). Detail, the text to log, says what the endpoint
// answered and never holds the token.
func (c *Client) Revoke(ctx context.Context, token string) error {
	md, err := c.discover(ctx)
	if err != nil {
		return err
	}
	target, err := c.revocationEndpoint(md)
	if err != nil {
		return err
	}
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	r, err := c.post(ctx, md, revocationEP, target, form, maxRevocationResponse)
	if err != nil {
		return err
	}
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	msg := "the revocation endpoint answered " + strconv.Itoa(r.status)
	code, _, uri := r.oauthError()
	if code != "" {
		msg += " " + code
	}
	if r.status >= 500 {
		e := unavailable(answerStatus(r.status), msg, nil)
		if code != "" {
			e.Code = code
		}
		return e
	}
	e := &Error{Code: code, Description: msg, URI: uri, StatusCode: r.status, Err: errors.New(msg)}
	if code == "" {
		e.Code, e.StatusCode = "invalid_revocation_response", http.StatusBadGateway
	}
	return e
}

// revocationEndpoint returns the provider's revocation_endpoint, or with
// UseMTLS its mtls_endpoint_aliases entry when there is one (RFC 8705 §5).
// It must be an absolute http(s) URL, https for an https issuer. Without
// one the error (502 revocation_unsupported) wraps
// ErrNoRevocationEndpoint.
func (c *Client) revocationEndpoint(md *Metadata) (string, *Error) {
	unsupported := func(desc string, cause error) (string, *Error) {
		if cause == nil {
			cause = errors.New(desc)
		}
		return "", &Error{Code: "revocation_unsupported", Description: desc, StatusCode: http.StatusBadGateway, Err: cause}
	}
	var ep string
	if raw := md.RevocationEndpoint; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ep); err != nil {
			return unsupported("the provider's revocation_endpoint is not a string", nil)
		}
	}
	if c.s.UseMTLS {
		if alias := md.aliases().get("revocation_endpoint"); alias != "" {
			ep = alias
		} else if ep != "" {
			c.s.Logger.Debug("oidc: no mtls_endpoint_aliases.revocation_endpoint; using revocation_endpoint")
		}
	}
	if ep == "" {
		return unsupported(ErrNoRevocationEndpoint.Error(), ErrNoRevocationEndpoint)
	}
	if !md.sameSchemeURL(ep) {
		return unsupported("the provider's revocation_endpoint is not an absolute URL (https for an https issuer)", nil)
	}
	return ep, nil
}
