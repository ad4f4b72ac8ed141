package oidc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/openidconnect-go/oidc/oidctest"
)

// setClock sets the test app's clock to start+d.
func (e *testApp) setClock(start time.Time, d time.Duration) {
	e.clk.mu.Lock()
	e.clk.now = start.Add(d)
	e.clk.mu.Unlock()
}

// token calls TokenSource(ctx).Token() in a request.
func (e *testApp) token() (*oauth2.Token, error) {
	e.t.Helper()
	var tok *oauth2.Token
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		tok, err = c.TokenSource(r.Context()).Token()
	})
	return tok, err
}

func TestTokenSource(t *testing.T) {
	t.Parallel()
	const lifetime = 300 * time.Second

	t.Run("returns the session's token; refreshes when fewer than 10 s are left", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name      string
			sinceIn   time.Duration // since login
			refreshes bool
		}{
			{"fresh", 0, false},
			{"11 s left", lifetime - 11*time.Second, false},
			{"10 s left", lifetime - 10*time.Second, false},
			{"9 s left", lifetime - 9*time.Second, true},
			{"expired", lifetime + time.Hour, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				e := newTKApp(t, oidctest.Options{AccessTokenLifetime: lifetime}, nil)
				e.login()
				before := e.tokens()
				calls := e.op.Calls(oidctest.EndpointToken)
				e.setClock(e.clk.Now(), tc.sinceIn)

				tok, err := e.token()
				require.NoError(t, err)
				after := e.tokens()
				assert.Empty(t, tok.RefreshToken, "the refresh token stays in the session")
				assert.Equal(t, "Bearer", tok.TokenType)
				assert.Equal(t, after.AccessToken, tok.AccessToken, "the token is the session's")
				assert.Equal(t, time.Unix(after.ExpiresAt, 0), tok.Expiry)
				if tc.refreshes {
					assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken), "one refresh")
					assert.NotEqual(t, before.AccessToken, tok.AccessToken)
					assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated refresh token was saved")
					assert.Equal(t, e.clk.Now().Add(lifetime), tok.Expiry)
				} else {
					assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "no refresh")
					assert.Equal(t, before.AccessToken, tok.AccessToken)
				}
			})
		}
	})

	t.Run("no access token", func(t *testing.T) {
		t.Parallel()
		cases := map[string]func(*testApp){
			"anonymous": func(*testApp) {},
			"implicit flow": func(e *testApp) {
				e.login()
			},
		}
		for name, setup := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newTKApp(t, oidctest.Options{}, func(c *Config) {
					if name == "implicit flow" {
						c.AuthorizationParams = nil
					}
				})
				setup(e)
				calls := e.op.Calls(oidctest.EndpointToken)
				tok, err := e.token()
				assert.Nil(t, tok)
				require.ErrorIs(t, err, ErrNoAccessToken)
				var oe *Error
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, http.StatusUnauthorized, oe.Status)
				assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken))
			})
		}
	})

	t.Run("nil Context", func(t *testing.T) {
		t.Parallel()
		var c *Context
		tok, err := c.TokenSource(context.Background()).Token()
		assert.Nil(t, tok)
		assert.ErrorIs(t, err, ErrNoAccessToken)
		assert.ErrorIs(t, err, ErrNoMiddleware)
	})

	t.Run("no expiry: zero Expiry, never refreshed", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: func(m map[string]any) { delete(m, "expires_in") }}, nil)
		e.login()
		e.setClock(e.clk.Now(), 12*time.Hour) // the access token would have expired long ago
		calls := e.op.Calls(oidctest.EndpointToken)
		tok, err := e.token()
		require.NoError(t, err)
		assert.True(t, tok.Expiry.IsZero())
		assert.Equal(t, e.tokens().AccessToken, tok.AccessToken)
		assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken))
	})

	t.Run("a refresh that returns no expiry still gives the new token", func(t *testing.T) {
		t.Parallel()
		var refreshing atomic.Bool
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: lifetime, MutateTokenResponse: func(m map[string]any) {
			if refreshing.Load() {
				delete(m, "expires_in")
			}
		}}, nil)
		e.login()
		before := e.tokens()
		refreshing.Store(true)
		e.setClock(e.clk.Now(), lifetime)
		tok, err := e.token()
		require.NoError(t, err)
		assert.NotEqual(t, before.AccessToken, tok.AccessToken)
		assert.True(t, tok.Expiry.IsZero())
	})

	t.Run("errors of Refresh pass through", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name  string
			opts  oidctest.Options
			setup func(e *testApp)
			check func(t *testing.T, e *testApp, err error)
		}{
			{
				name: "invalid_grant ends the session",
				setup: func(e *testApp) {
					e.op.RevokeAll()
				},
				check: func(t *testing.T, e *testApp, err error) {
					var pe *ProviderError
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, "invalid_grant", pe.Code)
					assert.False(t, e.tokens().Authenticated)
				},
			},
			{
				name: "no refresh token",
				opts: oidctest.Options{MutateTokenResponse: func(m map[string]any) { delete(m, "refresh_token") }},
				check: func(t *testing.T, e *testApp, err error) {
					assert.ErrorIs(t, err, ErrNoRefreshToken)
					assert.True(t, e.tokens().Authenticated)
				},
			},
			{
				name: "provider down keeps the session",
				setup: func(e *testApp) {
					e.op.SetDown(true)
				},
				check: func(t *testing.T, e *testApp, err error) {
					assert.ErrorIs(t, err, ErrProviderUnavailable)
					e.op.SetDown(false)
					assert.True(t, e.tokens().Authenticated)
				},
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.opts.AccessTokenLifetime = lifetime
				e := newTKApp(t, tc.opts, nil)
				e.login()
				if tc.setup != nil {
					tc.setup(e)
				}
				e.setClock(e.clk.Now(), lifetime)
				tok, err := e.token()
				assert.Nil(t, tok)
				require.Error(t, err)
				tc.check(t, e, err)
			})
		}
	})

	t.Run("concurrent calls share one refresh", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: lifetime}, nil)
		e.login()
		e.setClock(e.clk.Now(), lifetime)
		calls := e.op.Calls(oidctest.EndpointToken)
		const n = 8
		toks := make([]string, n)
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			ts := c.TokenSource(r.Context())
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					tok, err := ts.Token()
					if assert.NoError(t, err) {
						toks[i] = tok.AccessToken
					}
				})
			}
			wg.Wait()
		})
		assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken))
		for _, tok := range toks {
			assert.Equal(t, e.tokens().AccessToken, tok)
		}
	})

	t.Run("works with oauth2.ReuseTokenSource", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			tok, err := oauth2.ReuseTokenSource(nil, c.TokenSource(r.Context())).Token()
			require.NoError(t, err)
			assert.True(t, tok.Valid())
			assert.Equal(t, "Bearer", tok.Type())
		})
	})
}

// apiServer records the Authorization headers it receives.
type apiServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newAPIServer(t *testing.T, h http.HandlerFunc) *apiServer {
	a := &apiServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.auths = append(a.auths, r.Header.Get("Authorization"))
		a.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *apiServer) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...)
}

func TestContextClient(t *testing.T) {
	t.Parallel()
	const lifetime = 300 * time.Second

	// get sends GET target with c.Client from a request of the app.
	get := func(e *testApp, ctx func(context.Context) context.Context, target string) (int, error) {
		e.t.Helper()
		var status int
		var err error
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			rctx := r.Context()
			if ctx != nil {
				rctx = ctx(rctx)
			}
			req, _ := http.NewRequestWithContext(rctx, http.MethodGet, target, nil)
			resp, rerr := c.Client(rctx).Do(req)
			if err = rerr; err == nil {
				status = resp.StatusCode
				_ = resp.Body.Close()
			}
			assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is not modified")
		})
		return status, err
	}

	t.Run("sends the session's token", func(t *testing.T) {
		t.Parallel()
		api := newAPIServer(t, nil)
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: lifetime}, nil)
		e.login()
		status, err := get(e, nil, api.URL+"/data")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, []string{"Bearer " + e.tokens().AccessToken}, api.seen())
	})

	t.Run("refreshes an expiring token and saves it", func(t *testing.T) {
		t.Parallel()
		api := newAPIServer(t, nil)
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: lifetime}, nil)
		e.login()
		before := e.tokens()
		e.setClock(e.clk.Now(), lifetime-5*time.Second)
		_, err := get(e, nil, api.URL+"/data")
		require.NoError(t, err)
		after := e.tokens()
		assert.NotEqual(t, before.AccessToken, after.AccessToken)
		assert.Equal(t, []string{"Bearer " + after.AccessToken}, api.seen())
	})

	t.Run("a DPoP token without Config.DPoP: no request, ErrDPoPNotConfigured", func(t *testing.T) {
		t.Parallel()
		api := newAPIServer(t, nil)
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: func(m map[string]any) { m["token_type"] = "dpop" }}, nil)
		e.login()
		assert.Equal(t, "DPoP", e.tokens().TokenType, "normalised")
		_, err := get(e, nil, api.URL+"/data")
		assert.ErrorIs(t, err, ErrDPoPNotConfigured)
		assert.Empty(t, api.seen())
	})

	t.Run("no access token: no request, ErrNoAccessToken", func(t *testing.T) {
		t.Parallel()
		api := newAPIServer(t, nil)
		e := newTKApp(t, oidctest.Options{}, nil)
		_, err := get(e, nil, api.URL+"/data")
		assert.ErrorIs(t, err, ErrNoAccessToken)
		assert.Empty(t, api.seen())
	})

	t.Run("nil Context: no request", func(t *testing.T) {
		t.Parallel()
		api := newAPIServer(t, nil)
		var c *Context
		_, err := c.Client(context.Background()).Get(api.URL + "/data")
		assert.ErrorIs(t, err, ErrNoMiddleware)
		assert.ErrorIs(t, err, ErrNoAccessToken)
		assert.Empty(t, api.seen())
	})

	t.Run("the request body is closed when no token is sent", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		body := &closeRecorder{Reader: strings.NewReader("x")}
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://127.0.0.1:1/", body)
			_, err := c.Client(r.Context()).Do(req)
			assert.ErrorIs(t, err, ErrNoAccessToken)
		})
		assert.True(t, body.closed.Load())
	})

	t.Run("redirects keep the token on the same origin only", func(t *testing.T) {
		t.Parallel()
		other := newAPIServer(t, nil)
		var api *apiServer
		api = newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/same":
				http.Redirect(w, r, api.URL+"/final", http.StatusFound)
			case "/away":
				http.Redirect(w, r, other.URL+"/final", http.StatusFound)
			default:
				_, _ = io.WriteString(w, "ok")
			}
		})
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		auth := "Bearer " + e.tokens().AccessToken

		_, err := get(e, nil, api.URL+"/same")
		require.NoError(t, err)
		assert.Equal(t, []string{auth, auth}, api.seen())

		_, err = get(e, nil, api.URL+"/away")
		require.NoError(t, err)
		assert.Equal(t, []string{auth, auth, auth}, api.seen())
		assert.Equal(t, []string{""}, other.seen(), "no token for another origin")
	})

	t.Run("uses the client from ctx", func(t *testing.T) {
		t.Parallel()
		api := newAPIServer(t, nil)
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		var used atomic.Int32
		hc := &http.Client{
			Timeout: 7 * time.Second,
			Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				used.Add(1)
				return http.DefaultTransport.RoundTrip(r)
			}),
		}
		withClient := func(ctx context.Context) context.Context { return context.WithValue(ctx, oauth2.HTTPClient, hc) }
		_, err := get(e, withClient, api.URL+"/data")
		require.NoError(t, err)
		assert.Equal(t, int32(1), used.Load())
		assert.Equal(t, []string{"Bearer " + e.tokens().AccessToken}, api.seen())

		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			assert.Equal(t, 7*time.Second, c.Client(withClient(r.Context())).Timeout)
			assert.Equal(t, time.Duration(0), c.Client(r.Context()).Timeout)
		})
	})
}

// closeRecorder is a request body that records Close.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error {
	c.closed.Store(true)
	return nil
}

func TestClaimsDecode(t *testing.T) {
	t.Parallel()
	type user struct {
		Sub           string         `json:"sub"`
		Roles         []string       `json:"roles"`
		EmailVerified bool           `json:"email_verified"`
		Age           int            `json:"age"`
		Address       map[string]any `json:"address"`
	}
	claims := Claims{
		"sub": "alice", "roles": []any{"admin", "editor"}, "email_verified": true, "age": float64(42),
		"address": map[string]any{"country": "DE"}, "unknown": "ignored",
	}

	var u user
	require.NoError(t, claims.Decode(&u))
	assert.Equal(t, user{Sub: "alice", Roles: []string{"admin", "editor"}, EmailVerified: true, Age: 42,
		Address: map[string]any{"country": "DE"}}, u)

	errCases := []struct {
		name   string
		claims Claims
		target any
	}{
		{"nil claims", nil, &u},
		{"wrong type", Claims{"roles": "admin"}, &user{}},
		{"fraction into an int", Claims{"age": 1.5}, &user{}},
		{"not a pointer", claims, user{}},
		{"nil pointer", claims, (*user)(nil)},
		{"nil target", claims, nil},
		{"unencodable claim", Claims{"f": func() {}}, &user{}},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.NotPanics(t, func() {
				assert.Error(t, tc.claims.Decode(tc.target))
			})
		})
	}

	t.Run("into a map and from User", func(t *testing.T) {
		t.Parallel()
		var m map[string]string
		require.NoError(t, Claims{"sub": "bob"}.Decode(&m))
		assert.Equal(t, map[string]string{"sub": "bob"}, m)
		assert.Error(t, Claims(nil).Decode(&m))
		assert.NoError(t, Claims{}.Decode(&m))
	})
}
