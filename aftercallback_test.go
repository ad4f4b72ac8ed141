package oidc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// acHook is an AfterCallback signature, for brevity.
type acHook = func(w http.ResponseWriter, r *http.Request, s Session, state map[string]any) (Session, error)

// acApp starts an app in the code flow (so sessions carry all tokens) with
// the given AfterCallback.
func acApp(t *testing.T, opOpts oidctest.Options, hook acHook, mutate func(*Config)) *testApp {
	t.Helper()
	return newTestApp(t, withProvider(opOpts), withConfig(codeFlow), withConfig(func(c *Config) { c.AfterCallback = hook }), withConfig(mutate))
}

// acStatusError is an error that carries its HTTP status.
type acStatusError struct{ status int }

func (e acStatusError) Error() string   { return "status error" }
func (e acStatusError) StatusCode() int { return e.status }

// acRecorder is an ErrorHandler that records the errors it renders.
type acRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *acRecorder) handle(w http.ResponseWriter, req *http.Request, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	defaultErrorHandler(w, req, err)
}

func (r *acRecorder) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs[len(r.errs)-1]
}

// acNoSession asserts that resp does not set a live session cookie.
func acNoSession(t *testing.T, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "appSession") {
			assert.Empty(t, c.Value, "no session cookie may be written")
		}
	}
}

func TestAfterCallbackModifiesSession(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		hook   acHook
		values map[string]any
		access bool
		detail bool // a refresh token remains
	}{
		{
			name: "should allow modification of the session",
			hook: func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
				if s.Values == nil {
					s.Values = map[string]any{}
				}
				s.Values["custom"] = "value"
				return s, nil
			},
			values: map[string]any{"custom": "value"},
			access: true, detail: true,
		},
		{
			name: "can drop the refresh token",
			hook: func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
				s.RefreshToken = ""
				return s, nil
			},
			access: true, detail: false,
		},
		{
			name: "can keep only the ID token",
			hook: func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
				return Session{IDToken: s.IDToken, SID: s.SID}, nil
			},
			access: false, detail: false,
		},
		{
			name: "returning the session unchanged keeps every token",
			hook: func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
				return s, nil
			},
			access: true, detail: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := acApp(t, oidctest.Options{Subject: "alice"}, tc.hook, nil)
			b := app.browser()
			resp, body := b.login(app, "/login")
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			s := b.session(app)
			assert.Equal(t, true, s["authenticated"])
			assert.Equal(t, "alice", s["user"].(map[string]any)["sub"])
			assert.Equal(t, tc.access, s["has_access_token"])
			assert.Equal(t, tc.detail, s["has_refresh_token"])
			if tc.values == nil {
				assert.Nil(t, s["values"])
			} else {
				assert.Equal(t, tc.values, s["values"])
			}
		})
	}
}

// TestAfterCallbackError covers "should allow thrown error to fail the
// request".
func TestAfterCallbackError(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("user is not allowed")
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"should allow thrown error to fail the request", sentinel, http.StatusForbidden},
		{"an error with StatusCode 418 answers 418", acStatusError{418}, 418},
		{"a wrapped StatusCode error keeps its status", errors.Join(sentinel, acStatusError{401}), http.StatusUnauthorized},
		{"a non-error StatusCode falls back to 403", acStatusError{200}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &acRecorder{}
			hook := func(http.ResponseWriter, *http.Request, Session, map[string]any) (Session, error) {
				return Session{}, tc.err
			}
			app := acApp(t, oidctest.Options{}, hook, func(c *Config) { c.ErrorHandler = rec.handle })
			b := app.browser()
			resp, _ := b.get(app.url("/login"))
			cb, method, vals := b.authorize(resp)
			require.Equal(t, http.MethodGet, method)
			resp, body := b.get(cb+"?"+vals.Encode(), "Accept", "text/html")

			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Contains(t, body, "The login was refused by the application.")
			assert.Contains(t, body, "login_rejected")
			assert.NotContains(t, body, "user is not allowed", "the application's error stays private")
			assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
			acNoSession(t, resp)
			assert.Equal(t, false, b.session(app)["authenticated"])

			err := rec.last()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLoginRejected)
			assert.ErrorIs(t, err, tc.err)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.status, e.Status)
			assert.Equal(t, "login_rejected", e.Code)
		})
	}

	t.Run("a rejected login keeps the previous user's session", func(t *testing.T) {
		t.Parallel()
		reject := false
		var mu sync.Mutex
		hook := func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
			mu.Lock()
			defer mu.Unlock()
			if reject {
				return s, sentinel
			}
			return s, nil
		}
		app := acApp(t, oidctest.Options{Subject: "bob"}, hook, nil)
		b := app.browser()
		b.login(app, "/login")
		b.get(app.url("/set?k=v"))
		mu.Lock()
		reject = true
		mu.Unlock()
		app.op.SetOptions(func(o *oidctest.Options) { o.Subject = "alice" })
		resp, _ := b.login(app, "/login")
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		s := b.session(app)
		assert.Equal(t, "bob", s["user"].(map[string]any)["sub"])
		assert.Equal(t, map[string]any{"k": "v"}, s["values"])
	})
}

// TestAfterCallbackSeesNewSession covers the v3 behaviour: during the hook
// FromRequest(r) reflects the new login; afterwards the merge rules apply.
func TestAfterCallbackSeesNewSession(t *testing.T) {
	t.Parallel()
	type seen struct {
		authenticated bool
		sub           string
		idTokenMatch  bool
		basket        any
		previous      any
	}
	var mu sync.Mutex
	var got []seen
	hook := func(_ http.ResponseWriter, r *http.Request, s Session, _ map[string]any) (Session, error) {
		c := FromRequest(r)
		basket, _ := c.Get("basket")
		previous, _ := c.Get("previous")
		mu.Lock()
		got = append(got, seen{
			authenticated: c.IsAuthenticated(),
			sub:           c.User().String("sub"),
			idTokenMatch:  c.IDToken() == string(s.IDToken) && s.IDToken != "",
			basket:        basket,
			previous:      previous,
		})
		mu.Unlock()
		return s, nil
	}
	app := acApp(t, oidctest.Options{Subject: "bob"}, hook, nil)
	b := app.browser()
	b.get(app.url("/set?basket=apples"))
	b.login(app, "/login")
	b.get(app.url("/set?previous=bob"))
	app.op.SetOptions(func(o *oidctest.Options) { o.Subject = "alice" })
	b.login(app, "/login")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2)
	assert.Equal(t, seen{authenticated: true, sub: "bob", idTokenMatch: true, basket: "apples"}, got[0],
		"over an anonymous session: the new user, with the anonymous values")
	assert.Equal(t, seen{authenticated: true, sub: "alice", idTokenMatch: true}, got[1],
		"over another user: the new user, without the old user's values")
}

func TestAfterCallbackState(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var states []map[string]any
	hook := func(_ http.ResponseWriter, _ *http.Request, s Session, st map[string]any) (Session, error) {
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
		return s, nil
	}
	app := acApp(t, oidctest.Options{}, hook, func(c *Config) {
		c.AuthRequired = nil
		c.GetLoginState = func(r *http.Request, opts LoginOptions) (map[string]any, error) {
			return map[string]any{"returnTo": opts.ReturnTo, "custom": "value", "path": r.URL.Path}, nil
		}
	})
	b := app.browser()
	resp, body := b.login(app, "/profile?tab=2")
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	assert.Equal(t, app.url("/profile?tab=2"), resp.Header.Get("Location"))

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, states, 1)
	assert.Equal(t, map[string]any{"returnTo": "/profile?tab=2", "custom": "value", "path": "/profile"}, states[0],
		"returnTo and custom keys, without the internal rnd")
}

func TestAfterCallbackWithoutIDToken(t *testing.T) {
	t.Parallel()
	cases := map[string]acHook{
		"zero session": func(http.ResponseWriter, *http.Request, Session, map[string]any) (Session, error) {
			return Session{}, nil
		},
		"only values": func(http.ResponseWriter, *http.Request, Session, map[string]any) (Session, error) {
			return Session{Values: map[string]any{"a": 1}}, nil
		},
		"tokens without the ID token": func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
			s.IDToken = ""
			return s, nil
		},
	}
	for name, hook := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := &acRecorder{}
			app := acApp(t, oidctest.Options{}, hook, func(c *Config) { c.ErrorHandler = rec.handle })
			b := app.browser()
			// An anonymous value makes the merged session non-empty.
			b.get(app.url("/set?basket=apples"))
			resp, _ := b.login(app, "/login")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.ErrorIs(t, rec.last(), ErrLoginRejected)
			s := b.session(app)
			assert.Equal(t, false, s["authenticated"])
			assert.Equal(t, map[string]any{"basket": "apples"}, s["values"], "the anonymous session is untouched")
		})
	}
}

// TestCallbackSessionMerge covers express's merge rules (§2.3 step 6) in
// cookie mode, SESS-04 and SESS-05.
func TestCallbackSessionMerge(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		before     func(app *testApp, b *browser) // runs before the final login
		secondUser string                         // the user of the final login
		wantValues map[string]any
	}{
		{
			name: "should preserve the cookie session when a new user is logging in over an anonymous session",
			before: func(app *testApp, b *browser) {
				b.get(app.url("/set?basket=apples"))
			},
			secondUser: "alice",
			wantValues: map[string]any{"basket": "apples"},
		},
		{
			name: "should replace the cookie session when a new user is logging in over an existing different user",
			before: func(app *testApp, b *browser) {
				b.login(app, "/login")
				b.get(app.url("/set?secret=alice-data"))
			},
			secondUser: "bob",
			wantValues: nil,
		},
		{
			name: "should preserve session when the same user is logging in over their existing session",
			before: func(app *testApp, b *browser) {
				b.login(app, "/login")
				b.get(app.url("/set?prefs=dark"))
			},
			secondUser: "alice",
			wantValues: map[string]any{"prefs": "dark"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}))
			b := app.browser()
			tc.before(app, b)
			app.op.SetOptions(func(o *oidctest.Options) { o.Subject = tc.secondUser })
			resp, body := b.login(app, "/login")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
			require.Len(t, setCookies(resp, "appSession"), 1, "exactly one session cookie")
			s := b.session(app)
			assert.Equal(t, tc.secondUser, s["user"].(map[string]any)["sub"])
			if tc.wantValues == nil {
				assert.Nil(t, s["values"])
			} else {
				assert.Equal(t, tc.wantValues, s["values"])
			}
		})
	}
}

// TestCallbackReplacesStaleCookies covers SESS-05: whatever session cookies
// the browser held at login, exactly one live session remains.
func TestCallbackReplacesStaleCookies(t *testing.T) {
	t.Parallel()
	cases := map[string][]*http.Cookie{
		"invalid cookie": {{Name: "appSession", Value: "garbage"}},
		"invalid chunks": {{Name: "appSession.0", Value: "a"}, {Name: "appSession.1", Value: "b"}, {Name: "appSession.2", Value: "c"}},
		"both forms":     {{Name: "appSession", Value: "garbage"}, {Name: "appSession.1", Value: "b"}},
	}
	for name, stale := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			b := app.browser()
			u, _ := url.Parse(app.url("/"))
			for _, c := range stale {
				c.Path = "/"
			}
			b.jar.SetCookies(u, stale)
			resp, body := b.login(app, "/login")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
			var live []string
			for _, c := range b.jar.Cookies(u) {
				if strings.HasPrefix(c.Name, "appSession") {
					live = append(live, c.Name)
				}
			}
			assert.Equal(t, []string{"appSession"}, live)
			assert.Equal(t, true, b.session(app)["authenticated"])
		})
	}

	t.Run("expired cookie", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t)
		b := app.browser()
		b.login(app, "/login")
		b.get(app.url("/set?old=1"))
		app.clk.Advance(25 * 3600 * 1e9) // past the 24h rolling timeout
		app.op.SetOptions(func(o *oidctest.Options) { o.Subject = "other" })
		resp, _ := b.login(app, "/login")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		s := b.session(app)
		assert.Equal(t, "other", s["user"].(map[string]any)["sub"])
		assert.Nil(t, s["values"], "an expired session carries nothing over")
	})
}

func TestAfterCallbackSessionTooLarge(t *testing.T) {
	t.Parallel()
	big := make([]byte, 20<<10)
	_, _ = rand.Read(big)
	hook := func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
		s.Values = map[string]any{"blob": hex.EncodeToString(big)} // ~40 KB
		return s, nil
	}
	rec := &acRecorder{}
	app := acApp(t, oidctest.Options{}, hook, func(c *Config) { c.ErrorHandler = rec.handle })
	b := app.browser()
	resp, _ := b.get(app.url("/login"))
	cb, method, vals := b.authorize(resp)
	resp, body := b.deliver(cb, method, vals)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Location"), "no redirect")
	assert.Contains(t, body, "session_too_large")
	acNoSession(t, resp)
	var e *Error
	require.ErrorAs(t, rec.last(), &e)
	assert.Equal(t, "session_too_large", e.Code)
	assert.Equal(t, false, b.session(app)["authenticated"])
}
