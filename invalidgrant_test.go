package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestRefreshInvalidGrantEndsSession: when the provider answers a refresh
// with invalid_grant, the grant behind the login is gone, so by default the
// session ends (cookie cleared, store entry destroyed) and the next
// protected request starts a new login. KeepSessionOnInvalidGrant keeps the
// login and drops only the API tokens.
func TestRefreshInvalidGrantEndsSession(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		store bool
		keep  bool
	}{
		{"cookie session ends", false, false},
		{"store session ends", true, false},
		{"cookie session kept with KeepSessionOnInvalidGrant", false, true},
		{"store session kept with KeepSessionOnInvalidGrant", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var store *MemoryStore
			mux := http.NewServeMux()
			mux.HandleFunc("/refresh", func(w http.ResponseWriter, r *http.Request) {
				_, err := FromRequest(r).Refresh(r.Context(), RefreshOptions{})
				var pe *ProviderError
				switch {
				case errors.As(err, &pe):
					_, _ = w.Write([]byte(pe.Code))
				case err != nil:
					_, _ = w.Write([]byte(err.Error()))
				default:
					_, _ = w.Write([]byte("ok"))
				}
			})
			mux.Handle("/private", RequiresAuth()(appHandler()))
			mux.Handle("/", loHandler())
			app := newTestApp(t, withConfig(func(c *Config) {
				codeFlow(c)
				c.KeepSessionOnInvalidGrant = tc.keep
				if tc.store {
					store = NewMemoryStore()
					store.Now = c.Now
					c.Session.Store = store
				}
			}), withHandler(mux))
			b := app.browser()
			resp, body := b.login(app, "/login")
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			before := loTokens(t, app, b, "")
			require.NotEmpty(t, before["refresh_token"])
			appURL, _ := url.Parse(app.url("/"))
			oldCookies := b.jar.Cookies(appURL)

			app.op.RevokeAll() // the user's grant is gone at the provider
			calls := app.op.Calls(oidctest.EndpointToken)
			resp, body = b.get(app.url("/refresh"), "Accept", "application/json")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "invalid_grant", body)
			assert.Equal(t, calls+1, app.op.Calls(oidctest.EndpointToken))

			after := loTokens(t, app, b, "")
			assert.Empty(t, after["access_token"])
			assert.Empty(t, after["refresh_token"])
			resp, _ = b.get(app.url("/private"), "Accept", "text/html")
			if tc.keep {
				assert.Equal(t, true, b.session(app)["authenticated"], "the login is kept")
				assert.Equal(t, before["id_token"], after["id_token"])
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				if tc.store {
					assert.Equal(t, 1, store.Len())
				}
			} else {
				assert.Equal(t, false, b.session(app)["authenticated"], "the session has ended")
				assert.Empty(t, after["id_token"])
				require.Equal(t, http.StatusFound, resp.StatusCode, "a protected route starts a new login")
				assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), app.op.URL()+oidctest.PathAuthorize),
					resp.Header.Get("Location"))
				if tc.store {
					assert.Zero(t, store.Len(), "the store entry is destroyed")
					replay := app.browser()
					replay.jar.SetCookies(appURL, oldCookies)
					assert.Equal(t, false, replay.session(app)["authenticated"], "a copy of the old cookie is anonymous")
				}
			}
			// No further refresh attempts with the refused token.
			for range 5 {
				_, body = b.get(app.url("/refresh"), "Accept", "application/json")
				assert.Contains(t, body, "no_refresh_token")
			}
			assert.Equal(t, calls+1, app.op.Calls(oidctest.EndpointToken))
		})
	}
}
