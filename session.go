package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
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
// expires_at and sid, plus the application's own keys from Values.
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
	// Values holds the application's own keys. They must be JSON values.
	Values map[string]any
}

var reservedKeys = map[string]bool{
	"id_token": true, "access_token": true, "refresh_token": true, "token_type": true,
	"expires_at": true, "sid": true, "sessionExpiresAt": true,
}

// empty reports whether the session holds nothing worth a cookie.
func (s *Session) empty() bool {
	return s == nil || (s.IDToken == "" && s.AccessToken == "" && s.RefreshToken == "" &&
		s.TokenType == "" && s.ExpiresAt == 0 && s.SID == "" && s.SessionExpiresAt == 0 && len(s.Values) == 0)
}

func (s *Session) clone() *Session {
	if s == nil {
		return nil
	}
	c := *s
	if s.Values != nil {
		c.Values = make(map[string]any, len(s.Values))
		for k, v := range s.Values {
			c.Values[k] = v
		}
	}
	return &c
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
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	s := &Session{}
	str := func(k string) (string, error) {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			return "", nil
		}
		var out string
		if err := json.Unmarshal(v, &out); err != nil {
			return "", fmt.Errorf("session key %q: %w", k, err)
		}
		return out, nil
	}
	num := func(k string) (int64, error) {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			return 0, nil
		}
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return 0, fmt.Errorf("session key %q: %w", k, err)
		}
		return int64(f), nil
	}
	var err error
	var v string
	if v, err = str("id_token"); err != nil {
		return nil, err
	}
	s.IDToken = Secret(v)
	if v, err = str("access_token"); err != nil {
		return nil, err
	}
	s.AccessToken = Secret(v)
	if v, err = str("refresh_token"); err != nil {
		return nil, err
	}
	s.RefreshToken = Secret(v)
	if s.TokenType, err = str("token_type"); err != nil {
		return nil, err
	}
	if s.SID, err = str("sid"); err != nil {
		return nil, err
	}
	if s.ExpiresAt, err = num("expires_at"); err != nil {
		return nil, err
	}
	if s.SessionExpiresAt, err = num("sessionExpiresAt"); err != nil {
		return nil, err
	}
	for k, v := range raw {
		if reservedKeys[k] {
			continue
		}
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			return nil, err
		}
		if s.Values == nil {
			s.Values = make(map[string]any)
		}
		s.Values[k] = val
	}
	return s, nil
}

// sessionState is the per-request view of the session cookie.
type sessionState struct {
	loaded   bool
	cookie   chunk.Result        // what the request carried
	header   cookiecrypto.Header // header of a valid incoming session
	hadValid bool
	data     *Session // nil: no session
}

// load reads and validates the session cookie of the request, once.
func (m *Middleware) loadSession(st *sessionState, c *Context) {
	if st.loaded {
		return
	}
	st.loaded = true
	st.cookie = chunk.Read(c.req.Cookies(), m.s.sessionName)
	if !st.cookie.Found {
		return
	}
	hdr, plain, err := m.keys.Decrypt(st.cookie.Value)
	if err != nil {
		m.s.logger.Debug("oidc: session cookie rejected", "reason", err.Error())
		return
	}
	now := m.s.now().Unix()
	if !m.headerValid(hdr, now) {
		m.s.logger.Debug("oidc: session cookie expired")
		return
	}
	sess, err := unmarshalSession(plain)
	if err != nil {
		m.s.logger.Debug("oidc: session cookie payload rejected")
		return
	}
	if sess.SessionExpiresAt != 0 && now >= sess.SessionExpiresAt-sessionExpiryLeeway {
		return
	}
	st.header = hdr
	st.hadValid = true
	if !sess.empty() {
		st.data = sess
	}
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

// encodeSession encrypts sess into the cookie value and its expiry.
func (m *Middleware) encodeSession(st *sessionState, sess *Session) (string, int64, error) {
	now := m.s.now().Unix()
	iat := now
	if st.hadValid {
		iat = st.header.IAT
	}
	exp := m.expiry(iat, now, sess)
	plain, err := sess.marshal()
	if err != nil {
		return "", 0, err
	}
	v, err := m.keys.Encrypt(cookiecrypto.Header{IAT: iat, UAT: now, EXP: exp}, plain)
	if err != nil {
		return "", 0, err
	}
	if len(v) > maxSessionBytes {
		return "", 0, errSessionTooLarge
	}
	return v, exp, nil
}

// writeSession adds the Set-Cookie lines for the session to the response
// headers: the (chunked) cookie when there is a session, and clears for every
// cookie of the request that the new state no longer uses.
func (m *Middleware) writeSession(c *Context) {
	st := &c.sess
	if !st.loaded {
		if !c.hasSessionCookie() {
			return
		}
		m.loadSession(st, c)
	}
	h := c.w.Header()
	keep := map[string]bool{}
	if !st.data.empty() {
		value, exp, err := m.encodeSession(st, st.data)
		if err != nil {
			m.s.logger.Error("oidc: session not saved", "error", err.Error())
			return
		}
		expires := time.Unix(exp, 0)
		size := m.s.chunkSize()
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
		h.Set("Cache-Control", "no-store, private")
	}
	for _, name := range st.cookie.Names {
		if !keep[name] {
			addCookie(h, m.s.clearSessionCookie(name))
			keep[name] = true
		}
	}
}
