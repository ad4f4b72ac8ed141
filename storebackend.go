package oidc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// ErrStoreUnavailable wraps errors of Config.Session.Store. Protected routes
// answer 503 while the store cannot be read; nobody is logged out.
var ErrStoreUnavailable = errors.New("oidc: session store unavailable")

// errSessionGone is returned when a session was destroyed while the request
// was in flight.
var errSessionGone = errors.New("oidc: the session was logged out during the request")

// storeBackend keeps the session in Config.Session.Store; the cookie
// carries its id, signed by default. A read error leaves the session's
// state unknown (nobody is logged out and nothing is written); updates
// never re-create an entry that a logout destroyed meanwhile; a login
// moves the session to a new id; a session that keeps its id can still be
// saved after the response headers were written.
type storeBackend struct {
	s     *settings
	keys  *cookiecrypto.Keyring
	store Store
	cache sessionCache // decoded entries, by their exact bytes (cache.go)
	// verified maps signed cookie values that verified before to their
	// ids, so that a browser's repeat requests skip the HMAC.
	verified boundedCache[string]
}

// The verified-id cache is small: a signed id is ~100 bytes.
const (
	verifiedCacheBytes    = 256 << 10
	verifiedCacheMaxEntry = 1 << 10
)

// newSessionBackend returns the backend that Config.Session selects: the
// store backend with a Store, else the cookie backend.
func newSessionBackend(s *settings, keys *cookiecrypto.Keyring) sessionBackend {
	if s.store == nil {
		return newCookieBackend(s, keys)
	}
	return &storeBackend{s: s, keys: keys, store: s.store}
}

// fresh is false: an unread session is read at commit, to see whether it
// is due for a touch.
func (b *storeBackend) fresh(*requestSession) (peekResult, bool) { return peekResult{}, false }

// read looks the cookie's id up in the store. Only an entry that decodes
// as a session yields an id: no other entry (a logout marker, foreign
// data) is ever updated or destroyed through a session cookie.
func (b *storeBackend) read(s *requestSession, _ peekResult) readResult {
	res := readResult{cookie: readSessionCookie(s.req, b.s.sessionName)}
	if !res.cookie.Found {
		return res
	}
	id, unsigned, ok := b.storeID(res.cookie.Value)
	if !ok {
		return res
	}
	ctx, cancel := b.storeContext(s.req.Context())
	raw, err := b.store.Get(ctx, id)
	cancel()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	} else if d, hit := b.cache.getBytes(raw); hit && d.id == id {
		res = d.result(res.cookie) // an entry that decoded before, under this id
		res.id, res.oldKey = id, unsigned
		return res
	}
	var entry *storeEntry
	if err == nil {
		entry, err = decodeEntry(raw, id)
	}
	if err != nil {
		b.s.logger.Warn("oidc: session store read failed", "error", err.Error())
		res.err = err
		return res
	}
	if entry == nil || len(entry.Data) == 0 {
		return res // nothing, or an entry that is not a session (a logout marker)
	}
	sess, ok := decodeSession(entry.Data)
	if !ok {
		b.s.logger.Debug("oidc: session payload rejected")
		return res
	}
	d := decoded{hdr: headerTimes{entry.Header.IAT, entry.Header.UAT, entry.Header.EXP}, sess: sess, id: id}
	d.jwt = sess != nil && isJWTObject(string(sess.IDToken))
	b.cache.put(string(raw), d, false)
	res = d.result(res.cookie) // the request's own copy
	// An unsigned id accepted while RequireSignedSessionStoreCookie is off
	// is re-issued signed.
	res.id, res.oldKey = id, unsigned
	return res
}

// storeID extracts the session id from the cookie value: the verified id
// when signing is on, or, while RequireSignedSessionStoreCookie is off, the
// raw value (unsigned reports that case, so that the cookie is re-issued
// signed); only ids of a sane shape (validID) are returned.
func (b *storeBackend) storeID(value string) (id string, unsigned, ok bool) {
	id = value
	if b.s.signStoreID {
		if v, hit := b.verified.get(value); hit {
			id = v // verified before: the exact bytes, under the same keys
		} else if v, verified := b.keys.Verify(b.s.sessionName, value); verified {
			id = v
			if validID(v) {
				b.verified.put(strings.Clone(value), v, len(value)+len(v)+cacheEntryOverhead,
					verifiedCacheBytes, verifiedCacheMaxEntry)
			}
		} else if b.s.requireSigned {
			return "", false, false
		} else {
			unsigned = true
		}
	}
	if !validID(id) {
		return "", false, false
	}
	return id, unsigned, true
}

// validID reports whether id is usable as a session id and cookie value.
// A "." would break express's id.signature format, and a "|" is refused so
// that no session id can ever name a back-channel logout marker or a logout
// token id ("<iss>|<sid or sub>", "<iss>|jti|<jti>"), which may share the
// store.
func validID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == ';' || c == ',' || c == '"' || c == '\\' || c == '.' || c == '|' {
			return false
		}
	}
	return true
}

// storeContext bounds store calls, independently of the request's own
// cancellation (a response being written must still persist).
func (b *storeBackend) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), b.s.httpTimeout)
}

// get reads the session entry under id (see getEntry).
func (b *storeBackend) get(ctx context.Context, id string) (*storeEntry, error) {
	ctx, cancel := b.storeContext(ctx)
	defer cancel()
	return getEntry(ctx, b.store, id)
}

// write saves the session in the store under its id (a new one when there
// is none yet or at login, the old entry then destroyed) and, with out,
// sets the cookie naming it. An update never re-creates a session that a
// logout destroyed meanwhile: errSessionGone.
func (b *storeBackend) write(s *requestSession, hdr cookiecrypto.Header, plain []byte, out cookieOut) (cookieOut, error) {
	ctx, cancel := b.storeContext(s.req.Context())
	defer cancel()
	old := s.id
	id := old
	if id == "" || s.regenerate {
		var err error
		if id, err = b.s.genid(s.req); err != nil {
			return out, fmt.Errorf("oidc: Session.Genid: %w", err)
		}
		if !validID(id) || id == old {
			// The id itself is never logged: it would be a cookie value.
			b.s.logger.Warn("oidc: Session.Genid returned an unusable session id", "length", len(id))
			return out, ErrInvalidSessionID
		}
	}
	expiry := time.Unix(hdr.EXP, 0)
	entry := encodeEntry(id, storeEntry{
		Header: storeHeader{IAT: hdr.IAT, UAT: hdr.UAT, EXP: hdr.EXP},
		Data:   plain,
		Cookie: &storeCookie{Expires: hdr.EXP * 1000, MaxAge: (hdr.EXP - hdr.UAT) * 1000},
	})
	if id == old {
		ok, err := b.updateIfExists(ctx, id, entry, expiry)
		if err != nil {
			return out, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		if !ok {
			s.id = ""
			return out, errSessionGone
		}
	} else if err := b.store.Set(ctx, id, entry, expiry); err != nil {
		return out, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	if old != "" && old != id {
		if err := b.store.Destroy(ctx, old); err != nil {
			b.s.logger.Warn("oidc: old session entry not destroyed", "error", err.Error())
		}
	}
	s.id = id
	if out.h != nil {
		value := id
		if b.s.signStoreID {
			value = b.keys.Sign(b.s.sessionName, id)
		}
		out.session(value, expiry)
	}
	return out, nil
}

// updateIfExists stores entry under id only if id still exists: atomically
// with an UpdateStore, else after a Get.
func (b *storeBackend) updateIfExists(ctx context.Context, id string, entry []byte, expiry time.Time) (bool, error) {
	if u, ok := b.store.(UpdateStore); ok {
		return u.Update(ctx, id, entry, expiry)
	}
	cur, err := b.store.Get(ctx, id)
	if err != nil || len(cur) == 0 {
		return false, err
	}
	return true, b.store.Set(ctx, id, entry, expiry)
}

// destroy deletes the session's entry, if it has one.
func (b *storeBackend) destroy(s *requestSession) error {
	if s.id == "" {
		return nil
	}
	ctx, cancel := b.storeContext(s.req.Context())
	err := b.store.Destroy(ctx, s.id)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	s.id = ""
	return nil
}

// late allows a change after the response headers to a session that keeps
// its entry: the browser's cookie still names it. A new session needs a
// new cookie.
func (b *storeBackend) late(s *requestSession) error {
	if s.id == "" || s.regenerate || !s.hadValid {
		return ErrResponseCommitted
	}
	return nil
}

// shared is true: every instance reads the same entry.
func (b *storeBackend) shared() bool { return true }

// fits is always true: a store entry has no size cap of ours.
func (b *storeBackend) fits(cookiecrypto.Header, []byte) bool { return true }

// stored re-reads the entry under id.
func (b *storeBackend) stored(ctx context.Context, id string) (*Session, bool) {
	if id == "" {
		return nil, false
	}
	entry, err := b.get(ctx, id)
	if err != nil || entry == nil {
		return nil, false
	}
	sess, err := unmarshalSession(entry.Data)
	if err != nil {
		return nil, true
	}
	return sess, true
}
