package oidc

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// customRoutesMux is examples/custom-routes' application: the built-in
// routes are off and the application mounts its own, with its own callback
// at /auth/callback.
func customRoutesMux(redirectURI string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sign-in", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Login(w, r, LoginOptions{ReturnTo: "/account"})
	})
	mux.HandleFunc("GET /sign-out", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Logout(w, r, LogoutOptions{ReturnTo: "/"})
	})
	callback := func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Callback(w, r, CallbackOptions{RedirectURI: redirectURI})
	}
	mux.HandleFunc("GET /auth/callback", callback)
	mux.HandleFunc("POST /auth/callback", callback)
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		if !c.IsAuthenticated() {
			http.Redirect(w, r, "/sign-in", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "account of %s", c.User().String("sub"))
	})
	mux.Handle("/", appHandler())
	return mux
}

// customRoutesConfig turns the built-in routes off and points the
// redirect_uri at the application's own callback route.
func customRoutesConfig(authRequired bool, more func(*Config)) func(*Config) {
	return func(c *Config) {
		c.AuthRequired = Bool(authRequired)
		c.Routes = Routes{Login: RouteDisabled, Logout: RouteDisabled, Callback: RouteDisabled}
		c.AuthorizationParams = map[string]string{"redirect_uri": c.BaseURL + "/auth/callback"}
		if more != nil {
			more(c)
		}
	}
}

// TestCustomCallbackRoute covers the route customisation of
// express-openid-connect with AuthRequired on: the application's own
// callback route (the path of the configured redirect_uri) is not guarded
// by the middleware, so a login completes instead of looping.
func TestCustomCallbackRoute(t *testing.T) {
	t.Parallel()
	for _, flow := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"form_post", nil},
		{"code", func(c *Config) {
			for k, v := range codeQuery {
				c.AuthorizationParams[k] = v
			}
		}},
	} {
		t.Run("the full login completes with AuthRequired/"+flow.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withConfig(customRoutesConfig(true, flow.mutate)))
			app.srv.Config.Handler = app.m.Handler(customRoutesMux(app.url("/auth/callback")))
			b := app.browser()

			// A protected page starts the login (AuthRequired).
			resp, _ := b.get(app.url("/account"), "Accept", "text/html")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.True(t, strings.HasPrefix(resp.Header.Get("Location"), app.op.URL()), resp.Header.Get("Location"))
			cb, method, vals := b.authorize(resp)
			require.Equal(t, app.url("/auth/callback"), cb)

			// The authorization response reaches the application's callback.
			resp, body := b.deliver(cb, method, vals)
			require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
			require.Equal(t, app.url("/account"), resp.Header.Get("Location"))
			resp, body = b.get(app.url("/account"), "Accept", "text/html")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "account of alice", body)

			// The application's login route works for a logged-in user too.
			resp, _ = b.get(app.url("/sign-in"), "Accept", "text/html")
			cb, method, vals = b.authorize(resp)
			resp, _ = b.deliver(cb, method, vals)
			assert.Equal(t, app.url("/account"), resp.Header.Get("Location"))
		})
	}

	t.Run("only the redirect_uri's path is exempt", func(t *testing.T) {
		t.Parallel()
		reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "reached") })
		cases := []struct {
			name     string
			base     string // appended to the server URL for BaseURL
			redirect string // redirect_uri, relative to the server URL
			method   string
			path     string
			exempt   bool
		}{
			{"exact", "", "/auth/callback", http.MethodGet, "/auth/callback", true},
			{"POST (form_post)", "", "/auth/callback", http.MethodPost, "/auth/callback", true},
			{"trailing slash", "", "/auth/callback", http.MethodGet, "/auth/callback/", true},
			{"other case", "", "/auth/callback", http.MethodGet, "/Auth/CALLBACK", true},
			{"query string", "", "/auth/callback", http.MethodGet, "/auth/callback?code=c&state=s", true},
			{"PUT is guarded", "", "/auth/callback", http.MethodPut, "/auth/callback", false},
			{"a sub-path is guarded", "", "/auth/callback", http.MethodGet, "/auth/callback/x", false},
			{"a prefix is guarded", "", "/auth/callback", http.MethodGet, "/auth/callbac", false},
			{"the parent is guarded", "", "/auth/callback", http.MethodGet, "/auth", false},
			{"other pages are guarded", "", "/auth/callback", http.MethodGet, "/account", false},
			{"mounted under BaseURL's path", "/app", "/app/auth/callback", http.MethodGet, "/app/auth/callback", true},
			{"BaseURL's path stripped", "/app", "/app/auth/callback", http.MethodGet, "/auth/callback", true},
			{"BaseURL's path in another case", "/app", "/app/auth/callback", http.MethodGet, "/APP/auth/callback/", true},
			{"under BaseURL's path, another page", "/app", "/app/auth/callback", http.MethodGet, "/app/account", false},
			{"outside BaseURL's path", "/app", "/other/cb", http.MethodGet, "/other/cb", true},
			{"outside BaseURL's path, not relative to it", "/app", "/other/cb", http.MethodGet, "/app/other/cb", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				app := newTestApp(t, withConfig(func(c *Config) {
					origin := c.BaseURL
					c.BaseURL += tc.base
					customRoutesConfig(true, nil)(c)
					c.AuthorizationParams["redirect_uri"] = origin + tc.redirect
				}), withHandler(reached))
				req, err := http.NewRequest(tc.method, app.url(tc.path), nil)
				require.NoError(t, err)
				req.Header.Set("Accept", "application/json")
				resp, body := app.browser().do(req)
				if tc.exempt {
					assert.Equal(t, http.StatusOK, resp.StatusCode, body)
					assert.Equal(t, "reached", body)
				} else {
					assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
				}
			})
		}
	})

	t.Run("a redirect_uri at the application's root is exempt and warned about", func(t *testing.T) {
		t.Parallel()
		for _, authRequired := range []bool{true, false} {
			var logs ctxLogBuffer
			reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "reached") })
			app := newTestApp(t, withConfig(customRoutesConfig(authRequired, func(c *Config) {
				c.AuthorizationParams["redirect_uri"] = c.BaseURL
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})), withHandler(reached))
			const warning = "the redirect_uri is the application's root"
			if !authRequired {
				assert.NotContains(t, logs.String(), warning)
				continue
			}
			assert.Contains(t, logs.String(), warning)
			resp, body := app.browser().get(app.url("/"), "Accept", "application/json")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "reached", body)
			resp, _ = app.browser().get(app.url("/account"), "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		}
	})

	t.Run("a silent login never takes over the callback route", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(customRoutesConfig(false, func(c *Config) {
			c.AttemptSilentLogin = true
		})))
		app.srv.Config.Handler = app.m.Handler(customRoutesMux(app.url("/auth/callback")))
		b := app.browser()
		// An anonymous browser without a skipSilentLogin cookie delivering
		// an authorization response: the application's callback answers
		// (no transaction: 400), no silent login starts.
		resp, _ := b.get(app.url("/auth/callback?code=c&state=s"), "Accept", "text/html")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Location"))
		// Other pages do get the silent login.
		resp, _ = b.get(app.url("/account"), "Accept", "text/html")
		assert.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Location"), "prompt=none")
	})
}
