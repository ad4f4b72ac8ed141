package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// maxRevocationTime bounds a logout's refresh-token revocation (with
	// HTTPTimeout, whichever is shorter).
	maxRevocationTime = 2 * time.Second
	// maxRevocations bounds the revocations in flight. Beyond it a logout
	// skips the revocation (and logs it), so that a flood of logouts cannot
	// pile up requests to the provider.
	maxRevocations = 64
	// maxRevocationResponse bounds the part of a revocation answer that is
	// read (only its error code is used).
	maxRevocationResponse = 64 << 10
)

// errNoRevocationEndpoint: the provider advertises no revocation_endpoint.
var errNoRevocationEndpoint = errors.New("the provider has no revocation_endpoint")

// revokeRefreshToken revokes rt at the provider's revocation endpoint
// (RFC 7009) after a logout. It is best effort and never delays or fails
// the logout: it runs in its own goroutine, detached from ctx's
// cancellation, bounded by min(HTTPTimeout, 2 s), and failures are only
// logged at Warn (without the token).
func (m *Middleware) revokeRefreshToken(ctx context.Context, rt string) {
	if rt == "" {
		return
	}
	if m.revoking.Add(1) > maxRevocations {
		m.revoking.Add(-1)
		m.s.logger.Warn("oidc: too many token revocations in flight; refresh token not revoked at logout")
		return
	}
	ctx = context.WithoutCancel(ctx)
	m.revocations.Go(func() {
		defer m.revoking.Add(-1)
		defer func() {
			if recover() != nil {
				m.s.logger.Warn("oidc: refresh token revocation failed unexpectedly")
			}
		}()
		ctx, cancel := context.WithTimeout(ctx, min(m.s.httpTimeout, maxRevocationTime))
		defer cancel()
		err := m.revoke(ctx, rt)
		switch {
		case errors.Is(err, errNoRevocationEndpoint):
			m.s.logger.Debug("oidc: the provider has no revocation_endpoint; refresh token not revoked at logout")
		case err != nil:
			m.s.logger.Warn("oidc: refresh token not revoked at logout", "error", err.Error())
		}
	})
}

// revoke sends one revocation request for a refresh token, with the
// client authentication of the token endpoint (a fresh assertion for the
// assertion methods). Cached provider metadata is used when there is some;
// otherwise discovery runs, bounded by ctx.
func (m *Middleware) revoke(ctx context.Context, rt string) error {
	ps, err := m.provider.get(ctx)
	if err != nil {
		return err
	}
	endpoint, err := m.revocationEndpoint(ps)
	if err != nil {
		return err
	}
	authn, err := m.clientAuth(ps)
	if err != nil {
		return fmt.Errorf("the client authentication could not be prepared: %w", err)
	}
	form := url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}
	for k, vs := range authn.params {
		form[k] = vs
	}
	req, err := m.clientPost(ctx, endpoint, form, authn)
	if err != nil {
		return fmt.Errorf("%w: the revocation_endpoint URL is invalid", ErrProviderUnavailable)
	}
	resp, err := m.provider.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProviderUnavailable, redactURLError(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxRevocationResponse))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := "the revocation endpoint answered " + strconv.Itoa(resp.StatusCode)
	if doc, err := decodeTokenBody(resp.Header.Get("Content-Type"), raw); err == nil {
		if code := sanitizeCode(stringMember(doc, "error")); code != "" {
			msg += " " + code
		}
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%w: %s", ErrProviderUnavailable, msg)
	}
	return errors.New(msg)
}

// revocationEndpoint returns the provider's revocation_endpoint, or with
// UseMTLS its mtls_endpoint_aliases entry when there is one (RFC 8705 §5).
// It must be an absolute http(s) URL, https for an https issuer.
func (m *Middleware) revocationEndpoint(ps *providerState) (string, error) {
	var ep string
	if raw := ps.md.RevocationEndpoint; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &ep); err != nil {
			return "", errors.New("the provider's revocation_endpoint is not a string")
		}
	}
	if m.s.useMTLS {
		var aliases mtlsAliases
		if len(ps.md.MTLSEndpointAliases) > 0 {
			_ = json.Unmarshal(ps.md.MTLSEndpointAliases, &aliases) // not an object: no aliases
		}
		if alias := aliases.get("revocation_endpoint"); alias != "" {
			ep = alias
		} else if ep != "" {
			m.s.logger.Debug("oidc: no mtls_endpoint_aliases.revocation_endpoint; using revocation_endpoint")
		}
	}
	if ep == "" {
		return "", errNoRevocationEndpoint
	}
	u, err := url.Parse(ep)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		(strings.HasPrefix(ps.md.Issuer, "https:") && u.Scheme != "https") {
		return "", errors.New("the provider's revocation_endpoint is not an absolute URL (https for an https issuer)")
	}
	return ep, nil
}
