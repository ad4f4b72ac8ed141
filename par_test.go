package oidc

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// parErrors records the errors given to the ErrorHandler.
type parErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *parErrors) handler(w http.ResponseWriter, r *http.Request, err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
	defaultErrorHandler(w, r, err)
}

func (e *parErrors) last(t *testing.T) *Error {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	require.NotEmpty(t, e.errs)
	var oe *Error
	require.ErrorAs(t, e.errs[len(e.errs)-1], &oe)
	return oe
}

// parLocation parses the login redirect.
func parLocation(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	return must(url.Parse(resp.Header.Get("Location")))
}

func TestPARLogin(t *testing.T) {
	t.Parallel()
	flows := []struct {
		name   string
		params map[string]string
	}{
		{"code flow", codeQuery},
		{"id_token flow (client_secret_basic by default)", nil},
		{"hybrid flow", map[string]string{"response_type": "code id_token"}},
	}
	for _, tt := range flows {
		t.Run("should redirect to the authorize url when pushed authorize requests enabled: "+tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{Subject: "pat"}), withConfig(func(c *Config) {
				c.AuthorizationParams = tt.params
				c.PushedAuthorizationRequests = true
			}))
			b := app.browser()
			resp, _ := b.get(app.url("/profile"), "Accept", "text/html")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "AuthRequired is off in the harness")
			resp, _ = b.get(app.url("/login"))
			loc := parLocation(t, resp)
			assert.Equal(t, app.op.URL()+"/authorize", loc.Scheme+"://"+loc.Host+loc.Path)
			q := loc.Query()
			assert.ElementsMatch(t, []string{"client_id", "request_uri"}, slicesKeys(q))
			assert.Equal(t, app.op.ClientID(), q.Get("client_id"))
			assert.True(t, strings.HasPrefix(q.Get("request_uri"), oidctest.RequestURIPrefix))
			assert.Equal(t, 1, app.op.Calls(oidctest.EndpointPAR))
			require.NotEmpty(t, setCookies(resp, "auth_verification"), "the transaction is stored")

			pr := app.op.LastPARRequest()
			require.NotNil(t, pr)
			assert.True(t, strings.HasPrefix(pr.Header.Get("Authorization"), "Basic "))
			f := pr.PostForm
			assert.Equal(t, app.url("/callback"), f.Get("redirect_uri"))
			assert.Equal(t, app.op.ClientID(), f.Get("client_id"))
			assert.Contains(t, f.Get("scope"), "openid")
			assert.NotEmpty(t, f.Get("nonce"))
			assert.NotEmpty(t, f.Get("state"))
			assert.Equal(t, app.m.s.responseType, f.Get("response_type"))
			assert.Equal(t, strings.Contains(app.m.s.responseType, "code"), f.Has("code_challenge"))
			assert.False(t, f.Has("client_secret"))
			assert.NotContains(t, string(must(io.ReadAll(pr.Body))), app.op.ClientSecret())

			cb, method, vals := b.authorize(resp)
			resp, body := b.deliver(cb, method, vals)
			ckLoggedIn(t, app, b, resp, body)
			_, body = b.get(app.url("/"))
			assert.Equal(t, "hello pat", body)
		})
	}

	t.Run("private_key_jwt at the PAR and token endpoints, each with its own assertion", func(t *testing.T) {
		t.Parallel()
		key := ckKeys().rsa
		app := newTestApp(t, withProvider(oidctest.Options{
			ClientPublicKey: key.Public(), TokenEndpointAuthMethods: []string{"private_key_jwt"},
		}), withConfig(func(c *Config) {
			codeFlow(c)
			c.ClientSecret = ""
			c.ClientAssertionSigningKey = key
			c.PushedAuthorizationRequests = true
		}))
		b := app.browser()
		resp, body := b.login(app, "/login")
		ckLoggedIn(t, app, b, resp, body)
		par := ckVerifyJWT(t, ckTokenAssertion(t, app.op.LastPARRequest()), key.Public())
		tok := ckVerifyJWT(t, ckTokenAssertion(t, app.op.LastTokenRequest()), key.Public())
		ckAssertStdClaims(t, app, par)
		assert.NotEqual(t, par.claims["jti"], tok.claims["jti"])
	})
	t.Run("a provider that requires PAR", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withProvider(oidctest.Options{RequirePAR: true}), withConfig(func(c *Config) {
			codeFlow(c)
			c.PushedAuthorizationRequests = true
		}))
		b := app.browser()
		resp, body := b.login(app, "/login")
		ckLoggedIn(t, app, b, resp, body)
	})
	t.Run("silent login pushes prompt=none", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(func(c *Config) {
			codeFlow(c)
			c.PushedAuthorizationRequests = true
			c.AttemptSilentLogin = true
		}))
		resp, _ := app.browser().get(app.url("/page"), "Accept", "text/html")
		parLocation(t, resp)
		assert.Equal(t, "none", app.op.LastPARRequest().PostForm.Get("prompt"))
	})
}

func TestPARDiscovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   oidctest.Options
		desc   string
		par    bool
		status int
	}{
		{"should fail if configured with PAR and issuer has no PAR endpoint", oidctest.Options{DisablePAR: true},
			"pushed_authorization_request_endpoint must be configured on the issuer to use PushedAuthorizationRequests", true, 500},
		{"should fail if the PAR endpoint in discovery is not a string", oidctest.Options{MutateDiscovery: func(d map[string]any) {
			d["pushed_authorization_request_endpoint"] = 42
		}}, "must be a string", true, 500},
		{"a relative PAR endpoint", oidctest.Options{MutateDiscovery: func(d map[string]any) {
			d["pushed_authorization_request_endpoint"] = "/par"
		}}, "not an absolute URL", true, 500},
		{"should succeed if configured with PAR and issuer has PAR endpoint", oidctest.Options{}, "", true, 302},
		{"a malformed PAR endpoint does not break logins without PAR", oidctest.Options{MutateDiscovery: func(d map[string]any) {
			d["pushed_authorization_request_endpoint"] = map[string]any{"x": 1}
		}}, "", false, 302},
		{"should accept PAR without mTLS when only the standard PAR endpoint is advertised", oidctest.Options{MutateDiscovery: func(d map[string]any) {
			d["mtls_endpoint_aliases"] = map[string]any{"token_endpoint": "https://mtls.example/token"}
		}}, "", true, 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec parErrors
			app := newTestApp(t, withProvider(tt.opts), withConfig(func(c *Config) {
				codeFlow(c)
				c.PushedAuthorizationRequests = tt.par
				c.ErrorHandler = rec.handler
			}))
			resp, body := app.browser().get(app.url("/login"))
			assert.Equal(t, tt.status, resp.StatusCode, body)
			if tt.desc == "" {
				return
			}
			oe := rec.last(t)
			assert.Contains(t, oe.Description, tt.desc)
			assert.ErrorIs(t, oe, ErrPushedAuthorizationRequest)
			assert.Contains(t, body, "pushed_authorization_request_endpoint")
			assert.Empty(t, setCookies(resp, "auth_verification"), "no transaction for a failed login")
			assert.Equal(t, 0, app.op.Calls(oidctest.EndpointPAR))
		})
	}
}

func TestPARErrors(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tests := []struct {
		name       string
		status     int // 0: let the provider answer
		ctype      string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"OAuth error from the provider", 400, js, `{"error":"invalid_request","error_description":"unknown parameter"}`, 400, "invalid_request"},
		{"invalid_client", 401, js, `{"error":"invalid_client"}`, 400, "invalid_client"},
		{"a real refusal: unregistered redirect_uri", 0, "", "", 400, "invalid_request"},
		{"server error", 500, js, `{"error":"server_error"}`, 502, "invalid_par_response"},
		{"HTML error page", 400, "text/html", `<h1>oops</h1>`, 502, "invalid_par_response"},
		{"200 instead of 201", 200, js, `{"request_uri":"urn:ietf:params:oauth:request_uri:x","expires_in":60}`, 502, "invalid_par_response"},
		{"no request_uri", 201, js, `{"expires_in":60}`, 502, "invalid_par_response"},
		{"no expires_in", 201, js, `{"request_uri":"urn:x"}`, 502, "invalid_par_response"},
		{"not JSON", 201, "text/plain", `request_uri=x`, 502, "invalid_par_response"},
		{"redirect", 302, "", "", 502, "invalid_par_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec parErrors
			var mu sync.Mutex
			var pushed url.Values
			opts := oidctest.Options{Intercept: func(ep string, w http.ResponseWriter, r *http.Request) bool {
				if ep != oidctest.EndpointPAR {
					return false
				}
				raw, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(raw))
				mu.Lock()
				pushed, _ = url.ParseQuery(string(raw))
				mu.Unlock()
				if tt.status == 0 {
					return false
				}
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
				return true
			}}
			if tt.status == 0 {
				opts.RedirectURIs = []string{"https://elsewhere.example/cb"}
			}
			app := newTestApp(t, withProvider(opts), withConfig(func(c *Config) {
				codeFlow(c)
				c.PushedAuthorizationRequests = true
				c.ErrorHandler = rec.handler
			}))
			resp, body := app.browser().get(app.url("/login"))
			assert.Equal(t, tt.wantStatus, resp.StatusCode, body)
			oe := rec.last(t)
			assert.Equal(t, tt.wantCode, oe.Code)
			assert.ErrorIs(t, oe, ErrPushedAuthorizationRequest)
			assert.Empty(t, setCookies(resp, "auth_verification"))
			// Nothing of the pushed parameters leaks into the error.
			mu.Lock()
			defer mu.Unlock()
			for _, k := range []string{"nonce", "state", "code_challenge"} {
				v := pushed.Get(k)
				require.NotEmpty(t, v, k)
				assert.NotContains(t, errorText(oe), v, k)
				assert.NotContains(t, body, v, k)
			}
			assert.NotContains(t, errorText(oe), app.op.ClientSecret())
		})
	}
	t.Run("an unreachable PAR endpoint gives 502", func(t *testing.T) {
		t.Parallel()
		var rec parErrors
		app := newTestApp(t, withProvider(oidctest.Options{MutateDiscovery: func(d map[string]any) {
			d["pushed_authorization_request_endpoint"] = "http://127.0.0.1:1/par?secret=x"
		}}), withConfig(func(c *Config) {
			codeFlow(c)
			c.PushedAuthorizationRequests = true
			c.ErrorHandler = rec.handler
		}))
		resp, _ := app.browser().get(app.url("/login"))
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		oe := rec.last(t)
		assert.ErrorIs(t, oe, ErrProviderUnavailable)
		assert.NotContains(t, errorText(oe), "secret=x")
	})
}

// errorText is the whole error chain's text.
func errorText(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		b.WriteString(e.Error())
		b.WriteString("\n")
	}
	return b.String()
}
