package oidc

import (
	"errors"
	"fmt"
	"net/http"
)

// backchannelGate runs IsLoggedOut for an authenticated request. It clears
// a logged-out session and reports true to go on; on failure it answers
// the request (503 unless the error says otherwise) without touching the
// session, and reports false.
func (m *Middleware) backchannelGate(w http.ResponseWriter, r *http.Request, c *Context) bool {
	b := m.s.bcl
	if b == nil || b.isLoggedOut == nil || !c.IsAuthenticated() {
		return true
	}
	out, err := b.isLoggedOut(r, c)
	if err == nil {
		if out {
			_ = c.SetSession(Session{}) // before the response: cannot fail
		}
		return true
	}
	m.s.logger.Error("oidc: back-channel logout check failed", "error", err.Error())
	// The session's state is unknown: neither clear nor extend it.
	c.sess.leaveAlone(err)
	var e *Error
	if !errors.As(err, &e) {
		cause := err
		if !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, ErrProviderUnavailable) {
			cause = fmt.Errorf("%w: %w", ErrLogoutCheck, err)
		}
		e = newError(statusOf(err, http.StatusServiceUnavailable), "temporarily_unavailable",
			"Your session cannot be checked right now. Please try again shortly.", cause)
	}
	if e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	m.s.errorHandler(w, r, e)
	return false
}

// backchannelLogin runs OnLogin and then IsLoggedOut with the Context
// showing next, the new session (requestSession.with); the caller saves
// it. A new session that IsLoggedOut reports as logged out refuses the
// login with ErrLoggedOut.
func (m *Middleware) backchannelLogin(r *http.Request, c *Context, next *Session) error {
	b := m.s.bcl
	if b == nil || (b.onLogin == nil && b.isLoggedOut == nil) {
		return nil
	}
	return c.sess.with(next, func() error {
		if b.onLogin != nil {
			if err := b.onLogin(r, c); err != nil {
				return loginCheckError(err)
			}
		}
		if b.isLoggedOut == nil {
			return nil
		}
		out, err := b.isLoggedOut(r, c)
		if err != nil {
			m.s.logger.Warn("oidc: back-channel logout check failed at login", "error", err.Error())
			return loginCheckError(err)
		}
		if out {
			m.s.logger.Info("oidc: login refused: its provider session was logged out through the back channel")
			return newError(http.StatusUnauthorized, "session_logged_out",
				"This login was ended by a logout at the login provider. Please log in again.", ErrLoggedOut)
		}
		return nil
	})
}

// loginCheckError turns an OnLogin or IsLoggedOut failure at login into the
// callback's error: 503 unless the error carries a status.
func loginCheckError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	cause := err
	if !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, ErrProviderUnavailable) {
		cause = errors.Join(ErrLogoutCheck, err)
	}
	return newError(statusOf(err, http.StatusServiceUnavailable), "temporarily_unavailable",
		"The login cannot be completed right now. Please try again shortly.", cause)
}
