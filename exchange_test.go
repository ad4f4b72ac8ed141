package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
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

	"github.com/openidconnect-go/oidc/internal/provider"
	"github.com/openidconnect-go/oidc/oidctest"
)

// exCapture records what a callback reported: the error given to the
// ErrorHandler and everything logged at Debug and above.
type exCapture struct {
	mu   sync.Mutex
	err  error
	logs bytes.Buffer
}

func (c *exCapture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: &c.logs, mu: &c.mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (c *exCapture) handler(w http.ResponseWriter, r *http.Request, err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	defaultErrorHandler(w, r, err)
}

func (c *exCapture) result() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String(), c.err
}

// exEcho is a token-endpoint Intercept that refuses every request with an
// error_description echoing the whole request: body, decoded parameters and
// the Authorization header, as some providers do. It records the form.
type exEcho struct {
	mu   sync.Mutex
	form url.Values
	auth string
}

func (e *exEcho) intercept(ep string, w http.ResponseWriter, r *http.Request) bool {
	if ep != oidctest.EndpointToken {
		return false
	}
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	e.mu.Lock()
	e.form, e.auth = form, r.Header.Get("Authorization")
	e.mu.Unlock()
	desc := "bad request: " + string(body) + " auth=" + r.Header.Get("Authorization")
	for k, v := range form {
		desc += " " + k + "=" + v[0]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": desc})
	return true
}

// secrets returns every secret value the client sent, in the forms a
// provider might echo them: raw, form-encoded, and as Basic credentials.
func (e *exEcho) secrets(clientSecret string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []string{clientSecret, url.QueryEscape(clientSecret)}
	if e.auth != "" {
		out = append(out, e.auth, strings.TrimPrefix(e.auth, "Basic "))
	}
	for _, k := range []string{"code", "code_verifier", "client_secret", "client_assertion"} {
		if v := e.form.Get(k); v != "" {
			out = append(out, v, url.QueryEscape(v))
		}
	}
	return out
}

// TestCodeExchangeErrorScrubbed: a token endpoint that echoes the request
// into error_description leaks neither the code, the PKCE verifier nor the
// client credentials into the error page, the *Error or the logs.
func TestCodeExchangeErrorScrubbed(t *testing.T) {
	t.Parallel()
	// Characters that form encoding changes, so that an echoed body differs
	// from the raw value.
	const secret = "s3cr3t/with+special=chars&more-0123456789"
	methods := []string{"client_secret_basic", "client_secret_post", "client_secret_jwt"}
	for _, method := range methods {
		for _, silent := range []bool{false, true} {
			name := method
			if silent {
				name += ", silent login"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				echo := &exEcho{}
				capt := &exCapture{}
				app := newTestApp(t, withProvider(oidctest.Options{
					ClientSecret: secret, TokenEndpointAuthMethods: []string{method}, Intercept: echo.intercept,
				}), withConfig(func(c *Config) {
					codeFlow(c)
					c.ClientAuthMethod = method
					c.Logger = capt.logger()
					c.ErrorHandler = capt.handler
					c.AttemptSilentLogin = silent
				}))
				b := app.browser()
				var resp *http.Response
				var body string
				if silent {
					first, _ := b.get(app.url("/"), "Accept", "text/html")
					require.Equal(t, http.StatusFound, first.StatusCode)
					cb, httpMethod, vals := b.authorize(first)
					resp, body = b.deliver(cb, httpMethod, vals)
					assert.Equal(t, http.StatusFound, resp.StatusCode, "a failed silent login continues anonymously")
				} else {
					first, _ := b.get(app.url("/login"), "Accept", "text/html")
					cb, httpMethod, vals := b.authorize(first)
					resp, body = b.deliver(cb, httpMethod, vals)
					assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
				}
				assert.Equal(t, false, b.session(app)["authenticated"])
				logs, err := capt.result()
				secrets := echo.secrets(secret)
				require.NotEmpty(t, echo.form.Get("code"))
				require.NotEmpty(t, echo.form.Get("code_verifier"))
				if silent {
					assert.Contains(t, logs, "silent login failed")
					assert.Contains(t, logs, "[REDACTED]", "the description is logged, scrubbed")
				} else {
					var e *Error
					require.ErrorAs(t, err, &e)
					assert.Equal(t, "invalid_grant", e.Code)
					assert.Contains(t, e.Description, "[REDACTED]")
					assert.ErrorIs(t, err, ErrTokenExchange)
					var pe *ProviderError
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, "invalid_grant", pe.Code)
				}
				for _, s := range secrets {
					assert.NotContains(t, body, s)
					assert.NotContains(t, logs, s)
					if err != nil {
						assert.NotContains(t, fmtAll(err), s)
					}
				}
			})
		}
	}
}

// TestCallbackAuthorizationErrorDescription: the provider's front-channel
// error_description is reduced to printable ASCII and bounded in length.
func TestCallbackAuthorizationErrorDescription(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"control characters": "line one\r\nSet-Cookie: x=1\x00\x1b[31m",
		"non-ASCII":          "connexion refus\u00e9e \u202e\u200b",
		"very long":          strings.Repeat("a", 100_000),
	}
	for name, desc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			capt := &exCapture{}
			app := newTestApp(t, withConfig(func(c *Config) {
				codeFlow(c)
				c.ErrorHandler = capt.handler
			}))
			b := app.browser()
			resp, _ := b.get(app.url("/login"))
			cb, _, vals := b.authorize(resp)
			bad := url.Values{"state": {vals.Get("state")}, "error": {"access_denied"}, "error_description": {desc}}
			resp, _ = b.get(cb+"?"+bad.Encode(), "Accept", "application/json")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			_, err := capt.result()
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "access_denied", e.Code)
			assert.ErrorIs(t, err, ErrAuthorization)
			assert.LessOrEqual(t, len(e.Description), provider.MaxErrorDescription)
			assert.NotEmpty(t, e.Description)
			for _, r := range e.Description {
				assert.True(t, r >= 0x20 && r <= 0x7e, "character %q", r)
			}
		})
	}
}

// TestCodeExchangeInvalidResponses: an answer from the token endpoint that
// cannot be used is 400 invalid_token_response (the endpoint was reached);
// only an unreachable or failing (5xx) endpoint is provider_unavailable.
func TestCodeExchangeInvalidResponses(t *testing.T) {
	t.Parallel()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refusedURL := "http://" + refused.Addr().String() + "/token"
	require.NoError(t, refused.Close())

	answer := func(status int, contentType, body string) func(string, http.ResponseWriter, *http.Request) bool {
		return func(ep string, w http.ResponseWriter, _ *http.Request) bool {
			if ep != oidctest.EndpointToken {
				return false
			}
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return true
		}
	}
	huge := `{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"` +
		strings.Repeat("a", provider.MaxTokenResponseBytes) + `"}`
	const jsonType = "application/json"
	cases := []struct {
		name       string
		opts       oidctest.Options
		wantStatus int
		wantCode   string
		wantDesc   string
	}{
		{"oversize body", oidctest.Options{Intercept: answer(200, jsonType, huge)},
			400, "invalid_token_response", "too large"},
		{"not JSON", oidctest.Options{Intercept: answer(200, jsonType, "access_token=at")},
			400, "invalid_token_response", "not a JSON object"},
		{"HTML", oidctest.Options{Intercept: answer(200, "text/html", "<html><body>Welcome</body></html>")},
			400, "invalid_token_response", "not a JSON object"},
		{"truncated JSON", oidctest.Options{Intercept: answer(200, jsonType, `{"access_token":"at","token_type":"Bea`)},
			400, "invalid_token_response", "not a JSON object"},
		{"JSON array", oidctest.Options{Intercept: answer(200, jsonType, `[{"access_token":"at"}]`)},
			400, "invalid_token_response", "not a JSON object"},
		{"no access_token", oidctest.Options{MutateTokenResponse: func(r map[string]any) { delete(r, "access_token") }},
			400, "invalid_token_response", "no access_token"},
		{"unsupported token_type", oidctest.Options{MutateTokenResponse: func(r map[string]any) { r["token_type"] = "mac" }},
			400, "invalid_token_response", "token_type"},
		{"malformed expires_in", oidctest.Options{MutateTokenResponse: func(r map[string]any) { r["expires_in"] = "soon" }},
			400, "invalid_token_response", "expires_in"},
		{"404 without an OAuth error", oidctest.Options{Intercept: answer(404, "text/html", "<html>not found</html>")},
			400, "invalid_token_response", "refused"},
		{"connection refused", oidctest.Options{MutateDiscovery: func(d map[string]any) { d["token_endpoint"] = refusedURL }},
			503, "provider_unavailable", "could not be reached"},
		{"503", oidctest.Options{Intercept: answer(503, "text/html", "<html>maintenance</html>")},
			503, "provider_unavailable", "503"},
		{"500 with an OAuth error", oidctest.Options{Intercept: answer(500, jsonType, `{"error":"server_error"}`)},
			502, "provider_unavailable", "500"},
		{"timeout", oidctest.Options{Intercept: func(ep string, _ http.ResponseWriter, r *http.Request) bool {
			if ep != oidctest.EndpointToken {
				return false
			}
			<-r.Context().Done() // the client gives up after HTTPTimeout
			return true
		}}, 503, "provider_unavailable", "could not be reached"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			capt := &exCapture{}
			app := newTestApp(t, withProvider(tc.opts), withConfig(func(c *Config) {
				codeFlow(c)
				c.ErrorHandler = capt.handler
				c.HTTPTimeout = 500 * time.Millisecond
			}))
			b := app.browser()
			resp, _ := b.login(app, "/login")
			assert.Equal(t, tc.wantStatus, resp.StatusCode)
			_, err := capt.result()
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.wantStatus, e.Status)
			assert.Equal(t, tc.wantCode, e.Code)
			assert.Contains(t, e.Description, tc.wantDesc)
			assert.ErrorIs(t, err, ErrTokenExchange)
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.wantStatus, pe.StatusCode)
			assert.Equal(t, tc.wantCode == "provider_unavailable", errors.Is(err, ErrProviderUnavailable))
			assert.LessOrEqual(t, len(e.Description), provider.MaxErrorDescription)
			assert.Equal(t, false, b.session(app)["authenticated"])
		})
	}
}

// TestCodeExchangeRequest checks the form the code exchange sends for each
// client authentication method, with Config.TokenEndpointParams merged in.
func TestCodeExchangeRequest(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t/with+special=chars&more-0123456789"
	for _, method := range []string{"client_secret_basic", "client_secret_post", "client_secret_jwt"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{ClientSecret: secret, TokenEndpointAuthMethods: []string{method}}), withConfig(func(c *Config) {
				codeFlow(c)
				c.ClientAuthMethod = method
				// The protocol parameters cannot be set here: New refuses
				// them (TestResolveTokenEndpointParamsReserved).
				c.TokenEndpointParams = map[string]string{"audience": "https://api.example", "resource": "r1"}
			}))
			b := app.browser()
			resp, body := b.login(app, "/login")
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			req := app.op.LastTokenRequest()
			require.NotNil(t, req)
			f := req.PostForm
			assert.Equal(t, "authorization_code", f.Get("grant_type"))
			assert.Equal(t, app.url("/callback"), f.Get("redirect_uri"))
			assert.NotEqual(t, "forged", f.Get("code"))
			assert.NotEqual(t, "forged", f.Get("code_verifier"))
			assert.NotEmpty(t, f.Get("code_verifier"))
			assert.Equal(t, "https://api.example", f.Get("audience"))
			assert.Equal(t, "r1", f.Get("resource"))
			for k, v := range f {
				assert.Len(t, v, 1, k)
			}
			switch method {
			case "client_secret_basic":
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte(app.op.ClientID()+":"+url.QueryEscape(secret)))
				assert.Equal(t, want, req.Header.Get("Authorization"))
				assert.False(t, f.Has("client_id"))
				assert.False(t, f.Has("client_secret"))
			case "client_secret_post":
				assert.Equal(t, app.op.ClientID(), f.Get("client_id"))
				assert.Equal(t, secret, f.Get("client_secret"))
				assert.Empty(t, req.Header.Get("Authorization"))
			case "client_secret_jwt":
				assert.Equal(t, app.op.ClientID(), f.Get("client_id"))
				assert.Equal(t, clientAssertionType, f.Get("client_assertion_type"))
				assert.Equal(t, 2, strings.Count(f.Get("client_assertion"), "."))
				assert.False(t, f.Has("client_secret"))
			}
		})
	}
}
