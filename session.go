package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/openidconnect-go/oidc/internal/sessionjson"
)

// Session is the data kept for a user between requests, in the encrypted
// session cookie. It is stored in express-openid-connect's format: a JSON
// object with the keys id_token, access_token, refresh_token, token_type,
// expires_at and sid (and this port's sessionExpiresAt and loginStartedAt),
// plus the application's own keys from Values.
type Session struct {
	IDToken      Secret
	AccessToken  Secret
	RefreshToken Secret
	// TokenType is the access token's type: "Bearer" or "DPoP".
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

// values returns the application's values (nil for no session).
func (s *Session) values() map[string]any {
	if s == nil {
		return nil
	}
	return s.Values
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

// decodeSession decodes a stored session for a backend: nil and false
// when the payload is not a session, and a nil session for one that holds
// nothing.
func decodeSession(plain []byte) (*Session, bool) {
	sess, err := unmarshalSession(plain)
	if err != nil {
		return nil, false
	}
	if sess.empty() {
		return nil, true
	}
	return sess, true
}

// sameScalars reports whether a and b have equal token and id members.
func sameScalars(a, b *Session) bool {
	return a.IDToken == b.IDToken && a.AccessToken == b.AccessToken && a.RefreshToken == b.RefreshToken &&
		a.TokenType == b.TokenType && a.ExpiresAt == b.ExpiresAt && a.SID == b.SID &&
		a.SessionExpiresAt == b.SessionExpiresAt && a.LoginStartedAt == b.LoginStartedAt && len(a.Values) == len(b.Values)
}
