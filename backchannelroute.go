package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// maxBackchannelBody bounds the body of a back-channel logout request.
const maxBackchannelBody = 64 << 10

// BackchannelLogout answers a back-channel logout request (OpenID Connect
// Back-Channel Logout 1.0 §2.5-2.8), for applications that mount the route
// themselves (Routes.BackchannelLogout = RouteDisabled). It needs
// Config.BackchannelLogout. The request never needs a session or a CSRF
// token, and the response never sets a cookie.
//
// The body must be application/x-www-form-urlencoded (else 415), at most
// 64 KiB (else 413), with exactly one logout_token. The token is validated
// per §2.6: signature with the provider's keys and Config.IDTokenSigningAlg
// only; iss, aud, iat and exp (both required, with Config.ClockTolerance);
// the back-channel logout event; no nonce; sub or sid; typ absent, "JWT" or
// "logout+jwt"; jti required and not seen before. Success is 200 with an
// empty body; anything else is 400 with a JSON {error, error_description}.
// Every response carries Cache-Control: no-store. On a nil Context (a
// handler not wrapped by Auth) it answers 500 with the default error page.
func (c *Context) BackchannelLogout(w http.ResponseWriter, r *http.Request) {
	if c == nil {
		defaultErrorHandler(w, r, noMiddlewareError())
		return
	}
	m := c.m
	// This response is the provider's: it never reads, extends or clears
	// a session.
	c.sess.leaveAlone(errBackchannelResponse)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if m.s.bcl == nil {
		writeBackchannelError(w, http.StatusBadRequest, "invalid_request", "back-channel logout is not enabled")
		return
	}
	if err := m.backchannelLogout(r); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = newError(http.StatusBadRequest, "invalid_request", "invalid logout request", err)
		}
		// The provider's logout did not take effect: a misconfiguration (audience,
		// algorithm) or an outage leaves users logged in, so it is a Warn.
		m.s.logger.Warn("oidc: back-channel logout rejected", "status", e.Status, "code", e.Code, "description", e.Description)
		writeBackchannelError(w, e.Status, e.Code, e.Description)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// errBackchannelResponse is why the session of a back-channel logout
// request is left alone (requestSession.leaveAlone).
var errBackchannelResponse = errors.New("oidc: a back-channel logout response leaves the session alone")

func writeBackchannelError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// backchannelLogout validates the request and runs OnLogoutToken. Errors are
// *Error values with status 400, 413 or 415.
func (m *Middleware) backchannelLogout(r *http.Request) error {
	b := m.s.bcl
	invalid := func(desc string, sentinels ...error) error {
		cause := ErrInvalidLogoutToken
		if len(sentinels) > 0 {
			cause = fmt.Errorf("%w: %w", ErrInvalidLogoutToken, sentinels[0])
		}
		return newError(http.StatusBadRequest, "invalid_request", desc, cause)
	}
	if r.Method != http.MethodPost {
		return newError(http.StatusMethodNotAllowed, "invalid_request", "use POST", ErrBadRequest)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return newError(http.StatusUnsupportedMediaType, "invalid_request",
			"the body must be application/x-www-form-urlencoded", ErrBadRequest)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxBackchannelBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(http.StatusRequestEntityTooLarge, "invalid_request", "the body is too large", ErrBadRequest)
		}
		return newError(http.StatusBadRequest, "invalid_request", "the body is malformed", ErrBadRequest)
	}
	vals := r.PostForm["logout_token"]
	switch {
	case len(vals) == 0 || vals[0] == "":
		return invalid("Missing logout_token")
	case len(vals) > 1:
		return invalid("logout_token must be sent once")
	}
	claims, err := m.verifyLogoutToken(r.Context(), vals[0])
	if err != nil {
		return err
	}

	// Replays (§2.6 step 8): the jti is remembered until the token expires,
	// in process and, with a store, in "<iss>|jti|<jti>" for every
	// instance. Concurrent deliveries of one token may both pass; logging
	// out twice is harmless.
	now := m.s.now()
	exp, _ := numericClaim(claims, "exp")
	until := exp.Add(m.s.tolerance + time.Second)
	key := claims.String("iss") + "|jti|" + claims.String("jti")
	if !b.replay.reserve(key, until, now) {
		return invalid("the logout token was already used", ErrLogoutTokenReplay)
	}
	appErr := func(cause error) error {
		b.replay.release(key)
		return newError(http.StatusBadRequest, "application_error", "The application failed to invalidate the session.", cause)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), m.s.httpTimeout)
	defer cancel()
	if b.markers != nil {
		seen, err := getEntry(ctx, b.markers, key)
		if err != nil {
			return appErr(err)
		}
		if seen != nil {
			return invalid("the logout token was already used", ErrLogoutTokenReplay)
		}
	}
	if err := b.onLogoutToken(ctx, claims.clone()); err != nil {
		return appErr(err)
	}
	if b.markers != nil {
		nowS := now.Unix()
		ttl := until.Sub(now)
		entry := encodeEntry(key, storeEntry{
			Header: storeHeader{IAT: nowS, UAT: nowS, EXP: until.Unix()},
			Cookie: &storeCookie{Expires: now.UnixMilli() + ttl.Milliseconds(), MaxAge: ttl.Milliseconds()},
		})
		if err := b.markers.Set(ctx, key, entry, until); err != nil {
			// The logout itself succeeded; only the cross-instance replay
			// check is lost for this token.
			m.s.logger.Warn("oidc: back-channel logout token id not stored", "error", err.Error())
		}
	}
	return nil
}

// verifyLogoutToken applies OpenID Connect Back-Channel Logout 1.0 §2.6.
// Error descriptions never include the token.
func (m *Middleware) verifyLogoutToken(ctx context.Context, raw string) (Claims, error) {
	invalid := func(desc string) error {
		return newError(http.StatusBadRequest, "invalid_request", desc, ErrInvalidLogoutToken)
	}
	if len(raw) > provider.MaxJWTBytes {
		return nil, invalid("the logout token is too large")
	}
	parts := strings.Split(raw, ".")
	if len(parts) == 5 {
		return nil, invalid("encrypted logout tokens are not supported")
	}
	if len(parts) != 3 {
		return nil, invalid("the logout token is not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalid("the logout token header is malformed")
	}
	var hdr map[string]any
	if json.Unmarshal(hb, &hdr) != nil || hdr == nil {
		return nil, invalid("the logout token header is malformed")
	}
	if typ, present := hdr["typ"]; present {
		t, _ := typ.(string)
		t = strings.TrimPrefix(strings.ToLower(t), "application/")
		if t != "jwt" && t != "logout+jwt" {
			return nil, invalid(`the logout token typ must be "logout+jwt"`)
		}
	}
	md, err := m.discover(ctx)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "temporarily_unavailable",
			"the provider's metadata is unavailable; try again later", err)
	}
	vctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	if _, err := m.provider.VerifySignature(vctx, md, raw); err != nil {
		if pe := fromProvider(err); pe != err { // the keys could not be fetched
			return nil, newError(http.StatusBadRequest, "invalid_request", "the logout token signature is invalid",
				fmt.Errorf("%w: %w", ErrInvalidLogoutToken, pe))
		}
		return nil, invalid("the logout token signature is invalid")
	}
	claims, err := decodeClaims(raw)
	if err != nil {
		return nil, invalid("the logout token payload is not a JSON object")
	}
	if iss, _ := claims["iss"].(string); iss == "" || iss != md.Issuer {
		return nil, invalid("the logout token issuer does not match the provider")
	}
	if !audienceContains(claims["aud"], m.s.clientID) {
		return nil, invalid("the logout token audience does not include this client")
	}
	now, tol := m.s.now(), m.s.tolerance
	iat, ok := numericClaim(claims, "iat")
	if !ok {
		return nil, invalid("the logout token has no numeric iat claim")
	}
	if iat.After(now.Add(tol)) {
		return nil, invalid("the logout token was issued in the future")
	}
	exp, ok := numericClaim(claims, "exp")
	if !ok {
		return nil, invalid("the logout token has no numeric exp claim")
	}
	if !now.Before(exp.Add(tol)) {
		return nil, invalid("the logout token has expired")
	}
	if _, present := claims["nbf"]; present {
		nbf, ok := numericClaim(claims, "nbf")
		if !ok || nbf.After(now.Add(tol)) {
			return nil, invalid("the logout token is not valid yet (nbf)")
		}
	}
	events, _ := claims["events"].(map[string]any)
	if ev, ok := events[BackchannelLogoutEvent].(map[string]any); !ok || ev == nil {
		return nil, invalid("Logout Token must contain events claim with backchannel-logout event")
	}
	if _, present := claims["nonce"]; present {
		return nil, invalid("Logout Token must not contain nonce claim")
	}
	for _, k := range []string{"sub", "sid"} {
		if v, present := claims[k]; present {
			if s, ok := v.(string); !ok || s == "" {
				return nil, invalid("the logout token " + k + " claim must be a non-empty string")
			}
		}
	}
	if claims.String("sub") == "" && claims.String("sid") == "" {
		return nil, invalid("Logout Token must contain sub or sid claim")
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		return nil, invalid("the logout token has no jti claim")
	}
	return claims, nil
}

// audienceContains reports whether aud (a string or an array of strings)
// contains clientID.
func audienceContains(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		for _, v := range a {
			if s, _ := v.(string); s == clientID {
				return true
			}
		}
	}
	return false
}
