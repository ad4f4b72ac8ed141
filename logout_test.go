package oidc

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// Logout tests: the titles of express-openid-connect's test/logout.tests.js
// that apply, plus RPL-01..RPL-03 (docs/security.md, "RP-initiated
// logout"). TestLogout in
// flow_test.go has the basic cases.

const loClearSuffix = "=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=Lax"

// loHandler is appHandler plus /tokens (the session's raw tokens as JSON)
// and /custom-logout, which calls Context.Logout with ReturnTo from "to" and
// LogoutParams from "params" (a JSON object).
func loHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/tokens", func(w http.ResponseWriter, r *http.Request) {
		s, _ := FromRequest(r).Session()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"id_token": string(s.IDToken), "access_token": string(s.AccessToken), "refresh_token": string(s.RefreshToken),
		})
	})
	mux.HandleFunc("/custom-logout", func(w http.ResponseWriter, r *http.Request) {
		var params map[string]string
		if p := r.URL.Query().Get("params"); p != "" {
			if err := json.Unmarshal([]byte(p), &params); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		FromRequest(r).Logout(w, r, LogoutOptions{ReturnTo: r.URL.Query().Get("to"), LogoutParams: params})
	})
	mux.Handle("/", appHandler())
	return mux
}

// loTokens returns the raw tokens of b's session.
func loTokens(t *testing.T, app *testApp, b *browser, prefix string) map[string]string {
	t.Helper()
	resp, body := b.get(app.url(prefix+"/tokens"), "Accept", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var out map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	return out
}

// loCustomLogout calls /custom-logout.
func loCustomLogout(t *testing.T, app *testApp, b *browser, returnTo string, params map[string]string) *http.Response {
	t.Helper()
	q := url.Values{}
	if returnTo != "" {
		q.Set("to", returnTo)
	}
	if params != nil {
		p, err := json.Marshal(params)
		require.NoError(t, err)
		q.Set("params", string(p))
	}
	resp, _ := b.get(app.url("/custom-logout?" + q.Encode()))
	return resp
}

// loEndSession checks that resp redirects to the provider's end-session
// endpoint and returns the query.
func loEndSession(t *testing.T, app *testApp, resp *http.Response) url.Values {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, app.op.URL()+oidctest.PathEndSession+"?"), "not the end-session endpoint: %q", loc)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	return u.Query()
}

// loSetCookieLines returns the Set-Cookie lines of resp for cookies named
// name or name.<n>.
func loSetCookieLines(resp *http.Response, name string) []string {
	var out []string
	for _, line := range resp.Header.Values("Set-Cookie") {
		n, _, _ := strings.Cut(line, "=")
		if n == name || strings.HasPrefix(n, name+".") {
			out = append(out, line)
		}
	}
	return out
}

// loAssertCleared checks that resp expires exactly the session cookies in
// names (and sets no session cookie), that skipSilentLogin is set, and that
// the response is not cached.
func loAssertCleared(t *testing.T, resp *http.Response, names []string, path string) {
	t.Helper()
	var want []string
	for _, n := range names {
		want = append(want, n+strings.Replace(loClearSuffix, "Path=/;", "Path="+path+";", 1))
	}
	assert.ElementsMatch(t, want, loSetCookieLines(resp, "appSession"))
	assert.Contains(t, resp.Header.Values("Set-Cookie"), "skipSilentLogin=true; Path="+path+"; HttpOnly; Secure; SameSite=Lax")
	assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
}

// loKeys returns the sorted keys of q.
func loKeys(q url.Values) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestLogoutRoute(t *testing.T) {
	t.Parallel()

	t.Run("should perform a local logout", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withHandler(loHandler()))
		b := app.browser()
		b.login(app, "/login")
		resp, _ := b.get(app.url("/logout"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
		loAssertCleared(t, resp, []string{"appSession"}, "/")
		assert.Equal(t, false, b.session(app)["authenticated"])
		assert.Zero(t, app.op.Calls(oidctest.EndpointEndSession))

		t.Run("anonymous", func(t *testing.T) {
			resp, _ := app.browser().get(app.url("/logout"))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Equal(t, app.cfg.BaseURL+"/", resp.Header.Get("Location"))
			loAssertCleared(t, resp, nil, "/")
		})
		t.Run("case-insensitive, trailing slash", func(t *testing.T) {
			b := app.browser()
			b.login(app, "/login")
			resp, _ := b.get(app.url("/LogOut/"))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loAssertCleared(t, resp, []string{"appSession"}, "/")
		})
		t.Run("anonymous values are cleared too", func(t *testing.T) {
			b := app.browser()
			b.get(app.url("/set?basket=1"))
			resp, _ := b.get(app.url("/logout"))
			loAssertCleared(t, resp, []string{"appSession"}, "/")
			assert.Nil(t, b.session(app)["values"])
		})
	})

	t.Run("should perform a distributed logout", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(func(c *Config) { c.IDPLogout = true }), withHandler(loHandler()))
		b := app.browser()
		b.login(app, "/login")
		tokens := loTokens(t, app, b, "")
		resp, _ := b.get(app.url("/logout"))
		q := loEndSession(t, app, resp)
		assert.Equal(t, []string{"client_id", "id_token_hint", "post_logout_redirect_uri"}, loKeys(q))
		assert.Equal(t, tokens["id_token"], q.Get("id_token_hint"))
		assert.Equal(t, app.cfg.BaseURL+"/", q.Get("post_logout_redirect_uri"))
		assert.Equal(t, app.op.ClientID(), q.Get("client_id"))
		loAssertCleared(t, resp, []string{"appSession"}, "/")

		back, _ := b.get(resp.Header.Get("Location"))
		require.Equal(t, http.StatusFound, back.StatusCode, "the provider accepts the request")
		assert.Equal(t, app.cfg.BaseURL+"/", back.Header.Get("Location"))
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointEndSession))
		for _, c := range back.Cookies() {
			if c.Name == oidctest.SessionCookieName {
				assert.Negative(t, c.MaxAge, "the provider session ends")
			}
		}
		assert.Equal(t, false, b.session(app)["authenticated"])
	})

	t.Run("should perform an auth0 logout", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(func(c *Config) { c.Auth0Logout = Bool(true) }), withHandler(loHandler()))
		b := app.browser()
		b.login(app, "/login")
		tokens := loTokens(t, app, b, "")
		resp, _ := b.get(app.url("/logout"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc := resp.Header.Get("Location")
		u, err := url.Parse(loc)
		require.NoError(t, err)
		assert.Equal(t, app.op.URL()+"/v2/logout", u.Scheme+"://"+u.Host+u.Path)
		assert.Equal(t, url.Values{"returnTo": {app.cfg.BaseURL + "/"}, "client_id": {app.op.ClientID()}}, u.Query())
		assert.NotContains(t, loc, tokens["id_token"])
		assert.NotContains(t, loc, "id_token_hint")
		loAssertCleared(t, resp, []string{"appSession"}, "/")
	})

	t.Run("auth0 logout is detected from an *.auth0.com issuer", func(t *testing.T) {
		t.Parallel()
		for name, auth0 := range map[string]*bool{"auto": nil, "forced off": Bool(false)} {
			t.Run(name, func(t *testing.T) {
				opts := oidctest.Options{MutateDiscovery: func(doc map[string]any) { doc["issuer"] = "http://tenant.eu.auth0.com/" }}
				app := newTestApp(t, withProvider(opts), withConfig(func(c *Config) {
					// Naming the document skips the issuer comparison, so the
					// provider can pose as an Auth0 tenant.
					c.IssuerBaseURL += oidctest.PathDiscovery
					c.IDPLogout = true
					c.Auth0Logout = auth0
				}), withHandler(loHandler()))
				resp, _ := app.browser().get(app.url("/logout"))
				require.Equal(t, http.StatusFound, resp.StatusCode)
				if auth0 == nil {
					assert.Equal(t, "http://tenant.eu.auth0.com/v2/logout?"+url.Values{
						"client_id": {app.op.ClientID()}, "returnTo": {app.cfg.BaseURL + "/"},
					}.Encode(), resp.Header.Get("Location"))
					return
				}
				q := loEndSession(t, app, resp)
				assert.Equal(t, app.cfg.BaseURL+"/", q.Get("post_logout_redirect_uri"))
			})
		}
	})

	t.Run("should redirect to postLogoutRedirect", func(t *testing.T) {
		t.Parallel()
		for _, idp := range []bool{false, true} {
			for _, tc := range []struct{ config, want string }{
				{"/after-logout", "/after-logout"},
				{"after-logout", "/after-logout"},
				{"/after-logout?x=1", "/after-logout?x=1"},
				{"ABS/after", "/after"},
			} {
				t.Run(tc.config+map[bool]string{false: " local", true: " idp"}[idp], func(t *testing.T) {
					t.Parallel()
					app := newTestApp(t, withConfig(func(c *Config) {
						c.IDPLogout = idp
						c.Routes.PostLogoutRedirect = strings.Replace(tc.config, "ABS", c.BaseURL, 1)
					}), withHandler(loHandler()))
					want := app.url(tc.want)
					b := app.browser()
					b.login(app, "/login")
					resp, _ := b.get(app.url("/logout"))
					if idp {
						q := loEndSession(t, app, resp)
						assert.Equal(t, want, q.Get("post_logout_redirect_uri"))
						back, _ := b.get(resp.Header.Get("Location"))
						require.Equal(t, http.StatusFound, back.StatusCode)
						assert.Equal(t, want, back.Header.Get("Location"))
						return
					}
					require.Equal(t, http.StatusFound, resp.StatusCode)
					assert.Equal(t, want, resp.Header.Get("Location"))
				})
			}
		}
	})

	t.Run("should redirect to the specified returnTo", func(t *testing.T) {
		t.Parallel()
		for _, idp := range []bool{false, true} {
			app := newTestApp(t, withConfig(func(c *Config) {
				c.IDPLogout = idp
				c.Routes.PostLogoutRedirect = "/default"
			}), withHandler(loHandler()))
			origin := strings.TrimSuffix(app.url(""), "/")
			for _, tc := range []struct{ returnTo, want string }{
				{"/custom", origin + "/custom"},
				{"/custom?a=b#frag", origin + "/custom?a=b#frag"},
				{origin + "/absolute", origin + "/absolute"},
				{"https://www.another-example.org/logout", origin + "/default"},
				{"//evil.example/", origin + "/default"},
			} {
				t.Run(tc.returnTo+map[bool]string{false: " local", true: " idp"}[idp], func(t *testing.T) {
					b := app.browser()
					b.login(app, "/login")
					resp := loCustomLogout(t, app, b, tc.returnTo, nil)
					loAssertCleared(t, resp, []string{"appSession"}, "/")
					if idp {
						assert.Equal(t, tc.want, loEndSession(t, app, resp).Get("post_logout_redirect_uri"))
						return
					}
					assert.Equal(t, tc.want, resp.Header.Get("Location"))
				})
			}
		}
	})

	t.Run("returnTo relative to BaseURL without a leading slash", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(func(c *Config) { c.BaseURL += "/app" }), withHandler(http.StripPrefix("/app", loHandler())))
		resp, _ := app.browser().get(app.url("/app/custom-logout?to=bye"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		// Routes.PostLogoutRedirect "bye" is joined to BaseURL (and
		// LogoutOptions.ReturnTo is documented as "a path relative to
		// BaseURL"); express url-joins both.
		if got := resp.Header.Get("Location"); got != app.url("/app/bye") {
			t.Errorf("logout.go (*Context).Logout only joins ReturnTo values starting with \"/\" to BaseURL; "+
				"ReturnTo \"bye\" falls back to %q instead of %q (Routes.PostLogoutRedirect \"bye\" is joined)", got, app.url("/app/bye"))
		}
	})

	t.Run("should logout when scoped to a sub path", func(t *testing.T) {
		t.Parallel()
		mount := func(idp bool) func(c *Config) {
			return func(c *Config) {
				c.BaseURL += "/app"
				c.Session.Cookie.Path = "/app"
				c.IDPLogout = idp
			}
		}
		for _, variant := range []string{"mounted", "StripPrefix"} {
			for _, idp := range []bool{false, true} {
				t.Run(variant+map[bool]string{false: " local", true: " idp"}[idp], func(t *testing.T) {
					t.Parallel()
					var app *testApp
					if variant == "mounted" {
						app = newTestApp(t, withConfig(mount(idp)), withHandler(http.StripPrefix("/app", loHandler())))
					} else {
						app = newTestApp(t, withConfig(mount(idp)))
						outer := http.NewServeMux()
						outer.Handle("/app/", http.StripPrefix("/app", app.m.Handler(loHandler())))
						app.srv.Config.Handler = outer
					}
					base := app.url("/app")
					b := app.browser()
					resp, _ := b.login(app, "/app/login")
					require.Equal(t, http.StatusSeeOther, resp.StatusCode)
					assert.Equal(t, base, resp.Header.Get("Location"))
					_, body := b.get(app.url("/app/"))
					assert.Equal(t, "hello user-1", body)
					tokens := loTokens(t, app, b, "/app")

					resp, _ = b.get(app.url("/app/logout"))
					loAssertCleared(t, resp, []string{"appSession"}, "/app")
					if idp {
						q := loEndSession(t, app, resp)
						assert.Equal(t, base, q.Get("post_logout_redirect_uri"))
						assert.Equal(t, tokens["id_token"], q.Get("id_token_hint"))
					} else {
						assert.Equal(t, base, resp.Header.Get("Location"))
					}
					_, body = b.get(app.url("/app/"))
					assert.Equal(t, "hello ", body, "logged out")
				})
			}
		}
	})

	t.Run("should cancel silent logins when user logs out", func(t *testing.T) {
		t.Parallel()
		for _, idp := range []bool{false, true} {
			app := newTestApp(t, withConfig(func(c *Config) { c.IDPLogout = idp }), withHandler(loHandler()))
			b := app.browser()
			b.login(app, "/login")
			resp, _ := b.get(app.url("/logout"))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Contains(t, resp.Header.Values("Set-Cookie"), "skipSilentLogin=true; Path=/; HttpOnly; Secure; SameSite=Lax")
			appURL, _ := url.Parse(app.url("/"))
			var found bool
			for _, c := range b.jar.Cookies(appURL) {
				found = found || c.Name == skipSilentLoginCookie && c.Value == "true"
			}
			assert.True(t, found, "the browser keeps skipSilentLogin")

			// The next successful login allows silent logins again.
			resp, _ = b.login(app, "/login")
			assert.Contains(t, resp.Header.Values("Set-Cookie"),
				"skipSilentLogin=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax")
		}
	})
}

// TestLogoutParams covers the logout-parameter titles of
// test/logout.tests.js and the precedence config < id_token_hint <
// post_logout_redirect_uri < per call; an empty value removes a parameter.
func TestLogoutParams(t *testing.T) {
	t.Parallel()
	const (
		idToken = "$id"
		base    = "$base"
	)
	type tcase struct {
		name      string
		auth0     bool
		config    map[string]string
		postLogin string            // Routes.PostLogoutRedirect
		returnTo  string            // per call
		perCall   map[string]string // per call; nil uses /logout
		anonymous bool
		want      map[string]string // $id, $base and $client are substituted
	}
	generic := func(extra map[string]string) map[string]string {
		out := map[string]string{"id_token_hint": idToken, "post_logout_redirect_uri": base + "/", "client_id": "$client"}
		for k, v := range extra {
			if v == "-" {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	cases := []tcase{
		{name: "should pass logout params to end session url",
			config: map[string]string{"foo": "bar", "ui_locales": "fr"},
			want:   generic(map[string]string{"foo": "bar", "ui_locales": "fr"})},
		{name: "should override logout params per request",
			config: map[string]string{"foo": "bar", "keep": "me"}, perCall: map[string]string{"foo": "baz"},
			want: generic(map[string]string{"foo": "baz", "keep": "me"})},
		{name: "should pass logout params to auth0 logout url", auth0: true,
			config: map[string]string{"foo": "bar"},
			want:   map[string]string{"returnTo": base + "/", "client_id": "$client", "foo": "bar"}},
		{name: "should honor logout url config over logout params",
			config: map[string]string{"post_logout_redirect_uri": "https://evil.example/"}, postLogin: "/bye",
			want: generic(map[string]string{"post_logout_redirect_uri": base + "/bye"})},
		{name: "should honor logout url arguments over logout params",
			config: map[string]string{"post_logout_redirect_uri": "https://evil.example/"}, returnTo: "/custom", perCall: map[string]string{},
			want: generic(map[string]string{"post_logout_redirect_uri": base + "/custom"})},
		{name: "should honor logout id_token_hint arguments over default",
			perCall: map[string]string{"id_token_hint": "__test_id_token_hint__"},
			want:    generic(map[string]string{"id_token_hint": "__test_id_token_hint__"})},
		{name: "should ignore undefined or null logout params",
			config:  map[string]string{"foo": "", "bar": "x", "baz": "y"},
			perCall: map[string]string{"id_token_hint": "", "bar": "", "qux": ""},
			want:    generic(map[string]string{"id_token_hint": "-", "baz": "y"})},
		{name: "the session's ID token beats a configured id_token_hint",
			config: map[string]string{"id_token_hint": "configured"},
			want:   generic(nil)},
		{name: "a per-call post_logout_redirect_uri beats returnTo",
			returnTo: "/custom", perCall: map[string]string{"post_logout_redirect_uri": base + "/per-call"},
			want: generic(map[string]string{"post_logout_redirect_uri": base + "/per-call"})},
		{name: "an empty per-call post_logout_redirect_uri removes it",
			perCall: map[string]string{"post_logout_redirect_uri": ""},
			want:    generic(map[string]string{"post_logout_redirect_uri": "-"})},
		{name: "auth0: never an id_token_hint, even per call; client_id is the configured one", auth0: true,
			config:  map[string]string{"client_id": "other", "id_token_hint": "configured"},
			perCall: map[string]string{"id_token_hint": "per-call"}, returnTo: "/custom",
			want: map[string]string{"returnTo": base + "/custom", "client_id": "$client"}},
		{name: "RPL-02 anonymous IdP logout has no id_token_hint", anonymous: true,
			want: generic(map[string]string{"id_token_hint": "-"})},
		{name: "RPL-02 anonymous Auth0 logout", anonymous: true, auth0: true,
			want: map[string]string{"returnTo": base + "/", "client_id": "$client"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withConfig(func(c *Config) {
				c.IDPLogout = true
				if tc.auth0 {
					c.Auth0Logout = Bool(true)
				}
				c.LogoutParams = tc.config
				c.Routes.PostLogoutRedirect = tc.postLogin
			}), withHandler(loHandler()))
			b := app.browser()
			var tokens map[string]string
			if !tc.anonymous {
				b.login(app, "/login")
				tokens = loTokens(t, app, b, "")
			}
			var resp *http.Response
			if tc.perCall == nil && tc.returnTo == "" {
				resp, _ = b.get(app.url("/logout"))
			} else {
				perCall := map[string]string{}
				for k, v := range tc.perCall {
					perCall[k] = strings.ReplaceAll(v, base, strings.TrimSuffix(app.url(""), "/"))
				}
				resp = loCustomLogout(t, app, b, tc.returnTo, perCall)
			}
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			if tc.auth0 {
				assert.Equal(t, app.op.URL()+"/v2/logout", loc.Scheme+"://"+loc.Host+loc.Path)
			} else {
				assert.Equal(t, app.op.URL()+oidctest.PathEndSession, loc.Scheme+"://"+loc.Host+loc.Path)
			}
			want := url.Values{}
			for k, v := range tc.want {
				v = strings.ReplaceAll(v, idToken, tokens["id_token"])
				v = strings.ReplaceAll(v, base, strings.TrimSuffix(app.url(""), "/"))
				v = strings.ReplaceAll(v, "$client", app.op.ClientID())
				want.Set(k, v)
			}
			assert.Equal(t, want, loc.Query())
			if !tc.anonymous {
				loAssertCleared(t, resp, []string{"appSession"}, "/")
			}
		})
	}
}

// TestLogoutChunkedSession covers RPL-01: a chunked session with access and
// refresh tokens; the IdP logout URL carries only the ID token, and the same
// response expires every chunk.
func TestLogoutChunkedSession(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withConfig(func(c *Config) {
		codeFlow(c)
		c.IDPLogout = true
		c.Routes.PostLogoutRedirect = "/bye"
	}), withHandler(loHandler()))
	b := app.browser()
	resp, _ := b.login(app, "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	big := rand.Text() + strings.Repeat(rand.Text(), 200) // ~5 KiB, makes the cookie chunk
	resp, body := b.get(app.url("/set?big=" + big))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	tokens := loTokens(t, app, b, "")
	require.NotEmpty(t, tokens["access_token"])
	require.NotEmpty(t, tokens["refresh_token"])

	appURL, _ := url.Parse(app.url("/"))
	var chunks []string
	for _, c := range b.jar.Cookies(appURL) {
		if strings.HasPrefix(c.Name, "appSession") {
			chunks = append(chunks, c.Name)
		}
	}
	require.GreaterOrEqual(t, len(chunks), 2, "the session should be chunked: %v", chunks)
	assert.NotContains(t, chunks, "appSession")

	resp, _ = b.get(app.url("/logout"))
	q := loEndSession(t, app, resp)
	assert.Equal(t, tokens["id_token"], q.Get("id_token_hint"))
	assert.Equal(t, app.url("/bye"), q.Get("post_logout_redirect_uri"))
	assert.Equal(t, app.op.ClientID(), q.Get("client_id"))
	loc := resp.Header.Get("Location")
	for _, secret := range []string{tokens["access_token"], tokens["refresh_token"], big, app.op.ClientSecret()} {
		assert.NotContains(t, loc, secret)
	}
	loAssertCleared(t, resp, chunks, "/")
	for _, c := range b.jar.Cookies(appURL) {
		assert.False(t, strings.HasPrefix(c.Name, "appSession"), "%s survived the logout", c.Name)
	}
	assert.Equal(t, false, b.session(app)["authenticated"])
}

// TestLogoutStoreSession covers RPL-01's server-store variant: the IdP
// logout destroys the store entry and clears the id cookie in the same
// response, so a copy of the old cookie jar is anonymous afterwards.
func TestLogoutStoreSession(t *testing.T) {
	t.Parallel()
	for _, idp := range []bool{false, true} {
		t.Run(map[bool]string{false: "RPL-01 store, local", true: "RPL-01 store, idp"}[idp], func(t *testing.T) {
			t.Parallel()
			store := NewMemoryStore()
			app := newTestApp(t, withConfig(func(c *Config) {
				codeFlow(c)
				c.IDPLogout = idp
				c.Session.Store = store
				store.Now = c.Now
			}), withHandler(loHandler()))
			b := app.browser()
			b.login(app, "/login")
			tokens := loTokens(t, app, b, "")
			require.Equal(t, 1, store.Len())

			appURL, _ := url.Parse(app.url("/"))
			old := b.jar.Cookies(appURL)
			resp, _ := b.get(app.url("/logout"))
			require.Equal(t, http.StatusFound, resp.StatusCode)
			loAssertCleared(t, resp, []string{"appSession"}, "/")
			assert.Zero(t, store.Len(), "the store entry is destroyed")
			if idp {
				q := loEndSession(t, app, resp)
				assert.Equal(t, tokens["id_token"], q.Get("id_token_hint"))
			}
			loc := resp.Header.Get("Location")
			assert.NotContains(t, loc, tokens["access_token"])
			assert.NotContains(t, loc, tokens["refresh_token"])

			replay := app.browser()
			replay.jar.SetCookies(appURL, old)
			assert.Equal(t, false, replay.session(app)["authenticated"], "a replayed id cookie is anonymous")
		})
	}
}

// TestLogoutWithoutEndSession covers RPL-02(b): a provider without
// end_session_endpoint gets a local logout to the post-logout URL.
func TestLogoutWithoutEndSession(t *testing.T) {
	t.Parallel()
	for _, postLogout := range []string{"", "/bye"} {
		t.Run("RPL-02 postLogoutRedirect="+postLogout, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{DisableEndSession: true}), withConfig(func(c *Config) {
				c.IDPLogout = true
				c.Routes.PostLogoutRedirect = postLogout
			}), withHandler(loHandler()))
			want := app.url("/")
			if postLogout != "" {
				want = app.url(postLogout)
			}
			b := app.browser()
			b.login(app, "/login")
			for _, path := range []string{"/logout", "/custom-logout"} {
				resp, _ := b.get(app.url(path))
				require.Equal(t, http.StatusFound, resp.StatusCode)
				assert.Equal(t, want, resp.Header.Get("Location"))
				if path == "/logout" {
					loAssertCleared(t, resp, []string{"appSession"}, "/")
				}
			}
			assert.Equal(t, false, b.session(app)["authenticated"])
			assert.Zero(t, app.op.Calls(oidctest.EndpointEndSession))
		})
	}
}

// TestLogoutProviderUnavailable covers RPL-03 and express's "should pass
// discovery errors to the express mw", which this port deliberately changes:
// an unreachable provider never blocks a logout; the session is cleared in
// the same response, within HTTPTimeout plus a second.
func TestLogoutProviderUnavailable(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	cases := []struct {
		name    string
		outage  func(op *oidctest.Provider)
		restart bool // a fresh middleware (no cached metadata) serves the logout
		store   bool
	}{
		{"RPL-03 store, provider hangs, metadata expired", func(op *oidctest.Provider) {
			op.SetOptions(func(o *oidctest.Options) { o.Latency = time.Minute })
		}, false, true},
		{"RPL-03 store, provider answers 503, never discovered", func(op *oidctest.Provider) { op.SetDown(true) }, true, true},
		{"RPL-03 provider answers 503, metadata expired", func(op *oidctest.Provider) { op.SetDown(true) }, false, false},
		{"RPL-03 provider hangs, metadata expired", func(op *oidctest.Provider) {
			op.SetOptions(func(o *oidctest.Options) { o.Latency = time.Minute })
		}, false, false},
		{"RPL-03 provider answers 503, never discovered", func(op *oidctest.Provider) { op.SetDown(true) }, true, false},
		{"RPL-03 provider hangs, never discovered", func(op *oidctest.Provider) {
			op.SetOptions(func(o *oidctest.Options) { o.Latency = time.Minute })
		}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var store *MemoryStore
			app := newTestApp(t, withConfig(func(c *Config) {
				c.IDPLogout = true
				c.HTTPTimeout = timeout
				c.DiscoveryCacheMaxAge = time.Minute
				c.Routes.PostLogoutRedirect = "/bye"
				if tc.store {
					store = NewMemoryStore()
					store.Now = c.Now
					c.Session.Store = store
				}
			}), withHandler(loHandler()))
			b := app.browser()
			b.login(app, "/login")
			require.Equal(t, true, b.session(app)["authenticated"])
			appURL, _ := url.Parse(app.url("/"))
			old := b.jar.Cookies(appURL)
			if tc.restart {
				m, err := New(app.cfg)
				require.NoError(t, err)
				app.m = m
				app.srv.Config.Handler = m.Handler(loHandler())
				require.Equal(t, true, b.session(app)["authenticated"], "the session survives a restart")
			}
			tc.outage(app.op)
			app.clk.Advance(2 * time.Minute)

			start := time.Now()
			resp, _ := b.get(app.url("/logout"))
			elapsed := time.Since(start)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Less(t, elapsed, timeout+time.Second)
			loAssertCleared(t, resp, []string{"appSession"}, "/")
			loc := resp.Header.Get("Location")
			if tc.restart {
				assert.Equal(t, app.url("/bye"), loc, "no metadata: local logout")
			} else {
				// Stale-if-error: the last good metadata still names the
				// end-session endpoint.
				q := loEndSession(t, app, resp)
				assert.Equal(t, app.url("/bye"), q.Get("post_logout_redirect_uri"))
			}
			assert.Equal(t, false, b.session(app)["authenticated"])
			if tc.store {
				assert.Zero(t, store.Len(), "the store entry is destroyed despite the outage")
				replay := app.browser()
				replay.jar.SetCookies(appURL, old)
				assert.Equal(t, false, replay.session(app)["authenticated"], "a replayed id cookie is anonymous")
			}

			// Inside the back-off window a second logout does not wait.
			start = time.Now()
			resp, _ = app.browser().get(app.url("/logout"))
			assert.Equal(t, http.StatusFound, resp.StatusCode)
			assert.Less(t, time.Since(start), timeout, "no new attempt inside the back-off window")
		})
	}
}

// TestAuth0Mode unit-tests the Auth0 detection.
func TestAuth0Mode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		setting *bool
		issuer  string
		want    bool
	}{
		{nil, "https://tenant.auth0.com/", true},
		{nil, "https://tenant.eu.auth0.com/", true},
		{nil, "https://TENANT.EU.AUTH0.COM/", true},
		{nil, "https://tenant.auth0.com:8443/", true},
		{nil, "https://auth0.com/", false},
		{nil, "https://evilauth0.com/", false},
		{nil, "https://tenant.auth0.com.evil.example/", false},
		{nil, "https://login.example.com/auth0.com/", false},
		{nil, "https://login.example.com/", false},
		{Bool(false), "https://tenant.auth0.com/", false},
		{Bool(true), "https://login.example.com/", true},
	}
	for _, tc := range cases {
		m := &Middleware{s: &settings{auth0Logout: tc.setting}}
		assert.Equal(t, tc.want, m.auth0Mode(tc.issuer), "Auth0Logout=%v issuer %s", tc.setting, tc.issuer)
	}
}

// The tests below cover express-openid-connect titles that docs/express-tests.md
// once listed as MISSING. Each t.Run name is the express title, verbatim.
// Where the port behaves differently on purpose, the test asserts the
// port's behaviour and the comment says why (docs/decisions.md).

func TestGapAuth0Logout(t *testing.T) {
	t.Parallel()
	t.Run("should use auth0 logout endpoint if domain is auth0.com and configured", func(t *testing.T) {
		t.Parallel()
		opts := oidctest.Options{
			DisableEndSession: true, // like express's Auth0 fixture
			MutateDiscovery:   func(doc map[string]any) { doc["issuer"] = "http://tenant.eu.auth0.com/" },
		}
		app := newTestApp(t, withProvider(opts), withConfig(func(c *Config) {
			// Naming the document skips the issuer comparison, so the
			// provider can pose as an Auth0 tenant.
			c.IssuerBaseURL += oidctest.PathDiscovery
			c.Auth0Logout = Bool(true)
		}), withHandler(loHandler()))
		assert.True(t, app.m.auth0Mode("http://tenant.eu.auth0.com/"))
		resp, _ := app.browser().get(app.url("/logout"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, "http://tenant.eu.auth0.com/v2/logout?"+url.Values{
			"client_id": {app.op.ClientID()}, "returnTo": {app.cfg.BaseURL + "/"},
		}.Encode(), resp.Header.Get("Location"))
	})
}
