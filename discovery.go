package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// maxMetadataBytes bounds discovery and JWKS documents.
const maxMetadataBytes = 1 << 20

// Back-off after a failed discovery: an outage costs one attempt per window,
// not one per request.
const (
	discoveryBackoffMin = 5 * time.Second
	discoveryBackoffMax = time.Minute
)

// metadata is the subset of the provider's discovery document we use.
type metadata struct {
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
	// by settings.applyMTLSAliases when UseMTLS is set.
	MTLSEndpointAliases json.RawMessage `json:"mtls_endpoint_aliases"`
}

// providerState is one generation of discovered metadata with its verifier.
type providerState struct {
	md       metadata
	keys     *keySet
	verifier *gooidc.IDTokenVerifier
}

// discovery fetches and caches provider metadata: lazily, shared by
// concurrent callers, kept for the configured TTL, and kept past it when a
// refresh fails (stale-if-error), with a back-off between failed attempts.
type discovery struct {
	s      *settings
	client *http.Client

	mu        sync.Mutex
	cur       *providerState
	fetchedAt time.Time
	retryAt   time.Time
	backoff   time.Duration
	lastErr   error
	inflight  *flight
}

type flight struct {
	done chan struct{}
	st   *providerState
	err  error
}

func newDiscovery(s *settings) *discovery {
	return &discovery{s: s, client: outboundClient(s)}
}

// get returns current provider metadata, fetching it when needed.
func (d *discovery) get(ctx context.Context) (*providerState, error) {
	now := d.s.now()
	d.mu.Lock()
	if d.cur != nil && now.Before(d.fetchedAt.Add(d.s.discoveryTTL)) {
		st := d.cur
		d.mu.Unlock()
		return st, nil
	}
	if now.Before(d.retryAt) {
		st, err := d.cur, d.lastErr
		d.mu.Unlock()
		if st != nil {
			return st, nil
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
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.s.httpTimeout)
		st, err := d.fetch(fctx)
		cancel()
		d.mu.Lock()
		if err == nil {
			d.cur, d.fetchedAt, d.backoff, d.lastErr = st, d.s.now(), 0, nil
		} else {
			var mm *issuerMismatchError
			if errors.As(err, &mm) {
				d.s.logger.Warn("oidc: the provider's issuer differs from IssuerBaseURL; set IssuerBaseURL to the issuer "+
					"the provider names (a configuration problem, logins fail until it is fixed)",
					"IssuerBaseURL", mm.configured, "issuer", mm.discovered)
			} else {
				d.s.logger.Warn("oidc: discovery failed", "error", err.Error())
			}
			d.backoff = min(max(d.backoff*2, discoveryBackoffMin), discoveryBackoffMax)
			d.retryAt = d.s.now().Add(d.backoff)
			d.lastErr = err
			if d.cur != nil {
				st, err = d.cur, nil
			}
		}
		f.st, f.err = st, err
		d.inflight = nil
		d.mu.Unlock()
		close(f.done)
		return st, err
	}
	select {
	case <-f.done:
		return f.st, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrProviderUnavailable, ctx.Err())
	}
}

// discoveryURL is IssuerBaseURL with the well-known path appended, unless it
// already names a .well-known document.
func discoveryURL(issuerBaseURL string) string {
	if strings.Contains(issuerBaseURL, "/.well-known/") {
		return issuerBaseURL
	}
	return strings.TrimRight(issuerBaseURL, "/") + "/.well-known/openid-configuration"
}

// normalizeIssuer mirrors WHATWG URL href normalisation for the comparison
// express-openid-connect makes: scheme and host lower-cased, an empty path
// becomes "/".
func normalizeIssuer(s string) string {
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
// equal after normalizeIssuer, ignoring one trailing slash ("https://op/t"
// and "https://op/t/" match; express accepts that only for an empty path).
func sameIssuer(configured, discovered string) bool {
	return strings.TrimSuffix(normalizeIssuer(configured), "/") == strings.TrimSuffix(normalizeIssuer(discovered), "/")
}

// maxIssuerInError bounds the discovered issuer quoted in errors and logs.
const maxIssuerInError = 256

// issuerMismatchError is the discovery failure of a provider whose issuer
// does not match IssuerBaseURL. Both values are shown: neither is secret,
// and the discovered one is reduced to printable ASCII and bounded.
type issuerMismatchError struct {
	configured, discovered string
}

func newIssuerMismatch(configured, discovered string) *issuerMismatchError {
	show := func(s string) string {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			s = u.Redacted()
		}
		s = cleanDescription(s)
		if len(s) > maxIssuerInError {
			s = s[:maxIssuerInError] + "..."
		}
		return s
	}
	return &issuerMismatchError{configured: show(configured), discovered: show(discovered)}
}

func (e *issuerMismatchError) Error() string {
	return fmt.Sprintf("%v: IssuerBaseURL is %q, the provider's discovery document names the issuer %q",
		ErrIssuerMismatch, e.configured, e.discovered)
}

// Unwrap makes errors.Is(err, ErrIssuerMismatch) true.
func (e *issuerMismatchError) Unwrap() error { return ErrIssuerMismatch }

func (d *discovery) fetch(ctx context.Context) (*providerState, error) {
	var md metadata
	if err := getJSON(ctx, d.client, discoveryURL(d.s.issuerBaseURL), &md); err != nil {
		return nil, err
	}
	if md.Issuer == "" {
		return nil, fmt.Errorf("%w: discovery document has no issuer", ErrProviderUnavailable)
	}
	if !strings.Contains(d.s.issuerBaseURL, "/.well-known/") && !sameIssuer(d.s.issuerBaseURL, md.Issuer) {
		return nil, newIssuerMismatch(d.s.issuerBaseURL, md.Issuer)
	}
	if err := d.s.applyMTLSAliases(&md); err != nil {
		return nil, err
	}
	if err := checkEndpoints(md); err != nil {
		return nil, err
	}
	keys := newKeySet(d.s, d.client, md.JWKSURI)
	d.mu.Lock()
	if d.cur != nil && d.cur.md.JWKSURI == md.JWKSURI {
		keys = d.cur.keys // keep cached keys across metadata refreshes
	}
	d.mu.Unlock()
	v := gooidc.NewVerifier(md.Issuer, keys, &gooidc.Config{
		ClientID:             d.s.clientID,
		SupportedSigningAlgs: []string{d.s.alg},
		SkipExpiryCheck:      true, // checked with ClockTolerance in verifyIDToken
	})
	return &providerState{md: md, keys: keys, verifier: v}, nil
}

// checkEndpoints requires the endpoints we use, and https endpoints for an
// https issuer.
func checkEndpoints(md metadata) error {
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
				return fmt.Errorf("%w: discovery document has no %s", ErrProviderUnavailable, name)
			}
			continue
		}
		u, err := url.Parse(ep)
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("%w: %s is not an absolute URL", ErrProviderUnavailable, name)
		}
		if secure && !strings.EqualFold(u.Scheme, "https") {
			return fmt.Errorf("%w: %s must use https like the issuer", ErrProviderUnavailable, name)
		}
	}
	return nil
}

// getJSON GETs a JSON document without following redirects, bounded in size.
func getJSON(ctx context.Context, client *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %d", ErrProviderUnavailable, req.URL.Redacted(), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	if len(body) > maxMetadataBytes {
		return fmt.Errorf("%w: %s document too large", ErrProviderUnavailable, req.URL.Redacted())
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s: invalid JSON", ErrProviderUnavailable, req.URL.Redacted())
	}
	return nil
}

// redactURLError drops the URL's query from a *url.Error, which may carry
// parameters.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
	}
	return err
}

// outboundClient returns the client for requests to the provider: the
// configured one, with our User-Agent, no redirect following, and the
// configured timeout.
func outboundClient(s *settings) *http.Client {
	base := s.httpClient
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := *base
	c.Transport = &uaTransport{base: rt, ua: s.userAgent}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 || c.Timeout > s.httpTimeout {
		c.Timeout = s.httpTimeout
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
