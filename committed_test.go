package oidc

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// newCommitApp is appHandler plus /run (withRunRoute); in store mode its
// sessions are in the returned store (nil in cookie mode).
func newCommitApp(t *testing.T, storeMode bool) (*testApp, *stFakeStore) {
	t.Helper()
	if !storeMode {
		return newTestApp(t, withRunRoute()), nil
	}
	store := newSTFakeStore()
	return newTestApp(t, withRunRoute(), withStore(store)), store
}

// lateResult is what a late change saw in its request.
type lateResult struct {
	err    error          // the change's error
	values map[string]any // the session's values after the change (nil: no session)
}

// late makes b request /run, whose handler writes its body first and then
// runs before (if not nil) and change, and checks that no session cookie
// went out.
func late(a *testApp, b *browser, before func(), change func(c *Context) error) lateResult {
	a.t.Helper()
	var res lateResult
	a.setRun(func(w http.ResponseWriter, r *http.Request, c *Context) {
		fmt.Fprint(w, "body first") // the headers go out here
		if before != nil {
			before()
		}
		res.err = change(c)
		if s, ok := c.Session(); ok {
			res.values = s.Values
		}
	})
	resp, body := b.get(a.url("/run"))
	require.Equal(a.t, http.StatusOK, resp.StatusCode, body)
	assert.Empty(a.t, setCookies(resp, "appSession"), "no session cookie: the headers were written before the change")
	return res
}

// commitValues returns the session's values as the next request sees them (nil:
// no session).
func commitValues(b *browser, a *testApp) map[string]any {
	v, _ := b.session(a)["values"].(map[string]any)
	return v
}

// TestSessionChangeAfterCommit covers Set, Delete and SetSession called
// after the response headers were written: refused with
// ErrResponseCommitted in cookie mode (the session stays as it was), saved
// to the store at once in store mode.
func TestSessionChangeAfterCommit(t *testing.T) {
	t.Parallel()
	seeded := map[string]any{"k": "v", "k2": "v2"}
	cases := []struct {
		name      string
		change    func(c *Context) error
		cookieErr error          // cookie mode
		stored    map[string]any // store mode: the values afterwards (nil: no session)
	}{
		{"Set", func(c *Context) error { return c.Set("late", "x") },
			ErrResponseCommitted, map[string]any{"k": "v", "k2": "v2", "late": "x"}},
		{"Set overwrites", func(c *Context) error { return c.Set("k", "new") },
			ErrResponseCommitted, map[string]any{"k": "new", "k2": "v2"}},
		{"Delete", func(c *Context) error { return c.Delete("k") },
			ErrResponseCommitted, map[string]any{"k2": "v2"}},
		{"Delete of a key that is not set changes nothing", func(c *Context) error { return c.Delete("absent") },
			nil, seeded},
		{"SetSession", func(c *Context) error { return c.SetSession(Session{Values: map[string]any{"n": "new"}}) },
			ErrResponseCommitted, map[string]any{"n": "new"}},
		{"SetSession(Session{}) logs out", func(c *Context) error { return c.SetSession(Session{}) },
			ErrResponseCommitted, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/cookie", func(t *testing.T) {
			t.Parallel()
			app, _ := newCommitApp(t, false)
			b := app.browser()
			b.get(app.url("/set?k=v&k2=v2"))
			res := late(app, b, nil, tc.change)
			if tc.cookieErr == nil {
				assert.NoError(t, res.err)
			} else {
				assert.ErrorIs(t, res.err, tc.cookieErr)
			}
			assert.Equal(t, seeded, res.values, "the session is left as it was in the request")
			assert.Equal(t, seeded, commitValues(b, app), "and in the cookie")
		})
		t.Run(tc.name+"/store", func(t *testing.T) {
			t.Parallel()
			app, store := newCommitApp(t, true)
			b := app.browser()
			b.get(app.url("/set?k=v&k2=v2"))
			id := stCookie(t, app, b)
			require.NotEmpty(t, id)
			res := late(app, b, nil, tc.change)
			require.NoError(t, res.err, "the session keeps its id: saved to the store at once")
			assert.Equal(t, tc.stored, res.values)
			if tc.stored == nil {
				assert.NotContains(t, store.ids(), id, "the entry is destroyed")
				assert.Nil(t, commitValues(b, app))
				return
			}
			assert.Equal(t, tc.stored, gapStoreData(t, store, id))
			assert.Equal(t, tc.stored, commitValues(b, app), "the next request sees the change")
			assert.Equal(t, id, stCookie(t, app, b), "same id")
		})
	}

	t.Run("store: a new session needs a cookie, so it is refused", func(t *testing.T) {
		t.Parallel()
		app, store := newCommitApp(t, true)
		b := app.browser()
		res := late(app, b, nil, func(c *Context) error { return c.Set("late", "x") })
		assert.ErrorIs(t, res.err, ErrResponseCommitted)
		assert.Nil(t, res.values)
		assert.Empty(t, store.ids(), "nothing is stored under an id no cookie names")
	})

	t.Run("store: a failed write is returned and the session is left as it was", func(t *testing.T) {
		t.Parallel()
		app, store := newCommitApp(t, true)
		b := app.browser()
		b.get(app.url("/set?k=v&k2=v2"))
		id := stCookie(t, app, b)
		boom := errors.New("store down")
		res := late(app, b, func() { store.fail(nil, boom) }, func(c *Context) error { return c.Set("late", "x") })
		store.fail(nil, nil)
		assert.ErrorIs(t, res.err, ErrStoreUnavailable)
		assert.ErrorIs(t, res.err, boom)
		assert.NotErrorIs(t, res.err, ErrResponseCommitted)
		assert.Equal(t, seeded, res.values)
		assert.Equal(t, seeded, gapStoreData(t, store, id))
	})

	t.Run("store: a session logged out meanwhile is not brought back", func(t *testing.T) {
		t.Parallel()
		app, store := newCommitApp(t, true)
		b := app.browser()
		b.get(app.url("/set?k=v&k2=v2"))
		id := stCookie(t, app, b)
		res := late(app, b, func() { assert.NoError(t, store.Destroy(t.Context(), id)) }, func(c *Context) error { return c.Set("late", "x") })
		assert.ErrorIs(t, res.err, ErrResponseCommitted)
		assert.NotContains(t, store.ids(), id)
		assert.Nil(t, commitValues(b, app))
	})
}

// TestRefreshAfterCommit covers Context.Refresh after the response headers
// were written. In cookie mode it fails before calling the provider, so the
// refresh token is not rotated and the next refresh works; in store mode
// the refreshed session is written to the store at once.
func TestRefreshAfterCommit(t *testing.T) {
	t.Parallel()
	lateRefresh := func(e *testApp) (at *AccessToken, inRequest string, err error) {
		e.run(func(w http.ResponseWriter, r *http.Request, c *Context) {
			fmt.Fprint(w, "body first")
			at, err = c.Refresh(r.Context(), RefreshOptions{})
			inRequest = c.RefreshToken()
		})
		return at, inRequest, err
	}

	t.Run("cookie mode: refused without a provider call", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		calls := e.op.Calls(oidctest.EndpointToken)
		at, inRequest, err := lateRefresh(e)
		assert.Nil(t, at)
		require.ErrorIs(t, err, ErrResponseCommitted)
		var oe *Error
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, http.StatusInternalServerError, oe.Status)
		assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "the provider is not called")
		assert.Equal(t, before.RefreshToken, inRequest, "the session is left as it was")
		assert.Equal(t, before, e.tokens())

		// The refresh token was not rotated: the next refresh works.
		at, err = e.refresh(RefreshOptions{})
		require.NoError(t, err)
		require.NotNil(t, at)
		assert.Equal(t, before.RefreshToken, e.op.LastTokenRequest().PostForm.Get("refresh_token"))
		after := e.tokens()
		assert.NotEqual(t, before.RefreshToken, after.RefreshToken)
		assert.Equal(t, string(at.Token), after.AccessToken)
	})

	t.Run("store mode: saved to the store at once", func(t *testing.T) {
		t.Parallel()
		store := newSTFakeStore()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.Session.Store = store })
		e.login()
		before := e.tokens()
		at, inRequest, err := lateRefresh(e)
		require.NoError(t, err)
		require.NotNil(t, at)
		after := e.tokens()
		assert.Equal(t, string(at.Token), after.AccessToken)
		assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated refresh token is saved")
		assert.Equal(t, after.RefreshToken, inRequest)

		_, err = e.refresh(RefreshOptions{})
		require.NoError(t, err, "the next refresh uses the rotated token")
		assert.Equal(t, after.RefreshToken, e.op.LastTokenRequest().PostForm.Get("refresh_token"))
	})

	t.Run("store mode: a failed write is returned", func(t *testing.T) {
		t.Parallel()
		store := newSTFakeStore()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.Session.Store = store })
		e.login()
		before := e.tokens()
		store.fail(nil, errors.New("store down"))
		at, inRequest, err := lateRefresh(e)
		store.fail(nil, nil)
		assert.Nil(t, at)
		require.ErrorIs(t, err, ErrStoreUnavailable)
		var oe *Error
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, http.StatusServiceUnavailable, oe.Status)
		assert.Equal(t, before.RefreshToken, inRequest, "the request keeps the session it has")
		assert.Equal(t, before.RefreshToken, e.tokens().RefreshToken)
	})

	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("store mode: invalid_grant, KeepSessionOnInvalidGrant=%v", keep), func(t *testing.T) {
			t.Parallel()
			store := newSTFakeStore()
			e := newTKApp(t, oidctest.Options{}, func(c *Config) {
				c.Session.Store = store
				c.KeepSessionOnInvalidGrant = keep
			})
			e.login()
			e.op.RevokeAll()
			_, inRequest, err := lateRefresh(e)
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "invalid_grant", pe.Code)
			assert.Empty(t, inRequest)
			after := e.tokens()
			assert.Equal(t, keep, after.Authenticated, "the store entry was updated at once")
			assert.Empty(t, after.RefreshToken)
		})
	}
}
