package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// requestSession is the session of one request, in the spirit of scs's
// load, handler, commit. It is read once, at its first use (lazily: a
// request that never uses it costs nothing, or a header peek); changes are
// tracked against a snapshot of what was read; and it is saved once, when
// the response headers are written (commit). The saves before that are
// named: login (a completed login fails rather than redirect when its
// session cannot be saved) and changeShared (changes that other instances
// must see at once: a refresh in store mode). Where the session lives is
// the backend's business (sessionBackend); the locking is this type's: the
// Context's methods call the methods below, which take mu.
type requestSession struct {
	mu  sync.Mutex
	m   *Middleware
	req *http.Request
	w   http.ResponseWriter // the Set-Cookie lines go into its header

	loaded    bool
	committed bool // the response headers were written (lateLocked)
	// unknown says why the session's state is unknown to this response:
	// the store could not be read, a back-channel logout check failed, or
	// the response is the back channel's. The client's cookies and the
	// store are then left alone: nothing is saved or cleared.
	unknown error

	cookie     chunk.Result        // what the request carried
	header     cookiecrypto.Header // of the valid incoming, or last written, session
	hadValid   bool                // header is a valid session's
	data       *Session            // nil: no session
	snap       Session             // shallow copy of data as read or last written
	dirty      bool                // changed since read or written
	oldKey     bool                // re-issue: read with an old secret, or an unsigned store id
	id         string              // the store entry's id (storeBackend)
	regenerate bool                // a login: move the session to a new store id

	claims    Claims // decoded ID-token claims, cached
	claimsFor Secret // the id_token the claims were decoded from
	jwt       bool   // data's ID token is known to be a JWT with a JSON object payload
}

// Reading.

// loadLocked reads the session once and applies the expiry checks, which
// run against the current time and configuration.
func (s *requestSession) loadLocked() { s.loadPeekedLocked(peekResult{}) }

// loadPeekedLocked is loadLocked reusing what backend.fresh parsed.
func (s *requestSession) loadPeekedLocked(pr peekResult) {
	if s.loaded {
		return
	}
	s.loaded = true
	res := s.m.backend.read(s, pr)
	s.cookie = res.cookie
	if res.err != nil {
		s.unknown = res.err
		return
	}
	if !res.ok {
		return
	}
	// A store id is remembered once its entry decoded as a session, even
	// an expired one (which is then destroyed).
	s.id = res.id
	now := s.m.s.now().Unix()
	if !s.m.s.headerValid(res.hdr, now) {
		s.m.s.logger.Debug("oidc: session expired")
		return
	}
	if res.sess != nil && res.sess.SessionExpiresAt != 0 && now >= res.sess.SessionExpiresAt-sessionExpiryLeeway {
		return
	}
	s.header, s.hadValid, s.oldKey, s.jwt = res.hdr, true, res.oldKey, res.jwt
	if res.sess != nil {
		s.data = res.sess
		s.snap = *res.sess
	}
}

// read runs fn with the session (nil when anonymous) under the lock; fn
// must neither keep nor change it.
func (s *requestSession) read(fn func(cur *Session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	fn(s.data)
}

// authenticated reports whether the session holds an ID token that is a
// JWT with a JSON object payload.
func (s *requestSession) authenticated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	d := s.data
	if d == nil || d.IDToken == "" {
		return false
	}
	if s.jwt || (s.claims != nil && s.claimsFor == d.IDToken) {
		return true
	}
	if _, ok := s.m.claims.c.get(string(d.IDToken)); ok {
		return true // decoded before: a JSON object
	}
	return isJWTObject(string(d.IDToken))
}

// idClaims returns the claims of the session's ID token (with the sid
// fallback), or nil. The map is shared: callers copy it before handing it
// out.
func (s *requestSession) idClaims() Claims {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claimsLocked()
}

// claimsLocked is idClaims; the caller holds mu.
func (s *requestSession) claimsLocked() Claims {
	s.loadLocked()
	d := s.data
	if d == nil || d.IDToken == "" {
		return nil
	}
	if s.claims != nil && s.claimsFor == d.IDToken {
		return s.claims
	}
	claims, err := s.m.claims.get(string(d.IDToken))
	if err != nil {
		return nil
	}
	if _, ok := claims["sid"]; !ok && d.SID != "" {
		claims = claims.clone()
		claims["sid"] = d.SID
	}
	s.claims, s.claimsFor = claims, d.IDToken
	return claims
}

// readError returns why the session's state is unknown (a store read
// error, for example), or nil.
func (s *requestSession) readError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	return s.unknown
}

// Changing.

// change applies fn to the session: fn gets the session (nil when
// anonymous), may change it in place, and returns the new one, or false
// when it changes nothing (cur must then be as it was). The change is
// saved at commit. After the response headers were written it is saved at
// once where the backend can (a store entry that the cookie names), else
// refused with ErrResponseCommitted and the session left as it was.
func (s *requestSession) change(fn func(cur *Session) (*Session, bool)) (bool, error) {
	return s.update(false, fn)
}

// changeShared is change, saved at once also before the response when the
// backend shares sessions between instances (a refresh's rotated tokens,
// a session ended by invalid_grant): failures are logged, and the response
// saves it again.
func (s *requestSession) changeShared(fn func(cur *Session) (*Session, bool)) (bool, error) {
	return s.update(true, fn)
}

func (s *requestSession) update(share bool, fn func(cur *Session) (*Session, bool)) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	var prev lateSnapshot
	if s.committed {
		prev = lateSnapshot{data: s.data.clone(), dirty: s.dirty}
	}
	next, ok := fn(s.data)
	if !ok {
		return false, nil
	}
	if err := s.lateLocked(); err != nil {
		if s.committed {
			s.restoreLocked(prev)
		}
		return false, err
	}
	s.setLocked(next)
	switch {
	case s.committed:
		return s.saveLateLocked(prev)
	case share && s.m.backend.shared():
		if err := s.saveLocked(); err != nil {
			s.m.s.logger.Warn("oidc: session change not shared yet", "error", err.Error())
		}
	}
	return true, nil
}

// changeable reports whether a change made now can be saved (see
// lateLocked); Refresh asks before it uses up a refresh token.
func (s *requestSession) changeable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	return s.lateLocked()
}

// setLocked makes next the session (nil: none), marked as changed.
func (s *requestSession) setLocked(next *Session) {
	s.data, s.dirty = next, true
	s.claims, s.claimsFor, s.jwt = nil, "", false
}

// lateSnapshot is the session before a change made after the response
// headers were written, put back when that change cannot be saved.
type lateSnapshot struct {
	data  *Session
	dirty bool
}

func (s *requestSession) restoreLocked(prev lateSnapshot) {
	s.data, s.dirty = prev.data, prev.dirty
	s.claims, s.claimsFor, s.jwt = nil, "", false
}

// lateLocked reports whether a session change made now can still be saved:
// always before the response headers are written; after, ErrResponseCommitted
// unless the backend can save it without a new cookie (backend.late), and
// never while the session's state is unknown.
func (s *requestSession) lateLocked() error {
	switch {
	case !s.committed:
		return nil
	case s.unknown != nil:
		return fmt.Errorf("%w: %w", ErrResponseCommitted, s.unknown)
	}
	return s.m.backend.late(s)
}

// The login hooks, refresh adoption and the back channel.

// with runs fn while the session's readers see a copy of next instead of
// the session, then puts the session back as it was: changes made through
// the Context during fn are discarded. This is how the login hooks
// (AfterCallback, OnLogin, the login-time IsLoggedOut) see the new
// session before it is saved.
func (s *requestSession) with(next *Session, fn func() error) error {
	s.mu.Lock()
	s.loadLocked()
	saved := lateSnapshot{data: s.data, dirty: s.dirty}
	s.setLocked(next.clone())
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.restoreLocked(saved)
		s.mu.Unlock()
	}()
	return fn()
}

// stored returns the session as the backend holds it now (store mode:
// the entry under the request's id), and false when there is none to ask
// or it cannot be read. Refresh uses it to adopt tokens that another
// instance obtained.
func (s *requestSession) stored(ctx context.Context) (*Session, bool) {
	s.mu.Lock()
	id := s.id
	s.mu.Unlock()
	return s.m.backend.stored(ctx, id)
}

// leaveAlone makes the session's state unknown to this response (see
// requestSession.unknown), for the back channel: its POST route never
// reads, extends or clears a session, and a failed logout check neither
// clears nor extends the session it could not check. Changes after the
// response headers are refused.
func (s *requestSession) leaveAlone(why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unknown == nil {
		s.unknown = why
	}
}

// Saving.

// login makes next the session of a completed login and saves it at once,
// the one early save: a session that cannot be saved (too large for a
// cookie, a store failure, an unusable Genid id) fails the login instead
// of redirecting as if logged in, and the previous session is kept.
// newID moves a store session to a new id (session fixation).
func (s *requestSession) login(next *Session, newID bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	prev := s.data
	if next.empty() {
		next = nil
	}
	s.setLocked(next)
	s.regenerate = newID
	err := s.saveLocked()
	if err != nil {
		s.setLocked(prev)
		s.regenerate = false
	}
	return err
}

// commit is the save point: called once, when the response headers are
// written. A session nobody read is left alone unless the backend says it
// is due for a re-issue. Errors are logged: the response status is
// already chosen.
func (s *requestSession) commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed {
		return
	}
	defer func() { s.committed = true }()
	if s.unknown != nil {
		return
	}
	if !s.loaded {
		if !hasCookieNamed(s.req, s.m.s.sessionName) {
			return
		}
		pr, fresh := s.m.backend.fresh(s)
		if fresh {
			return
		}
		s.loadPeekedLocked(pr)
	}
	if err := s.saveLocked(); err != nil {
		s.m.s.logger.Error("oidc: session not saved", "error", err.Error())
	}
}

// saveLocked saves the session if it changed or is due for a touch, and
// clears the request's session cookies that no longer belong to it (stale
// or unusable chunks, or all of them for an ended session).
func (s *requestSession) saveLocked() error {
	if s.unknown != nil {
		return nil // leave the cookie and the store alone
	}
	name := s.m.s.sessionName
	if s.data.empty() {
		if err := s.m.backend.destroy(s); err != nil {
			return err
		}
		s.hadValid, s.dirty = false, false
		s.clearLocked(cookieOut{s: s.m.s, h: s.w.Header()})
		return nil
	}
	now := s.m.s.now().Unix()
	changed := !s.hadValid || s.regenerate || s.oldKey || s.dirty || !sameScalars(s.data, &s.snap)
	if !changed && !s.m.s.needsTouch(s.header.UAT, now) {
		// The cookie stays as it is; only stray ones next to it go.
		if stale := staleNames(s.cookie, name); stale != nil {
			out := cookieOut{s: s.m.s, h: s.w.Header()}
			out.keep()
			out.clear(stale)
		}
		return nil
	}
	plain, err := s.data.marshal()
	if err != nil {
		return err
	}
	iat := now
	if s.hadValid {
		iat = s.header.IAT // carried across a login too, as express does
	}
	hdr := cookiecrypto.Header{IAT: iat, UAT: now, EXP: s.m.s.expiry(iat, now, s.data)}
	out, err := s.m.backend.write(s, hdr, plain, cookieOut{s: s.m.s, h: s.w.Header()})
	if err != nil {
		if errors.Is(err, errSessionGone) {
			s.data = nil
			s.clearLocked(out)
			return nil
		}
		return err
	}
	s.clearLocked(out)
	s.header, s.hadValid, s.oldKey, s.regenerate, s.dirty = hdr, true, false, false, false
	s.snap = *s.data
	return nil
}

// clearLocked clears the request's session cookies that out did not set;
// they are cleared once.
func (s *requestSession) clearLocked(out cookieOut) {
	out.clear(s.cookie.Names)
	s.cookie.Names = nil
}

// saveLateLocked saves a change made after the response headers were
// written (lateLocked allowed it). The browser keeps the cookie it has, so
// the backend writes under the same handle with the same header, or
// destroys the session when it became empty. If that fails, the session
// is put back as it was (prev) and the error returned; a session that was
// logged out meanwhile is not brought back (the error then wraps
// ErrResponseCommitted).
func (s *requestSession) saveLateLocked(prev lateSnapshot) (bool, error) {
	err := s.writeLateLocked()
	if err == nil {
		return true, nil
	}
	s.m.s.logger.Warn("oidc: session change after the response not saved", "error", err.Error())
	if !errors.Is(err, errSessionGone) {
		s.restoreLocked(prev)
	}
	return false, err
}

func (s *requestSession) writeLateLocked() error {
	if s.data.empty() {
		if err := s.m.backend.destroy(s); err != nil {
			return err
		}
		s.hadValid, s.dirty, s.data = false, false, nil
		return nil
	}
	plain, err := s.data.marshal()
	if err != nil {
		return err
	}
	if _, err := s.m.backend.write(s, s.header, plain, cookieOut{}); err != nil {
		if errors.Is(err, errSessionGone) {
			s.data = nil
			return fmt.Errorf("%w: %w", ErrResponseCommitted, err)
		}
		return err
	}
	s.dirty = false
	s.snap = *s.data
	return nil
}
