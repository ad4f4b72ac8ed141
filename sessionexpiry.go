package oidc

import (
	"time"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// sessionExpiryLeeway is the skew guard on the provider's session_expiry.
const sessionExpiryLeeway = 30

// headerValid applies express-openid-connect's expiry checks to a session
// header against the current configuration.
func (s *settings) headerValid(h cookiecrypto.Header, now int64) bool {
	if h.EXP <= now {
		return false
	}
	if s.rolling && h.UAT+int64(s.rollingDur/time.Second) <= now {
		return false
	}
	if s.absoluteDur > 0 && h.IAT+int64(s.absoluteDur/time.Second) <= now {
		return false
	}
	return true
}

// expiry computes the exp header member for a session issued at iat and
// written at now.
func (s *settings) expiry(iat, now int64, sess *Session) int64 {
	var exp int64
	abs := int64(s.absoluteDur / time.Second)
	switch {
	case !s.rolling:
		exp = iat + abs
	case s.absoluteDur < 0:
		exp = now + int64(s.rollingDur/time.Second)
	default:
		exp = min(now+int64(s.rollingDur/time.Second), iat+abs)
	}
	if sess.SessionExpiresAt != 0 && sess.SessionExpiresAt < exp {
		exp = sess.SessionExpiresAt
	}
	return exp
}

// needsTouch reports whether an unchanged session last written at uat is
// due for a re-issue. The interval is at most a tenth of the idle timeout,
// so a short RollingDuration is still extended by activity.
func (s *settings) needsTouch(uat, now int64) bool {
	if !s.rolling {
		return false
	}
	touch := min(s.touch, s.rollingDur/10)
	return touch < time.Second || now-uat >= int64(touch/time.Second)
}
