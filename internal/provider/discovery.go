package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Back-off after a failed discovery: an outage costs one attempt per window,
// not one per request.
const (
	discoveryBackoffMin = 5 * time.Second
	discoveryBackoffMax = time.Minute
)

// Metadata is one generation of the provider's discovery document (the
// subset we use, with UseMTLS's endpoint aliases applied) and the key set
// that verifies its tokens. It is shared and must not be modified.
type Metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	IssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`

	// PAREndpoint is pushed_authorization_request_endpoint (RFC 9126), kept
	// raw so that a malformed value only breaks PAR logins (see
	// parEndpoint).
	PAREndpoint json.RawMessage `json:"pushed_authorization_request_endpoint"`
	// RevocationEndpoint is revocation_endpoint (RFC 7009), kept raw so
	// that a malformed value only turns off the revocation at logout (see
	// revocationEndpoint).
	RevocationEndpoint json.RawMessage `json:"revocation_endpoint"`
	// MTLSEndpointAliases is mtls_endpoint_aliases (RFC 8705 §5), applied
	// by applyMTLSAliases when UseMTLS is set.
	MTLSEndpointAliases json.RawMessage `json:"mtls_endpoint_aliases"`
	// DPoPSigningAlgs is dpop_signing_alg_values_supported (RFC 9449
	// §5.1), kept raw so that a malformed value reads as "not advertised"
	// (see dpopAlgs).
	DPoPSigningAlgs json.RawMessage `json:"dpop_signing_alg_values_supported"`

	keys *keySet
}

// discovery caches the provider's metadata: lazily, shared by concurrent
// callers, kept for DiscoveryTTL, and kept past it when a refresh fails
// (stale-if-error), with a back-off between failed attempts.
type discovery struct {
	mu        sync.Mutex
	cur       *Metadata
	fetchedAt time.Time
	retryAt   time.Time
	backoff   time.Duration
	lastErr   *Error
	inflight  *flight
}

type flight struct {
	done chan struct{}
	md   *Metadata
	err  *Error
}

// Discover returns the provider's current metadata, fetching it when there
// is none yet or it is older than DiscoveryTTL. Concurrent callers share
// one fetch, which runs detached from ctx and bounded by HTTPTimeout; a
// caller whose ctx ends stops waiting. A failed fetch keeps the metadata
// it had (stale-if-error) and backs off (5 s doubling to a minute), during
// which callers get the stale metadata, or the last error at once.
//
// Errors are provider_unavailable (503 when the provider cannot be reached
// or answers 503, 502 for another answer or a document that cannot be
// used), or issuer_mismatch (500, wrapping an *IssuerMismatchError) when
// the discovered issuer differs from IssuerBaseURL. Failures are logged at
// Warn when they happen.
func (c *Client) Discover(ctx context.Context) (*Metadata, error) {
	md, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	return md, nil
}

func (c *Client) discover(ctx context.Context) (*Metadata, *Error) {
	d := &c.disc
	now := c.s.Now()
	d.mu.Lock()
	if d.cur != nil && now.Before(d.fetchedAt.Add(c.s.DiscoveryTTL)) {
		md := d.cur
		d.mu.Unlock()
		return md, nil
	}
	if now.Before(d.retryAt) {
		md, err := d.cur, d.lastErr
		d.mu.Unlock()
		if md != nil {
			return md, nil
		}
		return nil, err
	}
	f := d.inflight
	leader := f == nil
	if leader {
		f = &flight{done: make(chan struct{})}
		d.inflight = f
	}
	d.mu.Unlock()

	if leader {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.s.HTTPTimeout)
		md, err := c.fetch(fctx)
		cancel()
		if err != nil {
			c.logDiscoveryFailure(err)
		}
		d.mu.Lock()
		if err == nil {
			d.cur, d.fetchedAt, d.backoff, d.lastErr = md, c.s.Now(), 0, nil
		} else {
			d.backoff = min(max(d.backoff*2, discoveryBackoffMin), discoveryBackoffMax)
			d.retryAt = c.s.Now().Add(d.backoff)
			d.lastErr = err
			if d.cur != nil {
				md, err = d.cur, nil
			}
		}
		f.md, f.err = md, err
		d.inflight = nil
		d.mu.Unlock()
		close(f.done)
		return md, err
	}
	select {
	case <-f.done:
		return f.md, f.err
	case <-ctx.Done():
		return nil, unavailable(http.StatusServiceUnavailable, ctx.Err().Error(), ctx.Err())
	}
}

// Discovered returns the metadata discovered so far, or nil, without
// asking the provider.
func (c *Client) Discovered() *Metadata {
	c.disc.mu.Lock()
	defer c.disc.mu.Unlock()
	return c.disc.cur
}

func (c *Client) logDiscoveryFailure(err *Error) {
	var mm *IssuerMismatchError
	if errors.As(err, &mm) {
		c.s.Logger.Warn("oidc: the provider's issuer differs from IssuerBaseURL; set IssuerBaseURL to the issuer "+
			"the provider names (a configuration problem, logins fail until it is fixed)",
			"IssuerBaseURL", mm.Configured, "issuer", mm.Discovered)
		return
	}
	c.s.Logger.Warn("oidc: discovery failed", "error", err.Detail())
}

// discoveryURL is IssuerBaseURL with the well-known path appended, unless it
// already names a .well-known document.
func discoveryURL(issuerBaseURL string) string {
	if strings.Contains(issuerBaseURL, "/.well-known/") {
		return issuerBaseURL
	}
	return strings.TrimRight(issuerBaseURL, "/") + "/.well-known/openid-configuration"
}

// NormalizeIssuer mirrors WHATWG URL href normalisation for the comparison
// express-openid-connect makes: scheme and host lower-cased, an empty path
// becomes "/".
func NormalizeIssuer(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

// sameIssuer reports whether the discovered issuer matches IssuerBaseURL:
// equal after normalisation (scheme and host lower-cased, an empty path is
// "/"), ignoring one trailing slash ("https://op/t" and "https://op/t/"
// match; express accepts that only for an empty path).
func sameIssuer(configured, discovered string) bool {
	return strings.TrimSuffix(NormalizeIssuer(configured), "/") == strings.TrimSuffix(NormalizeIssuer(discovered), "/")
}

func (c *Client) fetch(ctx context.Context) (*Metadata, *Error) {
	var md Metadata
	if err := c.getJSON(ctx, discoveryURL(c.s.IssuerBaseURL), &md); err != nil {
		return nil, err
	}
	if md.Issuer == "" {
		return nil, unavailable(http.StatusBadGateway, "discovery document has no issuer", nil)
	}
	if !strings.Contains(c.s.IssuerBaseURL, "/.well-known/") && !sameIssuer(c.s.IssuerBaseURL, md.Issuer) {
		mm := newIssuerMismatch(c.s.IssuerBaseURL, md.Issuer)
		return nil, &Error{Code: "issuer_mismatch", StatusCode: http.StatusInternalServerError, Err: mm,
			Description: fmt.Sprintf("IssuerBaseURL is %q, the provider's discovery document names the issuer %q",
				mm.Configured, mm.Discovered)}
	}
	if err := c.applyMTLSAliases(&md); err != nil {
		return nil, err
	}
	if err := checkEndpoints(&md); err != nil {
		return nil, err
	}
	md.keys = newKeySet(c, md.JWKSURI)
	c.disc.mu.Lock()
	if cur := c.disc.cur; cur != nil && cur.JWKSURI == md.JWKSURI {
		md.keys = cur.keys // keep cached keys across metadata refreshes
	}
	c.disc.mu.Unlock()
	return &md, nil
}

// checkEndpoints requires the endpoints we use, and https endpoints for an
// https issuer.
func checkEndpoints(md *Metadata) *Error {
	iu, err := url.Parse(md.Issuer)
	secure := err == nil && strings.EqualFold(iu.Scheme, "https")
	for name, ep := range map[string]string{
		"authorization_endpoint": md.AuthorizationEndpoint,
		"jwks_uri":               md.JWKSURI,
		"token_endpoint":         md.TokenEndpoint,
		"userinfo_endpoint":      md.UserinfoEndpoint,
		"end_session_endpoint":   md.EndSessionEndpoint,
	} {
		if ep == "" {
			if name == "authorization_endpoint" || name == "jwks_uri" {
				return unavailable(http.StatusBadGateway, "discovery document has no "+name, nil)
			}
			continue
		}
		u, err := url.Parse(ep)
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return unavailable(http.StatusBadGateway, name+" is not an absolute URL", nil)
		}
		if secure && !strings.EqualFold(u.Scheme, "https") {
			return unavailable(http.StatusBadGateway, name+" must use https like the issuer", nil)
		}
	}
	return nil
}
