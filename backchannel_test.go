package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// Tests for back-channel logout (backchannel*.go, logoutmarkers.go, replaycache.go). Names are the catalog ids
// (BCL-*, ST-04, CK-02) and the titles of express-openid-connect's
// test/backchannelLogout.tests.js.

// bclStore is an in-memory Store with fault injection and expiry on the
// app's clock.
type bclStore struct {
	now func() time.Time

	mu       sync.Mutex
	entries  map[string][]byte
	expiries map[string]time.Time
	// faults, applied to ids that match failIDs (all ids when nil).
	getErr, setErr, destroyErr error
	failIDs                    func(id string) bool
}

func newBCLStore(now func() time.Time) *bclStore {
	return &bclStore{now: now, entries: map[string][]byte{}, expiries: map[string]time.Time{}}
}

func (s *bclStore) failing(id string, err error) error {
	if err != nil && (s.failIDs == nil || s.failIDs(id)) {
		return err
	}
	return nil
}

func (s *bclStore) Get(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failing(id, s.getErr); err != nil {
		return nil, err
	}
	e, ok := s.entries[id]
	if !ok || !s.now().Before(s.expiries[id]) {
		return nil, nil
	}
	return slices.Clone(e), nil
}

func (s *bclStore) Set(_ context.Context, id string, e []byte, expiry time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failing(id, s.setErr); err != nil {
		return err
	}
	s.entries[id], s.expiries[id] = slices.Clone(e), expiry
	return nil
}

func (s *bclStore) Destroy(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failing(id, s.destroyErr); err != nil {
		return err
	}
	delete(s.entries, id)
	return nil
}

// fault sets the faults for marker keys ("<iss>|...") only, so that store
// sessions keep working.
func (s *bclStore) fault(get, set, destroy error) {
	s.mu.Lock()
	s.getErr, s.setErr, s.destroyErr = get, set, destroy
	s.failIDs = func(id string) bool { return strings.Contains(id, "|") }
	s.mu.Unlock()
}

// raw returns the bytes stored under id, and their expiry.
func (s *bclStore) raw(id string) ([]byte, time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	return slices.Clone(e), s.expiries[id], ok
}

// entry returns the decoded entry stored under id, and its expiry.
func (s *bclStore) entry(t testing.TB, id string) (storeEntry, time.Time, bool) {
	t.Helper()
	b, expiry, ok := s.raw(id)
	if !ok {
		return storeEntry{}, expiry, false
	}
	return mustDecodeEntry(t, b, id), expiry, true
}

// expressMarker is a back-channel logout marker as express-openid-connect
// writes it, for an hour that ends at exp: only express-session's cookie
// member, whose expires - maxAge is the write time.
func expressMarker(exp time.Time) []byte {
	return fmt.Appendf(nil, `{"cookie":{"expires":%d,"maxAge":3600000}}`, exp.UnixMilli())
}

func (s *bclStore) put(id string, e []byte, expiry time.Time) {
	s.mu.Lock()
	s.entries[id], s.expiries[id] = e, expiry
	s.mu.Unlock()
}

// bclModes are the session modes back-channel logout is tested with:
// "cookie" (markers in BackchannelLogout.Store) and "store" (sessions and
// markers in Session.Store).
var bclModes = []string{"cookie", "store"}

// bclHandler serves "/", "/session" and "/set" and 404s everything else.
func bclHandler() http.Handler {
	app := appHandler()
	mux := http.NewServeMux()
	mux.Handle("/{$}", app)
	mux.Handle("/session", app)
	mux.Handle("/set", app)
	return mux
}

// newBCLApp is an app with back-channel logout on in mode (bclModes) that
// serves bclHandler.
func newBCLApp(t *testing.T, mode string, opOpts oidctest.Options, mutate func(*Config)) *testApp {
	t.Helper()
	return newTestApp(t, withProvider(opOpts), withBackchannel(mode), withConfig(mutate), withHandler(bclHandler()))
}

// send posts a logout token built by the provider to the app.
func (a *testApp) send(t *testing.T, opts oidctest.BackchannelLogoutOptions) (*http.Response, map[string]string) {
	t.Helper()
	opts.Client = a.srv.Client()
	resp, err := a.op.SendBackchannelLogoutWith(context.Background(), a.url("/backchannel-logout"), opts)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]string
	if resp.StatusCode != http.StatusOK {
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	}
	assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "the back-channel route never sets cookies")
	return resp, body
}

// loggedIn logs a new browser in and returns it with its sid and sub.
func (a *testApp) loggedIn(t *testing.T) (*browser, string, string) {
	t.Helper()
	b := a.browser()
	b.login(a, "/login")
	s := b.session(a)
	require.Equal(t, true, s["authenticated"])
	user := s["user"].(map[string]any)
	sid, _ := user["sid"].(string)
	require.NotEmpty(t, sid)
	return b, sid, user["sub"].(string)
}

func (a *testApp) authenticated(t *testing.T, b *browser) bool {
	t.Helper()
	return b.session(a)["authenticated"] == true
}

func (a *testApp) marker(t *testing.T, id string) (storeEntry, time.Time, bool) {
	t.Helper()
	return a.bcl.entry(t, a.op.Issuer()+"|"+id)
}

func TestBackchannelLogoutExpress(t *testing.T) {
	t.Parallel()
	for _, mode := range bclModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testBackchannelLogoutExpress(t, mode)
		})
	}
}

func testBackchannelLogoutExpress(t *testing.T, mode string) {
	t.Run("should only handle post requests", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, _, _ := app.loggedIn(t)
		tok := app.op.LogoutToken("user-1", "", nil)
		for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			req, err := http.NewRequest(method, app.url("/backchannel-logout?logout_token="+tok), nil)
			require.NoError(t, err)
			resp, _ := app.browser().do(req)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, method)
		}
		assert.True(t, app.authenticated(t, b), "nobody is logged out")

		required := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) { c.AuthRequired = nil })
		resp, _ := required.browser().get(required.url("/backchannel-logout"), "Accept", "text/html")
		assert.Equal(t, http.StatusFound, resp.StatusCode, "falls through to the login requirement")
		resp, _ = required.browser().get(required.url("/backchannel-logout"), "Accept", "application/json")
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
	t.Run("should require a logout token", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		resp, body := app.send(t, oidctest.BackchannelLogoutOptions{OmitToken: true})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, map[string]string{"error": "invalid_request", "error_description": "Missing logout_token"}, body)
	})
	t.Run("should not cache the response", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sid: "s"}) // send checks no-store
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = app.send(t, oidctest.BackchannelLogoutOptions{})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
	t.Run("should accept and store a valid logout_token", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "foo", Sid: "__test_sid__"})
		assert.Equal(t, http.StatusOK, resp.StatusCode, "200 as the spec says (express: 204)")
		e, expiry, ok := app.marker(t, "__test_sid__")
		require.True(t, ok)
		assert.Equal(t, app.op.Issuer()+"|__test_sid__", e.ID)
		assert.Equal(t, app.clk.Now().Unix(), e.Header.IAT, "the logout time")
		assert.Equal(t, app.clk.Now().Add(7*24*time.Hour), expiry)
		require.NotNil(t, e.Cookie)
		assert.Equal(t, int64(7*24*3600*1000), e.Cookie.MaxAge)
		assert.Equal(t, app.clk.Now().UnixMilli()+e.Cookie.MaxAge, e.Cookie.Expires)
		_, _, ok = app.marker(t, "foo")
		assert.False(t, ok, "a token with a sid logs out that session only")
	})
	t.Run("should accept and store a valid logout_token signed with HS256", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{Alg: "HS256"}, func(c *Config) { c.IDTokenSigningAlg = "HS256" })
		b, sid, _ := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "user-1", Sid: sid})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		_, _, ok := app.marker(t, sid)
		assert.True(t, ok)
		assert.False(t, app.authenticated(t, b))
	})
	t.Run("should require a sid or a sub", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		resp, body := app.send(t, oidctest.BackchannelLogoutOptions{})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "invalid_request", body["error"])
		assert.Equal(t, "Logout Token must contain sub or sid claim", body["error_description"])
	})
	t.Run("should set a maxAge based on rolling expiry", func(t *testing.T) {
		t.Parallel()
		// Without an absolute limit (express's maxAge-0 bug case) the marker
		// lives for the idle timeout.
		app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) {
			c.Session.RollingDuration = 999 * time.Second
			c.Session.AbsoluteDuration = -1
		})
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "foo"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		e, expiry, ok := app.marker(t, "foo")
		require.True(t, ok)
		assert.Equal(t, int64(999000), e.Cookie.MaxAge)
		assert.Equal(t, app.clk.Now().Add(999*time.Second), expiry)
	})
	t.Run("should set a maxAge based on absolute expiry", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) {
			c.Session.Rolling = Bool(false)
			c.Session.AbsoluteDuration = 999 * time.Second
		})
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "foo"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		e, expiry, ok := app.marker(t, "foo")
		require.True(t, ok)
		assert.Equal(t, int64(999000), e.Cookie.MaxAge)
		assert.Equal(t, app.clk.Now().Add(999*time.Second), expiry)
	})
	t.Run("should fail if storing the token fails", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		app.bcl.fault(nil, errors.New("storage failure"), nil)
		resp, body := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "foo", Sid: "bar"})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, map[string]string{"error": "application_error",
			"error_description": "The application failed to invalidate the session."}, body)
		app.bcl.fault(nil, nil, nil)
		resp, _ = app.send(t, oidctest.BackchannelLogoutOptions{Sub: "foo", Sid: "bar"})
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the provider may retry")
	})
	t.Run("should log sid out on subsequent requests", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, sid, _ := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sid: sid})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, body := b.get(app.url("/session"))
		assert.Contains(t, body, `"authenticated":false`)
		cleared := setCookies(resp, "appSession")
		require.Len(t, cleared, 1, "the session cookie is cleared")
		assert.Empty(t, cleared[0].Value)
		u, _ := url.Parse(app.url("/"))
		for _, c := range b.jar.Cookies(u) {
			assert.NotEqual(t, "appSession", c.Name)
		}
	})
	t.Run("should log sub out on subsequent requests", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, _, sub := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.False(t, app.authenticated(t, b))
	})
	t.Run("should not log sub out if login is after back-channel logout", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		old, _, sub := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		app.clk.Advance(2 * time.Second)
		b := app.browser()
		b.login(app, "/login")
		assert.True(t, app.authenticated(t, b))
		_, _, ok := app.marker(t, sub)
		assert.True(t, ok, "the sub marker is kept (express deletes it)")
		assert.False(t, app.authenticated(t, old), "the older session is not revived (express revives it)")
	})
	t.Run("should handle failures to get logout token", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, _, _ := app.loggedIn(t)
		app.bcl.fault(errors.New("storage failure"), nil, nil)
		resp, body := b.get(app.url("/session"), "Accept", "application/json")
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "express: 500")
		assert.NotEmpty(t, resp.Header.Get("Retry-After"))
		assert.NotContains(t, body, "authenticated")
		assert.Empty(t, setCookies(resp, "appSession"))
	})
}

func TestBackchannelLogoutValidation(t *testing.T) {
	t.Parallel()
	for _, mode := range bclModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testBackchannelLogoutValidation(t, mode)
		})
	}
}

// testBackchannelLogoutValidation sends invalid tokens for a logged-in
// user's sid and sub: each must give 400 with a JSON error and no-store, and
// the user must stay logged in.
func testBackchannelLogoutValidation(t *testing.T, mode string) {
	app := newBCLApp(t, mode, oidctest.Options{Alg: "RS256"}, nil)
	now := app.clk.Now().Unix()
	valid := func(sub, sid string) string {
		tok, err := app.op.MutatedLogoutToken(sub, sid, nil, nil)
		require.NoError(t, err)
		return tok
	}
	mutate := func(f func(h, c map[string]any)) oidctest.BackchannelLogoutOptions {
		return oidctest.BackchannelLogoutOptions{Mutate: f}
	}
	claims := func(extra map[string]any) oidctest.BackchannelLogoutOptions {
		return oidctest.BackchannelLogoutOptions{Claims: extra}
	}
	cases := []struct {
		name string
		opts oidctest.BackchannelLogoutOptions
		desc string // expected error_description, when checked
	}{
		{"BCL-02 alg none", mutate(func(h, _ map[string]any) { h["alg"] = "none" }), "the logout token signature is invalid"},
		{"BCL-03 ES256 while RS256 is configured", mutate(func(h, _ map[string]any) { h["alg"] = "ES256" }), ""},
		{"BCL-03 HS256 with the client secret", mutate(func(h, _ map[string]any) { h["alg"] = "HS256"; delete(h, "kid") }), ""},
		{"BCL-04 wrong iss", mutate(func(_, c map[string]any) { c["iss"] = c["iss"].(string) + "1" }),
			"the logout token issuer does not match the provider"},
		{"BCL-04 wrong aud", mutate(func(_, c map[string]any) { c["aud"] = c["aud"].(string) + "1" }),
			"the logout token audience does not include this client"},
		{"BCL-04 no aud", claims(map[string]any{"aud": nil}), ""},
		{"BCL-05 no iat", claims(map[string]any{"iat": nil}), "the logout token has no numeric iat claim"},
		{"BCL-05 no exp", claims(map[string]any{"exp": nil}), "the logout token has no numeric exp claim"},
		{"BCL-05 exp now-61s", claims(map[string]any{"exp": now - 61}), "the logout token has expired"},
		{"BCL-05 iat now+120s", claims(map[string]any{"iat": now + 120}), "the logout token was issued in the future"},
		{"CK-02 iat now+61s", claims(map[string]any{"iat": now + 61}), ""},
		{"BCL-05 iat as a string", claims(map[string]any{"iat": fmt.Sprint(now)}), ""},
		{"BCL-06 no events", claims(map[string]any{"events": nil}),
			"Logout Token must contain events claim with backchannel-logout event"},
		{"BCL-06 events member foobar", claims(map[string]any{"events": map[string]any{
			"http://schemas.openid.net/event/foobar": map[string]any{}}}), ""},
		{"BCL-06 events as an array", claims(map[string]any{"events": []any{BackchannelLogoutEvent}}), ""},
		{"BCL-06 event value a string", claims(map[string]any{"events": map[string]any{BackchannelLogoutEvent: "x"}}), ""},
		{"BCL-07 nonce", claims(map[string]any{"nonce": "logout_tokens_must_not_contain_a_nonce"}),
			"Logout Token must not contain nonce claim"},
		{"BCL-08 neither sub nor sid", claims(map[string]any{"sub": nil, "sid": nil}),
			"Logout Token must contain sub or sid claim"},
		{"BCL-08 sub not a string", claims(map[string]any{"sub": 42}), ""},
		{"BCL-09 corrupted signature", oidctest.BackchannelLogoutOptions{}, "the logout token signature is invalid"},
		{"BCL-10 typ at+jwt", mutate(func(h, _ map[string]any) { h["typ"] = "at+jwt" }),
			`the logout token typ must be "logout+jwt"`},
		{"BCL-10 an ID token posted as logout_token", oidctest.BackchannelLogoutOptions{}, ""},
		{"BCL-11 token only in the query string", oidctest.BackchannelLogoutOptions{}, "Missing logout_token"},
		{"BCL-11 two logout_token fields", oidctest.BackchannelLogoutOptions{}, "logout_token must be sent once"},
		{"BCL-11 empty body", oidctest.BackchannelLogoutOptions{OmitToken: true}, "Missing logout_token"},
		{"no jti", claims(map[string]any{"jti": nil}), "the logout token has no jti claim"},
		{"encrypted (five parts)", oidctest.BackchannelLogoutOptions{Token: "a.b.c.d.e"},
			"encrypted logout tokens are not supported"},
		{"not a JWT", oidctest.BackchannelLogoutOptions{Token: "garbage"}, "the logout token is not a JWT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, sid, sub := app.loggedIn(t)
			opts := tc.opts
			opts.Sub, opts.Sid = sub, sid
			endpoint := app.url("/backchannel-logout")
			switch tc.name {
			case "BCL-09 corrupted signature":
				tok := valid(sub, sid)
				opts.Token = oidctest.Tamper(tok, 4)
			case "BCL-10 an ID token posted as logout_token":
				opts.Token = app.op.IDToken(sub, "n-1", map[string]any{"sid": sid})
			case "BCL-11 token only in the query string":
				opts.OmitToken = true
				endpoint += "?logout_token=" + valid(sub, sid)
			case "BCL-11 two logout_token fields":
				opts.Form = url.Values{"logout_token": {valid(sub, sid)}}
			}
			opts.Client = app.srv.Client()
			resp, err := app.op.SendBackchannelLogoutWith(context.Background(), endpoint, opts)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, "invalid_request", body["error"])
			if tc.desc != "" {
				assert.Equal(t, tc.desc, body["error_description"])
			}
			for _, v := range body {
				assert.NotContains(t, v, "eyJ", "errors never include the token")
			}
			assert.True(t, app.authenticated(t, b), "the user stays logged in")
		})
	}

	// Tokens issued before the login do not log it out (see
	// BackchannelLogoutConfig), so the CK-02 cases only check the status.
	accepted := []struct {
		name string
		opts oidctest.BackchannelLogoutOptions
	}{
		{"BCL-10 typ absent", mutate(func(h, _ map[string]any) { delete(h, "typ") })},
		{"BCL-10 typ JWT", mutate(func(h, _ map[string]any) { h["typ"] = "JWT" })},
		{"BCL-10 typ logout+jwt", oidctest.BackchannelLogoutOptions{}},
		{"BCL-10 typ application/logout+jwt", mutate(func(h, _ map[string]any) { h["typ"] = "application/logout+jwt" })},
		{"CK-02 iat now+59s", claims(map[string]any{"iat": now + 59})},
		{"CK-02 exp now-59s", claims(map[string]any{"exp": now - 59, "iat": now - 120})},
		{"BCL-12 extra claim and form field", oidctest.BackchannelLogoutOptions{
			Claims: map[string]any{"ignored_claim": "x"}, Form: url.Values{"ignored_parameter": {"y"}}}},
		{"aud array containing the client", claims(map[string]any{"aud": []any{"other", "test-client"}, "azp": "other"})},
	}
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, sid, _ := app.loggedIn(t)
			opts := tc.opts
			opts.Sid = sid
			resp, _ := app.send(t, opts)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			if !strings.HasPrefix(tc.name, "CK-02") {
				assert.False(t, app.authenticated(t, b), "logged out")
			}
		})
	}
	t.Run("CK-02 exp now-61s", func(t *testing.T) {
		t.Parallel()
		resp, _ := app.send(t, claims(map[string]any{"sid": "x", "exp": now - 61, "iat": now - 120}))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

func TestBackchannelLogoutRequests(t *testing.T) {
	t.Parallel()
	app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
	b, sid, sub := app.loggedIn(t)
	tok := app.op.LogoutToken(sub, sid, nil)
	post := func(contentType string, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, app.url("/backchannel-logout"), strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		return app.direct(req)
	}
	t.Run("BCL-11 GET with a valid token in the query", func(t *testing.T) {
		rec := app.direct(httptest.NewRequest(http.MethodGet, app.url("/backchannel-logout?logout_token="+tok), nil))
		assert.Equal(t, http.StatusNotFound, rec.Code)
	})
	t.Run("BCL-11 JSON body", func(t *testing.T) {
		rec := post("application/json", `{"logout_token":"`+tok+`"}`)
		assert.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		assert.JSONEq(t, `{"error":"invalid_request","error_description":"the body must be application/x-www-form-urlencoded"}`, rec.Body.String())
	})
	t.Run("BCL-11 no content type", func(t *testing.T) {
		assert.Equal(t, http.StatusUnsupportedMediaType, post("", "logout_token="+tok).Code)
	})
	t.Run("BCL-11 multipart body", func(t *testing.T) {
		assert.Equal(t, http.StatusUnsupportedMediaType, post("multipart/form-data; boundary=x", "--x--").Code)
	})
	t.Run("BCL-11 1 MiB body", func(t *testing.T) {
		rec := post("application/x-www-form-urlencoded", "logout_token="+tok+"&pad="+strings.Repeat("a", 1<<20))
		assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	})
	t.Run("malformed form", func(t *testing.T) {
		assert.Equal(t, http.StatusBadRequest, post("application/x-www-form-urlencoded", "logout_token=%zz").Code)
	})
	t.Run("charset parameter accepted", func(t *testing.T) {
		// Sent last: it logs the user out.
		assert.True(t, app.authenticated(t, b), "none of the above logged the user out")
		rec := post("application/x-www-form-urlencoded; charset=UTF-8", "logout_token="+tok)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, rec.Body.String())
		assert.False(t, app.authenticated(t, b))
	})
}

func TestBackchannelLogoutCatalog(t *testing.T) {
	t.Parallel()
	for _, mode := range bclModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testBackchannelLogoutCatalog(t, mode)
		})
	}
}

func testBackchannelLogoutCatalog(t *testing.T, mode string) {
	t.Run("BCL-01 valid token: 200, no-store, logged out", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, sid, sub := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sid})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.False(t, app.authenticated(t, b))
	})
	t.Run("BCL-09 unknown kid causes at most one JWKS fetch", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, sid, _ := app.loggedIn(t)
		app.clk.Advance(time.Minute) // past the JWKS cooldown
		before := app.op.Calls(oidctest.EndpointJWKS)
		for range 3 {
			resp, body := app.send(t, oidctest.BackchannelLogoutOptions{Sid: sid,
				Mutate: func(h, _ map[string]any) { h["kid"] = "unknown" }})
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "the logout token signature is invalid", body["error_description"])
		}
		assert.LessOrEqual(t, app.op.Calls(oidctest.EndpointJWKS)-before, 1)
		assert.True(t, app.authenticated(t, b))
	})
	t.Run("BCL-13 authRequired and CSRF protection: 200, not 302 or 403", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) { c.AuthRequired = nil })
		app.srv.Config.Handler = http.NewCrossOriginProtection().Handler(app.m.Handler(bclHandler()))
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "someone"})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("BCL-14 replayed jti", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, sid, sub := app.loggedIn(t)
		tok := app.op.LogoutToken(sub, sid, nil)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Token: tok})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, body := app.send(t, oidctest.BackchannelLogoutOptions{Token: tok})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "(a) the replay is refused")
		assert.Equal(t, "the logout token was already used", body["error_description"])
		_, _, ok := app.bcl.entry(t, app.op.Issuer()+"|jti|"+jtiOf(t, tok))
		assert.True(t, ok, "the jti is shared with other instances through the store")

		// Another instance sharing the store refuses it too.
		m2, err := New(app.cfg)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, app.url("/backchannel-logout"),
			strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		m2.Handler(bclHandler()).ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Contains(t, rec.Body.String(), "already used")

		resp, _ = app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sid})
		assert.Equal(t, http.StatusOK, resp.StatusCode, "(b) a new token for a logged-out sid")
		assert.False(t, app.authenticated(t, b))
	})
	t.Run("BCL-15 a sid logs out that session only", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		a, sidA, sub := app.loggedIn(t)
		b, sidB, _ := app.loggedIn(t)
		require.NotEqual(t, sidA, sidB)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sidA})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.False(t, app.authenticated(t, a))
		assert.True(t, app.authenticated(t, b))
	})
	t.Run("BCL-16 a sub logs out every session of the user", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		a, _, sub := app.loggedIn(t)
		b, _, _ := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.False(t, app.authenticated(t, a))
		assert.False(t, app.authenticated(t, b))
	})
	t.Run("BCL-17 a later login works, older sessions stay logged out", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		a, _, sub := app.loggedIn(t)
		b, _, _ := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		app.clk.Advance(time.Second)
		c, _, _ := app.loggedIn(t)
		assert.True(t, app.authenticated(t, c))
		assert.False(t, app.authenticated(t, a))
		assert.False(t, app.authenticated(t, b))
		app.clk.Advance(time.Hour)
		assert.True(t, app.authenticated(t, c))
	})
	t.Run("BCL-18 (a) a failed store write is a 400 and nobody is logged out", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, sid, sub := app.loggedIn(t)
		app.bcl.fault(nil, errors.New("down"), nil)
		resp, body := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sid})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "application_error", body["error"])
		app.bcl.fault(nil, nil, nil)
		assert.True(t, app.authenticated(t, b))
	})
	t.Run("BCL-18 (b) the same browser logs in again after a sid logout", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		b, sid, sub := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sid})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.False(t, app.authenticated(t, b))
		app.clk.Advance(time.Second)
		b.login(app, "/login")
		s := b.session(app)
		assert.Equal(t, true, s["authenticated"])
		assert.Equal(t, sid, s["user"].(map[string]any)["sid"], "the provider kept its session (and sid)")
	})
	t.Run("BCL-18 (b) a login right after a sid logout, in the same second, works and keeps the marker", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, nil)
		old, sid, _ := app.loggedIn(t)
		oldCookies := old.jar.Cookies(mustURL(t, app.url("/")))
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sid: sid})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		app.clk.Advance(time.Millisecond) // the ID token's iat is the logout token's
		b := old                          // the provider keeps its session in this browser
		b.login(app, "/login")
		s := b.session(app)
		assert.Equal(t, true, s["authenticated"])
		assert.Equal(t, sid, s["user"].(map[string]any)["sid"], "the provider kept its session (and sid)")
		_, _, ok := app.marker(t, sid)
		assert.True(t, ok, "no login deletes a marker")
		replay := app.browser()
		replay.jar.SetCookies(mustURL(t, app.url("/")), oldCookies)
		assert.False(t, app.authenticated(t, replay), "the older session of that sid stays logged out")
	})
	t.Run("BCL-18 (c) the marker outlives every session", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) {
			c.Session.RollingDuration = time.Hour
			c.Session.AbsoluteDuration = 48 * time.Hour
		})
		b, _, sub := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, expiry, ok := app.marker(t, sub)
		require.True(t, ok)
		assert.Equal(t, app.clk.Now().Add(48*time.Hour), expiry, "the absolute limit")
		// A session kept alive until its absolute limit never outlives it.
		for range 47 {
			app.clk.Advance(time.Hour)
			assert.False(t, app.authenticated(t, b))
		}
	})
	t.Run("ST-04 marker lookup errors fail closed", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) { c.AuthRequired = nil })
		b, _, _ := app.loggedIn(t)
		app.bcl.fault(errors.New("timeout"), nil, nil)
		for _, accept := range []string{"application/json", "text/html"} {
			resp, body := b.get(app.url("/session"), "Accept", accept)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Equal(t, "5", resp.Header.Get("Retry-After"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "no cookie cleared or extended")
			assert.NotContains(t, body, "hello")
		}
		app.bcl.fault(nil, nil, nil)
		assert.True(t, app.authenticated(t, b), "the same cookie works once the store is back")
	})
}

func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	c, err := decodeClaims(tok)
	require.NoError(t, err)
	return c.String("jti")
}

func TestBackchannelLogoutHooks(t *testing.T) {
	t.Parallel()
	t.Run("express markers log out the sessions that existed when they were written; later logins keep them", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
		for _, which := range []string{"sid", "sub"} {
			a, sid, sub := app.loggedIn(t)
			id := map[string]string{"sid": sid, "sub": sub}[which]
			key := app.op.Issuer() + "|" + id
			app.clk.Advance(time.Millisecond)
			// express-openid-connect's marker: only the cookie member, whose
			// expires - maxAge is the write time.
			exp := app.clk.Now().Add(time.Hour)
			app.bcl.put(key, expressMarker(exp), exp)
			assert.False(t, app.authenticated(t, a), which)
			app.clk.Advance(time.Millisecond)
			a.login(app, "/login") // the provider keeps its session: the same sid
			s := a.session(app)
			assert.Equal(t, true, s["authenticated"], "a login started after the marker was written")
			assert.Equal(t, sid, s["user"].(map[string]any)["sid"])
			_, _, ok := app.bcl.entry(t, key)
			assert.True(t, ok, "the marker is kept (express's onLogin deletes it)")
			app.clk.Advance(2 * time.Second)
		}
	})
	t.Run("express markers log out sessions made without a login start by their ID token's iat", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
		mint := func(iat int64) []*http.Cookie {
			cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{Secret: harnessSecret,
				Claims: map[string]any{"sub": "u", "sid": "s", "iat": iat}})
			require.NoError(t, err)
			return cookies
		}
		now := app.clk.Now()
		exp := now.Add(time.Hour)
		app.bcl.put(app.op.Issuer()+"|u", expressMarker(exp), exp)
		for name, tc := range map[string]struct {
			iat  int64
			want bool
		}{
			"issued before": {now.Unix() - 10, false}, "same second": {now.Unix(), false}, "issued after": {now.Unix() + 1, true},
		} {
			req := httptest.NewRequest(http.MethodGet, app.url("/session"), nil)
			for _, c := range mint(tc.iat) {
				req.AddCookie(c)
			}
			rec := app.direct(req)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Contains(t, rec.Body.String(), fmt.Sprintf(`"authenticated":%v`, tc.want), name)
		}
	})
	t.Run("a marker stored under another id is a store fault", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
		b, sid, _ := app.loggedIn(t)
		exp := app.clk.Now().Add(time.Hour)
		app.bcl.put(app.op.Issuer()+"|"+sid, encodeEntry("someone-else", storeEntry{Header: storeHeader{IAT: 1}}), exp)
		resp, _ := b.get(app.url("/session"))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	})
	t.Run("a later logout time already recorded is kept", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
		now := app.clk.Now().Unix()
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "u"})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, _ = app.send(t, oidctest.BackchannelLogoutOptions{Sub: "u", Claims: map[string]any{"iat": now - 30}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		e, _, _ := app.marker(t, "u")
		assert.Equal(t, now, e.Header.IAT)
	})
	t.Run("OnLogin failure fails the login with 503 and no session", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
		b := app.browser()
		resp, _ := b.get(app.url("/login"))
		cb, method, vals := b.authorize(resp)
		app.bcl.fault(errors.New("down"), nil, nil)
		resp, _ = b.deliver(cb, method, vals)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("Location"))
		app.bcl.fault(nil, nil, nil)
		assert.False(t, app.authenticated(t, b))
	})
	t.Run("custom hooks without a store", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		loggedOut := map[string]bool{}
		var logins int
		app := newTestApp(t, withConfig(func(c *Config) {
			c.BackchannelLogout = &BackchannelLogoutConfig{
				OnLogoutToken: func(_ context.Context, claims Claims) error {
					mu.Lock()
					defer mu.Unlock()
					if claims.String("sub") == "fail" {
						return errors.New("nope")
					}
					loggedOut[claims.String("sub")] = true
					return nil
				},
				IsLoggedOut: func(_ *http.Request, c *Context) (bool, error) {
					mu.Lock()
					defer mu.Unlock()
					return loggedOut[c.User().String("sub")], nil
				},
				OnLogin: func(_ *http.Request, c *Context) error {
					mu.Lock()
					defer mu.Unlock()
					logins++
					if !c.IsAuthenticated() {
						return errors.New("OnLogin must see the new session")
					}
					return nil
				},
			}
		}), withHandler(bclHandler()))
		a := app
		b, _, sub := a.loggedIn(t)
		assert.Equal(t, 1, logins)
		resp, body := a.send(t, oidctest.BackchannelLogoutOptions{Sub: "fail"})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "application_error", body["error"])
		resp, _ = a.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.False(t, a.authenticated(t, b))
	})
	t.Run("IsLoggedOut errors use their StatusCode", func(t *testing.T) {
		t.Parallel()
		var failing atomic.Bool
		app := newTestApp(t, withConfig(func(c *Config) {
			c.BackchannelLogout = &BackchannelLogoutConfig{
				OnLogoutToken: func(context.Context, Claims) error { return nil },
				IsLoggedOut: func(*http.Request, *Context) (bool, error) {
					if failing.Load() {
						return false, newError(http.StatusTeapot, "teapot", "short and stout", nil)
					}
					return false, nil
				},
			}
		}), withHandler(bclHandler()))
		b := app.browser()
		b.login(app, "/login")
		failing.Store(true)
		resp, _ := b.get(app.url("/session"), "Accept", "application/json")
		assert.Equal(t, http.StatusTeapot, resp.StatusCode)
		resp, _ = app.browser().get(app.url("/session"), "Accept", "application/json")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "anonymous requests are not checked")
		resp, _ = app.browser().login(app, "/login")
		assert.Equal(t, http.StatusTeapot, resp.StatusCode, "a login whose check fails is refused")
		assert.Empty(t, resp.Header.Get("Location"))
	})
	t.Run("DisableIsLoggedOut and DisableOnLogin", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, func(c *Config) {
			c.BackchannelLogout.DisableIsLoggedOut = true
			c.BackchannelLogout.DisableOnLogin = true
		})
		b, sid, _ := app.loggedIn(t)
		resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sid: sid})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.True(t, app.authenticated(t, b), "no check")
		b.login(app, "/login")
		_, _, ok := app.marker(t, sid)
		assert.True(t, ok, "no OnLogin")
	})
	t.Run("Routes.BackchannelLogout", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, func(c *Config) { c.Routes.BackchannelLogout = "bcl/" })
		resp, err := app.op.SendBackchannelLogoutWith(context.Background(), app.url("/BCL/"),
			oidctest.BackchannelLogoutOptions{Sid: "s", Client: app.srv.Client()})
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
	t.Run("RouteDisabled and Context.BackchannelLogout on an application route", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.HandleFunc("POST /hooks/logout", func(w http.ResponseWriter, r *http.Request) {
			FromRequest(r).BackchannelLogout(w, r)
		})
		mux.Handle("/", bclHandler())
		st := newBCLStore(time.Now)
		app := newTestApp(t, withConfig(func(c *Config) {
			st.now = c.Now
			c.BackchannelLogout = &BackchannelLogoutConfig{Store: st}
			c.Routes.BackchannelLogout = RouteDisabled
		}), withHandler(mux))
		for path, want := range map[string]int{"/backchannel-logout": http.StatusNotFound, "/hooks/logout": http.StatusOK} {
			resp, err := app.op.SendBackchannelLogoutWith(context.Background(), app.url(path),
				oidctest.BackchannelLogoutOptions{Sid: "s", Client: app.srv.Client()})
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, want, resp.StatusCode, path)
		}
	})
	t.Run("Context.BackchannelLogout without the option", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.HandleFunc("POST /hooks/logout", func(w http.ResponseWriter, r *http.Request) {
			FromRequest(r).BackchannelLogout(w, r)
		})
		app := newTestApp(t, withHandler(mux))
		resp, err := app.op.SendBackchannelLogoutWith(context.Background(), app.url("/hooks/logout"),
			oidctest.BackchannelLogoutOptions{Sid: "s", Client: app.srv.Client()})
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

func TestBackchannelLogoutConfig(t *testing.T) {
	t.Parallel()
	base := func() Config {
		return Config{
			Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
			ClientID: "c", LookupEnv: func(string) (string, bool) { return "", false },
		}
	}
	store := newBCLStore(time.Now)
	hook := func(context.Context, Claims) error { return nil }
	gate := func(*http.Request, *Context) (bool, error) { return false, nil }
	bad := map[string]struct {
		bc     *BackchannelLogoutConfig
		routes Routes
		option string
	}{
		"no store and no hooks":      {&BackchannelLogoutConfig{}, Routes{}, "BackchannelLogout.Store"},
		"OnLogoutToken alone":        {&BackchannelLogoutConfig{OnLogoutToken: hook}, Routes{}, "BackchannelLogout.Store"},
		"IsLoggedOut alone":          {&BackchannelLogoutConfig{IsLoggedOut: gate}, Routes{}, "BackchannelLogout.Store"},
		"route like the callback":    {&BackchannelLogoutConfig{Store: store}, Routes{BackchannelLogout: "/Callback/"}, "Routes.BackchannelLogout"},
		"route with a query":         {&BackchannelLogoutConfig{Store: store}, Routes{BackchannelLogout: "/bcl?x"}, "Routes.BackchannelLogout"},
		"scheme-relative route path": {&BackchannelLogoutConfig{Store: store}, Routes{BackchannelLogout: "//evil"}, "Routes.BackchannelLogout"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			cfg.BackchannelLogout, cfg.Routes = tc.bc, tc.routes
			_, err := New(cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.option, ce.Option)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			if tc.option == "BackchannelLogout.Store" {
				assert.Contains(t, err.Error(), `Back-Channel Logout requires a "BackchannelLogout.Store" (you can also reuse "Session.Store"`)
			}
		})
	}
	good := map[string]func(*Config){
		"own store":     func(c *Config) { c.BackchannelLogout = &BackchannelLogoutConfig{Store: store} },
		"Session.Store": func(c *Config) { c.Session.Store = store; c.BackchannelLogout = &BackchannelLogoutConfig{} },
		"custom hooks": func(c *Config) {
			c.BackchannelLogout = &BackchannelLogoutConfig{IsLoggedOut: gate, OnLogoutToken: hook}
		},
		"check turned off": func(c *Config) {
			c.BackchannelLogout = &BackchannelLogoutConfig{DisableIsLoggedOut: true, OnLogoutToken: hook}
		},
		"route off": func(c *Config) {
			c.BackchannelLogout = &BackchannelLogoutConfig{Store: store}
			c.Routes.BackchannelLogout = RouteDisabled
		},
		"off, route set": func(c *Config) { c.Routes.BackchannelLogout = "/bcl" },
	}
	for name, mutate := range good {
		t.Run(name, func(t *testing.T) {
			cfg := base()
			mutate(&cfg)
			_, err := New(cfg)
			assert.NoError(t, err)
		})
	}
}

func TestReplayCache(t *testing.T) {
	t.Parallel()
	var rc replayCache
	now := time.Unix(1000, 0)
	assert.True(t, rc.reserve("a", now.Add(time.Minute), now))
	assert.False(t, rc.reserve("a", now.Add(time.Minute), now))
	assert.True(t, rc.reserve("a", now.Add(3*time.Minute), now.Add(2*time.Minute)), "expired entries are forgotten")
	rc.release("a")
	assert.True(t, rc.reserve("a", now.Add(time.Minute), now))
	for i := range maxReplayEntries + 10 {
		rc.reserve(fmt.Sprint("k", i), now.Add(time.Minute), now)
	}
	assert.LessOrEqual(t, len(rc.seen), maxReplayEntries)
}

// TestBackchannelLogoutHeldResponse: an authorization response held back
// while the provider logs its session out, then delivered, makes no
// session and deletes no marker (the front-channel id_token flow delivers
// the ID token itself with form_post).
func TestBackchannelLogoutHeldResponse(t *testing.T) {
	t.Parallel()
	for _, mode := range bclModes {
		for _, kind := range []string{"sid", "sub"} {
			t.Run(mode+"/"+kind, func(t *testing.T) {
				t.Parallel()
				var mu sync.Mutex
				var reported error
				app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) {
					c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
						mu.Lock()
						reported = err
						mu.Unlock()
						defaultErrorHandler(w, r, err)
					}
				})
				b, sid, sub := app.loggedIn(t)
				older := b.jar.Cookies(mustURL(t, app.url("/")))

				// The same browser starts a new login and holds the
				// provider's form_post response.
				app.clk.Advance(time.Second)
				resp, _ := b.get(app.url("/login"))
				cb, method, vals := b.authorize(resp)
				require.Equal(t, http.MethodPost, method)
				held, err := decodeClaims(vals.Get("id_token"))
				require.NoError(t, err)
				require.Equal(t, sid, held.String("sid"), "the provider kept its session")

				app.clk.Advance(time.Second)
				opts := oidctest.BackchannelLogoutOptions{Sid: sid}
				if kind == "sub" {
					opts = oidctest.BackchannelLogoutOptions{Sub: sub}
				}
				resp, _ = app.send(t, opts)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				marker, _, ok := app.marker(t, map[string]string{"sid": sid, "sub": sub}[kind])
				require.True(t, ok)

				resp, body := b.deliver(cb, method, vals)
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
				assert.Empty(t, resp.Header.Get("Location"))
				for _, c := range setCookies(resp, "appSession") {
					assert.Empty(t, c.Value, "no session is created")
				}
				mu.Lock()
				assert.ErrorIs(t, reported, ErrLoggedOut)
				mu.Unlock()
				assert.False(t, app.authenticated(t, b))

				after, _, ok := app.marker(t, map[string]string{"sid": sid, "sub": sub}[kind])
				require.True(t, ok, "the marker is kept")
				assert.Equal(t, marker, after)
				replay := app.browser()
				replay.jar.SetCookies(mustURL(t, app.url("/")), older)
				assert.False(t, app.authenticated(t, replay), "the older session of that sid stays logged out")
			})
		}
	}
}

// TestBackchannelLogoutSameSecond: a login started after a sub-wide logout
// works at once, even when its ID token has the logout token's iat; the
// user's older sessions stay logged out and no redirect loop follows.
func TestBackchannelLogoutSameSecond(t *testing.T) {
	t.Parallel()
	for _, mode := range bclModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) { c.AuthRequired = nil })
			older, _, sub := app.loggedIn(t)
			resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			marker, _, ok := app.marker(t, sub)
			require.True(t, ok)
			assert.Equal(t, app.clk.Now().UnixMicro(), marker.LoggedOutAt)

			app.clk.Advance(time.Millisecond)
			b := app.browser()
			resp, _ = b.login(app, "/login")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			resp, body := b.get(app.url("/session"), "Accept", "text/html")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "served, not sent back to the provider")
			assert.Contains(t, body, `"authenticated":true`)
			resp, _ = older.get(app.url("/session"), "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the older session stays logged out")
			_, _, ok = app.marker(t, sub)
			assert.True(t, ok)
		})
	}
}

// TestBackchannelLogoutLoginStart covers the comparison rules.
func TestBackchannelLogoutLoginStart(t *testing.T) {
	t.Parallel()
	const logoutIAT = 1_800_000_000
	receivedAt := int64(logoutIAT)*1e6 + 250_000 // 0.25 s after the token's iat
	ours := &storeEntry{Header: storeHeader{IAT: logoutIAT}, LoggedOutAt: receivedAt,
		Cookie: &storeCookie{Expires: receivedAt/1000 + 3600000, MaxAge: 3600000}}
	express := &storeEntry{Cookie: &storeCookie{Expires: receivedAt/1000 + 3600000, MaxAge: 3600000}}
	olderVersion := &storeEntry{Header: storeHeader{IAT: logoutIAT}}
	timeless := &storeEntry{}
	cases := []struct {
		name   string
		marker *storeEntry
		lt     loginTimes
		want   bool
	}{
		{"no marker", nil, loginTimes{receivedAt - 1, logoutIAT}, false},
		{"started before the logout", ours, loginTimes{receivedAt - 1, logoutIAT}, true},
		{"started at the logout", ours, loginTimes{receivedAt, logoutIAT}, true},
		{"started after the logout, same second", ours, loginTimes{receivedAt + 1, logoutIAT}, false},
		{"started before, ID token issued after the logout token", ours, loginTimes{receivedAt - 1, logoutIAT + 1}, false},
		{"no login start, issued before", ours, loginTimes{0, logoutIAT - 1}, true},
		{"no login start, same second", ours, loginTimes{0, logoutIAT}, true},
		{"no login start, issued after", ours, loginTimes{0, logoutIAT + 1}, false},
		{"no login start, no iat", ours, loginTimes{}, true},
		{"express marker, started in the same millisecond", express, loginTimes{receivedAt + 500, logoutIAT}, true},
		{"express marker, started the next millisecond", express, loginTimes{receivedAt + 1000, logoutIAT}, false},
		{"express marker, no login start, same second", express, loginTimes{0, logoutIAT}, true},
		{"express marker, no login start, issued after", express, loginTimes{0, logoutIAT + 1}, false},
		{"older marker without receipt time, login started after", olderVersion, loginTimes{receivedAt + 1, logoutIAT}, true},
		{"older marker without receipt time, issued after", olderVersion, loginTimes{receivedAt + 1, logoutIAT + 1}, false},
		{"marker without any time", timeless, loginTimes{receivedAt, logoutIAT + 10}, true},
		{"implausible cookie member", &storeEntry{Cookie: &storeCookie{Expires: 1 << 62, MaxAge: 1}}, loginTimes{receivedAt, logoutIAT}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, loggedOutBy(tc.marker, tc.lt))
		})
	}
}

// TestBackchannelLogoutProviderDown: after a restart (cold caches) with the
// provider down, logged-in users are served without any request to the
// provider, and markers written before still log the right sessions out.
func TestBackchannelLogoutProviderDown(t *testing.T) {
	t.Parallel()
	spellings := map[string]func(string) string{
		"as served":           func(u string) string { return u },
		"with a slash":        func(u string) string { return u + "/" },
		"well-known document": func(u string) string { return u + "/.well-known/openid-configuration" },
	}
	for _, mode := range bclModes {
		for name, spell := range spellings {
			t.Run(mode+"/"+name, func(t *testing.T) {
				t.Parallel()
				app := newBCLApp(t, mode, oidctest.Options{}, func(c *Config) {
					c.IssuerBaseURL = spell(c.IssuerBaseURL)
				})
				a, sidA, _ := app.loggedIn(t)
				b, sidB, _ := app.loggedIn(t)
				require.NotEqual(t, sidA, sidB)
				resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sid: sidA})
				require.Equal(t, http.StatusOK, resp.StatusCode)

				app.op.SetDown(true)
				restarted, err := New(app.cfg)
				require.NoError(t, err)
				app.srv.Config.Handler = restarted.Handler(bclHandler())
				calls := func() int {
					return app.op.Calls(oidctest.EndpointDiscovery) + app.op.Calls(oidctest.EndpointJWKS)
				}
				before := calls()
				for range 3 {
					resp, body := b.get(app.url("/session"), "Accept", "application/json")
					require.Equal(t, http.StatusOK, resp.StatusCode, body)
					assert.Contains(t, body, `"authenticated":true`)
				}
				assert.False(t, app.authenticated(t, a), "the marker still logs that session out")
				assert.True(t, app.authenticated(t, b))
				assert.Equal(t, before, calls(), "no request to the provider")
			})
		}
	}
}

func TestIssuerSpellings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"https://op.example.com":  {"https://op.example.com", "https://op.example.com/"},
		"https://op.example.com/": {"https://op.example.com/", "https://op.example.com"},
		"https://OP.example.com/": {"https://OP.example.com/", "https://OP.example.com", "https://op.example.com/", "https://op.example.com"},
		"https://op.example.com/tenant/.well-known/openid-configuration": {"https://op.example.com/tenant", "https://op.example.com/tenant/"},
	} {
		assert.Equal(t, want, issuerSpellings(in), in)
	}
}

// TestLoginStartedAt: the session records when its login started (from the
// transaction), keeps it across an AfterCallback that drops it, and stores
// it under a reserved key.
func TestLoginStartedAt(t *testing.T) {
	t.Parallel()
	var started int64
	mux := http.NewServeMux()
	mux.HandleFunc("/started", func(w http.ResponseWriter, r *http.Request) {
		s, _ := FromRequest(r).Session()
		fmt.Fprint(w, s.LoginStartedAt)
	})
	app := newTestApp(t, withConfig(func(c *Config) {
		c.AfterCallback = func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
			started = s.LoginStartedAt
			return Session{IDToken: s.IDToken}, nil
		}
	}), withHandler(mux))
	b := app.browser()
	resp, _ := b.get(app.url("/login"))
	want := app.clk.Now().UnixMicro()
	cb, method, vals := b.authorize(resp)
	app.clk.Advance(1500 * time.Millisecond)
	resp, _ = b.deliver(cb, method, vals)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, want, started, "AfterCallback sees it")
	_, body := b.get(app.url("/started"))
	assert.Equal(t, fmt.Sprint(want), body, "kept although AfterCallback dropped it")

	s := Session{IDToken: "id", LoginStartedAt: want}
	raw, err := s.marshal()
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf(`{"id_token":"id","loginStartedAt":%d}`, want), string(raw))
	back, err := unmarshalSession(raw)
	require.NoError(t, err)
	assert.Equal(t, want, back.LoginStartedAt)
	assert.False(t, (&Session{LoginStartedAt: 1}).empty())
	assert.True(t, reservedKeys["loginStartedAt"])
}
