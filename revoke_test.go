package oidc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
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

// rvRecorder is an Intercept that records the revocation requests and lets
// them through to the provider (or hands them to answer, when set).
type rvRecorder struct {
	mu     sync.Mutex
	forms  []url.Values
	auths  []string
	answer func(w http.ResponseWriter, r *http.Request) bool
}

func (rr *rvRecorder) intercept(ep string, w http.ResponseWriter, r *http.Request) bool {
	if ep != oidctest.EndpointRevoke {
		return false
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	rr.mu.Lock()
	rr.forms = append(rr.forms, form)
	rr.auths = append(rr.auths, r.Header.Get("Authorization"))
	answer := rr.answer
	rr.mu.Unlock()
	if answer != nil {
		return answer(w, r)
	}
	return false
}

func (rr *rvRecorder) requests() ([]url.Values, []string) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.forms, rr.auths
}

// rvFixture is what newRVApp sets up besides the app: the recorder on the
// provider's revocation endpoint, the captured log, and the refresh token
// of the session of the app's browser.
type rvFixture struct {
	rec  *rvRecorder
	capt *exCapture
	rt   string
}

// newRVApp is a code-flow app whose browser (a.b) is logged in with a
// refresh token in its session.
func newRVApp(t *testing.T, opOpts oidctest.Options, mutate func(*Config)) (*testApp, *rvFixture) {
	t.Helper()
	rec := &rvRecorder{}
	opOpts.Intercept = rec.intercept
	capt := &exCapture{}
	app := newTestApp(t, withProvider(opOpts), withConfig(func(c *Config) {
		codeFlow(c)
		c.Logger = capt.logger()
		if mutate != nil {
			mutate(c)
		}
	}), withHandler(loHandler()))
	resp, body := app.b.login(app, "/login")
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
	return app, &rvFixture{rec: rec, capt: capt, rt: loTokens(t, app, app.b, "")["refresh_token"]}
}

// rvLogout logs out, checks the logout response, and waits for the
// background revocation.
func rvLogout(a *testApp) {
	a.t.Helper()
	resp, _ := a.b.get(a.url("/logout"))
	require.Equal(a.t, http.StatusFound, resp.StatusCode)
	loAssertCleared(a.t, resp, []string{"appSession"}, "/")
	a.m.revocations.Wait()
	assert.Equal(a.t, false, a.b.session(a)["authenticated"])
}

// rvRefreshWorks reports whether the provider still accepts rt.
func rvRefreshWorks(a *testApp, rt string) bool {
	a.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, err := http.NewRequest(http.MethodPost, a.op.URL()+oidctest.PathToken, strings.NewReader(form.Encode()))
	require.NoError(a.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.op.ClientID(), url.QueryEscape(a.op.ClientSecret()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestLogoutRevokesRefreshToken: a logout revokes the session's refresh
// token at the provider's revocation_endpoint, with the client
// authentication of the token endpoint.
func TestLogoutRevokesRefreshToken(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t/with+special=chars&more-0123456789"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, method := range []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"} {
		for _, store := range []bool{false, true} {
			name := method
			if store {
				name += ", store"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				opts := oidctest.Options{ClientSecret: secret,
					// Basic too, for refreshWorks.
					TokenEndpointAuthMethods: []string{method, "client_secret_basic"}}
				if method == "private_key_jwt" {
					opts.ClientPublicKey = key.Public()
				}
				a, rv := newRVApp(t, opts, func(c *Config) {
					c.ClientAuthMethod = method
					if method == "private_key_jwt" {
						c.ClientAssertionSigningKey = key
					}
					if store {
						c.Session.Store = NewMemoryStore()
					}
				})
				require.NotEmpty(t, rv.rt)
				tokenAssertion := a.op.LastTokenRequest().PostForm.Get("client_assertion")
				rvLogout(a)

				assert.Equal(t, 1, a.op.Calls(oidctest.EndpointRevoke))
				forms, auths := rv.rec.requests()
				require.Len(t, forms, 1)
				f := forms[0]
				assert.Equal(t, rv.rt, f.Get("token"))
				assert.Equal(t, "refresh_token", f.Get("token_type_hint"))
				switch method {
				case "client_secret_basic":
					assert.True(t, strings.HasPrefix(auths[0], "Basic "))
					assert.False(t, f.Has("client_secret"))
				case "client_secret_post":
					assert.Equal(t, secret, f.Get("client_secret"))
					assert.Equal(t, a.op.ClientID(), f.Get("client_id"))
				default:
					assert.Equal(t, clientAssertionType, f.Get("client_assertion_type"))
					assert.NotEmpty(t, f.Get("client_assertion"))
					assert.NotEqual(t, tokenAssertion, f.Get("client_assertion"), "a fresh assertion")
				}
				assert.False(t, rvRefreshWorks(a, rv.rt), "the revoked refresh token no longer works")
				logs, _ := rv.capt.result()
				assert.NotContains(t, logs, "WARN")
				assert.NotContains(t, logs, rv.rt)
			})
		}
	}

	t.Run("without cached metadata", func(t *testing.T) {
		t.Parallel()
		a, rv := newRVApp(t, oidctest.Options{}, nil)
		m, err := New(a.cfg) // a restarted instance: nothing discovered yet
		require.NoError(t, err)
		a.m = m
		a.srv.Config.Handler = m.Handler(loHandler())
		a.op.ResetCalls()
		rvLogout(a)
		assert.Equal(t, 1, a.op.Calls(oidctest.EndpointDiscovery))
		assert.Equal(t, 1, a.op.Calls(oidctest.EndpointRevoke))
		assert.False(t, rvRefreshWorks(a, rv.rt))
	})
}

// TestLogoutRevocationNeverBlocks: the revocation runs after the logout
// response; a provider that is down, refuses, fails or hangs never delays
// or fails the logout, and the failure is logged without the token.
func TestLogoutRevocationNeverBlocks(t *testing.T) {
	t.Parallel()
	answer := func(status int, body string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return true
		}
	}
	cases := []struct {
		name    string
		setup   func(a *testApp, rv *rvFixture)
		wantLog string
	}{
		{"provider down", func(a *testApp, rv *rvFixture) { a.op.SetDown(true) }, "503"},
		{"revocation refused", func(a *testApp, rv *rvFixture) {
			rv.rec.answer = answer(http.StatusBadRequest, `{"error":"unsupported_token_type"}`)
		}, "400 unsupported_token_type"},
		{"revocation endpoint fails", func(a *testApp, rv *rvFixture) {
			rv.rec.answer = answer(http.StatusInternalServerError, `{"error":"server_error"}`)
		}, "500 server_error"},
		{"revocation endpoint hangs", func(a *testApp, rv *rvFixture) {
			rv.rec.answer = func(_ http.ResponseWriter, r *http.Request) bool {
				<-r.Context().Done() // until the middleware gives up
				return true
			}
		}, "refresh token not revoked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, rv := newRVApp(t, oidctest.Options{}, func(c *Config) { c.HTTPTimeout = 500 * time.Millisecond })
			rv.rec.mu.Lock()
			tc.setup(a, rv)
			rv.rec.mu.Unlock()
			rvLogout(a)
			assert.Equal(t, 1, a.op.Calls(oidctest.EndpointRevoke))
			logs, _ := rv.capt.result()
			assert.Contains(t, logs, "level=WARN msg=\"oidc: refresh token not revoked at logout\"")
			assert.Contains(t, logs, tc.wantLog)
			assert.NotContains(t, logs, rv.rt)
		})
	}

	t.Run("the logout response comes first", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		// Without rotation, so that refreshWorks leaves the token valid.
		a, rv := newRVApp(t, oidctest.Options{DisableRefreshTokenRotation: true}, nil)
		rv.rec.mu.Lock()
		// The revocation is held until the test has the whole logout
		// response. A logout that waited for it would give up on it first
		// (HTTPTimeout), and the token would stay valid.
		rv.rec.answer = func(_ http.ResponseWriter, r *http.Request) bool {
			select {
			case <-release:
				return false // now revoke for real
			case <-r.Context().Done():
				return true
			}
		}
		rv.rec.mu.Unlock()
		resp, _ := a.b.get(a.url("/logout"))
		require.Equal(t, http.StatusFound, resp.StatusCode, "the whole logout response arrived")
		loAssertCleared(t, resp, []string{"appSession"}, "/")
		assert.Equal(t, false, a.b.session(a)["authenticated"])
		assert.True(t, rvRefreshWorks(a, rv.rt), "not revoked yet")
		close(release)
		a.m.revocations.Wait()
		assert.Equal(t, 1, a.op.Calls(oidctest.EndpointRevoke))
		assert.False(t, rvRefreshWorks(a, rv.rt), "revoked once released")
	})
}

// TestLogoutWithoutRevocation: no revocation request without a refresh
// token or without a usable revocation_endpoint; the logout is unaffected.
func TestLogoutWithoutRevocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts oidctest.Options
		cfg  func(*Config)
	}{
		{"no refresh token", oidctest.Options{MutateTokenResponse: func(r map[string]any) { delete(r, "refresh_token") }}, nil},
		{"implicit flow", oidctest.Options{}, func(c *Config) { c.AuthorizationParams = map[string]string{"response_type": "id_token"} }},
		{"no revocation_endpoint", oidctest.Options{MutateDiscovery: func(d map[string]any) { delete(d, "revocation_endpoint") }}, nil},
		{"malformed revocation_endpoint", oidctest.Options{MutateDiscovery: func(d map[string]any) { d["revocation_endpoint"] = 42 }}, nil},
		{"relative revocation_endpoint", oidctest.Options{MutateDiscovery: func(d map[string]any) { d["revocation_endpoint"] = "/revoke" }}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, rv := newRVApp(t, tc.opts, tc.cfg)
			rvLogout(a)
			assert.Zero(t, a.op.Calls(oidctest.EndpointRevoke))
			if rv.rt != "" {
				assert.True(t, rvRefreshWorks(a, rv.rt))
			}
			logs, _ := rv.capt.result()
			if rv.rt != "" {
				assert.NotContains(t, logs, rv.rt)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
