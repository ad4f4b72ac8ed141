package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// Tokens for several APIs from one login (RFC 8707 resource indicators).
const (
	// defaultMaxResourceTokens is Config.MaxResourceTokens' default.
	defaultMaxResourceTokens = 4
	// maxMaxResourceTokens bounds Config.MaxResourceTokens.
	maxMaxResourceTokens = 64
	// resourceTokenLeeway: a kept resource token is returned only while it
	// has more than this left, so that the API call it is for does not see
	// it expire.
	resourceTokenLeeway = 30
	// resourceTouchInterval is how stale ResourceToken.LastUsed may get
	// before a use updates it (a session change, which re-issues the
	// cookie); it bounds the writes that the LRU order costs.
	resourceTouchInterval = 60
)

// checkResourceParam checks an AuthorizationParams "resource" value: one
// or more space-separated absolute URIs without a fragment (RFC 8707 §2).
// It returns what is wrong, or "".
func checkResourceParam(v string) string {
	for _, r := range strings.Fields(v) {
		if !isResourceURI(r) {
			return "must be absolute URIs without a fragment, separated by spaces"
		}
	}
	return ""
}

// isResourceURI reports whether r is an absolute URI without a fragment.
func isResourceURI(r string) bool {
	if r == "" || strings.ContainsAny(r, "# \t\r\n") {
		return false
	}
	u, err := url.Parse(r)
	return err == nil && u.IsAbs() && (u.Host != "" || u.Opaque != "")
}

// splitResources splits a "resource" value into its resources, without
// duplicates, in order.
func splitResources(v string) []string {
	var out []string
	for _, r := range strings.Fields(v) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// resourceScope joins the scopes asked of AccessTokenFor (each may hold
// several, separated by spaces) into a sorted scope value without
// duplicates. ok is false for a scope with a character RFC 6749 §3.3 does
// not allow.
func resourceScope(scopes []string) (string, bool) {
	var out []string
	for _, s := range scopes {
		for _, tok := range strings.Fields(s) {
			for i := 0; i < len(tok); i++ {
				if c := tok[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
					return "", false
				}
			}
			out = append(out, tok)
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), " "), true
}

// coversScope reports whether the granted scope holds every scope of want.
func coversScope(granted, want string) bool {
	if want == "" {
		return true
	}
	have := strings.Fields(granted)
	for _, s := range strings.Fields(want) {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// AccessTokenFor returns an access token for resource, an API named by its
// resource indicator (RFC 8707), optionally with scopes. The resource
// should be one the login asked for (Config.AuthorizationParams or
// LoginOptions.AuthorizationParams "resource"); providers refuse others.
//
// A token the session keeps for resource is returned while it has more
// than 30 seconds left and its scope holds every scope asked for.
// Otherwise the session's refresh token is redeemed at the token endpoint
// with resource and, when scopes are given, scope (Config.TokenEndpointParams
// apply; its "resource" and, with scopes, "scope" are replaced). With
// Config.DPoP the token is DPoP-bound (Type "DPoP"): Context.ClientFor
// sends it with proofs, and Context.DPoPProofFor makes proofs for
// requests built by hand.
//
// The new token is kept in the session (Session.ResourceTokens, saved like
// a Refresh result: in store mode at once), replacing an older one for the
// same resource; the session's own access token is not changed. A rotated
// refresh token replaces the session's, and a returned ID token is checked
// and kept as by Refresh. A session keeps at most Config.MaxResourceTokens
// resource tokens: the least recently used one (to a minute) is dropped
// first. In cookie mode, when the session cookie would exceed its size cap
// (16 KiB encrypted), the least recently used other tokens are dropped
// too, and when even the new token alone does not fit, it is returned but
// not kept (logged at Warn), so the next call asks the provider again. A
// token whose answer had no expires_in is returned but not kept: its
// ExpiresAt is zero (IsExpired reports true), and the next call asks again.
//
// Concurrent calls are de-duplicated per session, resource and scope, as
// for Refresh (the calls of one request also wait for each other), and
// after the response headers were written the rules of Refresh apply:
// in cookie mode a new token is refused with ErrResponseCommitted before
// the provider is called (a kept fresh token is still returned).
//
// Errors are those of Refresh, and: a *ProviderError 400 "invalid_request"
// wrapping ErrBadRequest for a resource that is not an absolute URI
// without a fragment, or a scope with characters RFC 6749 does not allow
// (before anything is sent); a *ProviderError with the Code
// "invalid_target", wrapping ErrInvalidTarget, when the provider refuses
// the resource (the session is left as it was). An invalid_grant answer
// ends the session, or with Config.KeepSessionOnInvalidGrant removes its
// API tokens (resource tokens included), as for Refresh.
func (c *Context) AccessTokenFor(ctx context.Context, resource string, scopes ...string) (*AccessToken, error) {
	if c == nil {
		return nil, noMiddlewareError()
	}
	if !isResourceURI(resource) {
		return nil, localTokenError("AccessTokenFor: the resource must be an absolute URI without a fragment")
	}
	scope, ok := resourceScope(scopes)
	if !ok {
		return nil, localTokenError("AccessTokenFor: a scope has a character that scopes cannot have")
	}
	if tok, ok := c.keptResourceToken(resource, scope); ok {
		return tok, nil
	}
	// The calls of one request take turns, so that a second call sees the
	// token (and the rotated refresh token) of the first.
	defer c.m.grantTurns.take(c)()
	if tok, ok := c.keptResourceToken(resource, scope); ok {
		return tok, nil
	}
	return c.resourceGrant(ctx, resource, scope, true)
}

// keptResourceToken returns the session's token for resource when it is
// fresh and covers scope, and marks it used.
func (c *Context) keptResourceToken(resource, scope string) (*AccessToken, bool) {
	m := c.m
	now := m.s.now().Unix()
	var (
		t     ResourceToken
		found bool
	)
	c.sess.read(func(s *Session) {
		if s != nil && s.IDToken != "" {
			t, found = s.ResourceTokens[resource]
		}
	})
	if !found || t.ExpiresAt-now <= resourceTokenLeeway || !coversScope(t.Scope, scope) {
		return nil, false
	}
	if now-t.LastUsed >= resourceTouchInterval {
		// Best effort: a use that cannot be saved any more is not recorded.
		_, _ = c.sess.change(func(s *Session) (*Session, bool) {
			if s == nil {
				return s, false
			}
			cur, ok := s.ResourceTokens[resource]
			if !ok || cur.AccessToken != t.AccessToken {
				return s, false
			}
			ns := s.clone()
			cur.LastUsed = now
			ns.ResourceTokens[resource] = cur
			return ns, true
		})
	}
	return m.resourceAccessToken(t), true
}

// resourceAccessToken is the AccessToken of a resource token.
func (m *Middleware) resourceAccessToken(t ResourceToken) *AccessToken {
	tok := &AccessToken{Token: t.AccessToken, Type: tokenTypeName(t.TokenType), now: m.s.now}
	if t.ExpiresAt != 0 {
		tok.ExpiresAt = time.Unix(t.ExpiresAt, 0)
		tok.ExpiresIn = time.Duration(max(t.ExpiresAt-m.s.now().Unix(), 0)) * time.Second
	}
	return tok
}

// resourceGrant redeems the refresh token for resource and keeps the
// answer. adopt allows one adoption of another instance's rotated tokens
// after invalid_grant (store mode), followed by one more try.
func (c *Context) resourceGrant(ctx context.Context, resource, scope string, adopt bool) (*AccessToken, error) {
	m := c.m
	if err := c.sess.changeable(); err != nil {
		return nil, committedError(err)
	}
	var prev string
	rt, curClaims, err := c.refreshable(func(s *Session) { prev = string(s.ResourceTokens[resource].AccessToken) })
	if err != nil {
		return nil, err
	}
	params, err := m.refreshParams(RefreshOptions{})
	if err != nil {
		return nil, err
	}
	params["resource"] = resource
	if scope != "" {
		params["scope"] = scope
	}
	// The key is never a refresh token's alone, so that a resource grant
	// and a plain Refresh of the same token stay apart.
	key := sha256.Sum256([]byte("resource\x00" + rt + "\x00" + resource + "\x00" + scope))
	res, err := m.refreshes.do(ctx, m.s.now, key, sha256.Sum256([]byte(prev)),
		func(ctx context.Context) (*refreshResult, error) {
			return m.refreshGrant(ctx, rt, params, curClaims)
		})
	if err != nil {
		var pe *ProviderError
		if errors.As(err, &pe) && pe.Code == "invalid_grant" {
			if adopt {
				if _, ok := c.adoptStoredRefresh(ctx, rt); ok {
					if tok, ok := c.keptResourceToken(resource, scope); ok {
						return tok, nil
					}
					return c.resourceGrant(ctx, resource, scope, false)
				}
			}
			if m.s.cfg.KeepSessionOnInvalidGrant {
				c.dropTokens(rt)
			} else {
				c.endSession(rt)
			}
		}
		return nil, err
	}
	return c.applyResource(res, resource, scope)
}

// applyResource writes a resource grant's answer into the session (shared
// at once in store mode, like applyRefresh).
func (c *Context) applyResource(res *refreshResult, resource, scope string) (*AccessToken, error) {
	m := c.m
	now := m.s.now().Unix()
	return c.applyGrant(res, func(ns *Session) (*AccessToken, bool) {
		t := ResourceToken{AccessToken: Secret(res.accessToken), TokenType: tokenTypeName(res.tokenType),
			Scope: res.scope, LastUsed: now}
		if t.Scope == "" {
			t.Scope = scope // RFC 6749 §5.1: omitted when it is the scope asked for
		}
		delete(ns.ResourceTokens, resource)
		if res.hasExpiry {
			t.ExpiresAt = res.receivedAt.Unix() + res.expiresIn
		}
		tok := m.resourceAccessToken(t)
		if !res.hasExpiry {
			return tok, true
		}
		if ns.ResourceTokens == nil {
			ns.ResourceTokens = make(map[string]ResourceToken, 1)
		}
		ns.ResourceTokens[resource] = t
		for len(ns.ResourceTokens) > m.s.maxResTokens {
			evictResourceToken(ns, resource)
		}
		m.fitResourceTokens(ns, resource, now)
		return tok, true
	})
}

// evictResourceToken drops the least recently used resource token other
// than keep (ties: the first resource in byte order). It reports whether
// one was dropped.
func evictResourceToken(s *Session, keep string) bool {
	victim, found := "", false
	var oldest int64
	for r, t := range s.ResourceTokens {
		if r == keep {
			continue
		}
		if !found || t.LastUsed < oldest || (t.LastUsed == oldest && r < victim) {
			victim, oldest, found = r, t.LastUsed, true
		}
	}
	if found {
		delete(s.ResourceTokens, victim)
	}
	return found
}

// fitResourceTokens drops resource tokens from s, least recently used
// first and keep last, while the session is too large for the backend (a
// cookie's size cap; a store takes any size).
func (m *Middleware) fitResourceTokens(s *Session, keep string, now int64) {
	hdr := cookiecrypto.Header{IAT: now, UAT: now, EXP: now + int64(maxSessionLifetimeDigits)}
	for len(s.ResourceTokens) > 0 {
		plain, err := s.marshal()
		if err != nil || m.backend.fits(hdr, plain) {
			return
		}
		if !evictResourceToken(s, keep) {
			delete(s.ResourceTokens, keep)
			m.s.logger.Warn("oidc: the resource token does not fit in the session cookie and is not kept; consider Session.Store",
				"resource", keep)
		}
	}
	if len(s.ResourceTokens) == 0 {
		s.ResourceTokens = nil
	}
}

// maxSessionLifetimeDigits is added to now for the header of a size
// estimate: expiries have as many digits as now for centuries.
const maxSessionLifetimeDigits = 365 * 24 * 3600

// grantTurns serialises the AccessTokenFor grants of each request (keyed
// by its Context), so that a second grant uses the refresh token that the
// first one may have rotated. It lives in the Middleware rather than in
// the Context, which every request allocates; entries exist only while
// grants wait or run.
type grantTurns struct {
	mu    sync.Mutex
	turns map[*Context]*grantTurn
}

type grantTurn struct {
	mu      sync.Mutex
	waiters int // guarded by grantTurns.mu
}

// take waits for c's turn and returns the function that ends it.
func (g *grantTurns) take(c *Context) (done func()) {
	g.mu.Lock()
	if g.turns == nil {
		g.turns = make(map[*Context]*grantTurn)
	}
	t := g.turns[c]
	if t == nil {
		t = &grantTurn{}
		g.turns[c] = t
	}
	t.waiters++
	g.mu.Unlock()
	t.mu.Lock()
	return func() {
		t.mu.Unlock()
		g.mu.Lock()
		if t.waiters--; t.waiters == 0 {
			delete(g.turns, c)
		}
		g.mu.Unlock()
	}
}
