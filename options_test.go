package oidc

// No option value is dropped silently: every per-call option map
// (TokenExchangeOptions.Extra, LoginOptions.AuthorizationParams,
// RefreshOptions.TokenEndpointParams, CallbackOptions.TokenEndpointParams)
// either passes a value on, maps it to its field, or fails with an error
// that names the key. Config.TokenEndpointParams is checked by New
// (TestResolveTokenEndpointParamsReserved in config_errors_test.go).

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestTokenExchangeExtraFields: Extra keys that have a field of their own
// are sent as that field (express's README passes the organization in
// extra), and contradictions are errors naming the key.
func TestTokenExchangeExtraFields(t *testing.T) {
	t.Parallel()
	e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.AuthorizationParams["audience"] = "https://default.example" })
	e.login()

	sent := []struct {
		name string
		opts TokenExchangeOptions
		want map[string]string // form values of the token request
	}{
		{"organization, as express-openid-connect's example passes it",
			TokenExchangeOptions{Extra: map[string]string{"organization": "org_123"}},
			map[string]string{"organization": "org_123"}},
		{"audience wins over the configured default",
			TokenExchangeOptions{Extra: map[string]string{"audience": "https://api.example"}},
			map[string]string{"audience": "https://api.example"}},
		{"scope",
			TokenExchangeOptions{Extra: map[string]string{"scope": "read:reports"}},
			map[string]string{"scope": "read:reports"}},
		{"subject_token_type and requested_token_type",
			TokenExchangeOptions{Extra: map[string]string{"subject_token_type": TokenTypeJWT, "requested_token_type": TokenTypeAccessToken}},
			map[string]string{"subject_token_type": TokenTypeJWT, "requested_token_type": TokenTypeAccessToken}},
		{"actor_token and actor_token_type",
			TokenExchangeOptions{Extra: map[string]string{"actor_token": "actor-token", "actor_token_type": TokenTypeJWT}},
			map[string]string{"actor_token": "actor-token", "actor_token_type": TokenTypeJWT}},
		{"the field and the key with the same value",
			TokenExchangeOptions{Organization: "org_123", Extra: map[string]string{"organization": "org_123"}},
			map[string]string{"organization": "org_123"}},
		{"other keys pass as they are",
			TokenExchangeOptions{Extra: map[string]string{"connection": "google-oauth2"}},
			map[string]string{"connection": "google-oauth2", "audience": "https://default.example"}},
	}
	for _, tc := range sent {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.exchange(tc.opts)
			require.NoError(t, err)
			f := e.lastExchange()
			for k, v := range tc.want {
				assert.Equal(t, []string{v}, f[k], k)
			}
		})
	}

	refused := []struct {
		name string
		opts TokenExchangeOptions
		desc string // substring of the description
	}{
		{"organization conflicting with Organization",
			TokenExchangeOptions{Organization: "org_a", Extra: map[string]string{"organization": "org_b"}},
			`Extra["organization"] and Organization are both set, to different values`},
		{"audience conflicting with Audience",
			TokenExchangeOptions{Audience: "https://a.example", Extra: map[string]string{"audience": "https://b.example"}},
			`Extra["audience"] and Audience`},
		{"an empty mapped key",
			TokenExchangeOptions{Extra: map[string]string{"organization": ""}},
			`Extra["organization"] is empty`},
		{"a mapped actor_token still needs its type",
			TokenExchangeOptions{Extra: map[string]string{"actor_token": "actor-token"}},
			"actor_token_type is required when actor_token is provided"},
		{"grant_type", TokenExchangeOptions{Extra: map[string]string{"grant_type": "password"}}, `Extra["grant_type"] cannot be set`},
		{"client_id", TokenExchangeOptions{Extra: map[string]string{"client_id": "other"}}, `Extra["client_id"] cannot be set`},
		{"client_secret", TokenExchangeOptions{Extra: map[string]string{"client_secret": "s3cr3t-value"}}, `Extra["client_secret"] cannot be set`},
		{"client_assertion", TokenExchangeOptions{Extra: map[string]string{"client_assertion": "a.b.c"}}, `Extra["client_assertion"] cannot be set`},
		{"client_assertion_type", TokenExchangeOptions{Extra: map[string]string{"client_assertion_type": "x"}}, `Extra["client_assertion_type"] cannot be set`},
		{"subject_token", TokenExchangeOptions{Extra: map[string]string{"subject_token": "tok-value"}}, `Extra["subject_token"] cannot be set`},
		{"aud", TokenExchangeOptions{Extra: map[string]string{"aud": "https://api.example"}}, `Extra["aud"] cannot be set: it is not a token-exchange parameter; use Audience`},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			calls := e.op.Calls(oidctest.EndpointToken)
			_, err := e.exchange(tc.opts)
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "invalid_request", pe.Code)
			assert.Equal(t, http.StatusBadRequest, pe.StatusCode)
			assert.Contains(t, pe.Description, tc.desc)
			assert.ErrorIs(t, err, ErrBadRequest)
			for _, v := range tc.opts.Extra {
				if len(v) > 3 {
					assert.NotContains(t, err.Error(), v, "values are never echoed")
				}
			}
			assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "nothing is sent")
		})
	}
}

// loginStart serves one request to a's /run route (withRunRoute,
// withErrorRecorder) that calls Context.Login with opts, and returns the
// response and the error the ErrorHandler got.
func loginStart(t *testing.T, a *testApp, opts LoginOptions) (*http.Response, error) {
	t.Helper()
	a.takeError()
	a.setRun(func(w http.ResponseWriter, r *http.Request, c *Context) { c.Login(w, r, opts) })
	resp, _ := a.browser().get(a.url("/run"), "Accept", "text/html")
	return resp, a.takeError()
}

// TestLoginOptionsReservedParams: per-login authorization parameters that
// the middleware generates were dropped silently (as express does); now the
// login fails and names the key.
func TestLoginOptionsReservedParams(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, withRunRoute(), withErrorRecorder())
	cases := []struct {
		name string
		opts LoginOptions
		key  string // "" when the login starts
	}{
		{"nonce", LoginOptions{AuthorizationParams: map[string]string{"nonce": "n"}}, "nonce"},
		{"state", LoginOptions{AuthorizationParams: map[string]string{"state": "s"}}, "state"},
		{"code_challenge", LoginOptions{AuthorizationParams: map[string]string{"code_challenge": "c"}}, "code_challenge"},
		{"code_challenge_method", LoginOptions{AuthorizationParams: map[string]string{"code_challenge_method": "plain"}}, "code_challenge_method"},
		{"code_verifier", LoginOptions{AuthorizationParams: map[string]string{"code_verifier": "v"}}, "code_verifier"},
		{"client_id", LoginOptions{AuthorizationParams: map[string]string{"client_id": "other"}}, "client_id"},
		{"an empty value cannot remove a generated parameter", LoginOptions{AuthorizationParams: map[string]string{"nonce": ""}}, "nonce"},
		{"prompt against Silent", LoginOptions{Silent: true, AuthorizationParams: map[string]string{"prompt": "login"}}, "prompt"},
		{"prompt none with Silent", LoginOptions{Silent: true, AuthorizationParams: map[string]string{"prompt": "none"}}, ""},
		{"other parameters pass", LoginOptions{AuthorizationParams: map[string]string{"audience": "https://api.example"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := loginStart(t, a, tc.opts)
			if tc.key == "" {
				require.NoError(t, err)
				require.Equal(t, http.StatusFound, resp.StatusCode)
				loc, perr := url.Parse(resp.Header.Get("Location"))
				require.NoError(t, perr)
				for k, v := range tc.opts.AuthorizationParams {
					assert.Equal(t, v, loc.Query().Get(k), k)
				}
				return
			}
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Empty(t, setCookies(resp, "auth_verification"), "no transaction")
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "invalid_request", e.Code)
			assert.Contains(t, e.Description, fmt.Sprintf("LoginOptions.AuthorizationParams[%q]", tc.key))
			assert.ErrorIs(t, err, ErrBadRequest)
		})
	}
}

// TestRefreshOptionsReservedParams: reserved refresh parameters were
// skipped silently; now Refresh fails before sending anything and names the
// key, while other parameters are sent.
func TestRefreshOptionsReservedParams(t *testing.T) {
	t.Parallel()
	e := newTKApp(t, oidctest.Options{}, nil)
	e.login()
	before := e.tokens()
	keys := make([]string, 0, len(refreshReserved))
	for k := range refreshReserved {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			calls := e.op.Calls(oidctest.EndpointToken)
			_, err := e.refresh(RefreshOptions{TokenEndpointParams: map[string]string{k: "x", "audience": "https://api.example"}})
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "invalid_request", pe.Code)
			assert.Contains(t, pe.Description, fmt.Sprintf("RefreshOptions.TokenEndpointParams[%q]", k))
			assert.ErrorIs(t, err, ErrBadRequest)
			assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "nothing is sent")
			assert.Equal(t, before, e.tokens(), "the session is unchanged")
		})
	}
	t.Run("other parameters are sent", func(t *testing.T) {
		_, err := e.refresh(RefreshOptions{TokenEndpointParams: map[string]string{"audience": "https://api.example"}})
		require.NoError(t, err)
		tr := e.op.LastTokenRequest()
		assert.Equal(t, "refresh_token", tr.PostForm.Get("grant_type"))
		assert.Equal(t, "https://api.example", tr.PostForm.Get("audience"))
	})
}

// TestCallbackOptionsReservedParams: a custom callback route whose
// CallbackOptions.TokenEndpointParams names a parameter of the code
// exchange fails with an error naming it (before, the key was skipped
// silently); other parameters reach the token endpoint.
func TestCallbackOptionsReservedParams(t *testing.T) {
	t.Parallel()
	keys := make([]string, 0, len(codeReserved)+1)
	for k := range codeReserved {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	keys = append(keys, "") // the control: only an allowed parameter
	for _, k := range keys {
		name := k
		if name == "" {
			name = "other parameters are sent"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			params := map[string]string{"resource": "https://api.example"}
			if k != "" {
				params[k] = "x"
			}
			rec := &discErrors{}
			mux := http.NewServeMux()
			mux.Handle("/", appHandler())
			mux.HandleFunc("/cb", func(w http.ResponseWriter, r *http.Request) {
				FromRequest(r).Callback(w, r, CallbackOptions{TokenEndpointParams: params})
			})
			app := newTestApp(t, withConfig(func(c *Config) {
				c.Routes.Callback = RouteDisabled
				c.AuthorizationParams = map[string]string{"response_type": "code", "redirect_uri": "/cb"}
				c.ErrorHandler = rec.handler
			}), withHandler(mux))
			b := app.browser()
			resp, body := b.login(app, "/login")
			if k == "" {
				require.Equal(t, http.StatusFound, resp.StatusCode, body)
				assert.Equal(t, "https://api.example", app.op.LastTokenRequest().PostForm.Get("resource"))
				return
			}
			require.Equal(t, http.StatusInternalServerError, resp.StatusCode, body)
			got := rec.last()
			var e *Error
			require.ErrorAs(t, got, &e)
			assert.Equal(t, "invalid_request", e.Code)
			assert.True(t, strings.Contains(e.Description, fmt.Sprintf("CallbackOptions.TokenEndpointParams[%q]", k)), e.Description)
			assert.ErrorIs(t, got, ErrBadRequest)
			assert.Zero(t, app.op.Calls(oidctest.EndpointToken), "the code is not sent")
		})
	}
}
