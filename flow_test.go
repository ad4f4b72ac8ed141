package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

func TestLoginFlows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		params     map[string]string
		wantMethod string
		wantTokens bool
	}{
		{"implicit id_token form_post (default)", nil, http.MethodPost, false},
		{"code with PKCE, query", map[string]string{"response_type": "code", "response_mode": "query"}, http.MethodGet, true},
		{"code with PKCE, form_post", map[string]string{"response_type": "code", "response_mode": "form_post"}, http.MethodPost, true},
		{"hybrid code id_token", map[string]string{"response_type": "code id_token"}, http.MethodPost, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withConfig(func(c *Config) {
				c.AuthRequired = nil // default: required
				c.AuthorizationParams = tc.params
			}))
			b := app.browser()
			resp, _ := b.get(app.url("/profile?tab=1"), "Accept", "text/html")
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			q := loc.Query()
			assert.Equal(t, app.url("/callback"), q.Get("redirect_uri"))
			assert.Equal(t, app.op.ClientID(), q.Get("client_id"))
			assert.Contains(t, q.Get("scope"), "openid")
			assert.NotEmpty(t, q.Get("nonce"))
			assert.NotEmpty(t, q.Get("state"))
			if tc.wantTokens {
				assert.Equal(t, "S256", q.Get("code_challenge_method"))
				assert.Len(t, q.Get("code_challenge"), 43)
			} else {
				assert.Empty(t, q.Get("code_challenge"))
			}
			assert.NotContains(t, loc.RawQuery, app.op.ClientSecret())

			cb, method, vals := b.authorize(resp)
			assert.Equal(t, tc.wantMethod, method)
			resp, _ = b.deliver(cb, method, vals)
			require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)
			assert.Equal(t, app.url("/profile?tab=1"), resp.Header.Get("Location"))
			assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
			require.NotEmpty(t, setCookies(resp, "appSession"))

			_, body := b.get(app.url("/"))
			assert.Equal(t, "hello alice", body)
			s := b.session(app)
			assert.Equal(t, tc.wantTokens, s["has_access_token"])
			assert.Equal(t, tc.wantTokens, s["has_refresh_token"])
			if tc.wantTokens {
				assert.Equal(t, "Bearer", s["token_type"])
				tr := app.op.LastTokenRequest()
				require.NotNil(t, tr)
				assert.Equal(t, "authorization_code", tr.PostForm.Get("grant_type"))
				assert.Equal(t, app.url("/callback"), tr.PostForm.Get("redirect_uri"))
				assert.Len(t, tr.PostForm.Get("code_verifier"), 43)
				assert.True(t, strings.HasPrefix(tr.Header.Get("Authorization"), "Basic "))
			}
		})
	}
}

func TestLoginRouteReturnsToBaseURL(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.browser()
	resp, _ := b.get(app.url("/login?returnTo=https://evil.example/"))
	cb, method, vals := b.authorize(resp)
	resp, _ = b.deliver(cb, method, vals)
	assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
}

func TestRequiresAuth(t *testing.T) {
	t.Parallel()
	protected := RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("secret for " + FromRequest(r).User().String("sub")))
	}))
	mux := http.NewServeMux()
	mux.Handle("/protected", protected)
	mux.Handle("/", appHandler())
	app := newTestApp(t, withProvider(oidctest.Options{Subject: "bob"}), withHandler(mux))

	t.Run("anonymous HTML request is sent to login", func(t *testing.T) {
		b := app.browser()
		resp, _ := b.get(app.url("/protected"), "Accept", "text/html,application/xhtml+xml")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), app.op.URL()))
	})
	for _, accept := range []string{"application/json", "text/html;q=0, application/json"} {
		t.Run("anonymous non-HTML request gets 401: "+accept, func(t *testing.T) {
			b := app.browser()
			resp, body := b.get(app.url("/protected"), "Accept", accept)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Contains(t, body, "Authentication is required")
		})
	}
	t.Run("missing Accept counts as HTML, like Express", func(t *testing.T) {
		b := app.browser()
		resp, _ := b.get(app.url("/protected"))
		assert.Equal(t, http.StatusFound, resp.StatusCode)
	})
	t.Run("logged-in user passes", func(t *testing.T) {
		b := app.browser()
		b.login(app, "/protected")
		resp, body := b.get(app.url("/protected"))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "secret for bob", body)
	})
	t.Run("public routes stay public", func(t *testing.T) {
		b := app.browser()
		resp, body := b.get(app.url("/public"))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "public", body)
	})
	t.Run("POST login returns to BaseURL", func(t *testing.T) {
		b := app.browser()
		req, _ := http.NewRequest(http.MethodPost, app.url("/protected"), nil)
		req.Header.Set("Accept", "text/html")
		resp, _ := b.do(req)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		cb, method, vals := b.authorize(resp)
		resp, _ = b.deliver(cb, method, vals)
		assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
	})
}

func TestRequiresAuthWithoutMiddleware(t *testing.T) {
	t.Parallel()
	h := RequiresAuth()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("must not run") }))
	rec := httptestRecorder(h, http.MethodGet, "/x")
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, rec.Body.String(), "oidc.Auth")
}

func TestErrorOnRequiredAuth(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withConfig(func(c *Config) {
		c.AuthRequired = nil
		c.ErrorOnRequiredAuth = true
	}))
	resp, _ := app.browser().get(app.url("/"), "Accept", "text/html")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	t.Run("local logout clears the session", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t)
		b := app.browser()
		b.login(app, "/login")
		require.Equal(t, true, b.session(app)["authenticated"])
		resp, _ := b.get(app.url("/logout"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
		cleared := setCookies(resp, "appSession")
		require.Len(t, cleared, 1)
		assert.Empty(t, cleared[0].Value)
		assert.Equal(t, "true", setCookies(resp, "skipSilentLogin")[0].Value)
		assert.Equal(t, false, b.session(app)["authenticated"])
	})
	t.Run("IdP logout sends id_token_hint and post_logout_redirect_uri", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(func(c *Config) { c.IDPLogout = true }))
		b := app.browser()
		b.login(app, "/login")
		resp, _ := b.get(app.url("/logout"))
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(loc.String(), app.op.URL()+"/session/end"), loc.String())
		assert.NotEmpty(t, loc.Query().Get("id_token_hint"))
		assert.Equal(t, app.cfg.BaseURL+"/", loc.Query().Get("post_logout_redirect_uri"))
		assert.Equal(t, app.op.ClientID(), loc.Query().Get("client_id"))
		resp, _ = b.get(loc.String())
		assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
		assert.Equal(t, false, b.session(app)["authenticated"])
	})
	t.Run("local logout works while the provider is down", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(func(c *Config) {
			c.IDPLogout = true
			c.DiscoveryCacheMaxAge = 1e9 // 1s
		}))
		b := app.browser()
		b.login(app, "/login")
		app.op.SetDown(true)
		app.clk.Advance(2e9)
		resp, _ := b.get(app.url("/logout"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		app.op.SetDown(false)
		assert.Equal(t, false, b.session(app)["authenticated"])
	})
}
