package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// AccessToken is the session's access token, as returned by
// Context.AccessToken and Context.Refresh.
type AccessToken struct {
	// Token is the access token. Convert it with string(t.Token) to send it;
	// it prints as [REDACTED].
	Token Secret
	// Type is the token type, normalised to "Bearer" for bearer tokens and
	// "DPoP" for DPoP-bound ones (see DPoPConfig).
	Type string
	// ExpiresIn is the time left until ExpiresAt when the AccessToken was
	// built, in whole seconds and never negative.
	ExpiresIn time.Duration
	// ExpiresAt is when the token expires: the time the token response was
	// received plus its expires_in (the token's own contents are never
	// read). It has a one-second resolution.
	ExpiresAt time.Time

	now func() time.Time
}

// IsExpired reports whether the token has expired: ExpiresAt is at or
// before the current time (Config.Now), in whole seconds and without any
// leeway, as in express-openid-connect. Refresh a little earlier yourself if
// the API is slow or clocks differ, for example with
// time.Until(t.ExpiresAt) < 30*time.Second.
func (t *AccessToken) IsExpired() bool {
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	return t.ExpiresAt.Unix() <= now().Unix()
}

// AccessToken returns the session's access token, or nil. Like
// express-openid-connect it is nil unless the session has an ID token and
// the access token, its type and its expiry all exist: a token response
// without expires_in gives no AccessToken (the token is still in Session).
// Each call builds a new value; it is not updated by a later Refresh.
func (c *Context) AccessToken() *AccessToken {
	if c == nil {
		return nil
	}
	var tok *AccessToken
	c.sess.read(func(s *Session) { tok = c.m.accessToken(s) })
	return tok
}

// accessToken returns the AccessToken of session s, or nil.
func (m *Middleware) accessToken(s *Session) *AccessToken {
	if s == nil || s.IDToken == "" || s.AccessToken == "" || s.TokenType == "" || s.ExpiresAt == 0 {
		return nil
	}
	now := m.s.now
	left := max(s.ExpiresAt-now().Unix(), 0)
	return &AccessToken{
		Token:     s.AccessToken,
		Type:      tokenTypeName(s.TokenType),
		ExpiresIn: time.Duration(left) * time.Second,
		ExpiresAt: time.Unix(s.ExpiresAt, 0),
		now:       now,
	}
}

// RefreshToken returns the session's refresh token, or "" when there is
// none (or no logged-in session).
func (c *Context) RefreshToken() string {
	if c == nil {
		return ""
	}
	var rt string
	c.sess.read(func(s *Session) {
		if s != nil && s.IDToken != "" {
			rt = string(s.RefreshToken)
		}
	})
	return rt
}

// RefreshOptions are the options of Context.Refresh.
type RefreshOptions struct {
	// TokenEndpointParams are extra parameters of the refresh request, merged
	// over Config.TokenEndpointParams (for example "audience" or "scope").
	// grant_type, refresh_token and the client authentication parameters
	// cannot be set: Refresh returns a *ProviderError "invalid_request"
	// naming the key (wrapping ErrBadRequest) before anything is sent.
	TokenEndpointParams map[string]string
}

// refreshReserved are the parameters TokenEndpointParams cannot override.
var refreshReserved = map[string]bool{
	"grant_type": true, "refresh_token": true, "client_id": true, "client_secret": true,
	"client_assertion": true, "client_assertion_type": true,
}

// refreshParams merges opts over Config.TokenEndpointParams, refusing the
// keys the refresh request sets itself. (Config.TokenEndpointParams was
// checked by New.)
func (m *Middleware) refreshParams(opts RefreshOptions) (map[string]string, error) {
	params := map[string]string{}
	for k, v := range m.s.tokenParams {
		params[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(opts.TokenEndpointParams)) {
		if refreshReserved[k] {
			return nil, localTokenError(fmt.Sprintf("RefreshOptions.TokenEndpointParams[%q] cannot be set: the refresh request sets it", k))
		}
		params[k] = opts.TokenEndpointParams[k]
	}
	return params, nil
}

// Refresh redeems the session's refresh token at the token endpoint and
// updates the session with the answer; the new session is saved with the
// response (in store mode also to the store at once), so call Refresh
// before writing it. It returns the new AccessToken (nil, with a nil error,
// when the provider sent no expires_in, as in express-openid-connect).
//
// After the response headers were written, the refreshed session could not
// reach the browser's cookie, so in cookie mode Refresh fails with
// ErrResponseCommitted without calling the provider: the refresh token is
// not rotated and the session stays as it was. In store mode a session that
// already has a store entry is refreshed and its entry updated at once (the
// cookie names it); if that write fails the refreshed tokens are lost and
// the error wraps ErrStoreUnavailable. Do not write the response
// concurrently with a Refresh: a response committed while the provider
// answers loses the refreshed tokens the same way.
//
// The session is updated like express-openid-connect does: the access token
// and its type ("Bearer" or "DPoP") and expiry (the time of the answer
// plus expires_in) are replaced; a returned refresh token replaces the old
// one, otherwise the old one is kept (rotation-friendly); a returned ID
// token replaces the old one, otherwise the old one is kept. A returned ID
// token is verified like a login's ID token (signature, alg, iss, aud, azp,
// exp, iat; no nonce) and must name the same iss, sub and aud as the current
// one. The session's sid, session_expiry and application values are never
// changed.
//
// Concurrent refreshes are de-duplicated: all the requests of one session
// that refresh at the same time share one token-endpoint call (keyed by a
// hash of the refresh token, per Middleware). Requests that arrive up to 60
// seconds later still carrying the old refresh token and access token (an
// older cookie) adopt that call's result instead of presenting a rotated
// refresh token again, and their responses carry the new tokens. Callers
// that share a call share its parameters: those of the first caller. The
// shared call runs detached from the callers' contexts and is bounded by
// Config.HTTPTimeout; a caller whose ctx ends stops waiting for it.
//
// Errors:
//   - before any network call: an *Error wrapping ErrResponseCommitted
//     (500) after the response headers were written (see above; checked
//     first), ErrSessionExpired (401) when the provider's session_expiry
//     ceiling is reached, ErrNoRefreshToken (401) when the session has no
//     refresh token, or ErrNoMiddleware (500) on a nil Context (a handler
//     not wrapped by Auth);
//   - an *Error wrapping ErrStoreUnavailable (503) when, after the response
//     headers were written, the refreshed session could not be written to
//     the store;
//   - a *ProviderError for everything else (wrapping ErrTokenExchange),
//     including a refused TokenEndpointParams key (400 "invalid_request",
//     before anything is sent). An answer with the OAuth error
//     invalid_grant (the refresh token expired, was revoked or reused, or
//     the user's consent or account is gone) ends the session: it is
//     cleared (the cookie in this response, the Session.Store entry at
//     once), so the user is logged out and the next protected request
//     starts a new login. With Config.KeepSessionOnInvalidGrant only the
//     access token, its type and expiry and the refresh token are removed;
//     the ID token, sid and application values stay, so the user remains
//     logged in but must log in again (for example with Context.Login) to
//     get new API tokens. Either way no further refresh is attempted with
//     the refused token. In store mode the session is first re-read from
//     the store: when another instance has meanwhile obtained new tokens
//     with the same refresh token, they are adopted and returned without
//     an error. Any other error leaves the session as it was; network
//     errors, timeouts, 5xx answers (StatusCode 503 or the provider's
//     status) and failed discoveries (503) also wrap
//     ErrProviderUnavailable, as does a caller whose ctx ends before the
//     shared refresh does (503, also wrapping ctx's error). StatusCode is the
//     provider's HTTP status for OAuth errors (400 or 401), 502 for an
//     invalid answer (including a rejected ID token, which also wraps
//     ErrInvalidIDToken).
func (c *Context) Refresh(ctx context.Context, opts RefreshOptions) (*AccessToken, error) {
	if c == nil {
		return nil, noMiddlewareError()
	}
	m := c.m
	if err := c.sess.changeable(); err != nil {
		// Decided before the provider is called: a refresh whose result
		// cannot be saved must not rotate the refresh token.
		return nil, committedError(err)
	}
	var at string
	rt, curClaims, err := c.refreshable(func(s *Session) { at = string(s.AccessToken) })
	if err != nil {
		return nil, err
	}
	params, err := m.refreshParams(opts)
	if err != nil {
		return nil, err
	}
	res, err := m.refreshes.do(ctx, m.s.now, sha256.Sum256([]byte(rt)), sha256.Sum256([]byte(at)),
		func(ctx context.Context) (*refreshResult, error) {
			return m.refreshGrant(ctx, rt, params, curClaims)
		})
	if err != nil {
		var pe *ProviderError
		if errors.As(err, &pe) && pe.Code == "invalid_grant" {
			// Another instance may have rotated this refresh token a moment
			// ago: with a shared store, adopt its result (catalog REF-03).
			if tok, ok := c.adoptStoredRefresh(ctx, rt); ok {
				return tok, nil
			}
			if m.s.cfg.KeepSessionOnInvalidGrant {
				c.dropTokens(rt)
			} else {
				c.endSession(rt)
			}
		}
		return nil, err
	}
	return c.applyRefresh(res)
}

// storeRefreshWait is how long a request whose refresh was refused waits for
// another instance's rotated tokens to appear in the shared store.
const storeRefreshWait = 2 * time.Second

// refreshable reads what a refresh_token grant needs from the session,
// with the checks that Refresh and AccessTokenFor share: the refresh token
// (the provider's session must not have expired) and the claims of the
// current ID token, which the grant's new ID token must match. extra reads
// more of a logged-in session under the same lock.
func (c *Context) refreshable(extra func(s *Session)) (rt string, claims Claims, err error) {
	var (
		sessExp  int64
		curToken string
	)
	c.sess.read(func(s *Session) {
		if s != nil && s.IDToken != "" {
			rt, sessExp, curToken = string(s.RefreshToken), s.SessionExpiresAt, string(s.IDToken)
			extra(s)
		}
	})
	if sessExp != 0 && c.m.s.now().Unix() >= sessExp-sessionExpiryLeeway {
		return "", nil, newError(http.StatusUnauthorized, "session_expired", "The upstream IdP session has expired.", ErrSessionExpired)
	}
	if rt == "" {
		return "", nil, newError(http.StatusUnauthorized, "no_refresh_token", "The session has no refresh token.", ErrNoRefreshToken)
	}
	claims, err = decodeClaims(curToken)
	if err != nil {
		return "", nil, newError(http.StatusUnauthorized, "no_refresh_token", "The session has no valid ID token.", ErrNoRefreshToken)
	}
	return rt, claims, nil
}

// committedError is Refresh's error for a change that can no longer be
// saved (ErrResponseCommitted, possibly with the store's read error).
func committedError(err error) *Error {
	return newError(http.StatusInternalServerError, "server_error",
		"The session cannot be refreshed after the response headers were written.", err)
}

// adoptStoredRefresh re-reads the session from the store after invalid_grant
// and adopts tokens that another instance obtained with the same refresh
// token. It waits up to storeRefreshWait for them to appear.
func (c *Context) adoptStoredRefresh(ctx context.Context, rt string) (*AccessToken, bool) {
	deadline := time.Now().Add(storeRefreshWait)
	for {
		stored, ok := c.sess.stored(ctx)
		if !ok {
			return nil, false
		}
		if stored != nil && stored.RefreshToken != "" && string(stored.RefreshToken) != rt && stored.AccessToken != "" {
			var tok *AccessToken
			adopted, _ := c.sess.change(func(cur *Session) (*Session, bool) {
				if cur == nil || string(cur.RefreshToken) != rt || stored.IDToken == "" {
					return cur, false
				}
				tok = c.m.accessToken(stored)
				return stored, true
			})
			if adopted {
				c.m.s.logger.Info("oidc: refresh token already rotated by another instance; adopted its tokens")
			}
			return tok, adopted
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dropTokens removes the API tokens from the session after invalid_grant,
// unless the session has moved on to another refresh token meanwhile.
func (c *Context) dropTokens(rt string) {
	dropped, _ := c.sess.change(func(s *Session) (*Session, bool) {
		if s == nil || string(s.RefreshToken) != rt {
			return s, false
		}
		ns := s.clone()
		ns.AccessToken, ns.RefreshToken, ns.TokenType, ns.ExpiresAt = "", "", "", 0
		ns.ResourceTokens = nil
		return ns, true
	})
	if dropped {
		c.m.s.logger.Info("oidc: refresh token refused (invalid_grant); API tokens removed from the session")
	}
}

// endSession ends the session after invalid_grant (the grant behind the
// login is gone), unless the session has moved on to another refresh token
// meanwhile. A shared session (store mode) is destroyed at once, so that
// the session's other requests and instances see the logout too.
func (c *Context) endSession(rt string) {
	ended, _ := c.sess.changeShared(func(s *Session) (*Session, bool) {
		if s == nil || string(s.RefreshToken) != rt {
			return s, false
		}
		return nil, true
	})
	if ended {
		c.m.s.logger.Info("oidc: refresh token refused (invalid_grant); session ended")
	}
}

// applyRefresh writes a refresh result into the request's session: the
// session's own access token (see applyGrant).
func (c *Context) applyRefresh(res *refreshResult) (*AccessToken, error) {
	return c.applyGrant(res, func(ns *Session) (*AccessToken, bool) {
		ns.AccessToken = Secret(res.accessToken)
		ns.TokenType = res.tokenType
		ns.ExpiresAt = 0
		if res.hasExpiry {
			ns.ExpiresAt = res.receivedAt.Unix() + res.expiresIn
		}
		return c.m.accessToken(ns), true
	})
}

// applyGrant is the part of saving a refresh_token grant's answer that
// Refresh and AccessTokenFor share: the session must still be a login of
// the same user; a copy of it gets the rotated refresh token and the new
// ID token, then set stores the access token where it belongs and says
// whether the session changed. A shared session (store mode) is saved at
// once, so that other instances see the rotated refresh token before
// their own refresh attempts fail.
func (c *Context) applyGrant(res *refreshResult, set func(ns *Session) (*AccessToken, bool)) (*AccessToken, error) {
	cur := c.sess.idClaims()
	var (
		tok    *AccessToken
		failed error
	)
	_, err := c.sess.changeShared(func(s *Session) (*Session, bool) {
		if s == nil || s.IDToken == "" {
			failed = newError(http.StatusUnauthorized, "no_refresh_token", "The session ended during the refresh.", ErrNoRefreshToken)
			return s, false
		}
		if res.idClaims != nil {
			if msg := sameIdentity(cur, res.idClaims); msg != "" {
				failed = tokenError(http.StatusBadGateway, "invalid_id_token", msg, ErrInvalidIDToken)
				return s, false
			}
		}
		ns := s.clone()
		if res.refreshToken != "" {
			ns.RefreshToken = Secret(res.refreshToken)
		}
		if res.idToken != "" {
			ns.IDToken = Secret(res.idToken)
		}
		var changed bool
		tok, changed = set(ns)
		return ns, changed
	})
	switch {
	case failed != nil:
		return nil, failed
	case err != nil:
		// The response was written while the provider answered, or the
		// late save failed.
		return nil, refreshSaveError(err)
	}
	return tok, nil
}

// refreshSaveError is Refresh's error when a refreshed session could not be
// saved to the store after the response headers were written.
func refreshSaveError(err error) *Error {
	if errors.Is(err, ErrResponseCommitted) {
		return committedError(err)
	}
	return newError(http.StatusServiceUnavailable, "session_store_unavailable",
		"The refreshed session could not be saved. Please try again shortly.", err)
}

// refreshResult is one successful refresh, shared by the requests that
// de-duplicated on it.
type refreshResult struct {
	accessToken  string
	tokenType    string
	refreshToken string // "" when not rotated
	idToken      string // "" when none was returned
	idClaims     Claims // verified claims of idToken
	scope        string // the answer's scope member ("" when none)
	expiresIn    int64
	hasExpiry    bool
	receivedAt   time.Time
}

// refreshGrant runs one refresh_token grant (provider.Client.Token, the
// path of every grant) and validates the answer; a returned ID token is
// verified like a login's and must name the same user.
func (m *Middleware) refreshGrant(ctx context.Context, rt string, params map[string]string, cur Claims) (*refreshResult, error) {
	md, err := m.discover(ctx)
	if err != nil {
		return nil, metadataUnavailable(err)
	}
	form := url.Values{"grant_type": {provider.GrantRefreshToken}, "refresh_token": {rt}}
	for k, v := range params {
		form.Set(k, v)
	}
	doc, err := m.provider.Token(ctx, md, form)
	var tok *provider.Tokens
	if err == nil {
		tok, err = doc.Tokens(provider.GrantRefreshToken)
	}
	if err != nil {
		return nil, fromProvider(err)
	}
	res := &refreshResult{accessToken: tok.AccessToken, tokenType: tok.TokenType, refreshToken: tok.RefreshToken,
		expiresIn: tok.ExpiresIn, hasExpiry: tok.HasExpiry, receivedAt: m.s.now(), scope: doc.String("scope")}
	if tok.HasIDToken {
		claims, err := m.verifyIDToken(ctx, md, tok.IDToken, idTokenChecks{})
		if err != nil {
			var e *Error
			desc, cause := "the refreshed ID token was rejected", error(ErrInvalidIDToken)
			if errors.As(err, &e) {
				desc, cause = e.Description, e.Err
			}
			return nil, tokenError(http.StatusBadGateway, "invalid_id_token", desc, cause)
		}
		if msg := sameIdentity(cur, claims); msg != "" {
			return nil, tokenError(http.StatusBadGateway, "invalid_id_token", msg, ErrInvalidIDToken)
		}
		res.idToken, res.idClaims = tok.IDToken, claims
	}
	return res, nil
}

// metadataUnavailable is the error of a token request that could not be
// sent because discovery failed (an issuer mismatch included): 503
// provider_unavailable, wrapping ErrTokenExchange, ErrProviderUnavailable
// and discovery's *ProviderError.
func metadataUnavailable(err error) *ProviderError {
	return tokenError(http.StatusServiceUnavailable, "provider_unavailable", "the provider's metadata could not be fetched",
		fmt.Errorf("%w: %w", ErrProviderUnavailable, err))
}

// sameIdentity checks that a refreshed ID token names the same issuer,
// subject and audience as the current one (OIDC Core §12.2). It returns a
// description of the first difference, or "".
func sameIdentity(cur, next Claims) string {
	switch {
	case cur == nil:
		return "the session has no ID token to compare with"
	case cur.String("iss") == "" || cur.String("iss") != next.String("iss"):
		return "the refreshed ID token has another issuer"
	case cur.String("sub") == "" || cur.String("sub") != next.String("sub"):
		return "the refreshed ID token names another subject"
	case !slices.Equal(audiences(cur), audiences(next)):
		return "the refreshed ID token has another audience"
	}
	return ""
}

// audiences returns the aud claim as a sorted list.
func audiences(c Claims) []string {
	var out []string
	switch v := c["aud"].(type) {
	case string:
		out = []string{v}
	case []any:
		for _, a := range v {
			s, _ := a.(string)
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
