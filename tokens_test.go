package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// newTKApp is a code-flow app with the /run and /tokens routes
// (withTokenRoutes).
func newTKApp(t *testing.T, opOpts oidctest.Options, mutate func(*Config)) *testApp {
	t.Helper()
	return newTestApp(t, withProvider(opOpts), withTokenRoutes(), withConfig(mutate))
}

// tokenRoutes is the handler of withTokenRoutes.
func (a *testApp) tokenRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/run", a.serveRun)
	mux.HandleFunc("/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(tkSnapshot(FromRequest(r)))
	})
	return mux
}

// tkTokens is what /tokens reports.
type tkTokens struct {
	Authenticated    bool   `json:"authenticated"`
	IDToken          string `json:"id_token"`
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	TokenType        string `json:"token_type"`
	ExpiresAt        int64  `json:"expires_at"`
	SID              string `json:"sid"`
	SessionExpiresAt int64  `json:"session_expires_at"`
	ClaimsSID        string `json:"claims_sid"`
	HasAccessToken   bool   `json:"has_access_token"`
}

func tkSnapshot(c *Context) tkTokens {
	out := tkTokens{Authenticated: c.IsAuthenticated(), HasAccessToken: c.AccessToken() != nil}
	if s, ok := c.Session(); ok {
		out.IDToken, out.AccessToken, out.RefreshToken = string(s.IDToken), string(s.AccessToken), string(s.RefreshToken)
		out.TokenType, out.ExpiresAt, out.SID, out.SessionExpiresAt = s.TokenType, s.ExpiresAt, s.SID, s.SessionExpiresAt
	}
	out.ClaimsSID = c.IDTokenClaims().String("sid")
	return out
}

func (e *testApp) login() {
	e.t.Helper()
	resp, body := e.b.login(e, "/login")
	require.Contains(e.t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
	require.True(e.t, e.tokens().Authenticated)
}

// tokens fetches /tokens with the browser's cookies.
func (e *testApp) tokens() tkTokens {
	e.t.Helper()
	resp, body := e.b.get(e.url("/tokens"), "Accept", "application/json")
	require.Equal(e.t, http.StatusOK, resp.StatusCode, body)
	var out tkTokens
	require.NoError(e.t, json.Unmarshal([]byte(body), &out))
	return out
}

// run serves one /run request calling fn, with the browser's cookies.
func (e *testApp) run(fn func(w http.ResponseWriter, r *http.Request, c *Context)) *http.Response {
	e.t.Helper()
	e.setRun(fn)
	resp, _ := e.b.get(e.url("/run"), "Accept", "application/json")
	return resp
}

// refresh calls Context.Refresh in a request and returns its results.
func (e *testApp) refresh(opts RefreshOptions) (*AccessToken, error) {
	e.t.Helper()
	var at *AccessToken
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		at, err = c.Refresh(r.Context(), opts)
	})
	return at, err
}

// rawGet sends a GET with exactly the given cookies and no jar.
func (e *testApp) rawGet(path string, cookies []*http.Cookie) (*http.Response, string) {
	e.t.Helper()
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
	require.NoError(e.t, err)
	req.Header.Set("Accept", "application/json")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	b := &browser{t: e.t, client: &client}
	return b.do(req)
}

// jarCookies returns the browser's cookies for the app.
func (e *testApp) jarCookies() []*http.Cookie {
	u, _ := url.Parse(e.url("/"))
	return e.b.jar.Cookies(u)
}

// sessionCookies returns the session cookies a response sets.
func sessionCookies(resp *http.Response) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "appSession") && c.Value != "" {
			out = append(out, c)
		}
	}
	return out
}

func TestAccessTokenAccessor(t *testing.T) {
	t.Parallel()
	t.Run("anonymous: nil and no refresh token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
			assert.Nil(t, c.AccessToken())
			assert.Empty(t, c.RefreshToken())
		})
	})
	t.Run("implicit flow login has no access token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.AuthorizationParams = nil })
		e.login()
		e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
			assert.True(t, c.IsAuthenticated())
			assert.Nil(t, c.AccessToken())
			assert.Empty(t, c.RefreshToken())
		})
	})
	t.Run("code flow exposes token, type, expiry", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: 300 * time.Second}, nil)
		e.login()
		s := e.tokens()
		e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
			at := c.AccessToken()
			require.NotNil(t, at)
			assert.Equal(t, s.AccessToken, string(at.Token))
			assert.Equal(t, "Bearer", at.Type)
			assert.Equal(t, 300*time.Second, at.ExpiresIn)
			assert.Equal(t, e.clk.Now().Add(300*time.Second), at.ExpiresAt)
			assert.False(t, at.IsExpired())
			assert.Equal(t, s.RefreshToken, c.RefreshToken())
			assert.NotContains(t, fmtAll(at), s.AccessToken, "the token must not print")
		})
	})
	t.Run("should handle access token expiry", func(t *testing.T) {
		t.Parallel()
		// REF-07: expires_at comes from the receipt time plus expires_in, and
		// IsExpired has no leeway (expires_at <= now).
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: 300 * time.Second}, nil)
		e.login()
		cases := []struct {
			at      time.Duration // since login
			expired bool
			left    time.Duration
		}{
			{0, false, 300 * time.Second},
			{239 * time.Second, false, 61 * time.Second},
			{299 * time.Second, false, time.Second},
			{300 * time.Second, true, 0},
			{301 * time.Second, true, 0},
		}
		start := e.clk.Now()
		for _, tc := range cases {
			e.clk.mu.Lock()
			e.clk.now = start.Add(tc.at)
			e.clk.mu.Unlock()
			e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
				at := c.AccessToken()
				require.NotNil(t, at)
				assert.Equal(t, tc.expired, at.IsExpired(), "at %s", tc.at)
				assert.Equal(t, tc.left, at.ExpiresIn, "at %s", tc.at)
			})
		}
	})
	t.Run("no expires_in: no AccessToken, token still in the session", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: func(m map[string]any) { delete(m, "expires_in") }}, nil)
		e.login()
		s := e.tokens()
		assert.NotEmpty(t, s.AccessToken)
		assert.False(t, s.HasAccessToken)
	})
	t.Run("token_type is normalised to Bearer", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: func(m map[string]any) { m["token_type"] = "bEaReR" }}, nil)
		e.login()
		assert.Equal(t, "Bearer", e.tokens().TokenType)
	})
	t.Run("IsExpired on a zero AccessToken uses time.Now", func(t *testing.T) {
		t.Parallel()
		assert.True(t, (&AccessToken{}).IsExpired())
		assert.False(t, (&AccessToken{ExpiresAt: time.Now().Add(time.Hour)}).IsExpired())
	})
}

// fmtAll prints v with several verbs.
func fmtAll(v any) string {
	var b strings.Builder
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		b.WriteString(strings.TrimSpace(fmt.Sprintf(verb, v)))
	}
	js, _ := json.Marshal(v)
	b.Write(js)
	return b.String()
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	t.Run("should refresh an access token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		e.clk.Advance(10 * time.Minute)
		at, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		require.NotNil(t, at)
		after := e.tokens()
		assert.NotEqual(t, before.AccessToken, after.AccessToken)
		assert.Equal(t, after.AccessToken, string(at.Token))
		assert.Equal(t, "Bearer", at.Type)
		assert.Equal(t, e.clk.Now().Add(time.Hour).Unix(), after.ExpiresAt)
		assert.Equal(t, time.Hour, at.ExpiresIn)
		// REF-04: the provider rotated the refresh token.
		assert.NotEqual(t, before.RefreshToken, after.RefreshToken)
		assert.NotEmpty(t, after.RefreshToken)
		assert.NotEqual(t, before.IDToken, after.IDToken, "the returned ID token replaces the old one")

		tr := e.op.LastTokenRequest()
		require.NotNil(t, tr)
		assert.Equal(t, "refresh_token", tr.PostForm.Get("grant_type"))
		assert.Equal(t, before.RefreshToken, tr.PostForm.Get("refresh_token"))
		assert.True(t, strings.HasPrefix(tr.Header.Get("Authorization"), "Basic "))
		assert.Empty(t, tr.PostForm.Get("client_secret"))

		// REF-04: the next refresh sends the rotated token.
		_, err = e.refresh(RefreshOptions{})
		require.NoError(t, err)
		assert.Equal(t, after.RefreshToken, e.op.LastTokenRequest().PostForm.Get("refresh_token"))
	})
	t.Run("should retain sid after token refresh", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		require.NotEmpty(t, before.SID)
		_, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		after := e.tokens()
		// oidctest's refreshed ID tokens carry no sid, like Auth0's.
		claims, err := decodeClaims(after.IDToken)
		require.NoError(t, err)
		assert.False(t, claims.Has("sid"))
		assert.Equal(t, before.SID, after.SID)
		assert.Equal(t, before.SID, after.ClaimsSID)
	})
	t.Run("should refresh an access token and keep original refresh token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{DisableRefreshTokenRotation: true}, nil)
		e.login()
		before := e.tokens()
		_, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		after := e.tokens()
		assert.NotEqual(t, before.AccessToken, after.AccessToken)
		assert.Equal(t, before.RefreshToken, after.RefreshToken)
	})
	t.Run("should refresh an access token and pass tokenEndpointParams and refresh argument params to the request", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) {
			c.TokenEndpointParams = map[string]string{"longeLiving": "true", "shared": "config"}
		})
		e.login()
		before := e.tokens()
		// The protocol parameters are refused, naming the key:
		// TestRefreshOptionsReservedParams.
		_, err := e.refresh(RefreshOptions{TokenEndpointParams: map[string]string{"force": "true", "shared": "call"}})
		require.NoError(t, err)
		f := e.op.LastTokenRequest().PostForm
		assert.Equal(t, "true", f.Get("longeLiving"))
		assert.Equal(t, "true", f.Get("force"))
		assert.Equal(t, "call", f.Get("shared"))
		assert.Equal(t, "refresh_token", f.Get("grant_type"))
		assert.Equal(t, before.RefreshToken, f.Get("refresh_token"))
		assert.False(t, f.Has("client_id"))
		assert.False(t, f.Has("client_secret"))
	})
	t.Run("client_secret_post sends the secret in the body", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.ClientAuthMethod = "client_secret_post" })
		e.login()
		_, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		tr := e.op.LastTokenRequest()
		assert.Empty(t, tr.Header.Get("Authorization"))
		assert.Equal(t, e.op.ClientID(), tr.PostForm.Get("client_id"))
		assert.Equal(t, e.op.ClientSecret(), tr.PostForm.Get("client_secret"))
	})
	t.Run("should preserve sessionExpiresAt in the session after a successful refresh", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		exp := clk.Now().Add(2 * time.Hour).Unix()
		e := newTKApp(t, oidctest.Options{Now: clk.Now, Claims: map[string]any{"session_expiry": exp}},
			func(c *Config) { c.Now = clk.Now })
		e.clk = clk
		e.login()
		require.Equal(t, exp, e.tokens().SessionExpiresAt)
		_, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		assert.Equal(t, exp, e.tokens().SessionExpiresAt)
	})
	t.Run("should throw SessionExpiredError on refresh when sessionExpiresAt ceiling is reached", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		exp := clk.Now().Add(time.Hour).Unix()
		e := newTKApp(t, oidctest.Options{Now: clk.Now, Claims: map[string]any{"session_expiry": exp}},
			func(c *Config) { c.Now = clk.Now })
		e.login()
		calls := e.op.Calls(oidctest.EndpointToken)
		var err error
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			require.True(t, c.IsAuthenticated()) // the session is loaded ...
			clk.Advance(time.Hour - 30*time.Second)
			_, err = c.Refresh(r.Context(), RefreshOptions{}) // ... and then its ceiling is reached
		})
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrSessionExpired)
		assert.Equal(t, http.StatusUnauthorized, statusOf(err, 0))
		assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "no network call")
	})
	t.Run("anonymous: ErrNoRefreshToken without a network call", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		_, err := e.refresh(RefreshOptions{})
		assert.ErrorIs(t, err, ErrNoRefreshToken)
		assert.Equal(t, http.StatusUnauthorized, statusOf(err, 0))
		assert.Zero(t, e.op.Calls(oidctest.EndpointToken))
	})
	t.Run("no expires_in in the refresh answer: nil AccessToken, session updated", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		e.op.SetOptions(func(o *oidctest.Options) {
			o.MutateTokenResponse = func(m map[string]any) { delete(m, "expires_in") }
		})
		at, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		assert.Nil(t, at)
		after := e.tokens()
		assert.NotEqual(t, before.AccessToken, after.AccessToken)
		assert.Zero(t, after.ExpiresAt)
		assert.False(t, after.HasAccessToken)
	})
	t.Run("invalid answers leave the session unchanged", func(t *testing.T) {
		t.Parallel()
		for name, mutate := range map[string]func(map[string]any){
			"no access_token":      func(m map[string]any) { delete(m, "access_token") },
			"no token_type":        func(m map[string]any) { delete(m, "token_type") },
			"unknown token_type":   func(m map[string]any) { m["token_type"] = "mac" },
			"bad expires_in":       func(m map[string]any) { m["expires_in"] = "soon" },
			"empty refresh_token":  func(m map[string]any) { m["refresh_token"] = "" },
			"id_token not a token": func(m map[string]any) { m["id_token"] = 42 },
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newTKApp(t, oidctest.Options{}, nil)
				e.login()
				before := e.tokens()
				e.op.SetOptions(func(o *oidctest.Options) { o.MutateTokenResponse = mutate })
				_, err := e.refresh(RefreshOptions{})
				var pe *ProviderError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, http.StatusBadGateway, pe.StatusCode)
				assert.ErrorIs(t, err, ErrTokenExchange)
				assert.NotErrorIs(t, err, ErrProviderUnavailable)
				assert.Equal(t, before, e.tokens())
			})
		}
	})
}

// TestRefreshIDTokenChecks is catalog REF-01: a refreshed ID token from
// another issuer, for another subject or audience, or with a bad signature
// fails the refresh and leaves the session unchanged; no ID token keeps the
// old one.
func TestRefreshIDTokenChecks(t *testing.T) {
	t.Parallel()
	tamper := func(m map[string]any) {
		if id, ok := m["id_token"].(string); ok {
			b := []byte(id)
			i := len(b) - 5
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			m["id_token"] = string(b)
		}
	}
	cases := []struct {
		name      string
		idToken   func(h, c map[string]any)
		response  func(m map[string]any)
		wantError bool
	}{
		{name: "other issuer", idToken: func(_, c map[string]any) { c["iss"] = c["iss"].(string) + "1" }, wantError: true},
		{name: "other subject", idToken: func(_, c map[string]any) { c["sub"] = "mallory" }, wantError: true},
		{name: "other audience", idToken: func(_, c map[string]any) { c["aud"] = "other-client" }, wantError: true},
		{name: "extra audience (valid azp)", idToken: func(_, c map[string]any) {
			c["aud"] = []any{c["aud"], "other-client"}
			c["azp"] = "test-client"
		}, wantError: true},
		{name: "expired", idToken: func(_, c map[string]any) { c["exp"] = float64(time.Now().Add(-time.Hour).Unix()) }, wantError: true},
		{name: "bad signature", response: tamper, wantError: true},
		{name: "alg none", idToken: func(h, _ map[string]any) { h["alg"] = "none" }, wantError: true},
		{name: "no id_token keeps the old one", response: func(m map[string]any) { delete(m, "id_token") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTKApp(t, oidctest.Options{}, nil)
			e.login()
			before := e.tokens()
			userinfo := e.op.Calls(oidctest.EndpointUserinfo)
			e.op.SetOptions(func(o *oidctest.Options) {
				if tc.idToken != nil {
					o.MutateIDToken = tc.idToken
				}
				o.MutateTokenResponse = tc.response
			})
			_, err := e.refresh(RefreshOptions{})
			after := e.tokens()
			if !tc.wantError {
				require.NoError(t, err)
				assert.Equal(t, before.IDToken, after.IDToken)
				assert.NotEqual(t, before.AccessToken, after.AccessToken)
				return
			}
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "invalid_id_token", pe.Code)
			assert.Equal(t, http.StatusBadGateway, pe.StatusCode)
			assert.ErrorIs(t, err, ErrInvalidIDToken)
			assert.ErrorIs(t, err, ErrTokenExchange)
			assert.Equal(t, before, after, "the session must not change")
			assert.Equal(t, userinfo, e.op.Calls(oidctest.EndpointUserinfo))
		})
	}
}

// TestRefreshInvalidGrant: invalid_grant is final for the refresh token. By
// default the session ends; with KeepSessionOnInvalidGrant only the API
// tokens are removed. Either way no further refresh is attempted with the
// refused token, also by requests still carrying the old cookie.
func TestRefreshInvalidGrant(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepSessionOnInvalidGrant=%v", keep), func(t *testing.T) {
			t.Parallel()
			e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.KeepSessionOnInvalidGrant = keep })
			e.login()
			before := e.tokens()
			oldCookies := e.jarCookies()
			e.op.RevokeAll()
			calls := e.op.Calls(oidctest.EndpointToken)

			_, err := e.refresh(RefreshOptions{})
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "invalid_grant", pe.Code)
			assert.Equal(t, http.StatusBadRequest, pe.StatusCode)
			assert.ErrorIs(t, err, ErrTokenExchange)
			assert.NotErrorIs(t, err, ErrProviderUnavailable)
			assert.NotContains(t, err.Error(), before.RefreshToken)

			after := e.tokens()
			if keep {
				assert.True(t, after.Authenticated, "the user stays logged in with the ID token")
				assert.Equal(t, before.IDToken, after.IDToken)
				assert.Equal(t, before.SID, after.SID)
			} else {
				assert.False(t, after.Authenticated, "the session has ended")
				assert.Empty(t, after.IDToken)
			}
			assert.Empty(t, after.AccessToken)
			assert.Empty(t, after.RefreshToken)
			assert.Empty(t, after.TokenType)
			assert.Zero(t, after.ExpiresAt)

			for range 10 {
				_, err := e.refresh(RefreshOptions{})
				assert.ErrorIs(t, err, ErrNoRefreshToken)
			}
			// Requests still carrying the old cookie adopt the remembered
			// answer.
			e.mu.Lock()
			e.fn = func(w http.ResponseWriter, r *http.Request, c *Context) {
				_, err := c.Refresh(r.Context(), RefreshOptions{})
				var pe *ProviderError
				if errors.As(err, &pe) {
					_, _ = w.Write([]byte(pe.Code))
				}
			}
			e.mu.Unlock()
			for range 10 {
				resp, body := e.rawGet("/run", oldCookies)
				assert.Equal(t, "invalid_grant", body)
				if keep {
					require.NotEmpty(t, sessionCookies(resp))
					_, tokens := e.rawGet("/tokens", sessionCookies(resp))
					assert.NotContains(t, tokens, before.RefreshToken, "the old cookie's tokens are removed too")
				} else {
					assert.Empty(t, sessionCookies(resp))
					assert.NotEmpty(t, setCookies(resp, "appSession"), "the old cookie is cleared too")
				}
			}
			assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken), "one refresh attempt in all")
		})
	}
}

// TestRefreshProviderFailures is catalog REF-06: outages keep the session,
// and the same session refreshes fine after recovery.
func TestRefreshProviderFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		setup      func(e *testApp)
		wantStatus int
	}{
		{"503", func(e *testApp) { e.op.SetDown(true) }, http.StatusServiceUnavailable},
		{"500 with an OAuth error", func(e *testApp) {
			e.op.SetOptions(func(o *oidctest.Options) {
				o.Intercept = tkFail(http.StatusInternalServerError, `{"error":"server_error"}`)
			})
		}, http.StatusInternalServerError},
		{"502 HTML", func(e *testApp) {
			e.op.SetOptions(func(o *oidctest.Options) { o.Intercept = tkFail(http.StatusBadGateway, `<html>bad gateway</html>`) })
		}, http.StatusBadGateway},
		{"timeout", func(e *testApp) {
			e.op.SetOptions(func(o *oidctest.Options) { o.Latency = 3 * time.Second })
		}, http.StatusServiceUnavailable},
		{"connection reset", func(e *testApp) {
			e.op.SetOptions(func(o *oidctest.Options) {
				o.Intercept = func(ep string, w http.ResponseWriter, _ *http.Request) bool {
					if ep != oidctest.EndpointToken {
						return false
					}
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						if tc, ok := conn.(*net.TCPConn); ok {
							_ = tc.SetLinger(0)
						}
						_ = conn.Close()
					}
					return true
				}
			})
		}, http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.HTTPTimeout = 500 * time.Millisecond })
			e.login()
			before := e.tokens()
			e.clk.Advance(2 * time.Hour) // the access token has expired
			tc.setup(e)
			_, err := e.refresh(RefreshOptions{})
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.ErrorIs(t, err, ErrProviderUnavailable)
			assert.ErrorIs(t, err, ErrTokenExchange)
			assert.Equal(t, tc.wantStatus, pe.StatusCode)
			assert.Equal(t, before, e.tokens(), "the session is kept")

			// Recovery: the same session refreshes fine.
			e.op.SetDown(false)
			e.op.SetOptions(func(o *oidctest.Options) { o.Intercept, o.Latency = nil, 0 })
			at, err := e.refresh(RefreshOptions{})
			require.NoError(t, err)
			assert.False(t, at.IsExpired())
			assert.NotEqual(t, before.RefreshToken, e.tokens().RefreshToken)
		})
	}
}

// tkFail is an Intercept that answers the token endpoint with status and
// body.
func tkFail(status int, body string) func(string, http.ResponseWriter, *http.Request) bool {
	return answerAt(oidctest.EndpointToken, status, body)
}

// answerAt is an Intercept that answers the endpoint named ep with status
// and body (JSON when it starts with "{", else HTML).
func answerAt(ep string, status int, body string) func(string, http.ResponseWriter, *http.Request) bool {
	return func(name string, w http.ResponseWriter, _ *http.Request) bool {
		if name != ep {
			return false
		}
		if strings.HasPrefix(body, "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/html")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}

func TestRefreshOAuthErrors(t *testing.T) {
	t.Parallel()
	t.Run("invalid_client keeps the session, status from the provider", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		e.op.SetOptions(func(o *oidctest.Options) { o.ClientSecret = "rotated-secret" })
		_, err := e.refresh(RefreshOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "invalid_client", pe.Code)
		assert.Equal(t, http.StatusUnauthorized, pe.StatusCode)
		assert.NotEmpty(t, pe.Description)
		assert.Equal(t, before, e.tokens())
	})
	t.Run("echoed tokens are removed from the description", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		rt := e.tokens().RefreshToken
		e.op.SetOptions(func(o *oidctest.Options) {
			o.Intercept = func(ep string, w http.ResponseWriter, r *http.Request) bool {
				if ep != oidctest.EndpointToken {
					return false
				}
				_ = r.ParseForm()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{
					"error":             "invalid_request",
					"error_description": "bad token " + r.PostForm.Get("refresh_token") + "\r\nX-Injected: 1",
				})
				return true
			}
		})
		_, err := e.refresh(RefreshOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "invalid_request", pe.Code)
		assert.NotContains(t, err.Error(), rt)
		assert.NotContains(t, fmtAll(err), rt)
		assert.Contains(t, pe.Description, "[REDACTED]")
		assert.NotContains(t, pe.Description, "\n")
	})
	t.Run("the default ErrorHandler renders a ProviderError with its status", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		e.op.RevokeAll()
		resp := e.run(func(w http.ResponseWriter, r *http.Request, c *Context) {
			_, err := c.Refresh(r.Context(), RefreshOptions{})
			c.m.s.errorHandler(w, r, err)
		})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}

// TestRefreshConcurrent is catalog REF-02 and REF-08: twenty requests of one
// session whose access token has expired share one refresh grant, all see
// the same new access token, their responses carry the rotated refresh
// token, and a late request with the old cookie adopts the result.
func TestRefreshConcurrent(t *testing.T) {
	t.Parallel()
	e := newTKApp(t, oidctest.Options{RefreshTokenReuseDetection: true}, nil)
	e.login()
	before := e.tokens()
	cookies := e.jarCookies()
	e.clk.Advance(time.Hour + time.Second)
	e.op.SetOptions(func(o *oidctest.Options) { o.Latency = 300 * time.Millisecond })
	calls := e.op.Calls(oidctest.EndpointToken)

	e.mu.Lock()
	e.fn = func(w http.ResponseWriter, r *http.Request, c *Context) {
		at := c.AccessToken()
		if at == nil {
			http.Error(w, "no token", http.StatusInternalServerError)
			return
		}
		if at.IsExpired() {
			var err error
			if at, err = c.Refresh(r.Context(), RefreshOptions{}); err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
		}
		_, _ = w.Write([]byte(at.Token))
	}
	e.mu.Unlock()

	const n = 20
	var wg sync.WaitGroup
	bodies := make([]string, n)
	setCookies := make([][]*http.Cookie, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, body := e.rawGet("/run", cookies)
			if resp.StatusCode == http.StatusOK {
				bodies[i] = body
			}
			setCookies[i] = sessionCookies(resp)
		}()
	}
	close(start)
	wg.Wait()

	assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken), "exactly one refresh grant")
	require.NotEmpty(t, bodies[0])
	assert.NotEqual(t, before.AccessToken, bodies[0])
	var rotated string
	for i := range n {
		assert.Equal(t, bodies[0], bodies[i], "request %d", i)
		require.NotEmpty(t, setCookies[i], "request %d sets the session", i)
		_, body := e.rawGet("/tokens", setCookies[i])
		var s tkTokens
		require.NoError(t, json.Unmarshal([]byte(body), &s))
		assert.Equal(t, bodies[0], s.AccessToken)
		assert.NotEqual(t, before.RefreshToken, s.RefreshToken, "request %d carries the rotated refresh token", i)
		if rotated == "" {
			rotated = s.RefreshToken
		}
		assert.Equal(t, rotated, s.RefreshToken)
	}

	// REF-08: a late request with the old cookie adopts the result.
	resp, body := e.rawGet("/run", cookies)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, bodies[0], body)
	_, tokens := e.rawGet("/tokens", sessionCookies(resp))
	assert.Contains(t, tokens, rotated)
	assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken))

	// The rotated token still works: reuse detection never fired.
	e.clk.Advance(time.Hour + time.Second)
	resp, body = e.rawGet("/run", setCookies[3])
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.NotEqual(t, bodies[0], body)
	assert.Equal(t, calls+2, e.op.Calls(oidctest.EndpointToken))
}

// TestTokenSecretsNotLogged is catalog HDR-05 for the token APIs.
func TestTokenSecretsNotLogged(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.Logger = logger })
	e.login()
	before := e.tokens()
	_, err := e.refresh(RefreshOptions{})
	require.NoError(t, err)
	after := e.tokens()
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		_, _ = c.FetchUserInfo(r.Context())
		_, _ = c.CustomTokenExchange(r.Context(), TokenExchangeOptions{Extra: map[string]string{"client_secret": "x"}})
	})
	e.op.RevokeAll()
	_, err = e.refresh(RefreshOptions{})
	require.Error(t, err)
	mu.Lock()
	logs := buf.String()
	mu.Unlock()
	for _, secret := range []string{before.AccessToken, before.RefreshToken, before.IDToken, after.AccessToken,
		after.RefreshToken, after.IDToken, e.op.ClientSecret()} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, "invalid_grant")
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
