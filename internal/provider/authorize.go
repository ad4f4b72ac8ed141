package provider

import (
	"context"
	"net/url"
)

// AuthorizationURL returns where a login redirects the browser: the
// authorization endpoint with params, after turning them into a signed
// request object (JAR, when Settings.RequestKey is set) and pushing them to
// the PAR endpoint (when Settings.PAR is set). A failure leaves nothing
// behind; errors are the request object's and PAR's (see
// pushAuthorizationRequest), and never carry the parameters.
func (c *Client) AuthorizationURL(ctx context.Context, md *Metadata, params url.Values) (string, error) {
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
