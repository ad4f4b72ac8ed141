package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/oidctest"
)

const (
	apiA = "https://api-a.example/"
	apiB = "https://api-b.example/"
	apiC = "https://api-c.example/"
)

// newResourceApp is a code-flow tkApp whose logins ask for apiA, apiB and
// apiC at a provider with resource indicators.
func newResourceApp(t *testing.T, opts oidctest.Options, mutate func(*Config)) *testApp {
	t.Helper()
	opts.Resources = []string{apiA, apiB, apiC, "https://api-d.example/"}
	return newTKApp(t, opts, func(c *Config) {
		c.AuthorizationParams["resource"] = apiA + " " + apiB + " " + apiC
		if mutate != nil {
			mutate(c)
		}
	})
}

// tokenFor calls AccessTokenFor in a request.
func (e *testApp) tokenFor(resource string, scopes ...string) (*AccessToken, error) {
	e.t.Helper()
	var at *AccessToken
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		at, err = c.AccessTokenFor(r.Context(), resource, scopes...)
	})
	return at, err
}

// session returns a copy of the browser's session.
func (e *testApp) session() Session {
	e.t.Helper()
	var s Session
	e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
		cur, ok := c.Session()
		require.True(e.t, ok)
		s = cur
	})
	return s
}

// callAPI calls the provider's fake API for audience with tok (and a DPoP
// proof for DPoP tokens) and returns the status.
func (e *testApp) callAPI(audience string, tok *AccessToken) int {
	e.t.Helper()
	srv := httptest.NewServer(e.op.Resource(audience))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/things", nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", tok.Type+" "+string(tok.Token))
	if tok.Type == "DPoP" {
		e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
			proof, err := c.DPoPProofFor(tok, http.MethodGet, req.URL.String())
			require.NoError(e.t, err)
			req.Header.Set("DPoP", proof)
		})
	}
	resp, err := srv.Client().Do(req)
	require.NoError(e.t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestAccessTokenForLoginParameters: every resource of AuthorizationParams
// is its own parameter, in the authorization URL, the PAR body and the
// request object, and the code exchange sends none.
func TestAccessTokenForLoginParameters(t *testing.T) {
	t.Parallel()
	rsa := ckKeys().rsa
	tests := []struct {
		name   string
		mutate func(*Config)
		sent   func(e *testApp, loc *url.URL) []string
	}{
		{"query", nil, func(_ *testApp, loc *url.URL) []string { return loc.Query()["resource"] }},
		{"PAR", func(c *Config) { c.PushedAuthorizationRequests = true }, func(e *testApp, _ *url.URL) []string {
			r := e.op.LastPARRequest()
			require.NotNil(e.t, r)
			return r.PostForm["resource"]
		}},
		{"JAR", func(c *Config) { c.RequestObjectSigningKey, c.RequestObjectSigningAlg = rsa, "RS256" },
			func(e *testApp, loc *url.URL) []string {
				parts := strings.Split(loc.Query().Get("request"), ".")
				require.Len(e.t, parts, 3)
				var claims struct {
					Resource []string `json:"resource"`
				}
				raw, err := base64.RawURLEncoding.DecodeString(parts[1])
				require.NoError(e.t, err)
				require.NoError(e.t, json.Unmarshal(raw, &claims))
				return claims.Resource
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := oidctest.Options{}
			if tt.name == "JAR" {
				opts.ClientPublicKey = rsa.Public()
			}
			e := newResourceApp(t, opts, tt.mutate)
			resp, _ := e.b.get(e.url("/login"))
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, []string{apiA, apiB, apiC}, tt.sent(e, loc))
			cb, method, vals := e.b.authorize(resp)
			resp, body := e.b.deliver(cb, method, vals)
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			tok := e.tokens()
			info, ok := e.op.AccessTokenInfo(tok.AccessToken)
			require.True(t, ok)
			assert.Equal(t, e.op.UserinfoAudience(), info.Audience, "the session's own token is for userinfo")
		})
	}
}

// TestAccessTokenFor covers the token for each API in cookie and store
// mode: from a grant, then from the session across requests, again from a
// grant once expired; each API accepts only its own token.
func TestAccessTokenFor(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cookie", "store"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newResourceApp(t, oidctest.Options{}, func(c *Config) {
				if mode == "store" {
					c.Session.Store = NewMemoryStore()
				}
			})
			e.login()
			before := e.tokens()
			calls := e.op.Calls(oidctest.EndpointToken)

			tokA, err := e.tokenFor(apiA)
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tokA.Type)
			assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken))
			form := e.op.LastTokenRequest().PostForm
			assert.Equal(t, []string{apiA}, form["resource"])
			assert.Equal(t, "refresh_token", form.Get("grant_type"))
			info, ok := e.op.AccessTokenInfo(string(tokA.Token))
			require.True(t, ok)
			assert.Equal(t, apiA, info.Audience)

			after := e.tokens()
			assert.Equal(t, before.AccessToken, after.AccessToken, "the session's own token stays")
			assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated refresh token is saved")

			tokB, err := e.tokenFor(apiB, "profile")
			require.NoError(t, err)
			info, ok = e.op.AccessTokenInfo(string(tokB.Token))
			require.True(t, ok)
			assert.Equal(t, apiB, info.Audience)
			assert.Equal(t, "profile", info.Scope)
			assert.Equal(t, calls+2, e.op.Calls(oidctest.EndpointToken), "the rotated refresh token worked")

			// Each API accepts its own token only.
			assert.Equal(t, http.StatusOK, e.callAPI(apiA, tokA))
			assert.Equal(t, http.StatusOK, e.callAPI(apiB, tokB))
			assert.Equal(t, http.StatusUnauthorized, e.callAPI(apiB, tokA))
			assert.Equal(t, http.StatusUnauthorized, e.callAPI(apiA, tokB))

			// Kept across requests: no token request.
			again, err := e.tokenFor(apiA)
			require.NoError(t, err)
			assert.Equal(t, tokA.Token, again.Token)
			again, err = e.tokenFor(apiB, "profile")
			require.NoError(t, err)
			assert.Equal(t, tokB.Token, again.Token)
			assert.Equal(t, calls+2, e.op.Calls(oidctest.EndpointToken))
			s := e.session()
			assert.Len(t, s.ResourceTokens, 2)

			// A scope the kept token lacks: a new grant.
			tokB2, err := e.tokenFor(apiB, "profile", "email")
			require.NoError(t, err)
			assert.NotEqual(t, tokB.Token, tokB2.Token)
			assert.Equal(t, calls+3, e.op.Calls(oidctest.EndpointToken))

			// Expired (within the 30 s leeway): a new grant with resource.
			e.clk.Advance(tokA.ExpiresAt.Sub(e.clk.Now()) - 20*time.Second)
			fresh, err := e.tokenFor(apiA)
			require.NoError(t, err)
			assert.NotEqual(t, tokA.Token, fresh.Token)
			assert.Equal(t, calls+4, e.op.Calls(oidctest.EndpointToken))
			assert.Equal(t, []string{apiA}, e.op.LastTokenRequest().PostForm["resource"])
			assert.Equal(t, http.StatusOK, e.callAPI(apiA, fresh))
		})
	}
}

// TestAccessTokenForEviction: at most MaxResourceTokens are kept; the least
// recently used goes first.
func TestAccessTokenForEviction(t *testing.T) {
	t.Parallel()
	e := newResourceApp(t, oidctest.Options{}, func(c *Config) { c.MaxResourceTokens = 2 })
	e.login()
	_, err := e.tokenFor(apiA)
	require.NoError(t, err)
	e.clk.Advance(2 * time.Minute)
	_, err = e.tokenFor(apiB)
	require.NoError(t, err)
	e.clk.Advance(2 * time.Minute)
	calls := e.op.Calls(oidctest.EndpointToken)
	_, err = e.tokenFor(apiA) // used: now B is the least recently used
	require.NoError(t, err)
	assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken))
	e.clk.Advance(2 * time.Minute)
	_, err = e.tokenFor(apiC)
	require.NoError(t, err)
	s := e.session()
	require.Len(t, s.ResourceTokens, 2)
	assert.Contains(t, s.ResourceTokens, apiA)
	assert.Contains(t, s.ResourceTokens, apiC)
	assert.NotContains(t, s.ResourceTokens, apiB)
}

// TestAccessTokenForSingleFlight: concurrent requests of one session for
// one resource share one token request, and so do concurrent calls in one
// request.
func TestAccessTokenForSingleFlight(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cookie", "store"} {
		t.Run("requests/"+mode, func(t *testing.T) {
			t.Parallel()
			singleFlightRequests(t, mode)
		})
	}
	t.Run("one request", func(t *testing.T) {
		t.Parallel()
		e := newResourceApp(t, oidctest.Options{RefreshTokenReuseDetection: true}, nil)
		e.login()
		calls := e.op.Calls(oidctest.EndpointToken)
		const n = 8
		toks := make([]string, 2*n)
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			var wg sync.WaitGroup
			for i := range 2 * n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := apiA
					if i%2 == 1 {
						res = apiB // another resource: the grants take turns
					}
					if tok, err := c.AccessTokenFor(r.Context(), res); err == nil {
						toks[i] = string(tok.Token)
					}
				}()
			}
			wg.Wait()
		})
		assert.Equal(t, calls+2, e.op.Calls(oidctest.EndpointToken), "one grant per resource")
		for i := range 2 * n {
			require.NotEmpty(t, toks[i], "call %d", i)
			assert.Equal(t, toks[i%2], toks[i])
		}
		assert.Len(t, e.session().ResourceTokens, 2)
	})
}

// TestAccessTokenForErrors: typed errors, and the session unchanged.
func TestAccessTokenForErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		resource string
		scopes   []string
		code     string
		is       []error
		sent     bool
	}{
		{"a resource the login did not ask for", "https://api-d.example/", nil, "invalid_target",
			[]error{ErrInvalidTarget, ErrTokenExchange}, true},
		{"a scope beyond the grant", apiA, []string{"admin"}, "invalid_scope", []error{ErrTokenExchange}, true},
		{"a relative resource", "/api", nil, "invalid_request", []error{ErrBadRequest, ErrTokenExchange}, false},
		{"a fragment", apiA + "#x", nil, "invalid_request", []error{ErrBadRequest}, false},
		{"a bad scope", apiA, []string{"a\"b"}, "invalid_request", []error{ErrBadRequest}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newResourceApp(t, oidctest.Options{}, nil)
			e.login()
			before := e.tokens()
			calls := e.op.Calls(oidctest.EndpointToken)
			tok, err := e.tokenFor(tt.resource, tt.scopes...)
			require.Error(t, err)
			assert.Nil(t, tok)
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.code, pe.Code)
			for _, s := range tt.is {
				assert.ErrorIs(t, err, s)
			}
			if tt.code != "invalid_target" {
				assert.NotErrorIs(t, err, ErrInvalidTarget)
			}
			want := calls
			if tt.sent {
				want++
			}
			assert.Equal(t, want, e.op.Calls(oidctest.EndpointToken))
			assert.Equal(t, before, e.tokens(), "the session is unchanged")
			assert.Empty(t, e.session().ResourceTokens)
		})
	}

	t.Run("not logged in", func(t *testing.T) {
		t.Parallel()
		e := newResourceApp(t, oidctest.Options{}, nil)
		_, err := e.tokenFor(apiA)
		assert.ErrorIs(t, err, ErrNoRefreshToken)
	})
	t.Run("nil Context", func(t *testing.T) {
		t.Parallel()
		var c *Context
		_, err := c.AccessTokenFor(context.Background(), apiA)
		assert.ErrorIs(t, err, ErrNoMiddleware)
	})
	t.Run("response committed", func(t *testing.T) {
		t.Parallel()
		e := newResourceApp(t, oidctest.Options{}, nil)
		e.login()
		kept, err := e.tokenFor(apiA)
		require.NoError(t, err)
		calls := e.op.Calls(oidctest.EndpointToken)
		var errB error
		var gotA *AccessToken
		e.run(func(w http.ResponseWriter, r *http.Request, c *Context) {
			w.WriteHeader(http.StatusNoContent)
			_, errB = c.AccessTokenFor(r.Context(), apiB)
			gotA, _ = c.AccessTokenFor(r.Context(), apiA)
		})
		assert.ErrorIs(t, errB, ErrResponseCommitted)
		require.NotNil(t, gotA, "a kept token is still returned")
		assert.Equal(t, kept.Token, gotA.Token)
		assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "the refresh token was not used")
	})
	t.Run("response committed, store mode", func(t *testing.T) {
		t.Parallel()
		e := newResourceApp(t, oidctest.Options{}, func(c *Config) { c.Session.Store = NewMemoryStore() })
		e.login()
		var tok *AccessToken
		var err error
		e.run(func(w http.ResponseWriter, r *http.Request, c *Context) {
			w.WriteHeader(http.StatusNoContent)
			tok, err = c.AccessTokenFor(r.Context(), apiB)
		})
		require.NoError(t, err, "the store entry is updated at once")
		calls := e.op.Calls(oidctest.EndpointToken)
		again, err := e.tokenFor(apiB)
		require.NoError(t, err)
		assert.Equal(t, tok.Token, again.Token)
		assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken))
	})
	t.Run("invalid_grant ends the session", func(t *testing.T) {
		t.Parallel()
		e := newResourceApp(t, oidctest.Options{}, nil)
		e.login()
		e.op.RevokeAll()
		_, err := e.tokenFor(apiA)
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "invalid_grant", pe.Code)
		assert.False(t, e.tokens().Authenticated)
	})
	t.Run("invalid_grant with KeepSessionOnInvalidGrant", func(t *testing.T) {
		t.Parallel()
		e := newResourceApp(t, oidctest.Options{}, func(c *Config) { c.KeepSessionOnInvalidGrant = true })
		e.login()
		_, err := e.tokenFor(apiA)
		require.NoError(t, err)
		e.clk.Advance(2 * time.Hour)
		e.op.RevokeAll()
		_, err = e.tokenFor(apiA)
		require.Error(t, err)
		tok := e.tokens()
		assert.True(t, tok.Authenticated)
		assert.Empty(t, tok.RefreshToken)
		assert.Empty(t, e.session().ResourceTokens, "the resource tokens went with the others")
	})
}

// TestAccessTokenForCookieCap: in cookie mode the session cookie stays
// under its cap: older resource tokens are dropped, and a token that does
// not fit alone is returned but not kept.
func TestAccessTokenForCookieCap(t *testing.T) {
	t.Parallel()
	// padFor returns the largest pad that lets s (with its resource tokens
	// replaced by n tokens like tok) fit, less a margin.
	padFor := func(e *testApp, s Session, tok ResourceToken, n int) int {
		lo, hi := 0, maxSessionBytes
		for lo < hi {
			mid := (lo + hi + 1) / 2
			c := s.clone()
			c.Values = map[string]any{"pad": strings.Repeat("x", mid)}
			c.ResourceTokens = map[string]ResourceToken{}
			for _, r := range []string{apiA, apiB, apiC}[:n] {
				c.ResourceTokens[r] = tok
			}
			plain, err := c.marshal()
			require.NoError(t, err)
			now := e.clk.Now().Unix()
			if e.m.backend.fits(cookiecrypto.Header{IAT: now, UAT: now, EXP: now + maxSessionLifetimeDigits}, plain) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo - 40
	}
	for _, tt := range []struct {
		name string
		fit  int // tokens that fit with the pad
	}{{"the older token is dropped", 1}, {"the new token is not kept", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newResourceApp(t, oidctest.Options{}, nil)
			e.login()
			_, err := e.tokenFor(apiA)
			require.NoError(t, err)
			s := e.session()
			tok := s.ResourceTokens[apiA]
			if tt.fit == 0 {
				s.ResourceTokens = nil
			}
			s.Values = map[string]any{"pad": strings.Repeat("x", padFor(e, s, tok, tt.fit))}
			e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) { require.NoError(t, c.SetSession(s)) })
			require.Len(t, e.session().ResourceTokens, tt.fit)
			calls := e.op.Calls(oidctest.EndpointToken)
			tokB, err := e.tokenFor(apiB)
			require.NoError(t, err)
			require.NotNil(t, tokB)
			assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken))
			got := e.session()
			assert.NotEmpty(t, got.Values["pad"], "the session was saved")
			if tt.fit == 1 {
				assert.Len(t, got.ResourceTokens, 1)
				assert.Contains(t, got.ResourceTokens, apiB)
			} else {
				assert.Empty(t, got.ResourceTokens)
				// Not kept: the next call asks again.
				_, err = e.tokenFor(apiB)
				require.NoError(t, err)
				assert.Equal(t, calls+2, e.op.Calls(oidctest.EndpointToken))
			}
			for _, c := range e.jarCookies() {
				assert.LessOrEqual(t, len(c.Value), maxCookieSize)
			}
		})
	}
}

// TestAccessTokenForDPoP: with DPoP the resource tokens are bound to the
// key and the API accepts them with a proof from DPoPProofFor.
func TestAccessTokenForDPoP(t *testing.T) {
	t.Parallel()
	key := ckKeys().p256
	opts := oidctest.Options{DPoP: true, DPoPNonce: true}
	opts.Resources = []string{apiA, apiB}
	e := newTKApp(t, opts, func(c *Config) {
		c.DPoP = &DPoPConfig{Key: key}
		c.AuthorizationParams["resource"] = apiA + " " + apiB
	})
	e.login()
	tok, err := e.tokenFor(apiA)
	require.NoError(t, err)
	assert.Equal(t, "DPoP", tok.Type)
	info, ok := e.op.AccessTokenInfo(string(tok.Token))
	require.True(t, ok)
	assert.Equal(t, thumbprint(t, key), info.JKT)
	assert.Equal(t, apiA, info.Audience)
	p := parseDPoPProof(t, e.op.LastDPoPProof(oidctest.EndpointToken))
	assert.Equal(t, e.op.URL()+oidctest.PathToken, p.claims["htu"])

	assert.Equal(t, http.StatusOK, e.callAPI(apiA, tok))
	assert.Equal(t, http.StatusUnauthorized, e.callAPI(apiB, tok))
	assert.Equal(t, "DPoP", e.session().ResourceTokens[apiA].TokenType)

	var perr error
	e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) {
		_, perr = c.DPoPProofFor(&AccessToken{Token: "x", Type: "Bearer"}, http.MethodGet, apiA)
	})
	assert.ErrorIs(t, perr, ErrNotDPoPBound)
}

// TestResourceTokensSessionJSON: sessions without resource tokens are
// express-openid-connect's JSON exactly; with them, one extra key that
// reads back.
func TestResourceTokensSessionJSON(t *testing.T) {
	t.Parallel()
	s := &Session{IDToken: "id", AccessToken: "at", TokenType: "Bearer", ExpiresAt: 10, Values: map[string]any{"k": "v"}}
	plain, err := s.marshal()
	require.NoError(t, err)
	assert.NotContains(t, string(plain), resourceTokensKey)

	s.ResourceTokens = map[string]ResourceToken{apiA: {AccessToken: "ta", TokenType: "DPoP", ExpiresAt: 20, Scope: "r", LastUsed: 5}}
	plain, err = s.marshal()
	require.NoError(t, err)
	assert.Contains(t, string(plain), `"resourceTokens":{"https://api-a.example/":{"access_token":"ta","token_type":"DPoP","expires_at":20,"scope":"r","last_used":5}}`)
	back, err := unmarshalSession(plain)
	require.NoError(t, err)
	assert.Equal(t, s.ResourceTokens, back.ResourceTokens)
	assert.Equal(t, map[string]any{"k": "v"}, back.Values)

	// Entries that could not be read back are not written.
	s.ResourceTokens = map[string]ResourceToken{"": {AccessToken: "x"}, apiB: {}}
	plain, err = s.marshal()
	require.NoError(t, err)
	assert.NotContains(t, string(plain), resourceTokensKey)
	back, err = unmarshalSession(plain)
	require.NoError(t, err)
	assert.Equal(t, Secret("id"), back.IDToken)

	only, err := unmarshalSession([]byte(`{"id_token":"id","resourceTokens":{"https://a/":{"access_token":"t","expires_at":1}}}`))
	require.NoError(t, err)
	assert.Nil(t, only.Values)
	assert.Len(t, only.ResourceTokens, 1)

	for _, bad := range []string{`{"resourceTokens":[]}`, `{"resourceTokens":{"https://a/":{"access_token":""}}}`,
		`{"resourceTokens":{"https://a/":1}}`, `{"resourceTokens":"x"}`} {
		_, err := unmarshalSession([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// TestResourceConfig: invalid resource options are *ConfigErrors.
func TestResourceConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		option string
	}{
		{"negative MaxResourceTokens", func(c *Config) { c.MaxResourceTokens = -1 }, "MaxResourceTokens"},
		{"huge MaxResourceTokens", func(c *Config) { c.MaxResourceTokens = 65 }, "MaxResourceTokens"},
		{"relative resource", func(c *Config) { c.AuthorizationParams = map[string]string{"resource": "https://a/ /b"} },
			`AuthorizationParams["resource"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example", BaseURL: "https://app.example",
				ClientID: "c", LookupEnv: func(string) (string, bool) { return "", false }}
			tt.mutate(&cfg)
			_, err := New(cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.option, ce.Option)
			assert.True(t, errors.Is(err, ErrInvalidConfig))
		})
	}
}

// TestClientFor: the client adds the resource's token, with DPoP proofs
// and a retry for the resource's nonce; the token of another resource is
// refused; AccessTokenFor's errors come back from Do.
func TestClientFor(t *testing.T) {
	t.Parallel()
	for _, dpop := range []bool{false, true} {
		name := "Bearer"
		if dpop {
			name = "DPoP with resource nonces"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := oidctest.Options{Resources: []string{apiA, apiB}}
			if dpop {
				opts.ResourceDPoPNonce = true
			}
			e := newTKApp(t, opts, func(c *Config) {
				if dpop {
					c.DPoP = &DPoPConfig{Key: ckKeys().p256}
				}
				c.AuthorizationParams["resource"] = apiA + " " + apiB
			})
			e.login()
			srvA := httptest.NewServer(e.op.Resource(apiA))
			defer srvA.Close()
			var statuses []int
			var errBad error
			e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
				for _, res := range []string{apiA, apiB, apiA} {
					resp, err := c.ClientFor(r.Context(), res).Get(srvA.URL + "/things?x=1")
					require.NoError(t, err)
					var body map[string]any
					_ = json.NewDecoder(resp.Body).Decode(&body)
					_ = resp.Body.Close()
					statuses = append(statuses, resp.StatusCode)
					if resp.StatusCode == http.StatusOK {
						assert.Equal(t, apiA, body["aud"])
					}
				}
				_, errBad = c.ClientFor(r.Context(), "not a resource").Get(srvA.URL)
			})
			assert.Equal(t, []int{http.StatusOK, http.StatusUnauthorized, http.StatusOK}, statuses)
			assert.ErrorIs(t, errBad, ErrBadRequest)
			assert.Len(t, e.session().ResourceTokens, 2)
		})
	}
}

// TestAccessTokenForNoExpiry: a token whose answer has no expires_in is
// returned but not kept, so the next call asks again.
func TestAccessTokenForNoExpiry(t *testing.T) {
	t.Parallel()
	e := newResourceApp(t, oidctest.Options{}, nil)
	e.login()
	e.op.SetOptions(func(o *oidctest.Options) {
		o.Intercept = answerAt(oidctest.EndpointToken, http.StatusOK, `{"access_token":"no-expiry","token_type":"Bearer"}`)
	})
	calls := e.op.Calls(oidctest.EndpointToken)
	for i := range 2 {
		// Past the minute in which the shared grant's result is reused.
		e.clk.Advance(61 * time.Second)
		tok, err := e.tokenFor(apiA)
		require.NoError(t, err)
		assert.Equal(t, Secret("no-expiry"), tok.Token)
		assert.True(t, tok.ExpiresAt.IsZero())
		assert.Equal(t, calls+i+1, e.op.Calls(oidctest.EndpointToken))
	}
	assert.Empty(t, e.session().ResourceTokens)
	assert.True(t, e.tokens().Authenticated)
}

// singleFlightRequests: concurrent requests of one session (cookie or
// store mode) for one resource share one grant.
func singleFlightRequests(t *testing.T, mode string) {
	e := newResourceApp(t, oidctest.Options{RefreshTokenReuseDetection: true}, func(c *Config) {
		if mode == "store" {
			c.Session.Store = NewMemoryStore()
		}
	})
	e.login()
	cookies := e.jarCookies()
	e.op.SetOptions(func(o *oidctest.Options) { o.Latency = 100 * time.Millisecond })
	calls := e.op.Calls(oidctest.EndpointToken)
	e.mu.Lock()
	e.fn = func(w http.ResponseWriter, r *http.Request, c *Context) {
		tok, err := c.AccessTokenFor(r.Context(), apiA)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(tok.Token))
	}
	e.mu.Unlock()
	const n = 12
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := e.rawGet("/run", cookies)
			if resp.StatusCode == http.StatusOK {
				bodies[i] = body
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken), "one grant")
	for i := range n {
		assert.NotEmpty(t, bodies[i], "request %d", i)
		assert.Equal(t, bodies[0], bodies[i], "request %d", i)
	}
}

// TestLoginInvalidTarget: a login whose resource the provider refuses
// fails with an error wrapping ErrInvalidTarget and ErrAuthorization.
func TestLoginInvalidTarget(t *testing.T) {
	t.Parallel()
	var got error
	var mu sync.Mutex
	e := newTKApp(t, oidctest.Options{Resources: []string{apiA}}, func(c *Config) {
		c.AuthorizationParams["resource"] = apiA + " " + apiB
		c.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			mu.Lock()
			got = err
			mu.Unlock()
			http.Error(w, "refused", statusOf(err, http.StatusInternalServerError))
		}
	})
	resp, body := e.b.login(e, "/login")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	mu.Lock()
	defer mu.Unlock()
	var oe *Error
	require.ErrorAs(t, got, &oe)
	assert.Equal(t, "invalid_target", oe.Code)
	assert.ErrorIs(t, got, ErrInvalidTarget)
	assert.ErrorIs(t, got, ErrAuthorization)
	assert.False(t, e.tokens().Authenticated)
}
