package oidctest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// SessionOptions describes a session cookie minted by SessionCookies.
type SessionOptions struct {
	// Secret is the application's Config.Secret (its first value). Required.
	Secret string
	// Name is the session cookie name. Default "appSession".
	Name string
	// Claims are the ID-token claims of the logged-in user. "sub" defaults
	// to "user-1", "iss" to "https://op.example.com/", "aud" to
	// "test-client"; "iat" and "exp" are filled in.
	Claims map[string]any
	// AccessToken, RefreshToken and ExpiresIn add tokens to the session.
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	// Values are application session values.
	Values map[string]any
	// Now is the session's creation time. Default time.Now().
	Now time.Time
	// Lifetime is how long the cookie stays valid. Default 24h, the
	// middleware's default idle timeout.
	Lifetime time.Duration
}

// sessionChunkSize keeps every minted cookie comfortably under 4096 bytes.
const sessionChunkSize = 3800

// SessionCookies mints the session cookie(s) of a logged-in user, in the
// middleware's (and express-openid-connect's) format, so that application
// tests can reach protected routes without running any provider:
//
//	cookies, _ := oidctest.SessionCookies(oidctest.SessionOptions{
//		Secret: secret, Claims: map[string]any{"sub": "alice"},
//	})
//	for _, c := range cookies { req.AddCookie(c) }
//
// The ID token inside is signed with a throwaway key: the middleware trusts
// its own encrypted cookie and does not re-verify it.
func SessionCookies(opts SessionOptions) ([]*http.Cookie, error) {
	if opts.Secret == "" {
		return nil, errors.New("oidctest: SessionOptions.Secret is required")
	}
	name := opts.Name
	if name == "" {
		name = "appSession"
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	life := opts.Lifetime
	if life <= 0 {
		life = 24 * time.Hour
	}
	claims := map[string]any{
		"sub": "user-1", "iss": "https://op.example.com/", "aud": "test-client",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range opts.Claims {
		claims[k] = v
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	idToken, err := SignJWT(map[string]any{"alg": "HS256", "typ": "JWT"}, claims, key)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	for k, v := range opts.Values {
		body[k] = v
	}
	body["id_token"] = idToken
	if sid, ok := claims["sid"].(string); ok {
		body["sid"] = sid
	}
	if opts.AccessToken != "" {
		body["access_token"] = opts.AccessToken
		body["token_type"] = "Bearer"
		if opts.ExpiresIn > 0 {
			body["expires_at"] = now.Add(opts.ExpiresIn).Unix()
		}
	}
	if opts.RefreshToken != "" {
		body["refresh_token"] = opts.RefreshToken
	}
	plain, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	keys, err := cookiecrypto.NewKeyring([][]byte{[]byte(opts.Secret)}, nil)
	if err != nil {
		return nil, err
	}
	exp := now.Add(life)
	value, err := keys.Encrypt(cookiecrypto.Header{IAT: now.Unix(), UAT: now.Unix(), EXP: exp.Unix()}, plain)
	if err != nil {
		return nil, err
	}
	parts := chunk.Split(value, sessionChunkSize)
	out := make([]*http.Cookie, 0, len(parts))
	for i, part := range parts {
		n := name
		if len(parts) > 1 {
			n = chunk.ChunkName(name, i)
		}
		out = append(out, &http.Cookie{Name: n, Value: part, Path: "/", Expires: exp, HttpOnly: true})
	}
	return out, nil
}
