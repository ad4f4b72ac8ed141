package oidc

import (
	"context"
	"errors"
	"time"

	"github.com/openidconnect-go/oidc/internal/provider"
)

const (
	// maxRevocationTime bounds a logout's refresh-token revocation (with
	// HTTPTimeout, whichever is shorter).
	maxRevocationTime = 2 * time.Second
	// maxRevocations bounds the revocations in flight. Beyond it a logout
	// skips the revocation (and logs it), so that a flood of logouts cannot
	// pile up requests to the provider.
	maxRevocations = 64
)

// revokeRefreshToken revokes rt at the provider's revocation endpoint
// (RFC 7009, provider.Client.Revoke) after a logout. It is best effort and
// never delays or fails the logout: it runs in its own goroutine, detached
// from ctx's cancellation, bounded by min(HTTPTimeout, 2 s), and failures
// are only logged at Warn (without the token).
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
		err := m.provider.Revoke(ctx, rt)
		var pe *provider.Error
		switch {
		case errors.Is(err, provider.ErrNoRevocationEndpoint):
			m.s.logger.Debug("oidc: the provider has no revocation_endpoint; refresh token not revoked at logout")
		case errors.As(err, &pe):
			m.s.logger.Warn("oidc: refresh token not revoked at logout", "error", pe.Detail())
		case err != nil:
			m.s.logger.Warn("oidc: refresh token not revoked at logout", "error", err.Error())
		}
	})
}
