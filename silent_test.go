package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/state"
	"github.com/openidconnect-go/oidc/oidctest"
)

// silMounts are the two ways to turn silent login on.
var silMounts = []struct {
	name  string
	mount func(c *Config) http.Handler
}{
	{"Config.AttemptSilentLogin", func(c *Config) http.Handler {
		c.AttemptSilentLogin = true
		return nil
	}},
	{"AttemptSilentLogin middleware", func(*Config) http.Handler {
		return AttemptSilentLogin()(appHandler())
	}},
}

// silApp builds an app with silent login mounted by mount.
func silApp(t *testing.T, opOpts oidctest.Options, mount func(*Config) http.Handler, mutate func(*Config)) *testApp {
	t.Helper()
	var handler http.Handler
	cfg := Config{}
	handler = mount(&cfg)
	return newTestApp(t, withProvider(opOpts), withConfig(func(c *Config) {
		c.AttemptSilentLogin = cfg.AttemptSilentLogin
		if mutate != nil {
			mutate(c)
		}
	}), withHandler(handler))
}

// silSkipCookie returns the skipSilentLogin Set-Cookie of resp, or nil.
func silSkipCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	cs := setCookies(resp, "skipSilentLogin")
	require.LessOrEqual(t, len(cs), 1)
	if len(cs) == 0 {
		return nil
	}
	return cs[0]
}

// silAssertSilentRedirect checks that resp starts a prompt=none login that
// returns to returnTo (the request path, as express stores it).
func silAssertSilentRedirect(t *testing.T, app *testApp, resp *http.Response, returnTo string) {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := must(url.Parse(resp.Header.Get("Location")))
	assert.True(t, strings.HasPrefix(loc.String(), app.op.URL()+"/authorize?"), loc.String())
	q := loc.Query()
	assert.Equal(t, "none", q.Get("prompt"))
	st, err := state.Decode(q.Get("state"))
	require.NoError(t, err)
	assert.Equal(t, true, st["attemptingSilentLogin"])
	assert.Equal(t, returnTo, st["returnTo"])
}

// TestAttemptSilentLogin covers test/attemptSilentLogin.tests.js.
func TestAttemptSilentLogin(t *testing.T) {
	t.Parallel()
	for _, mt := range silMounts {
		t.Run(mt.name, func(t *testing.T) {
			t.Parallel()
			t.Run("should attempt silent login on user's first route", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{}, mt.mount, nil)
				resp, _ := app.browser().get(app.url("/anything?x=1"), "Accept", "text/html")
				silAssertSilentRedirect(t, app, resp, "/anything?x=1")
				ck := silSkipCookie(t, resp)
				require.NotNil(t, ck)
				assert.Equal(t, "true", ck.Value)
				assert.True(t, ck.HttpOnly)
				assert.True(t, ck.Secure)
				assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
				assert.Equal(t, "/", ck.Path)
				assert.True(t, ck.Expires.IsZero(), "a browser-session cookie")
				assert.Zero(t, ck.MaxAge)
				assert.NotEmpty(t, setCookies(resp, "auth_verification"))
			})
			t.Run("should not attempt silent login for non html requests", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{}, mt.mount, nil)
				resp, body := app.browser().get(app.url("/"), "Accept", "application/json")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "hello ", body)
				assert.Nil(t, silSkipCookie(t, resp))
			})
			t.Run("should not attempt silent login on user's subsequent routes", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{}, mt.mount, nil)
				b := app.browser()
				resp, _ := b.get(app.url("/"), "Accept", "text/html")
				require.Equal(t, http.StatusFound, resp.StatusCode)
				resp, body := b.get(app.url("/other"), "Accept", "text/html")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "hello ", body)
			})
			t.Run("should not attempt silent login for authenticated user", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{Subject: "ana"}, mt.mount, nil)
				b := app.browser()
				resp, _ := b.login(app, "/login")
				ck := silSkipCookie(t, resp)
				require.NotNil(t, ck, "a successful callback clears skipSilentLogin")
				assert.True(t, ck.MaxAge < 0 || (!ck.Expires.IsZero() && ck.Expires.Unix() <= 0), "cleared: %v", ck)
				resp, body := b.get(app.url("/"), "Accept", "text/html")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "hello ana", body)
				assert.Equal(t, 1, app.op.Calls(oidctest.EndpointAuthorize))
			})
			t.Run("should not attempt silent login after first anonymous request after logout", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{}, mt.mount, nil)
				b := app.browser()
				b.login(app, "/login")
				resp, _ := b.get(app.url("/logout"))
				require.Equal(t, http.StatusFound, resp.StatusCode)
				require.Equal(t, "true", silSkipCookie(t, resp).Value)
				resp, body := b.get(app.url("/"), "Accept", "text/html")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "hello ", body)
				assert.Equal(t, 1, app.op.Calls(oidctest.EndpointAuthorize))
			})
			t.Run("should not attempt silent login after first request is to logout", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{}, mt.mount, nil)
				b := app.browser()
				resp, _ := b.get(app.url("/logout"), "Accept", "text/html")
				require.Equal(t, http.StatusFound, resp.StatusCode)
				resp, body := b.get(app.url("/"), "Accept", "text/html")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "hello ", body)
				assert.Equal(t, 0, app.op.Calls(oidctest.EndpointAuthorize))
			})
			t.Run("should honor SameSite config for use in iframes", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{}, mt.mount, func(c *Config) {
					c.Session.Cookie.SameSite = http.SameSiteNoneMode
				})
				resp, _ := app.browser().get(app.url("/"), "Accept", "text/html")
				ck := silSkipCookie(t, resp)
				require.NotNil(t, ck)
				assert.Equal(t, http.SameSiteNoneMode, ck.SameSite)
				assert.True(t, ck.Secure)
			})
		})
	}
	t.Run("should throw when there's no auth middleware", func(t *testing.T) {
		t.Parallel()
		h := AttemptSilentLogin()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("must not run") }))
		rec := httptestRecorder(h, http.MethodGet, "/")
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		assert.Contains(t, rec.Body.String(), "oidc.Auth")
	})
}

// TestSilentLoginOutcomes covers the round trips: a provider session logs
// the user in; login_required (or any failure) returns the user
// anonymously, with at most one prompt=none round trip per browser session
// (REL-02).
func TestSilentLoginOutcomes(t *testing.T) {
	t.Parallel()
	flows := map[string]map[string]string{
		"id_token form_post": nil,
		"code query":         codeQuery,
	}
	for name, params := range flows {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("a provider session logs the user in silently", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{Subject: "sam"}, silMounts[0].mount, func(c *Config) { c.AuthorizationParams = params })
				b := app.browser()
				resp, _ := b.get(app.url("/page"), "Accept", "text/html")
				silAssertSilentRedirect(t, app, resp, "/page")
				cb, method, vals := b.authorize(resp)
				resp, _ = b.deliver(cb, method, vals)
				assert.Equal(t, app.url("/page"), resp.Header.Get("Location"))
				_, body := b.get(app.url("/page"), "Accept", "text/html")
				assert.Equal(t, "hello sam", body)
			})
			t.Run("login_required returns the user anonymously, without a loop", func(t *testing.T) {
				t.Parallel()
				app := silApp(t, oidctest.Options{RequireSessionForPromptNone: true}, silMounts[0].mount,
					func(c *Config) { c.AuthorizationParams = params })
				b := app.browser()
				resp, _ := b.get(app.url("/page"), "Accept", "text/html")
				silAssertSilentRedirect(t, app, resp, "/page")
				cb, method, vals := b.authorize(resp)
				require.Equal(t, "login_required", vals.Get("error"))
				resp, body := b.deliver(cb, method, vals)
				assert.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
				assert.Equal(t, app.url("/page"), resp.Header.Get("Location"))
				for _, p := range []string{"/page", "/other", "/"} {
					resp, body = b.get(app.url(p), "Accept", "text/html")
					assert.Equal(t, http.StatusOK, resp.StatusCode, p)
					assert.Equal(t, "hello ", body, p)
				}
				assert.Equal(t, 1, app.op.Calls(oidctest.EndpointAuthorize), "one prompt=none round trip per browser session")
				assert.Equal(t, 0, app.op.Calls(oidctest.EndpointToken))
			})
		})
	}
	t.Run("a provider outage does not loop either", func(t *testing.T) {
		t.Parallel()
		app := silApp(t, oidctest.Options{}, silMounts[0].mount, nil)
		app.op.SetDown(true)
		b := app.browser()
		resp, _ := b.get(app.url("/"), "Accept", "text/html")
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.NotNil(t, silSkipCookie(t, resp))
		app.op.SetDown(false)
		resp, body := b.get(app.url("/"), "Accept", "text/html")
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "hello ", body)
	})
	t.Run("only GET requests are attempted", func(t *testing.T) {
		t.Parallel()
		app := silApp(t, oidctest.Options{}, silMounts[0].mount, nil)
		for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
			req := must(http.NewRequest(method, app.url("/"), nil))
			req.Header.Set("Accept", "text/html")
			resp, _ := app.browser().do(req)
			assert.Equal(t, http.StatusOK, resp.StatusCode, method)
			assert.Nil(t, silSkipCookie(t, resp), method)
		}
	})
	t.Run("a request without Accept counts as HTML, like Express", func(t *testing.T) {
		t.Parallel()
		app := silApp(t, oidctest.Options{}, silMounts[0].mount, nil)
		resp, _ := app.browser().get(app.url("/x"))
		silAssertSilentRedirect(t, app, resp, "/x")
	})
	t.Run("an empty skipSilentLogin cookie does not count", func(t *testing.T) {
		t.Parallel()
		app := silApp(t, oidctest.Options{}, silMounts[0].mount, nil)
		b := app.browser()
		b.jar.SetCookies(must(url.Parse(app.url("/"))), []*http.Cookie{{Name: "skipSilentLogin", Value: ""}})
		resp, _ := b.get(app.url("/"), "Accept", "text/html")
		assert.Equal(t, http.StatusFound, resp.StatusCode)
		b2 := app.browser()
		b2.jar.SetCookies(must(url.Parse(app.url("/"))), []*http.Cookie{{Name: "skipSilentLogin", Value: "1"}})
		resp, _ = b2.get(app.url("/"), "Accept", "text/html")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "any value counts")
	})
	t.Run("should redirect to the authorize url for any route with custom txn name if attemptSilentLogin", func(t *testing.T) {
		t.Parallel()
		app := silApp(t, oidctest.Options{}, silMounts[0].mount, func(c *Config) { c.TransactionCookie.Name = "my_txn" })
		resp, _ := app.browser().get(app.url("/any/route"), "Accept", "text/html")
		silAssertSilentRedirect(t, app, resp, "/any/route")
		assert.NotEmpty(t, setCookies(resp, "my_txn"))
	})
}

// TestSilentLoginWithAuthRequired covers REL-02 (docs/security.md):
// silent login runs after the AuthRequired check, so it never fires there,
// and the built-in routes are never bounced to a login.
func TestSilentLoginWithAuthRequired(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withProvider(oidctest.Options{RequireSessionForPromptNone: true}), withConfig(func(c *Config) {
		c.AuthRequired = nil // default: true
		c.AttemptSilentLogin = true
	}))

	t.Run("an anonymous HTML request gets a normal login", func(t *testing.T) {
		resp, _ := app.browser().get(app.url("/page"), "Accept", "text/html")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		q := must(url.Parse(resp.Header.Get("Location"))).Query()
		assert.NotEqual(t, "none", q.Get("prompt"))
		assert.Nil(t, silSkipCookie(t, resp))
	})
	t.Run("an API request gets 401", func(t *testing.T) {
		resp, _ := app.browser().get(app.url("/page"), "Accept", "application/json")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
	t.Run("the callback is never bounced to a login", func(t *testing.T) {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req := must(http.NewRequest(method, app.url("/callback"), nil))
			req.Header.Set("Accept", "text/html")
			if method == http.MethodPost {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, _ := app.browser().do(req)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, method)
			assert.Empty(t, resp.Header.Get("Location"), method)
		}
	})
	t.Run("the logout route is never bounced to a login", func(t *testing.T) {
		resp, _ := app.browser().get(app.url("/logout"), "Accept", "text/html")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
	})
}
