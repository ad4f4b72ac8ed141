package oidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// Tests that session ids and the back-channel logout entries sharing a
// store (markers "<iss>|<sid or sub>" and token ids "<iss>|jti|<jti>") can
// never be confused.

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// newDotlessBCLApp is a store-session app with back-channel logout whose
// provider's issuer has no "." (http://localhost:PORT/), so that marker keys
// have the shape of an unsigned session-id cookie value.
func newDotlessBCLApp(t *testing.T, mutate func(*Config)) *testApp {
	t.Helper()
	a := newTestApp(t, withProviderAddr("localhost:0"), withBackchannel("store"), withConfig(mutate), withHandler(bclHandler()))
	require.NotContains(t, a.op.Issuer(), ".")
	return a
}

// withCookie serves GET /session with the raw Cookie header value.
func (a *testApp) withCookie(t *testing.T, cookie string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, a.url("/session"), nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Accept", "application/json")
	return a.direct(req)
}

var signingConfigs = []struct {
	name string
	set  func(*SessionConfig)
}{
	{"unsigned, as express by default", func(s *SessionConfig) { s.SignSessionStoreCookie = Bool(false) }},
	{"signed, unsigned accepted (migration)", func(s *SessionConfig) { s.RequireSignedSessionStoreCookie = Bool(false) }},
	{"signed and required (default)", func(*SessionConfig) {}},
}

// TestStoreKeySpaces: a session-id cookie that names a logout marker or a
// token id is never read as a session, and never deletes the entry, so a
// stolen cookie that was logged out through the back channel stays logged
// out.
func TestStoreKeySpaces(t *testing.T) {
	t.Parallel()
	for _, sc := range signingConfigs {
		for _, kind := range []string{"sub marker", "sid marker", "token id"} {
			t.Run(sc.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				app := newDotlessBCLApp(t, func(c *Config) { sc.set(&c.Session) })
				victim, sid, sub := app.loggedIn(t)
				stolen := victim.jar.Cookies(mustURL(t, app.url("/")))
				opts := oidctest.BackchannelLogoutOptions{Sub: sub}
				if kind == "sid marker" {
					opts = oidctest.BackchannelLogoutOptions{Sid: sid}
				}
				tok := app.op.LogoutToken(opts.Sub, opts.Sid, nil)
				resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Token: tok})
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.False(t, app.authenticated(t, victim))

				key := map[string]string{
					"sub marker": app.op.Issuer() + "|" + sub,
					"sid marker": app.op.Issuer() + "|" + sid,
					"token id":   app.op.Issuer() + "|jti|" + jtiOf(t, tok),
				}[kind]
				before, _, ok := app.bcl.raw(key)
				require.True(t, ok)
				require.True(t, validID(strings.ReplaceAll(key, "|", "-")), "only the '|' keeps it from being an id")

				for _, cookie := range []string{"appSession=" + key, "appSession=" + key + "; other=1"} {
					rec := app.withCookie(t, cookie)
					assert.Equal(t, http.StatusOK, rec.Code)
					assert.Contains(t, rec.Body.String(), `"authenticated":false`)
					assert.NotContains(t, rec.Body.String(), `"values"`, "the entry is not a session")
				}
				after, _, ok := app.bcl.raw(key)
				require.True(t, ok, "the entry is not destroyed")
				assert.Equal(t, before, after, "nor overwritten")

				replay := app.browser()
				replay.jar.SetCookies(mustURL(t, app.url("/")), stolen)
				assert.False(t, app.authenticated(t, replay), "the stolen cookie stays logged out")
			})
		}
	}
}

// TestStoreForeignEntries: an entry that is not a session (no session data)
// under a well-formed id is left alone by the session path.
func TestStoreForeignEntries(t *testing.T) {
	t.Parallel()
	app := newDotlessBCLApp(t, func(c *Config) { c.Session.SignSessionStoreCookie = Bool(false) })
	exp := app.clk.Now().Add(time.Hour)
	for id, e := range map[string][]byte{
		"express-marker-like": expressMarker(exp),
		"header-only":         encodeEntry("header-only", storeEntry{Header: storeHeader{IAT: 1, UAT: 1, EXP: exp.Unix()}}),
	} {
		app.bcl.put(id, e, exp)
		rec := app.withCookie(t, "appSession="+id)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Contains(t, rec.Body.String(), `"authenticated":false`)
		got, _, ok := app.bcl.raw(id)
		require.True(t, ok, id)
		assert.Equal(t, e, got, id)
	}
}

// TestStoreGenidKeySpace: a Session.Genid id that could name a marker (or
// is otherwise unusable) fails the login with ErrInvalidSessionID, and
// nothing is written under it.
func TestStoreGenidKeySpace(t *testing.T) {
	t.Parallel()
	for _, sc := range signingConfigs {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var genid string
			var reported error
			logs := &sessLogBuf{}
			app := newDotlessBCLApp(t, func(c *Config) {
				sc.set(&c.Session)
				c.Logger = sessLogger(logs)
				c.Session.Genid = func(*http.Request) (string, error) {
					mu.Lock()
					defer mu.Unlock()
					return genid, nil
				}
				c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					mu.Lock()
					reported = err
					mu.Unlock()
					defaultErrorHandler(w, r, err)
				}
			})
			setGenid := func(id string) {
				mu.Lock()
				genid = id
				mu.Unlock()
			}
			setGenid("first-session")
			_, _, sub := app.loggedIn(t)
			resp, _ := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			key := app.op.Issuer() + "|" + sub
			marker, _, ok := app.bcl.entry(t, key)
			require.True(t, ok)
			app.clk.Advance(time.Millisecond)

			for _, id := range []string{key, "a|b", "a.b", ""} {
				setGenid(id)
				b := app.browser()
				resp, body := b.login(app, "/login")
				assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "%q", id)
				assert.Empty(t, resp.Header.Get("Location"))
				assert.Contains(t, body, "Session.Genid")
				mu.Lock()
				assert.ErrorIs(t, reported, ErrInvalidSessionID)
				mu.Unlock()
				assert.False(t, app.authenticated(t, b))
			}
			got, _, ok := app.bcl.entry(t, key)
			require.True(t, ok, "the marker is not overwritten")
			assert.Equal(t, marker, got)
			assert.Contains(t, logs.String(), "Session.Genid returned an unusable session id")
			assert.NotContains(t, logs.String(), key)

			setGenid("second-session")
			b := app.browser()
			b.login(app, "/login")
			assert.True(t, app.authenticated(t, b), "a usable id works again")
		})
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef": true,
		"custom-id_1:~/":                   true,
		"":                                 false,
		strings.Repeat("a", 256):           true,
		strings.Repeat("a", 257):           false,
		"http://localhost:3000/|user-1":    false,
		"a|jti|b":                          false,
		"a.b":                              false,
		"a b":                              false,
		"a;b":                              false,
		"a,b":                              false,
		`a"b`:                              false,
		`a\b`:                              false,
		"caf\xc3\xa9":                      false,
	} {
		assert.Equal(t, want, validID(id), "%q", id)
	}
}

// TestStoreUnsignedUpgrade: while RequireSignedSessionStoreCookie is off,
// an unsigned cookie (written by express-openid-connect or before signing
// was turned on) keeps working and is re-issued signed at once.
func TestStoreUnsignedUpgrade(t *testing.T) {
	t.Parallel()
	store := newSTFakeStore()
	// Sessions made while the cookie was unsigned.
	old := stApp(t, store, func(c *Config) { c.Session.SignSessionStoreCookie = Bool(false) }, nil)
	b := old.browser()
	b.login(old, "/login")
	id := stRawCookie(t, old, b)
	require.NotContains(t, id, ".")

	// The cutover: signing on, unsigned cookies still accepted.
	next, err := New(func() Config {
		c := old.cfg
		c.Session.SignSessionStoreCookie = nil
		c.Session.RequireSignedSessionStoreCookie = Bool(false)
		return c
	}())
	require.NoError(t, err)
	old.srv.Config.Handler = next.Handler(appHandler())
	resp, body := b.get(old.url("/session"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"authenticated":true`)
	cookies := setCookies(resp, "appSession")
	require.Len(t, cookies, 1, "re-issued at once, not at the next touch")
	assert.Equal(t, next.keys.Sign("appSession", id), cookies[0].Value)
	assert.Equal(t, []string{id}, store.ids(), "the same session, under the same id")

	// After the window: signed cookies required.
	final, err := New(func() Config {
		c := old.cfg
		c.Session.SignSessionStoreCookie = nil
		return c
	}())
	require.NoError(t, err)
	old.srv.Config.Handler = final.Handler(appHandler())
	assert.Equal(t, true, b.session(old)["authenticated"])
	stale := old.browser()
	stale.jar.SetCookies(mustURL(t, old.url("/")), []*http.Cookie{{Name: "appSession", Value: id, Path: "/"}})
	assert.Equal(t, false, stale.session(old)["authenticated"], "unsigned cookies are refused")
}
