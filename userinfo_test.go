package oidc

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/provider"
	"github.com/openidconnect-go/oidc/oidctest"
)

// fetchUserInfo calls Context.FetchUserInfo in a request.
func (e *testApp) fetchUserInfo() (Claims, error) {
	e.t.Helper()
	var claims Claims
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		claims, err = c.FetchUserInfo(r.Context())
	})
	return claims, err
}

// TestFetchUserInfo covers catalog UI-01 (a)-(d) and express's "should
// fetch userinfo".
func TestFetchUserInfo(t *testing.T) {
	t.Parallel()
	opClaims := map[string]any{"email": "alice@example.com", "name": "Alice"}

	t.Run("should fetch userinfo", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var seen *http.Request
		e := newTKApp(t, oidctest.Options{Subject: "alice", Claims: opClaims,
			Intercept: func(ep string, _ http.ResponseWriter, r *http.Request) bool {
				if ep == oidctest.EndpointUserinfo {
					mu.Lock()
					seen = r.Clone(r.Context())
					mu.Unlock()
				}
				return false
			}}, nil)
		e.login()
		before := e.tokens()
		claims, err := e.fetchUserInfo()
		require.NoError(t, err)
		assert.Equal(t, "alice", claims.String("sub"))
		assert.Equal(t, "alice@example.com", claims.String("email"))
		assert.Equal(t, "Alice", claims.String("name"))

		mu.Lock()
		defer mu.Unlock()
		require.NotNil(t, seen)
		assert.Equal(t, http.MethodGet, seen.Method)
		assert.Equal(t, "Bearer "+before.AccessToken, seen.Header.Get("Authorization"))
		assert.Equal(t, "application/json", seen.Header.Get("Accept"))
		assert.Empty(t, seen.URL.RawQuery, "no token in the URL")
		assert.Equal(t, before, e.tokens(), "nothing is stored in the session")
	})
	t.Run("(b) another sub is rejected", func(t *testing.T) {
		t.Parallel()
		for name, mutate := range map[string]func(map[string]any){
			"sub+invalid": func(m map[string]any) { m["sub"] = m["sub"].(string) + "invalid" },
			"no sub":      func(m map[string]any) { delete(m, "sub") },
			"numeric sub": func(m map[string]any) { m["sub"] = 1 },
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newTKApp(t, oidctest.Options{Claims: opClaims, MutateUserinfo: mutate}, nil)
				e.login()
				before := e.tokens()
				claims, err := e.fetchUserInfo()
				assert.Nil(t, claims)
				assert.ErrorIs(t, err, ErrUserInfoSubjectMismatch)
				assert.ErrorIs(t, err, ErrUserInfo)
				assert.Equal(t, before, e.tokens())
			})
		}
	})
	t.Run("(c) a 200 text/html answer is an error", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{Intercept: func(ep string, w http.ResponseWriter, _ *http.Request) bool {
			if ep != oidctest.EndpointUserinfo {
				return false
			}
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<html>{"sub":"user-1"}</html>`))
			return true
		}}, nil)
		e.login()
		before := e.tokens()
		claims, err := e.fetchUserInfo()
		assert.Nil(t, claims)
		assert.ErrorIs(t, err, ErrUserInfo)
		assert.Equal(t, http.StatusBadGateway, statusOf(err, 0))
		assert.Equal(t, before, e.tokens(), "session intact")
	})
	t.Run("(d) a 401 answer is an error", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		e.op.RevokeAll()
		claims, err := e.fetchUserInfo()
		assert.Nil(t, claims)
		assert.ErrorIs(t, err, ErrUserInfo)
		var oe *Error
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, http.StatusUnauthorized, oe.Status)
		assert.Equal(t, "invalid_token", oe.Code)
		assert.Equal(t, before, e.tokens(), "session intact")
	})
	t.Run("no access token: no request", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.AuthorizationParams = nil }) // implicit flow
		_, err := e.fetchUserInfo()
		assert.ErrorIs(t, err, ErrNoAccessToken, "anonymous")
		e.login()
		_, err = e.fetchUserInfo()
		assert.ErrorIs(t, err, ErrNoAccessToken, "implicit flow")
		assert.Equal(t, http.StatusUnauthorized, statusOf(err, 0))
		assert.Zero(t, e.op.Calls(oidctest.EndpointUserinfo))
	})
	t.Run("outages wrap ErrProviderUnavailable", func(t *testing.T) {
		t.Parallel()
		for name, setup := range map[string]func(*testApp){
			"503":     func(e *testApp) { e.op.SetDown(true) },
			"timeout": func(e *testApp) { e.op.SetOptions(func(o *oidctest.Options) { o.Latency = 3 * time.Second }) },
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.HTTPTimeout = 500 * time.Millisecond })
				e.login()
				setup(e)
				_, err := e.fetchUserInfo()
				assert.ErrorIs(t, err, ErrProviderUnavailable)
				assert.ErrorIs(t, err, ErrUserInfo)
				assert.Equal(t, http.StatusServiceUnavailable, statusOf(err, 0))
			})
		}
	})
	t.Run("oversized and malformed answers are errors", func(t *testing.T) {
		t.Parallel()
		for name, body := range map[string]string{
			"too large":    `{"sub":"user-1","pad":"` + strings.Repeat("x", provider.MaxTokenResponseBytes) + `"}`,
			"not JSON":     `not json`,
			"JSON array":   `["user-1"]`,
			"JSON null":    `null`,
			"signed (JWT)": "eyJhbGciOiJub25lIn0.e30.",
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newTKApp(t, oidctest.Options{Intercept: func(ep string, w http.ResponseWriter, _ *http.Request) bool {
					if ep != oidctest.EndpointUserinfo {
						return false
					}
					if strings.HasPrefix(body, "eyJ") {
						w.Header().Set("Content-Type", "application/jwt")
					} else {
						w.Header().Set("Content-Type", "application/json; charset=utf-8")
					}
					_, _ = w.Write([]byte(body))
					return true
				}}, nil)
				e.login()
				claims, err := e.fetchUserInfo()
				assert.Nil(t, claims)
				assert.ErrorIs(t, err, ErrUserInfo)
				assert.Equal(t, http.StatusBadGateway, statusOf(err, 0))
			})
		}
	})
	t.Run("errors never contain the access token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{MutateUserinfo: func(m map[string]any) { m["sub"] = "x" }}, nil)
		e.login()
		at := e.tokens().AccessToken
		_, err := e.fetchUserInfo()
		require.Error(t, err)
		assert.NotContains(t, fmtAll(err), at)
	})
}
