package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/oidctest"
)

// TestClearingResponsesAreNotCacheable: a response whose only session
// Set-Cookie lines clear cookies (junk, a gap, stale chunks next to a valid
// cookie, an unknown store id) is no-store even when the application asked
// for public caching, or a shared cache could replay the clearing lines to
// everyone.
func TestClearingResponsesAreNotCacheable(t *testing.T) {
	t.Parallel()
	clk := newClock()
	handler := func(read bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=600")
			if read {
				FromRequest(r).IsAuthenticated()
			}
			_, _ = w.Write([]byte("ok"))
		})
	}
	newMW := func(t *testing.T, store Store) *Middleware {
		m, err := New(Config{
			Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
			ClientID: "c", Now: clk.Now, AuthRequired: Bool(false), LookupEnv: func(string) (string, bool) { return "", false },
			Session: SessionConfig{Store: store},
		})
		require.NoError(t, err)
		return m
	}
	validCookie := func(t *testing.T) string {
		cs, err := oidctest.SessionCookies(oidctest.SessionOptions{Secret: harnessSecret, Now: clk.Now(),
			Claims: map[string]any{"sub": "alice"}})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		return cs[0].String()
	}
	validStoreCookie := func(t *testing.T, store Store) string {
		now := clk.Now().Unix()
		require.NoError(t, store.Set(context.Background(), "sess-1", encodeEntry("sess-1", storeEntry{
			Header: storeHeader{IAT: now, UAT: now, EXP: now + 3600}, Data: []byte(`{"sid":"x"}`),
		}), clk.Now().Add(time.Hour)))
		keys, err := cookiecrypto.NewKeyring([][]byte{[]byte(harnessSecret)}, nil)
		require.NoError(t, err)
		return "appSession=" + keys.Sign("appSession", "sess-1") // ids are signed by default
	}

	cases := []struct {
		name   string
		store  bool
		cookie func(t *testing.T, store Store) string
		clears []string
	}{
		{"cookie mode/junk", false, func(*testing.T, Store) string { return "appSession=junk" }, []string{"appSession"}},
		{"cookie mode/gapped chunks", false, func(*testing.T, Store) string {
			return "appSession.0=aaaa; appSession.2=bbbb"
		}, []string{"appSession.0", "appSession.2"}},
		{"cookie mode/non-canonical chunk", false, func(*testing.T, Store) string {
			return "appSession.01=aaaa"
		}, []string{"appSession.01"}},
		{"cookie mode/stale chunks next to a valid cookie", false, func(t *testing.T, _ Store) string {
			return validCookie(t) + "; appSession.0=aaaa; appSession.1=bbbb"
		}, []string{"appSession.0", "appSession.1"}},
		{"store mode/malformed id", true, func(*testing.T, Store) string { return "appSession=a.b" }, []string{"appSession"}},
		{"store mode/unknown id", true, func(*testing.T, Store) string { return "appSession=gone" }, []string{"appSession"}},
		{"store mode/gapped chunks", true, func(*testing.T, Store) string {
			return "appSession.0=aaaa; appSession.2=bbbb"
		}, []string{"appSession.0", "appSession.2"}},
		{"store mode/stale chunks next to a valid id", true, func(t *testing.T, store Store) string {
			return validStoreCookie(t, store) + "; appSession.0=aaaa"
		}, []string{"appSession.0"}},
	}
	for _, tc := range cases {
		for _, read := range []bool{false, true} {
			name := tc.name + "/route never reads the session"
			if read {
				name = tc.name + "/route reads the session"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var store Store
				if tc.store {
					store = NewMemoryStore()
				}
				m := newMW(t, store)
				req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
				req.Header.Set("Cookie", tc.cookie(t, store))
				rec := httptest.NewRecorder()
				m.Handler(handler(read)).ServeHTTP(rec, req)
				require.Equal(t, http.StatusOK, rec.Code)

				var cleared []string
				for _, c := range rec.Result().Cookies() {
					require.True(t, c.MaxAge < 0 || c.Expires.Before(clk.Now()), "only clearing lines expected: %s", c)
					cleared = append(cleared, c.Name)
				}
				assert.ElementsMatch(t, tc.clears, cleared)
				cc := strings.ToLower(strings.Join(rec.Result().Header.Values("Cache-Control"), ","))
				assert.Equal(t, "no-store, private", cc)
			})
		}
	}
	t.Run("responses without a session Set-Cookie keep the application's caching", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, nil)
		for _, cookie := range []string{"", validCookie(t), "other=1"} {
			req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			rec := httptest.NewRecorder()
			m.Handler(handler(true)).ServeHTTP(rec, req)
			assert.Empty(t, rec.Result().Cookies())
			assert.Equal(t, "public, max-age=600", rec.Result().Header.Get("Cache-Control"))
		}
	})
}
