package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// exchange calls Context.CustomTokenExchange in a request.
func (e *testApp) exchange(opts TokenExchangeOptions) (*TokenExchangeResult, error) {
	e.t.Helper()
	var res *TokenExchangeResult
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		res, err = c.CustomTokenExchange(r.Context(), opts)
	})
	return res, err
}

// lastExchange returns the form of the last token request, which must be a
// token exchange.
func (e *testApp) lastExchange() url.Values {
	e.t.Helper()
	tr := e.op.LastTokenRequest()
	require.NotNil(e.t, tr)
	require.Equal(e.t, GrantTypeTokenExchange, tr.PostForm.Get("grant_type"))
	return tr.PostForm
}

// onExchange returns a MutateTokenResponse that applies fn to token-exchange
// responses only.
func onExchange(fn func(map[string]any)) func(map[string]any) {
	return func(m map[string]any) {
		if _, ok := m["issued_token_type"]; ok {
			fn(m)
		}
	}
}

// exchangeError returns an Intercept answering the token endpoint's token-exchange
// requests with an OAuth error.
func exchangeError(status int, code, desc string) func(string, http.ResponseWriter, *http.Request) bool {
	return func(ep string, w http.ResponseWriter, r *http.Request) bool {
		if ep != oidctest.EndpointToken {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, _ := url.ParseQuery(string(body)); form.Get("grant_type") != GrantTypeTokenExchange {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		return true
	}
}

// TestCustomTokenExchange follows express's test/customTokenExchange.tests.js
// and catalog X-01..X-04.
func TestCustomTokenExchange(t *testing.T) {
	t.Parallel()

	t.Run("uses the current access token as the default subject_token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		res, err := e.exchange(TokenExchangeOptions{})
		require.NoError(t, err)
		require.NotNil(t, res)
		f := e.lastExchange()
		assert.Equal(t, before.AccessToken, f.Get("subject_token"))
		assert.Equal(t, TokenTypeAccessToken, f.Get("subject_token_type"))
		tr := e.op.LastTokenRequest()
		assert.Contains(t, tr.Header.Get("Authorization"), "Basic ", "client authentication")
		assert.Equal(t, before, e.tokens(), "nothing is stored in the session")
	})
	t.Run("throws 400 immediately when subject_token cannot be resolved", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.AuthorizationParams = nil }) // implicit: no access token
		e.login()
		_, err := e.exchange(TokenExchangeOptions{})
		assertLocalError(t, err, "subject_token is required for token exchange")
		assert.Zero(t, e.op.Calls(oidctest.EndpointToken))
	})
	t.Run("throws 400 when caller has no session", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		_, err := e.exchange(TokenExchangeOptions{})
		assertLocalError(t, err, "subject_token is required for token exchange")
		assert.Zero(t, e.op.Calls(oidctest.EndpointToken))
	})

	local := []struct {
		name string
		opts TokenExchangeOptions
		desc string
	}{
		{"throws 400 when subject_token has leading or trailing whitespace",
			TokenExchangeOptions{SubjectToken: " abc "}, "subject_token must not include leading or trailing whitespace"},
		{"throws 400 when subject_token has a trailing newline",
			TokenExchangeOptions{SubjectToken: "abc\n"}, "subject_token must not include leading or trailing whitespace"},
		{"throws 400 when subject_token is only whitespace",
			TokenExchangeOptions{SubjectToken: "   "}, "subject_token is required for token exchange"},
		{"throws 400 when subject_token includes a 'Bearer ' prefix",
			TokenExchangeOptions{SubjectToken: "Bearer abc"}, "subject_token must not include the 'Bearer ' prefix"},
		{"throws 400 when subject_token includes a 'bearer\\t' prefix",
			TokenExchangeOptions{SubjectToken: "bearer\tabc"}, "subject_token must not include the 'Bearer ' prefix"},
		{"throws 400 when organization is blank",
			TokenExchangeOptions{SubjectToken: "abc", Organization: "  "}, "organization must not be blank"},
		{"throws 400 when actor_token is provided without actor_token_type",
			TokenExchangeOptions{SubjectToken: "abc", ActorToken: "actor"}, "actor_token_type is required when actor_token is provided"},
		{"throws 400 when actor_token_type is provided without actor_token",
			TokenExchangeOptions{SubjectToken: "abc", ActorTokenType: TokenTypeAccessToken}, "actor_token_type must not be sent without actor_token"},
	}
	for _, tc := range local {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTKApp(t, oidctest.Options{}, nil)
			e.login()
			calls := e.op.Calls(oidctest.EndpointToken)
			_, err := e.exchange(tc.opts)
			assertLocalError(t, err, tc.desc)
			assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "no network call")
		})
	}

	t.Run("applies authorizationParams defaults for audience and scope", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) {
			c.AuthorizationParams["audience"] = "https://api.example.com"
			c.AuthorizationParams["scope"] = "openid profile read:reports"
		})
		e.login()
		_, err := e.exchange(TokenExchangeOptions{})
		require.NoError(t, err)
		f := e.lastExchange()
		assert.Equal(t, "https://api.example.com", f.Get("audience"))
		assert.Equal(t, "openid profile read:reports", f.Get("scope"))
	})
	t.Run("the default scope is always sent", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{})
		require.NoError(t, err)
		f := e.lastExchange()
		assert.Equal(t, "openid profile email", f.Get("scope"))
		assert.False(t, f.Has("audience"))
		for _, k := range []string{"actor_token", "actor_token_type", "requested_token_type", "organization"} {
			assert.False(t, f.Has(k), k)
		}
	})
	t.Run("sends organization when provided as first-class option", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{Organization: "org_123"})
		require.NoError(t, err)
		assert.Equal(t, "org_123", e.lastExchange().Get("organization"))
	})
	t.Run("caller-provided options override authorizationParams defaults", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.AuthorizationParams["audience"] = "https://default.example" })
		e.login()
		_, err := e.exchange(TokenExchangeOptions{Audience: "https://other.example", Scope: "read:other",
			SubjectTokenType: TokenTypeAccessToken})
		require.NoError(t, err)
		f := e.lastExchange()
		assert.Equal(t, "https://other.example", f.Get("audience"))
		assert.Equal(t, "read:other", f.Get("scope"))
	})
	t.Run("passes extra params to the token endpoint", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{Extra: map[string]string{"resource": "https://r.example", "custom": "1"}})
		require.NoError(t, err)
		f := e.lastExchange()
		assert.Equal(t, "https://r.example", f.Get("resource"))
		assert.Equal(t, "1", f.Get("custom"))
	})
	// Adapted: express drops these keys silently (debug log only); the port
	// refuses them, naming the key, before anything is sent.
	t.Run("silently strips denylisted keys from extra without throwing", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		calls := e.op.Calls(oidctest.EndpointToken)
		for k := range tokenExchangeReserved {
			_, err := e.exchange(TokenExchangeOptions{Audience: "https://api.example", Extra: map[string]string{k: "evil", "kept": "yes"}})
			var pe *ProviderError
			require.ErrorAs(t, err, &pe, k)
			assert.Contains(t, pe.Description, fmt.Sprintf("Extra[%q]", k))
			assert.NotContains(t, pe.Error(), "evil")
			assert.ErrorIs(t, err, ErrBadRequest)
		}
		assert.Equal(t, calls, e.op.Calls(oidctest.EndpointToken), "no network call")
	})
	t.Run("allows IdP-specific params (e.g. connection) via extra", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{Extra: map[string]string{"connection": "google-oauth2"}})
		require.NoError(t, err)
		assert.Equal(t, "google-oauth2", e.lastExchange().Get("connection"))
	})
	t.Run("sends actor_token and actor_token_type as first-class options", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		res, err := e.exchange(TokenExchangeOptions{ActorToken: "actor-token", ActorTokenType: TokenTypeJWT})
		require.NoError(t, err)
		f := e.lastExchange()
		assert.Equal(t, "actor-token", f.Get("actor_token"))
		assert.Equal(t, TokenTypeJWT, f.Get("actor_token_type"))
		assert.Nil(t, res.Act, "an opaque access token carries no act")
	})
	t.Run("sends requested_token_type as first-class option", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{RequestedTokenType: TokenTypeAccessToken})
		require.NoError(t, err)
		assert.Equal(t, TokenTypeAccessToken, e.lastExchange().Get("requested_token_type"))
	})

	jwtWithAct := func(t *testing.T, act map[string]any) string {
		tok, err := oidctest.SignJWT(map[string]any{"alg": "HS256", "typ": "at+jwt"},
			map[string]any{"sub": "user-1", "act": act}, []byte("0123456789abcdef0123456789abcdef"))
		require.NoError(t, err)
		return tok
	}
	t.Run("extracts act claim from JWT access_token when actor_token is provided", func(t *testing.T) {
		t.Parallel()
		at := jwtWithAct(t, map[string]any{"sub": "admin@example.com"})
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: onExchange(func(m map[string]any) { m["access_token"] = at })}, nil)
		e.login()
		res, err := e.exchange(TokenExchangeOptions{ActorToken: "actor", ActorTokenType: TokenTypeAccessToken})
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"sub": "admin@example.com"}, res.Act)
	})
	t.Run("prefers the act claim of a returned id_token", func(t *testing.T) {
		t.Parallel()
		at := jwtWithAct(t, map[string]any{"sub": "from-access-token"})
		idt := jwtWithAct(t, map[string]any{"sub": "from-id-token"})
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: onExchange(func(m map[string]any) {
			m["access_token"], m["id_token"] = at, idt
		})}, nil)
		e.login()
		res, err := e.exchange(TokenExchangeOptions{ActorToken: "actor", ActorTokenType: TokenTypeAccessToken})
		require.NoError(t, err)
		assert.Equal(t, "from-id-token", res.Act["sub"])
		assert.Equal(t, idt, string(res.IDToken))
	})
	t.Run("does not extract act claim when actor_token is not provided", func(t *testing.T) {
		t.Parallel()
		at := jwtWithAct(t, map[string]any{"sub": "admin@example.com"})
		e := newTKApp(t, oidctest.Options{MutateTokenResponse: onExchange(func(m map[string]any) { m["access_token"] = at })}, nil)
		e.login()
		res, err := e.exchange(TokenExchangeOptions{})
		require.NoError(t, err)
		assert.Nil(t, res.Act)
	})
	t.Run("returns the TokenSet from client.grant()", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{AccessTokenLifetime: 10 * time.Minute, MutateTokenResponse: onExchange(func(m map[string]any) {
			m["refresh_token"] = "exchanged-rt"
			m["vendor_field"] = "v"
			m["vendor_number"] = 42
		})}, nil)
		e.login()
		before := e.tokens()
		res, err := e.exchange(TokenExchangeOptions{Scope: "read:x"})
		require.NoError(t, err)
		assert.NotEmpty(t, res.AccessToken)
		assert.NotEqual(t, before.AccessToken, string(res.AccessToken))
		assert.Equal(t, TokenTypeAccessToken, res.IssuedTokenType)
		assert.Equal(t, "bearer", res.TokenType, "lower-cased as returned")
		assert.Equal(t, 10*time.Minute, res.ExpiresIn)
		assert.Equal(t, "read:x", res.Scope)
		assert.Equal(t, Secret("exchanged-rt"), res.RefreshToken)
		assert.Equal(t, map[string]any{"vendor_field": "v", "vendor_number": float64(42)}, res.Extra)
		assert.NotContains(t, fmtAll(res), string(res.AccessToken), "the result prints redacted")

		// nothing reaches the session.
		after := e.tokens()
		assert.Equal(t, before, after)
		assert.NotContains(t, after.RefreshToken, "exchanged-rt")
	})
	t.Run("propagates AS errors as HTTP 400 with error fields", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{Intercept: exchangeError(http.StatusBadRequest, "invalid_target", "unknown audience")}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{Audience: "https://nope.example"})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, http.StatusBadRequest, pe.StatusCode)
		assert.Equal(t, "invalid_target", pe.Code)
		assert.Equal(t, "unknown audience", pe.Description)
		assert.ErrorIs(t, err, ErrTokenExchange)
	})
	t.Run("a 401 invalid_client is reported as 400, like express", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{Intercept: exchangeError(http.StatusUnauthorized, "invalid_client", "no")}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, http.StatusBadRequest, pe.StatusCode)
		assert.Equal(t, "invalid_client", pe.Code)
	})
	t.Run("maps mfa_required AS error to HTTP 401", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{Intercept: exchangeError(http.StatusForbidden, "mfa_required", "Multifactor authentication required")}, nil)
		e.login()
		_, err := e.exchange(TokenExchangeOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, http.StatusUnauthorized, pe.StatusCode)
		assert.Equal(t, "mfa_required", pe.Code)
	})
	t.Run("an unreachable provider is 503 and wraps ErrProviderUnavailable", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		before := e.tokens()
		e.op.SetDown(true)
		_, err := e.exchange(TokenExchangeOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, http.StatusServiceUnavailable, pe.StatusCode)
		assert.ErrorIs(t, err, ErrProviderUnavailable)
		e.op.SetDown(false)
		assert.Equal(t, before, e.tokens())
	})

	// response validation.
	responses := []struct {
		name     string
		mutate   func(map[string]any)
		wantErr  bool
		wantType string
	}{
		{"missing issued_token_type is an error", func(m map[string]any) { delete(m, "issued_token_type") }, true, ""},
		{"missing access_token is an error", func(m map[string]any) { delete(m, "access_token") }, true, ""},
		{"missing token_type is an error", func(m map[string]any) { delete(m, "token_type") }, true, ""},
		{"unknown token_type is an error", func(m map[string]any) { m["token_type"] = "mac" }, true, ""},
		{"bad expires_in is an error", func(m map[string]any) { m["expires_in"] = -1 }, true, ""},
		{"N_A with an ID token is accepted", func(m map[string]any) {
			m["token_type"], m["issued_token_type"] = "N_A", TokenTypeIDToken
		}, false, "n_a"},
		{"DPoP is lower-cased", func(m map[string]any) { m["token_type"] = "DPoP" }, false, "dpop"},
		{"expires_in as a string is accepted", func(m map[string]any) { m["expires_in"] = "60" }, false, "bearer"},
	}
	for _, tc := range responses {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTKApp(t, oidctest.Options{MutateTokenResponse: onExchange(tc.mutate)}, nil)
			e.login()
			before := e.tokens()
			res, err := e.exchange(TokenExchangeOptions{})
			assert.Equal(t, before, e.tokens(), "the session never changes")
			if tc.wantErr {
				var pe *ProviderError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, "invalid_token_response", pe.Code)
				assert.Equal(t, http.StatusBadGateway, pe.StatusCode)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantType, res.TokenType)
		})
	}
}

// assertLocalError checks a validation error raised before any request.
func assertLocalError(t *testing.T, err error, desc string) {
	t.Helper()
	var pe *ProviderError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, http.StatusBadRequest, pe.StatusCode)
	assert.Equal(t, "invalid_request", pe.Code)
	assert.Equal(t, desc, pe.Description)
	assert.ErrorIs(t, err, ErrBadRequest)
	assert.ErrorIs(t, err, ErrTokenExchange)
}
