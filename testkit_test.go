package oidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestSessionCookiesTestKit checks that oidctest.SessionCookies mints
// cookies the middleware accepts, so application tests can reach protected
// routes without a provider.
func TestSessionCookiesTestKit(t *testing.T) {
	t.Parallel()
	cases := map[string]Claims{
		"small":            {"sub": "alice", "sid": "s-1"},
		"large, chunked":   {"sub": "alice", "groups": strings.Repeat("g", 6000)},
		"custom name kept": {"sub": "alice"},
	}
	for name, claims := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cookieName := "appSession"
			if name == "custom name kept" {
				cookieName = "my.session"
			}
			m, err := New(Config{
				Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
				ClientID: "test-client", Session: SessionConfig{Name: cookieName},
				LookupEnv: func(string) (string, bool) { return "", false },
			})
			require.NoError(t, err)
			cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{
				Secret: harnessSecret, Name: cookieName, Claims: claims,
				AccessToken: "at", ExpiresIn: 3600e9, Values: map[string]any{"cart": "3 items"},
			})
			require.NoError(t, err)
			if name == "large, chunked" {
				require.Greater(t, len(cookies), 1)
			}
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c := FromRequest(r)
				v, _ := c.Get("cart")
				_, _ = w.Write([]byte(c.User().String("sub") + " " + c.IDTokenClaims().String("sid") + " " + v.(string)))
			}))
			req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "alice "+claims.String("sid")+" 3 items", rec.Body.String())
		})
	}
	_, err := oidctest.SessionCookies(oidctest.SessionOptions{})
	assert.Error(t, err)
}

// cookieCache returns the decrypted-session cache of a cookie-mode
// middleware.
func (m *Middleware) cookieCache() *sessionCache { return &m.backend.(*cookieBackend).cache }
