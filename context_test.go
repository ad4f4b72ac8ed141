package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/oidctest"
)

// ctxJSON fetches path as JSON and decodes it.
func ctxJSON(t *testing.T, b *browser, u string) map[string]any {
	t.Helper()
	resp, body := b.get(u, "Accept", "application/json")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out
}

// ctxWriteJSON writes v as the JSON response.
func ctxWriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ctxClaimsHandler serves "/claims" (the Context's view of the login) and
// "/seed" (replaces the session with seed()), and appHandler elsewhere.
func ctxClaimsHandler(seed func() Session) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/claims", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		ctxWriteJSON(w, map[string]any{
			"authenticated": c.IsAuthenticated(),
			"user":          c.User(),
			"claims":        c.IDTokenClaims(),
			"id_token":      c.IDToken(),
		})
	})
	mux.HandleFunc("/seed", func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).SetSession(seed()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "seeded")
	})
	mux.Handle("/", appHandler())
	return mux
}

// ctxKeys returns the sorted keys of m.
func ctxKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestContextOutsideAuth(t *testing.T) {
	t.Parallel()
	assert.Nil(t, FromRequest(httptest.NewRequest(http.MethodGet, "/", nil)))
	assert.Nil(t, FromContext(context.Background()))
	type otherKey struct{}
	assert.Nil(t, FromContext(context.WithValue(context.Background(), otherKey{}, "x")))
	var nilCtx *Context
	assert.Nil(t, FromContext(context.WithValue(context.Background(), contextKey{}, nilCtx)))
}

func TestContextInsideAuth(t *testing.T) {
	t.Parallel()
	var got, derived *Context
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = FromRequest(r)
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		derived = FromContext(ctx)
	})
	app := newTestApp(t, withHandler(h))
	rec := httptest.NewRecorder()
	app.m.Handler(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	require.NotNil(t, got)
	assert.Same(t, got, derived, "derived contexts carry the same *Context")
	assert.False(t, got.IsAuthenticated())
	assert.Nil(t, got.User())
	assert.Nil(t, got.IDTokenClaims())
	assert.Empty(t, got.IDToken())
	_, ok := got.Session()
	assert.False(t, ok)
	_, ok = got.Get("x")
	assert.False(t, ok)
}

func TestContextIsAuthenticated(t *testing.T) {
	t.Parallel()
	var seed Session
	app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withHandler(ctxClaimsHandler(func() Session { return seed })))
	seed = Session{IDToken: "not-a-jwt", SID: "s"}

	b := app.browser()
	assert.Equal(t, false, ctxJSON(t, b, app.url("/claims"))["authenticated"], "anonymous")
	resp, _ := b.login(app, "/login")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, true, ctxJSON(t, b, app.url("/claims"))["authenticated"], "after login")

	// A session whose id_token cannot be decoded counts as anonymous, like
	// express's isAuthenticated() when decodeJwt throws.
	resp, _ = b.get(app.url("/seed"))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := ctxJSON(t, b, app.url("/claims"))
	assert.Equal(t, false, out["authenticated"])
	assert.Nil(t, out["user"])
	assert.Equal(t, "not-a-jwt", out["id_token"])
}

// TestContextUserClaimFilter covers express's `user` (identityClaimFilter)
// and "should not strip claims when using custom claim filtering".
func TestContextUserClaimFilter(t *testing.T) {
	t.Parallel()
	protocol := defaultIdentityClaimFilter()
	cases := []struct {
		name     string
		filter   []string
		dropped  []string
		retained []string
	}{
		{
			name:     "default identityClaimFilter drops protocol claims",
			filter:   nil,
			dropped:  protocol,
			retained: []string{"sub", "sid", "email", "custom", "nickname"},
		},
		{
			name:     "should not strip claims when using custom claim filtering",
			filter:   []string{"email"},
			dropped:  []string{"email"},
			retained: append([]string{"sub", "sid", "custom", "nickname"}, protocol...),
		},
		{
			name:     "empty filter keeps every claim",
			filter:   []string{},
			retained: append([]string{"sub", "sid", "email", "custom", "nickname"}, protocol...),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opOpts := oidctest.Options{
				Subject: "alice",
				Claims:  map[string]any{"email": "alice@example.com", "custom": "c", "nickname": "al"},
				MutateIDToken: func(_, claims map[string]any) {
					// Add every filtered claim so that the filter is tested
					// for each of them.
					claims["nbf"] = claims["iat"]
					claims["azp"] = "test-client"
					claims["s_hash"] = "s"
					claims["at_hash"] = "a"
					claims["c_hash"] = "c"
				},
			}
			app := newTestApp(t, withProvider(opOpts), withConfig(func(c *Config) { c.IdentityClaimFilter = tc.filter }), withHandler(ctxClaimsHandler(nil)))
			b := app.browser()
			resp, body := b.login(app, "/login")
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
			out := ctxJSON(t, b, app.url("/claims"))
			user, _ := out["user"].(map[string]any)
			claims, _ := out["claims"].(map[string]any)
			require.NotNil(t, user)
			require.NotNil(t, claims)
			for _, k := range protocol {
				assert.Contains(t, claims, k, "IDTokenClaims keeps %s", k)
			}
			for _, k := range tc.dropped {
				assert.NotContains(t, user, k)
			}
			for _, k := range tc.retained {
				assert.Contains(t, user, k)
			}
			assert.Equal(t, "alice", user["sub"])
			assert.Equal(t, claims["sid"], user["sid"])
			assert.Equal(t, "c", user["custom"])
		})
	}
}

// TestContextIDTokenClaimsSID covers the sid fallback: IDTokenClaims is
// {sid: session.sid, ...claims}, so the token's own sid wins.
func TestContextIDTokenClaimsSID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		tokenSID any // nil: the token has no sid
		loginSID string
		want     any // nil: no sid claim
	}{
		{"login-time sid fills a token without sid", nil, "login-sid", "login-sid"},
		{"the token's own sid wins", "token-sid", "login-sid", "token-sid"},
		{"no sid anywhere", nil, "", nil},
		{"token sid without a login sid", "token-sid", "", "token-sid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seed Session
			app := newTestApp(t, withHandler(ctxClaimsHandler(func() Session { return seed })))
			token := app.op.IDToken("alice", "", map[string]any{"sid": tc.tokenSID})
			seed = Session{IDToken: Secret(token), SID: tc.loginSID}

			b := app.browser()
			resp, _ := b.get(app.url("/seed"))
			require.Equal(t, http.StatusOK, resp.StatusCode)
			out := ctxJSON(t, b, app.url("/claims"))
			claims := out["claims"].(map[string]any)
			user := out["user"].(map[string]any)
			assert.Equal(t, tc.want, claims["sid"])
			assert.Equal(t, tc.want, user["sid"])
			assert.Equal(t, "alice", claims["sub"])
			assert.Equal(t, token, out["id_token"], "IDToken returns the raw token")
		})
	}
}

func TestContextIDToken(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withHandler(ctxClaimsHandler(nil)))
	b := app.browser()
	assert.Equal(t, "", ctxJSON(t, b, app.url("/claims"))["id_token"])
	resp, _ := b.get(app.url("/login"))
	cb, method, vals := b.authorize(resp)
	resp, _ = b.deliver(cb, method, vals)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, vals.Get("id_token"), ctxJSON(t, b, app.url("/claims"))["id_token"])
}

const ctxNestedCopy = "nested values of the Session copy are copies too"

// TestContextCopies checks that the maps Session and IDTokenClaims return
// are copies.
func TestContextCopies(t *testing.T) {
	t.Parallel()
	checks := map[string]func(t *testing.T, c *Context){
		"mutating the Session copy does not change the session": func(t *testing.T, c *Context) {
			s, ok := c.Session()
			if !assert.True(t, ok) {
				return
			}
			idToken := c.IDToken()
			s.Values["k"] = "changed"
			s.Values["new"] = true
			s.IDToken = ""
			s.SID = "other"
			v, _ := c.Get("k")
			assert.Equal(t, "v", v)
			_, ok = c.Get("new")
			assert.False(t, ok)
			assert.Equal(t, idToken, c.IDToken())
			again, _ := c.Session()
			assert.NotEqual(t, "other", again.SID)
			assert.True(t, c.IsAuthenticated())
		},
		"mutating IDTokenClaims does not change the claims": func(t *testing.T, c *Context) {
			claims := c.IDTokenClaims()
			claims["sub"] = "mallory"
			delete(claims, "iss")
			assert.Equal(t, "alice", c.IDTokenClaims().String("sub"))
			assert.True(t, c.IDTokenClaims().Has("iss"))
			user := c.User()
			user["sub"] = "mallory"
			assert.Equal(t, "alice", c.User().String("sub"))
		},
		"mutating a value passed to SetSession does not change the session": func(t *testing.T, c *Context) {
			s, _ := c.Session()
			assert.NoError(t, c.SetSession(s))
			s.Values["k"] = "changed"
			v, _ := c.Get("k")
			assert.Equal(t, "v", v)
		},
		ctxNestedCopy: func(t *testing.T, c *Context) {
			s, _ := c.Session()
			s.Values["nested"].(map[string]any)["a"] = "changed"
			v, _ := c.Get("nested")
			assert.Equal(t, "b", v.(map[string]any)["a"])
		},
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.HandleFunc("/check", func(w http.ResponseWriter, r *http.Request) {
				check(t, FromRequest(r))
				fmt.Fprint(w, "ok")
			})
			mux.HandleFunc("/prepare", func(w http.ResponseWriter, r *http.Request) {
				c := FromRequest(r)
				assert.NoError(t, c.Set("k", "v"))
				assert.NoError(t, c.Set("nested", map[string]any{"a": "b"}))
			})
			app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withHandler(mux))
			b := app.browser()
			b.login(app, "/login")
			b.get(app.url("/prepare"))
			resp, _ := b.get(app.url("/check"))
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

// TestContextValues covers Get, Set and Delete across requests, for
// anonymous and logged-in sessions.
func TestContextValues(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		for k, v := range map[string]any{
			"n":    42,
			"s":    "x",
			"obj":  map[string]any{"a": []int{1, 2}},
			"flag": true,
			"null": nil,
			"st":   struct{ Name string }{"go"},
		} {
			if err := c.Set(k, v); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		v, ok := c.Get("n") // visible in the same request, unchanged
		ctxWriteJSON(w, map[string]any{"same_request": v, "ok": ok})
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		out := map[string]any{}
		for _, k := range []string{"n", "s", "obj", "flag", "null", "st", "missing"} {
			if v, ok := c.Get(k); ok {
				out[k] = v
			}
		}
		ctxWriteJSON(w, out)
	})
	mux.HandleFunc("/del", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		for _, k := range r.URL.Query()["k"] {
			assert.NoError(t, c.Delete(k))
		}
		assert.NoError(t, c.Delete("never-set"))
	})
	mux.Handle("/", appHandler())

	for _, loggedIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("logged in %v", loggedIn), func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withHandler(mux))
			b := app.browser()
			if loggedIn {
				b.login(app, "/login")
			}
			resp, body := b.get(app.url("/put"))
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.JSONEq(t, `{"same_request":42,"ok":true}`, body)
			require.NotEmpty(t, setCookies(resp, "appSession"))

			got := ctxJSON(t, b, app.url("/get"))
			assert.Equal(t, map[string]any{
				"n": 42.0, "s": "x", "obj": map[string]any{"a": []any{1.0, 2.0}},
				"flag": true, "null": nil, "st": map[string]any{"Name": "go"},
			}, got, "values come back as JSON values")

			b.get(app.url("/del?k=s&k=obj"))
			got = ctxJSON(t, b, app.url("/get"))
			assert.Equal(t, []string{"flag", "n", "null", "st"}, ctxKeys(got))
			assert.Equal(t, loggedIn, b.session(app)["authenticated"])

			resp, _ = b.get(app.url("/del?k=n&k=flag&k=null&k=st"))
			cookies := setCookies(resp, "appSession")
			require.Len(t, cookies, 1)
			if loggedIn {
				assert.NotEmpty(t, cookies[0].Value, "the login session stays")
				assert.Equal(t, true, b.session(app)["authenticated"])
			} else {
				assert.Empty(t, cookies[0].Value, "an anonymous session without values is cleared")
			}
			assert.Empty(t, ctxJSON(t, b, app.url("/get")))
		})
	}
}

func TestContextSetRejects(t *testing.T) {
	t.Parallel()
	type tc struct {
		key   string
		value any
		want  string
	}
	var cases []tc
	for k := range reservedKeys {
		cases = append(cases, tc{k, "x", "reserved"})
	}
	cases = append(cases,
		tc{"ch", make(chan int), "not JSON-encodable"},
		tc{"fn", func() {}, "not JSON-encodable"},
		tc{"nan", math.NaN(), "not JSON-encodable"},
		tc{"nested", map[string]any{"ch": make(chan int)}, "not JSON-encodable"},
	)
	var results sync.Map
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		for _, tc := range cases {
			results.Store(tc.key, c.Set(tc.key, tc.value))
			if _, ok := c.Get(tc.key); ok {
				results.Store(tc.key+"/stored", true)
			}
		}
		_, has := c.Session()
		results.Store("session", has)
	})
	app := newTestApp(t, withHandler(h))
	resp, _ := app.browser().get(app.url("/"))
	assert.Empty(t, setCookies(resp, "appSession"), "rejected values create no session")
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			v, _ := results.Load(tc.key)
			err, _ := v.(error)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), tc.key)
			_, stored := results.Load(tc.key + "/stored")
			assert.False(t, stored)
		})
	}
	has, _ := results.Load("session")
	assert.Equal(t, false, has)
}

func TestContextSetSession(t *testing.T) {
	t.Parallel()
	var other string
	mux := http.NewServeMux()
	mux.HandleFunc("/logout-local", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		assert.True(t, c.IsAuthenticated())
		assert.NoError(t, c.SetSession(Session{}))
		assert.False(t, c.IsAuthenticated(), "effective at once")
		assert.Nil(t, c.User())
		_, ok := c.Session()
		assert.False(t, ok)
	})
	mux.HandleFunc("/switch", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		assert.Equal(t, "alice", c.User().String("sub")) // warms the claims cache
		s, _ := c.Session()
		s.IDToken = Secret(other)
		assert.NoError(t, c.SetSession(s))
		assert.Equal(t, "bob", c.User().String("sub"), "the claims cache follows the new token")
	})
	mux.Handle("/", appHandler())
	app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withHandler(mux))
	other = app.op.IDToken("bob", "", nil)

	t.Run("SetSession(Session{}) logs out", func(t *testing.T) {
		b := app.browser()
		b.login(app, "/login")
		resp, _ := b.get(app.url("/logout-local"))
		cleared := setCookies(resp, "appSession")
		require.Len(t, cleared, 1)
		assert.Empty(t, cleared[0].Value)
		assert.True(t, cleared[0].Expires.Before(time.Unix(1, 0)), "expired")
		assert.Equal(t, false, b.session(app)["authenticated"])
	})
	t.Run("SetSession replaces the tokens", func(t *testing.T) {
		b := app.browser()
		b.login(app, "/login")
		b.get(app.url("/switch"))
		assert.Equal(t, "bob", b.session(app)["user"].(map[string]any)["sub"])
	})
}

// TestContextConcurrentUse runs Context methods from several goroutines of
// one handler; run with -race.
func TestContextConcurrentUse(t *testing.T) {
	t.Parallel()
	const workers = 16
	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				for j := range 20 {
					_ = c.User()
					_ = c.IDTokenClaims()
					_ = c.IsAuthenticated()
					_ = c.IDToken()
					_, _ = c.Get("k0")
					_, _ = c.Session()
					assert.NoError(t, c.Set(fmt.Sprintf("k%d", i), j))
					assert.NoError(t, c.Delete("gone"))
				}
			})
		}
		wg.Wait()
		fmt.Fprint(w, "done")
	})
	mux.Handle("/", appHandler())
	app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withHandler(mux))
	b := app.browser()
	b.login(app, "/login")
	resp, body := b.get(app.url("/work"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	s := b.session(app)
	assert.Equal(t, true, s["authenticated"])
	vals := s["values"].(map[string]any)
	require.Len(t, vals, workers)
	for i := range workers {
		assert.Equal(t, 19.0, vals[fmt.Sprintf("k%d", i)])
	}
}

// TestContextWriter covers the response writer wrapper: the session cookie
// is written with the headers however they are committed.
func TestContextWriter(t *testing.T) {
	t.Parallel()

	t.Run("Flush through http.ResponseController commits the cookie", func(t *testing.T) {
		t.Parallel()
		var flushErr error
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.NoError(t, FromRequest(r).Set("k", "v"))
			flushErr = http.NewResponseController(w).Flush()
			fmt.Fprint(w, "streamed")
		})
		app := newTestApp(t, withHandler(h))
		rec := httptest.NewRecorder()
		app.m.Handler(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		require.NoError(t, flushErr)
		assert.True(t, rec.Flushed)
		// The recorder snapshots the headers at the first flush.
		assert.NotEmpty(t, setCookies(rec.Result(), "appSession"))
		assert.Equal(t, "streamed", rec.Body.String())

		resp, body := app.browser().get(app.url("/"))
		assert.Equal(t, "streamed", body)
		assert.NotEmpty(t, setCookies(resp, "appSession"))
	})

	t.Run("Unwrap exposes the underlying writer", func(t *testing.T) {
		t.Parallel()
		var inner http.ResponseWriter
		var deadlineErr error
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := w.(interface{ Unwrap() http.ResponseWriter })
			assert.True(t, ok)
			inner = u.Unwrap()
			deadlineErr = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
		})
		app := newTestApp(t, withHandler(h))
		rec := httptest.NewRecorder()
		app.m.Handler(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Same(t, rec, inner)

		// A real server's deadlines are reached through Unwrap.
		resp, _ := app.browser().get(app.url("/"))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NoError(t, deadlineErr)
	})

	t.Run("103 Early Hints do not commit the cookie", func(t *testing.T) {
		t.Parallel()
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/session" {
				appHandler().ServeHTTP(w, r)
				return
			}
			assert.NoError(t, FromRequest(r).Set("k", "v"))
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			assert.NoError(t, FromRequest(r).Set("k2", "v2"), "still before the final headers")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "final")
		})
		// httptest.ResponseRecorder treats 103 as the final status, so
		// this needs a real server.
		app := newTestApp(t, withHandler(h))
		var mu sync.Mutex
		var hints []textproto.MIMEHeader
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			if code == http.StatusEarlyHints {
				hints = append(hints, header)
			}
			return nil
		}}
		b := app.browser()
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, app.url("/"), nil)
		require.NoError(t, err)
		resp, body := b.do(req)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "final", body)
		mu.Lock()
		got := hints
		mu.Unlock()
		require.Len(t, got, 1)
		assert.NotEmpty(t, got[0].Get("Link"))
		assert.Empty(t, got[0].Values("Set-Cookie"), "no cookie in the 103")
		require.Len(t, setCookies(resp, "appSession"), 1, "the cookie comes with the final headers")
		vals := b.session(app)["values"].(map[string]any)
		assert.Equal(t, map[string]any{"k": "v", "k2": "v2"}, vals)
	})

	t.Run("a handler that writes nothing still gets the cookie", func(t *testing.T) {
		t.Parallel()
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/session" {
				appHandler().ServeHTTP(w, r)
				return
			}
			assert.NoError(t, FromRequest(r).Set("k", "v"))
		})
		app := newTestApp(t, withHandler(h))
		b := app.browser()
		resp, body := b.get(app.url("/"))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, body)
		require.Len(t, setCookies(resp, "appSession"), 1)
		assert.Equal(t, map[string]any{"k": "v"}, b.session(app)["values"])
	})
}

// ctxLogBuffer is a bytes.Buffer safe for concurrent use by a slog handler.
type ctxLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *ctxLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *ctxLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ctxExpressSession is a session as express-openid-connect writes it, with
// an application key.
const ctxExpressSession = `{"id_token":"eyJ.id.token","access_token":"at-123","refresh_token":"rt-456",` +
	`"token_type":"Bearer","expires_at":1795934286,"sid":"sid-789","app_key":{"a":1}}`

func TestSessionMarshalExpressShape(t *testing.T) {
	t.Parallel()
	s, err := unmarshalSession([]byte(ctxExpressSession))
	require.NoError(t, err)
	assert.Equal(t, &Session{
		IDToken: "eyJ.id.token", AccessToken: "at-123", RefreshToken: "rt-456",
		TokenType: "Bearer", ExpiresAt: 1795934286, SID: "sid-789",
		Values: map[string]any{"app_key": map[string]any{"a": 1.0}},
	}, s)

	out, err := s.marshal()
	require.NoError(t, err)
	assert.Equal(t, ctxExpressSession, string(out), "byte-identical, in express's key order")
}

func TestSessionMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		s    Session
		want string
	}{
		{"empty", Session{}, `{}`},
		{"implicit flow", Session{IDToken: "id", SID: "s"}, `{"id_token":"id","sid":"s"}`},
		{"session expiry", Session{IDToken: "id", SessionExpiresAt: 1700000000}, `{"id_token":"id","sessionExpiresAt":1700000000}`},
		{
			"values sorted after the token keys",
			Session{IDToken: "id", Values: map[string]any{"b": "2", "a": []any{1.0, "x"}, "c": nil, "d": map[string]any{"e": false}}},
			`{"id_token":"id","a":[1,"x"],"b":"2","c":null,"d":{"e":false}}`,
		},
		{"anonymous values", Session{Values: map[string]any{"basket": "apples"}}, `{"basket":"apples"}`},
		{"HTML characters are escaped", Session{Values: map[string]any{"h": "<&>"}}, `{"h":"\u003c\u0026\u003e"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := tc.s.marshal()
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			back, err := unmarshalSession(b)
			require.NoError(t, err)
			assert.Equal(t, tc.s.IDToken, back.IDToken)
			assert.Equal(t, tc.s.SID, back.SID)
			assert.Equal(t, tc.s.SessionExpiresAt, back.SessionExpiresAt)
			if len(tc.s.Values) == 0 {
				assert.Empty(t, back.Values)
			} else {
				assert.Equal(t, tc.s.Values, back.Values)
			}
			again, err := back.marshal()
			require.NoError(t, err)
			assert.Equal(t, string(b), string(again))
		})
	}
}

func TestSessionMarshalReservedValues(t *testing.T) {
	t.Parallel()
	s := Session{IDToken: "real", Values: map[string]any{"id_token": "forged", "sid": "forged", "sessionExpiresAt": 1, "ok": 1}}
	b, err := s.marshal()
	require.NoError(t, err)
	assert.Equal(t, `{"id_token":"real","ok":1}`, string(b), "reserved keys in Values never override the token keys")

	_, err = (&Session{Values: map[string]any{"ch": make(chan int)}}).marshal()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"ch"`)
}

func TestSessionUnmarshalRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"id_token number":          `{"id_token":5}`,
		"access_token bool":        `{"id_token":"x","access_token":true}`,
		"refresh_token object":     `{"refresh_token":{}}`,
		"token_type number":        `{"token_type":1}`,
		"sid array":                `{"sid":["a"]}`,
		"expires_at string":        `{"expires_at":"1795934286"}`,
		"sessionExpiresAt boolean": `{"sessionExpiresAt":true}`,
		"not an object":            `["id_token"]`,
		"string":                   `"x"`,
		"not JSON":                 `{"id_token":`,
		"trailing data":            `{} {}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := unmarshalSession([]byte(in))
			assert.Error(t, err)
		})
	}
	t.Run("null members are absent", func(t *testing.T) {
		t.Parallel()
		s, err := unmarshalSession([]byte(`{"id_token":null,"expires_at":null,"k":null}`))
		require.NoError(t, err)
		assert.Empty(t, s.IDToken)
		assert.Zero(t, s.ExpiresAt)
		assert.Equal(t, map[string]any{"k": nil}, s.Values)
	})
	t.Run("a wrongly typed session cookie reads as anonymous", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t)
		// Mint a cookie with the app's keys whose payload has a numeric
		// id_token.
		b := app.browser()
		v, err := app.m.keys.Encrypt(ctxHeader(app), []byte(`{"id_token":5,"k":"v"}`))
		require.NoError(t, err)
		req, _ := http.NewRequest(http.MethodGet, app.url("/session"), nil)
		req.AddCookie(&http.Cookie{Name: "appSession", Value: v})
		req.Header.Set("Accept", "application/json")
		resp, body := b.do(req)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.JSONEq(t, `{"authenticated":false,"user":null}`, body)
		cleared := setCookies(resp, "appSession")
		require.Len(t, cleared, 1, "the unreadable cookie is deleted")
		assert.Empty(t, cleared[0].Value)
	})
}

// ctxHeader is a valid session-cookie header for app at its current time.
func ctxHeader(app *testApp) cookiecrypto.Header {
	now := app.clk.Now().Unix()
	return cookiecrypto.Header{IAT: now, UAT: now, EXP: now + 3600}
}
