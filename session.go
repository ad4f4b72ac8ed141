package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/internal/sessionjson"
)

// maxSessionBytes caps the encrypted session cookie. Above it a session is
// refused loudly instead of producing cookies that browsers or proxies drop
// silently (about four cookie chunks).
const maxSessionBytes = 16 << 10

// errSessionTooLarge is reported when a session does not fit maxSessionBytes.
var errSessionTooLarge = errors.New("oidc: session too large for a cookie")

// Session is the data kept for a user between requests, in the encrypted
// session cookie. It is stored in express-openid-connect's format: a JSON
// object with the keys id_token, access_token, refresh_token, token_type,
// expires_at and sid (and this port's sessionExpiresAt and loginStartedAt),
// plus the application's own keys from Values.
type Session struct {
	IDToken      Secret
	AccessToken  Secret
	RefreshToken Secret
	// TokenType is the access token's type, normalised to "Bearer".
	TokenType string
	// ExpiresAt is when the access token expires, in Unix seconds (0: unknown).
	ExpiresAt int64
	// SID is the provider's session id from the ID token at login.
	SID string
	// SessionExpiresAt is an upper bound for the session set by the
	// provider's session_expiry claim, in Unix seconds (0: none).
	SessionExpiresAt int64
	// LoginStartedAt is when the login that made the session started (the
	// request to the login route), in Unix microseconds of Config.Now (0:
	// unknown, as in sessions made by express-openid-connect). Back-channel
	// logout compares it with the time a logout was received. It is stored
	// as "loginStartedAt" and kept as it was at login.
	LoginStartedAt int64
	// Values holds the application's own keys. They must be JSON values.
	Values map[string]any
}

var reservedKeys = map[string]bool{
	"id_token": true, "access_token": true, "refresh_token": true, "token_type": true,
	"expires_at": true, "sid": true, "sessionExpiresAt": true, "loginStartedAt": true,
}

// empty reports whether the session holds nothing worth a cookie.
func (s *Session) empty() bool {
	return s == nil || (s.IDToken == "" && s.AccessToken == "" && s.RefreshToken == "" &&
		s.TokenType == "" && s.ExpiresAt == 0 && s.SID == "" && s.SessionExpiresAt == 0 && s.LoginStartedAt == 0 &&
		len(s.Values) == 0)
}

func (s *Session) clone() *Session {
	if s == nil {
		return nil
	}
	c := *s
	if s.Values != nil {
		c.Values = deepCopy(s.Values).(map[string]any)
	}
	return &c
}

// deepCopy copies the maps and slices that JSON decoding produces, so that a
// copy of a session shares no mutable state with it.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// marshal encodes the session as express-openid-connect's JSON object.
func (s *Session) marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(k string, v any) error {
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("oidc: session value %q: %w", k, err)
		}
		b.Write(vb)
		return nil
	}
	strs := []struct{ k, v string }{
		{"id_token", string(s.IDToken)}, {"access_token", string(s.AccessToken)},
		{"refresh_token", string(s.RefreshToken)}, {"token_type", s.TokenType},
	}
	for _, f := range strs {
		if f.v != "" {
			_ = field(f.k, f.v)
		}
	}
	if s.ExpiresAt != 0 {
		_ = field("expires_at", s.ExpiresAt)
	}
	if s.SID != "" {
		_ = field("sid", s.SID)
	}
	if s.SessionExpiresAt != 0 {
		_ = field("sessionExpiresAt", s.SessionExpiresAt)
	}
	if s.LoginStartedAt != 0 {
		_ = field("loginStartedAt", s.LoginStartedAt)
	}
	keys := make([]string, 0, len(s.Values))
	for k := range s.Values {
		if !reservedKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := field(k, s.Values[k]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// unmarshalSession decodes express-openid-connect's session JSON. Unknown
// keys are kept in Values; wrongly typed known keys are an error.
func unmarshalSession(data []byte) (*Session, error) {
	f, err := sessionjson.Decode(data)
	if err != nil {
		return nil, err
	}
	s := &Session{
		IDToken: Secret(f.IDToken), AccessToken: Secret(f.AccessToken), RefreshToken: Secret(f.RefreshToken),
		TokenType: f.TokenType, SID: f.SID, ExpiresAt: f.ExpiresAt, SessionExpiresAt: f.SessionExpiresAt,
		LoginStartedAt: f.LoginStartedAt,
	}
	if len(f.Extra) > 0 {
		s.Values = make(map[string]any, len(f.Extra))
		for k, raw := range f.Extra {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			s.Values[k] = v
		}
	}
	return s, nil
}

// sameScalars reports whether a and b have equal token and id members.
func sameScalars(a, b *Session) bool {
	return a.IDToken == b.IDToken && a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.TokenType == b.TokenType && a.ExpiresAt == b.ExpiresAt && a.SID == b.SID &&
		a.SessionExpiresAt == b.SessionExpiresAt && a.LoginStartedAt == b.LoginStartedAt && len(a.Values) == len(b.Values)
}

// sessionState is the per-request view of the session.
type sessionState struct {
	loaded   bool
	cookie   chunk.Result        // what the request carried
	header   cookiecrypto.Header // header of a valid incoming session
	hadValid bool
	data     *Session // nil: no session
	snap     Session  // shallow copy of data as read or last written
	dirty    bool     // changed through the Context (Set, Delete, SetSession, ...)
	oldKey   bool     // read with a secret other than the current one

	// Store mode.
	id         string // id of the store entry read (or last written)
	storeErr   error  // the store could not be read: touch nothing
	regenerate bool   // a login: move the session to a new id
}

// ErrStoreUnavailable wraps errors of Config.Session.Store. Protected routes
// answer 503 while the store cannot be read; nobody is logged out.
var ErrStoreUnavailable = errors.New("oidc: session store unavailable")

// peekResult is what peekFresh learnt about the unchunked session cookie:
// its parsed header, or why the header was refused. loadSessionPeeked
// reuses it, so that a request parses the header once.
type peekResult struct {
	value string // "" when peekFresh found no single unchunked cookie
	p     cookiecrypto.Peeked
	err   error
}

// loadSession reads and validates the session of the request, once.
func (m *Middleware) loadSession(st *sessionState, c *Context) { m.loadSessionPeeked(st, c, nil) }

// loadSessionPeeked is loadSession reusing peekFresh's result pr (nil: no
// peek was made).
func (m *Middleware) loadSessionPeeked(st *sessionState, c *Context, pr *peekResult) {
	if st.loaded {
		return
	}
	st.loaded = true
	now := m.s.now().Unix()
	if m.s.store == nil {
		// The common case: one unchunked cookie seen before.
		if value, ok := peekCookie(c.req, m.s.sessionName); ok {
			if d, hit := m.sessions.get(value); hit {
				st.cookie = chunk.Result{Value: value, Found: true, Names: m.ownName}
				m.adopt(st, cookiecrypto.Header{IAT: d.hdr.iat, UAT: d.hdr.uat, EXP: d.hdr.exp}, d.sess.clone(), d.oldKey, now)
				return
			}
		}
	}
	st.cookie = chunk.Read(requestSessionCookies(c.req, m.s.sessionName), m.s.sessionName)
	if !st.cookie.Found {
		return
	}
	if m.s.store == nil {
		if d, hit := m.sessions.get(st.cookie.Value); hit { // chunked sessions
			m.adopt(st, cookiecrypto.Header{IAT: d.hdr.iat, UAT: d.hdr.uat, EXP: d.hdr.exp}, d.sess.clone(), d.oldKey, now)
			return
		}
	}
	var hdr cookiecrypto.Header
	var plain []byte
	var storeID string
	var unsigned bool
	if m.s.store != nil {
		id, wasUnsigned, ok := m.storeID(st.cookie.Value)
		if !ok {
			return
		}
		entry, err := m.storeGet(c.req.Context(), id)
		if err != nil {
			st.storeErr = err
			m.s.logger.Warn("oidc: session store read failed", "error", err.Error())
			return
		}
		if entry == nil || len(entry.Data) == 0 {
			return // nothing, or an entry that is not a session (a logout marker)
		}
		hdr = cookiecrypto.Header{IAT: entry.Header.IAT, UAT: entry.Header.UAT, EXP: entry.Header.EXP}
		plain = entry.Data
		storeID, unsigned = id, wasUnsigned
	} else {
		bufp := m.bufs.Get().(*[]byte)
		defer m.bufs.Put(bufp) // the session strings are copies; the buffer is free after decoding
		var (
			h   cookiecrypto.Header
			pt  []byte
			idx int
			err error
		)
		switch {
		case pr == nil || pr.value == "" || pr.value != st.cookie.Value:
			h, pt, idx, *bufp, err = m.keys.DecryptKeyBuf(st.cookie.Value, *bufp)
		case pr.err != nil:
			err = pr.err // the header was refused already
		default:
			h, pt, idx, *bufp, err = m.keys.DecryptPeekedBuf(pr.p, *bufp)
		}
		if err != nil {
			m.s.logger.Debug("oidc: session cookie rejected", "reason", err.Error())
			return
		}
		hdr, plain, st.oldKey = h, pt, idx > 0
	}
	sess, err := unmarshalSession(plain)
	if err != nil {
		m.s.logger.Debug("oidc: session payload rejected")
		return
	}
	if sess.empty() {
		sess = nil
	}
	if m.s.store != nil {
		// Only an entry that is a session is ever updated or destroyed
		// through this id.
		st.id = storeID
		// An unsigned id accepted while RequireSignedSessionStoreCookie is
		// off is re-issued signed.
		st.oldKey = unsigned
	} else {
		m.sessions.put(st.cookie.Value, decrypted{
			hdr: headerTimes{hdr.IAT, hdr.UAT, hdr.EXP}, sess: sess.clone(), oldKey: st.oldKey,
		}, slices.Contains(st.cookie.Names, m.s.sessionName)) // unchunked: part of the Cookie header
	}
	m.adopt(st, hdr, sess, st.oldKey, now)
}

// adopt installs a decoded session into the request state after the expiry
// checks, which run against the current time and configuration.
func (m *Middleware) adopt(st *sessionState, hdr cookiecrypto.Header, sess *Session, oldKey bool, now int64) {
	if !m.headerValid(hdr, now) {
		m.s.logger.Debug("oidc: session expired")
		return
	}
	if sess != nil && sess.SessionExpiresAt != 0 && now >= sess.SessionExpiresAt-sessionExpiryLeeway {
		return
	}
	st.header, st.hadValid, st.oldKey = hdr, true, oldKey
	if sess != nil {
		st.data = sess
		st.snap = *sess
	}
}

// storeID extracts the session id from the cookie value: the verified id
// when signing is on, or, while RequireSignedSessionStoreCookie is off, the
// raw value (unsigned reports that case, so that the cookie is re-issued
// signed); only ids of a sane shape (validID) are returned.
func (m *Middleware) storeID(value string) (id string, unsigned, ok bool) {
	id = value
	if m.s.signStoreID {
		if v, verified := m.keys.Verify(m.s.sessionName, value); verified {
			id = v
		} else if m.s.requireSigned {
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
func (m *Middleware) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), m.s.httpTimeout)
}

// storeGet reads the session entry under id (see getEntry).
func (m *Middleware) storeGet(ctx context.Context, id string) (*storeEntry, error) {
	ctx, cancel := m.storeContext(ctx)
	defer cancel()
	return getEntry(ctx, m.s.store, id)
}

// sessionExpiryLeeway is the skew guard on the provider's session_expiry.
const sessionExpiryLeeway = 30

// headerValid applies express-openid-connect's expiry checks against the
// current configuration.
func (m *Middleware) headerValid(h cookiecrypto.Header, now int64) bool {
	if h.EXP <= now {
		return false
	}
	if m.s.rolling && h.UAT+int64(m.s.rollingDur/time.Second) <= now {
		return false
	}
	if m.s.absoluteDur > 0 && h.IAT+int64(m.s.absoluteDur/time.Second) <= now {
		return false
	}
	return true
}

// expiry computes the exp header member for a session written at now.
func (m *Middleware) expiry(iat, now int64, sess *Session) int64 {
	var exp int64
	abs := int64(m.s.absoluteDur / time.Second)
	switch {
	case !m.s.rolling:
		exp = iat + abs
	case m.s.absoluteDur < 0:
		exp = now + int64(m.s.rollingDur/time.Second)
	default:
		exp = min(now+int64(m.s.rollingDur/time.Second), iat+abs)
	}
	if sess.SessionExpiresAt != 0 && sess.SessionExpiresAt < exp {
		exp = sess.SessionExpiresAt
	}
	return exp
}

// nextHeader returns the header for a session written at now: iat carried
// from the incoming session (express carries it across a login too).
func (m *Middleware) nextHeader(st *sessionState, sess *Session, now int64) cookiecrypto.Header {
	iat := now
	if st.hadValid {
		iat = st.header.IAT
	}
	return cookiecrypto.Header{IAT: iat, UAT: now, EXP: m.expiry(iat, now, sess)}
}

// needsTouch reports whether an unchanged session is due for a re-issue. The
// interval is at most a tenth of the idle timeout, so a short
// RollingDuration is still extended by activity.
func (m *Middleware) needsTouch(st *sessionState, now int64) bool {
	if !m.s.rolling {
		return false
	}
	touch := min(m.s.touch, m.s.rollingDur/10)
	return touch < time.Second || now-st.header.UAT >= int64(touch/time.Second)
}

// peekFresh reports, without decrypting, whether the request's session
// cookie is a well-formed value that needs no re-issue yet. Such a request
// can skip the session entirely when the handler never reads it. A forged
// header gains nothing: the cookie is simply left as it is. What it parsed
// is left in pr for loadSessionPeeked.
func (m *Middleware) peekFresh(c *Context, pr *peekResult) bool {
	if m.s.store != nil {
		return false
	}
	value, ok := peekCookie(c.req, m.s.sessionName)
	if !ok {
		return false // chunked, duplicated or absent: take the full path
	}
	pr.value = value
	pr.p, pr.err = cookiecrypto.Peek(value)
	h, ok := pr.p.Header()
	if pr.err != nil || !ok {
		return false
	}
	now := m.s.now().Unix()
	st := sessionState{header: h}
	return m.headerValid(h, now) && !m.needsTouch(&st, now)
}

// sessionCookies returns the request cookies that can belong to the session
// named name, parsing only those when the request has no chunks.
func requestSessionCookies(r *http.Request, name string) []*http.Cookie {
	for _, h := range r.Header["Cookie"] {
		if strings.Contains(h, name+".") {
			return r.Cookies()
		}
	}
	return r.CookiesNamed(name)
}

// peekCookie returns the value of the single unchunked session cookie,
// without validating it (only its header is peeked at), and false when the
// request has none, several, or chunks.
func peekCookie(r *http.Request, name string) (string, bool) {
	var value string
	found := false
	for _, h := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(h, ";") {
			part = strings.TrimLeft(part, " ")
			if !strings.HasPrefix(part, name) {
				continue
			}
			rest := part[len(name):]
			switch {
			case strings.HasPrefix(rest, "="):
				if found {
					return "", false
				}
				value, found = strings.TrimRight(rest[1:], " "), true
			case strings.HasPrefix(rest, "."):
				return "", false
			}
		}
	}
	return value, found
}

// writeSession is called when the response headers are written: it saves
// the session (Set-Cookie, and the store entry in store mode) when it
// changed or is due for a re-issue, and clears cookies that no longer
// belong to it. Errors are logged: the response status is already chosen.
func (m *Middleware) writeSession(c *Context) {
	st := &c.sess
	if !st.loaded {
		var pr peekResult
		if !c.hasSessionCookie() || m.peekFresh(c, &pr) {
			return
		}
		m.loadSessionPeeked(st, c, &pr)
	}
	if err := m.saveSession(c); err != nil {
		m.s.logger.Error("oidc: session not saved", "error", err.Error())
	}
}

// saveSession persists the session if needed and adds the Set-Cookie lines.
// The caller holds c.mu.
func (m *Middleware) saveSession(c *Context) error {
	st := &c.sess
	if st.storeErr != nil {
		return nil // unknown state: leave the cookie and the store alone
	}
	h := c.w.Header()
	// Every response with a session Set-Cookie, a clearing one included,
	// must stay out of shared caches, whatever the handler chose.
	noStore := func() { h.Set("Cache-Control", "no-store, private") }
	keep := map[string]bool{}
	clear := func(names []string) {
		for i, name := range names {
			if i == maxClears {
				break // a request with thousands of cookies gets no more lines
			}
			if !keep[name] {
				addCookie(h, m.s.clearSessionCookie(name))
				keep[name] = true
				noStore()
			}
		}
	}
	clearRest := func() {
		clear(st.cookie.Names)
		st.cookie.Names = nil
	}
	if st.data.empty() {
		if m.s.store != nil && st.id != "" {
			ctx, cancel := m.storeContext(c.req.Context())
			err := m.s.store.Destroy(ctx, st.id)
			cancel()
			if err != nil {
				return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
			}
			st.id = ""
		}
		st.hadValid, st.dirty = false, false
		clearRest()
		return nil
	}
	now := m.s.now().Unix()
	changed := !st.hadValid || st.regenerate || st.oldKey || st.dirty || !sameScalars(st.data, &st.snap)
	if !changed && !m.needsTouch(st, now) {
		// The cookie stays as it is; only stray ones next to it go.
		keep[m.s.sessionName] = true
		clear(staleNames(st.cookie, m.s.sessionName))
		return nil
	}
	plain, err := st.data.marshal()
	if err != nil {
		return err
	}
	hdr := m.nextHeader(st, st.data, now)
	expires := time.Unix(hdr.EXP, 0)
	if m.s.store != nil {
		if err := m.storeWrite(c, st, hdr, plain); err != nil {
			if errors.Is(err, errSessionGone) {
				clearRest()
				return nil
			}
			return err
		}
		value := st.id
		if m.s.signStoreID {
			value = m.keys.Sign(m.s.sessionName, st.id)
		}
		addCookie(h, m.s.sessionCookie(m.s.sessionName, value, expires))
		keep[m.s.sessionName] = true
	} else {
		value, err := m.keys.Encrypt(hdr, plain)
		if err != nil {
			return err
		}
		if len(value) > maxSessionBytes {
			return errSessionTooLarge
		}
		size := m.s.chunkSize(len(value))
		if len(value) <= size {
			addCookie(h, m.s.sessionCookie(m.s.sessionName, value, expires))
			keep[m.s.sessionName] = true
		} else {
			for i, part := range chunk.Split(value, size) {
				name := chunk.ChunkName(m.s.sessionName, i)
				addCookie(h, m.s.sessionCookie(name, part, expires))
				keep[name] = true
			}
		}
	}
	noStore()
	clearRest()
	st.header, st.hadValid, st.oldKey, st.regenerate, st.dirty = hdr, true, false, false, false
	st.snap = *st.data
	return nil
}

// maxClears bounds the Set-Cookie lines that clear request cookies.
const maxClears = 64

// staleNames returns the session cookie names of a request that a valid
// session does not use: the chunks, when an unchunked cookie (which wins)
// is present too.
func staleNames(res chunk.Result, name string) []string {
	if len(res.Names) < 2 || !slices.Contains(res.Names, name) {
		return nil
	}
	out := make([]string, 0, len(res.Names)-1)
	for _, n := range res.Names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// errSessionGone is returned when a session was destroyed while the request
// was in flight.
var errSessionGone = errors.New("oidc: the session was logged out during the request")

// storeWrite saves the session in the store under its id (a new one at
// login), and destroys the old entry when the id changes.
func (m *Middleware) storeWrite(c *Context, st *sessionState, hdr cookiecrypto.Header, plain []byte) error {
	ctx, cancel := m.storeContext(c.req.Context())
	defer cancel()
	old := st.id
	id := old
	if id == "" || st.regenerate {
		var err error
		if id, err = m.s.genid(c.req); err != nil {
			return fmt.Errorf("oidc: Session.Genid: %w", err)
		}
		if !validID(id) || id == old {
			// The id itself is never logged: it would be a cookie value.
			m.s.logger.Warn("oidc: Session.Genid returned an unusable session id", "length", len(id))
			return ErrInvalidSessionID
		}
	}
	expiry := time.Unix(hdr.EXP, 0)
	entry := encodeEntry(id, storeEntry{
		Header: storeHeader{IAT: hdr.IAT, UAT: hdr.UAT, EXP: hdr.EXP},
		Data:   plain,
		Cookie: &storeCookie{Expires: hdr.EXP * 1000, MaxAge: (hdr.EXP - hdr.UAT) * 1000},
	})
	if id == old {
		// An update: never re-create a session that a logout destroyed
		// meanwhile.
		ok, err := m.updateIfExists(ctx, id, entry, expiry)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		if !ok {
			st.data, st.id = nil, ""
			return errSessionGone
		}
	} else if err := m.s.store.Set(ctx, id, entry, expiry); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	if old != "" && old != id {
		if err := m.s.store.Destroy(ctx, old); err != nil {
			m.s.logger.Warn("oidc: old session entry not destroyed", "error", err.Error())
		}
	}
	st.id = id
	return nil
}

// updateIfExists stores entry under id only if id still exists: atomically
// with an UpdateStore, else after a Get.
func (m *Middleware) updateIfExists(ctx context.Context, id string, entry []byte, expiry time.Time) (bool, error) {
	if u, ok := m.s.store.(UpdateStore); ok {
		return u.Update(ctx, id, entry, expiry)
	}
	cur, err := m.s.store.Get(ctx, id)
	if err != nil || len(cur) == 0 {
		return false, err
	}
	return true, m.s.store.Set(ctx, id, entry, expiry)
}
