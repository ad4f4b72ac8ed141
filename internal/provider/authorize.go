package provider

import (
	"context"
	"maps"
	"net/url"
	"strings"
)

// AuthorizationURL returns where a login redirects the browser: the
// authorization endpoint with params, after turning them into a signed
// request object (JAR, when Settings.RequestKey is set) and pushing them to
// the PAR endpoint (when Settings.PAR is set). With DPoP on, a flow with a
// code also sends dpop_jkt, the key's thumbprint, which binds the code to
// the key (RFC 9449 §10); the PAR request then carries a proof as well. A
// failure leaves nothing behind; errors are the request object's, PAR's
// (see pushAuthorizationRequest) and, when no DPoP proof algorithm fits
// the provider, a server_error wrapping a *DPoPAlgError; they never carry
// the parameters.
func (c *Client) AuthorizationURL(ctx context.Context, md *Metadata, params url.Values) (string, error) {
	if c.dpop != nil && strings.Contains(params.Get("response_type"), "code") {
		// Fail before the browser leaves when no proof algorithm fits.
		if _, err := c.dpopAlg(md); err != nil {
			return "", err
		}
		params = maps.Clone(params) // the caller's values stay as they were
		params.Set("dpop_jkt", c.dpop.key.jkt)
	}
	var endpoint string
	if c.s.PAR {
		var err *Error
		if endpoint, err = md.parEndpoint(); err != nil {
			return "", err
		}
	}
	if c.s.RequestKey != nil {
		ro, err := c.requestObject(md, params)
		if err != nil {
			return "", err
		}
		params = url.Values{"client_id": {c.s.ClientID}, "request": {ro}}
	}
	if c.s.PAR {
		uri, err := c.pushAuthorizationRequest(ctx, md, endpoint, params)
		if err != nil {
			return "", err
		}
		params = url.Values{"client_id": {c.s.ClientID}, "request_uri": {uri}}
	}
	return WithQuery(md.AuthorizationEndpoint, params)
}
