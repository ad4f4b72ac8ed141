package oidc

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// pexAssert checks that errors.As finds a *ProviderError with code and
// status in err.
func pexAssert(t *testing.T, err error, code string, status int) *ProviderError {
	t.Helper()
	var pe *ProviderError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, code, pe.Code)
	assert.Equal(t, status, pe.StatusCode)
	return pe
}

// TestProviderErrorFromContextMethods: every Context method that talks to
// the provider yields an error in which errors.As finds the
// *ProviderError, whatever the provider did; local failures keep their
// own errors.
func TestProviderErrorFromContextMethods(t *testing.T) {
	t.Parallel()
	t.Run("Refresh: an OAuth error", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		e.op.RevokeAll()
		_, err := e.refresh(RefreshOptions{})
		pe := pexAssert(t, err, "invalid_grant", http.StatusBadRequest)
		assert.ErrorIs(t, pe, ErrTokenExchange)
	})
	t.Run("Refresh: an outage", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		e.op.SetDown(true)
		_, err := e.refresh(RefreshOptions{})
		pe := pexAssert(t, err, "provider_unavailable", http.StatusServiceUnavailable)
		assert.ErrorIs(t, pe, ErrProviderUnavailable)
	})
	t.Run("TokenSource and Client, through Refresh", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: time.Minute}, nil)
		e.login()
		e.clk.Advance(time.Hour)
		e.op.SetDown(true)
		_, err := e.token()
		pexAssert(t, err, "provider_unavailable", http.StatusServiceUnavailable)
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
			_, err = c.Client(r.Context()).Get(e.op.URL() + "/api")
		})
		pexAssert(t, err, "provider_unavailable", http.StatusServiceUnavailable)
	})
	t.Run("CustomTokenExchange: a refusal with error_uri", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		e.op.SetOptions(func(o *oidctest.Options) {
			o.Intercept = answerAt(oidctest.EndpointToken, http.StatusBadRequest,
				`{"error":"invalid_target","error_description":"unknown audience","error_uri":"https://op.example/docs/invalid_target"}`)
		})
		_, err := e.exchange(TokenExchangeOptions{Audience: "https://unknown.example"})
		pe := pexAssert(t, err, "invalid_target", http.StatusBadRequest)
		assert.Equal(t, "unknown audience", pe.Description)
		assert.Equal(t, "https://op.example/docs/invalid_target", pe.URI)
	})
	t.Run("FetchUserInfo: a refused token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		e.op.RevokeAll()
		_, err := e.fetchUserInfo()
		pe := pexAssert(t, err, "invalid_token", http.StatusUnauthorized)
		assert.ErrorIs(t, pe, ErrUserInfo)
		var page *Error
		require.ErrorAs(t, err, &page, "still the *Error it was")
		assert.Equal(t, http.StatusUnauthorized, page.Status)
	})
	t.Run("Login and Callback", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name   string
			opts   oidctest.Options
			cfg    func(*Config)
			login  bool // complete the login (the error is the callback's)
			code   string
			status int // of the ProviderError
			page   int // of the error page
		}{
			{"discovery: the provider is down", oidctest.Options{Intercept: answerAt(oidctest.EndpointDiscovery, 503, `{}`)},
				nil, false, "provider_unavailable", 503, 503},
			{"discovery: an issuer mismatch", oidctest.Options{MutateDiscovery: func(d map[string]any) { d["issuer"] = "https://other.example/" }},
				nil, false, "issuer_mismatch", 500, 500},
			{"PAR: a refusal", oidctest.Options{Intercept: answerAt(oidctest.EndpointPAR, 400, `{"error":"invalid_request"}`)},
				func(c *Config) { codeFlow(c); c.PushedAuthorizationRequests = true }, false, "invalid_request", 400, 400},
			{"code exchange: a refusal", oidctest.Options{Intercept: answerAt(oidctest.EndpointToken, 400, `{"error":"invalid_grant"}`)},
				codeFlow, true, "invalid_grant", 400, 400},
			{"code exchange: an outage", oidctest.Options{Intercept: answerAt(oidctest.EndpointToken, 502, `{}`)},
				codeFlow, true, "provider_unavailable", 502, 502},
			{"ID token: the keys cannot be fetched", oidctest.Options{Intercept: answerAt(oidctest.EndpointJWKS, 503, `{}`)},
				nil, true, "provider_unavailable", 503, 400},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var rec parErrors
				app := newTestApp(t, withProvider(tc.opts), withConfig(func(c *Config) {
					if tc.cfg != nil {
						tc.cfg(c)
					}
					c.ErrorHandler = rec.handler
				}))
				var resp *http.Response
				if tc.login {
					resp, _ = app.browser().login(app, "/login")
				} else {
					resp, _ = app.browser().get(app.url("/login"))
				}
				assert.Equal(t, tc.page, resp.StatusCode)
				page := rec.last(t)
				assert.Equal(t, tc.page, page.Status)
				pexAssert(t, page, tc.code, tc.status)
			})
		}
	})
	t.Run("local failures keep their own errors", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		_, err := e.refresh(RefreshOptions{})
		assert.ErrorIs(t, err, ErrNoRefreshToken)
		var pe *ProviderError
		assert.False(t, errors.As(err, &pe))
		_, err = e.fetchUserInfo()
		assert.ErrorIs(t, err, ErrNoAccessToken)
		assert.False(t, errors.As(err, &pe))
	})
}
