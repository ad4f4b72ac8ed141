package provider

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// Client talks to one provider for one root Middleware. It is safe for
// concurrent use; its caches (discovery, keys) are shared by all callers.
type Client struct {
	s    Settings
	http *http.Client
	disc discovery
	dpop *dpopState // nil: DPoP off
}

// New returns the Client of s. It makes no request: discovery runs at the
// first call that needs the provider's metadata.
func New(s Settings) *Client {
	return &Client{s: s, http: outboundClient(s), dpop: newDPoPState(s)}
}

// outboundClient returns the client for requests to the provider: the
// configured one, with our User-Agent, no redirect following, and the
// configured timeout.
func outboundClient(s Settings) *http.Client {
	base := s.HTTPClient
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := *base
	c.Transport = &uaTransport{base: rt, ua: s.UserAgent}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 || c.Timeout > s.HTTPTimeout {
		c.Timeout = s.HTTPTimeout
	}
	return &c
}

type uaTransport struct {
	base http.RoundTripper
	ua   string
}

func (t *uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.Header.Set("User-Agent", t.ua)
	return t.base.RoundTrip(r2)
}

// maxMetadataBytes bounds discovery and JWKS documents.
const maxMetadataBytes = 1 << 20

// getJSON GETs a JSON document (discovery, JWKS) without following
// redirects, bounded in size. Failures are provider_unavailable: 503 when
// the provider cannot be reached or answers 503, 502 for any other answer
// that cannot be used.
func (c *Client) getJSON(ctx context.Context, u string, out any) *Error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return unavailable(http.StatusBadGateway, err.Error(), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		err = redactURLError(err)
		return unavailable(http.StatusServiceUnavailable, err.Error(), err)
	}
	defer resp.Body.Close()
	where := req.URL.Redacted()
	if resp.StatusCode != http.StatusOK {
		return unavailable(answerStatus(resp.StatusCode), where+" answered "+strconv.Itoa(resp.StatusCode), nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return unavailable(http.StatusServiceUnavailable, err.Error(), err)
	}
	if len(body) > maxMetadataBytes {
		return unavailable(http.StatusBadGateway, where+" document too large", nil)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return unavailable(http.StatusBadGateway, where+": invalid JSON", nil)
	}
	return nil
}
