package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"

	"github.com/openidconnect-go/oidc/internal/sessionjson"
)

// Session is the data kept for a user between requests, in the encrypted
// session cookie. It is stored in express-openid-connect's format: a JSON
// object with the keys id_token, access_token, refresh_token, token_type,
// expires_at and sid (and this port's sessionExpiresAt, loginStartedAt
// and, only when there are any, resourceTokens), plus the application's own
// keys from Values.
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
	// ResourceTokens are the access tokens for other APIs (RFC 8707
	// resource indicators) that Context.AccessTokenFor obtained, keyed by
	// resource. They are stored under the key "resourceTokens", which is
	// written only when there is at least one (a session without them is
	// express-openid-connect's JSON exactly; express keeps the unknown key
	// as it is). At most Config.MaxResourceTokens are kept.
	ResourceTokens map[string]ResourceToken
	// Values holds the application's own keys. They must be JSON values.
	Values map[string]any
}

// ResourceToken is an access token for one resource (an API) in
// Session.ResourceTokens.
type ResourceToken struct {
	// AccessToken is the access token; it prints as [REDACTED].
	AccessToken Secret
	// TokenType is "Bearer" or "DPoP".
	TokenType string
	// ExpiresAt is when the token expires, in Unix seconds.
	ExpiresAt int64
	// Scope is the token's scope: the provider's scope member, else the
	// scope that was asked for ("" when none was).
	Scope string
	// LastUsed is when Context.AccessTokenFor last returned the token, in
	// Unix seconds, to a minute's precision; the least recently used token
	// is dropped first.
	LastUsed int64
}

// resourceTokensKey is the session JSON key of Session.ResourceTokens.
const resourceTokensKey = "resourceTokens"

// resourceTokenJSON is a ResourceToken in the session JSON.
type resourceTokenJSON struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresAt   int64  `json:"expires_at"`
	Scope       string `json:"scope,omitempty"`
	LastUsed    int64  `json:"last_used,omitempty"`
}

// encodeResourceTokens returns the JSON object of Session.ResourceTokens
// (the keys sorted by encoding/json), leaving out the entries that could
// not be read back (no resource or no access token, set by an
// application through SetSession or AfterCallback), so that they cannot
// make the session unreadable.
func encodeResourceTokens(toks map[string]ResourceToken) map[string]resourceTokenJSON {
	out := make(map[string]resourceTokenJSON, len(toks))
	for r, t := range toks {
		if r == "" || t.AccessToken == "" {
			continue
		}
		out[r] = resourceTokenJSON{AccessToken: string(t.AccessToken), TokenType: t.TokenType,
			ExpiresAt: t.ExpiresAt, Scope: t.Scope, LastUsed: t.LastUsed}
	}
	return out
}

// decodeResourceTokens parses the "resourceTokens" member. Anything that
// is not an object of such tokens, each with an access token, is an error,
// as for the other known members.
func decodeResourceTokens(raw []byte) (map[string]ResourceToken, error) {
	var in map[string]resourceTokenJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]ResourceToken, len(in))
	for r, t := range in {
		if r == "" || t.AccessToken == "" {
			return nil, errors.New("oidc: a resource token without a resource or an access token")
		}
		out[r] = ResourceToken{AccessToken: Secret(t.AccessToken), TokenType: t.TokenType,
			ExpiresAt: t.ExpiresAt, Scope: t.Scope, LastUsed: t.LastUsed}
	}
	return out, nil
}

var reservedKeys = map[string]bool{
	"id_token": true, "access_token": true, "refresh_token": true, "token_type": true,
	"expires_at": true, "sid": true, "sessionExpiresAt": true, "loginStartedAt": true,
	resourceTokensKey: true,
}

// empty reports whether the session holds nothing worth a cookie.
func (s *Session) empty() bool {
	return s == nil || (s.IDToken == "" && s.AccessToken == "" && s.RefreshToken == "" &&
		s.TokenType == "" && s.ExpiresAt == 0 && s.SID == "" && s.SessionExpiresAt == 0 && s.LoginStartedAt == 0 &&
		len(s.Values) == 0 && len(s.ResourceTokens) == 0)
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
	if s.ResourceTokens != nil {
		c.ResourceTokens = maps.Clone(s.ResourceTokens)
	}
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
	if len(s.ResourceTokens) > 0 {
		if toks := encodeResourceTokens(s.ResourceTokens); len(toks) > 0 {
			_ = field(resourceTokensKey, toks)
		}
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
			if k == resourceTokensKey {
				if s.ResourceTokens, err = decodeResourceTokens(raw); err != nil {
					return nil, err
				}
				continue
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			s.Values[k] = v
		}
		if len(s.Values) == 0 {
			s.Values = nil
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
		a.SessionExpiresAt == b.SessionExpiresAt && a.LoginStartedAt == b.LoginStartedAt && len(a.Values) == len(b.Values) &&
		len(a.ResourceTokens) == len(b.ResourceTokens)
}
