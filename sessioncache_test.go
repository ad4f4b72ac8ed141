package oidc

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestSessionCache checks that serving a session from the decrypted-session
// cache behaves exactly like decrypting it: expiry still applies, changes
// made by one request never leak into another, and rotation still re-issues.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	clk := newClock()
	newMW := func(t *testing.T, secrets ...string) *Middleware {
		m, err := New(Config{
			Secret: Secrets(secrets), IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
			ClientID: "c", Now: clk.Now, AuthRequired: Bool(false), LookupEnv: func(string) (string, bool) { return "", false },
		})
		require.NoError(t, err)
		return m
	}
	mint := func(t *testing.T, secret string) *http.Cookie {
		cs, err := oidctest.SessionCookies(oidctest.SessionOptions{Secret: secret, Now: clk.Now(),
			Claims: map[string]any{"sub": "alice"}, Values: map[string]any{"n": "1"}})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		return cs[0]
	}
	serve := func(m *Middleware, ck *http.Cookie, h http.HandlerFunc) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
		req.AddCookie(ck)
		rec := httptest.NewRecorder()
		m.Handler(h).ServeHTTP(rec, req)
		return rec
	}
	who := func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		v, _ := c.Get("n")
		s, _ := v.(string)
		_, _ = w.Write([]byte(c.User().String("sub") + ":" + s))
	}

	t.Run("a request's changes do not leak into the next request with the same cookie", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, harnessSecret)
		ck := mint(t, harnessSecret)
		rec := serve(m, ck, func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, FromRequest(r).Set("n", "changed"))
			require.NoError(t, FromRequest(r).Delete("absent"))
		})
		require.Len(t, rec.Result().Cookies(), 1, "the change is written")
		for range 2 {
			assert.Equal(t, "alice:1", serve(m, ck, who).Body.String())
		}
	})
	t.Run("expiry still applies to a cached session", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, harnessSecret)
		ck := mint(t, harnessSecret)
		assert.Equal(t, "alice:1", serve(m, ck, who).Body.String())
		m.s.now = func() time.Time { return clk.Now().Add(25 * time.Hour) }
		assert.Equal(t, ":", serve(m, ck, who).Body.String())
	})
	t.Run("a cached session read with an old secret is still re-issued under the new one", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, "the-new-secret-value", harnessSecret)
		ck := mint(t, harnessSecret)
		for range 2 {
			rec := serve(m, ck, who)
			assert.Equal(t, "alice:1", rec.Body.String())
			require.Len(t, rec.Result().Cookies(), 1)
			_, _, idx, err := m.keys.DecryptKey(rec.Result().Cookies()[0].Value)
			require.NoError(t, err)
			assert.Equal(t, 0, idx)
		}
	})
	t.Run("a tampered cookie is never served from the cache", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, harnessSecret)
		ck := mint(t, harnessSecret)
		assert.Equal(t, "alice:1", serve(m, ck, who).Body.String())
		bad := *ck
		bad.Value = tamperTail(ck.Value, 1)
		assert.Equal(t, ":", serve(m, &bad, who).Body.String())
	})
}
