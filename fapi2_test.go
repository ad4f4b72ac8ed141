package oidc

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// fapi2Config is a valid ProfileFAPI2 configuration: private_key_jwt and
// DPoP with P-256 keys.
func fapi2Config() Config {
	k := ckKeys()
	return Config{
		Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example", BaseURL: "https://app.example",
		ClientID: "c", LookupEnv: func(string) (string, bool) { return "", false },
		Profile:                   ProfileFAPI2,
		ClientAssertionSigningKey: k.p256,
		DPoP:                      &DPoPConfig{Key: k.p256},
	}
}

// configOptions returns the Option of every *ConfigError in err.
func configOptions(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *ConfigError
		if errors.As(err, &ce) {
			out = append(out, ce.Option)
		}
	}
	walk(err)
	slices.Sort(out)
	return out
}

// TestFAPI2ProfileViolations: every requirement of ProfileFAPI2 that the
// configuration contradicts is a *ConfigError naming the option, all at
// once.
func TestFAPI2ProfileViolations(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	tests := []struct {
		name    string
		mutate  func(*Config)
		options []string // nil: valid
	}{
		{"valid", func(*Config) {}, nil},
		{"valid with RSA keys (PS256 by default)", func(c *Config) {
			c.ClientAssertionSigningKey, c.DPoP.Key = k.rsa, k.rsa
		}, nil},
		{"valid with Ed25519", func(c *Config) { c.ClientAssertionSigningKey, c.DPoP.Key = k.ed, k.ed }, nil},
		{"valid with mTLS for authentication and binding", func(c *Config) {
			c.ClientAssertionSigningKey, c.DPoP, c.UseMTLS, c.HTTPClient = nil, nil, true, ckMTLSClient()
		}, nil},
		{"implicit flow", func(c *Config) { c.AuthorizationParams = map[string]string{"response_type": "id_token"} },
			[]string{`AuthorizationParams["response_type"]`}},
		{"hybrid flow", func(c *Config) { c.AuthorizationParams = map[string]string{"response_type": "code id_token"} },
			[]string{`AuthorizationParams["response_type"]`}},
		{"client secret", func(c *Config) { c.ClientAssertionSigningKey, c.ClientSecret = nil, "a-client-secret" },
			[]string{"ClientAuthMethod"}},
		{"client_secret_post with a key", func(c *Config) {
			c.ClientAuthMethod, c.ClientSecret = "client_secret_post", "a-client-secret"
		}, []string{"ClientAssertionSigningKey", "ClientAuthMethod"}},
		{"client_secret_jwt (HS256)", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAuthMethod, c.ClientSecret = nil, "client_secret_jwt", Secret(k.secret)
		}, []string{"ClientAuthMethod"}},
		{"private_key_jwt without a key", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAuthMethod = nil, "private_key_jwt"
		}, []string{"ClientAssertionSigningKey"}}, // reported once, not again by the profile
		{"public client", func(c *Config) { c.ClientAssertionSigningKey, c.ClientAuthMethod = nil, "none" },
			[]string{"ClientAuthMethod"}},
		{"RS256 client assertion", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.rsa, "RS256"
		}, []string{"ClientAssertionSigningAlg"}},
		{"ES384 client assertion", func(c *Config) { c.ClientAssertionSigningKey = k.p384 },
			[]string{"ClientAssertionSigningAlg"}},
		{"no sender constraint", func(c *Config) { c.DPoP = nil }, []string{"DPoP"}},
		{"Bearer downgrade", func(c *Config) { c.DPoP.AllowBearerDowngrade = true }, []string{"DPoP.AllowBearerDowngrade"}},
		{"RS256 DPoP proofs", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.rsa, Alg: "RS256"} }, []string{"DPoP.Alg"}},
		{"a P-384 DPoP key", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p384} }, []string{"DPoP.Key"}},
		{"RS256 ID tokens", func(c *Config) { c.IDTokenSigningAlg = "RS256" }, []string{"IDTokenSigningAlg"}},
		{"HS256 ID tokens", func(c *Config) { c.IDTokenSigningAlg, c.ClientSecret = "HS256", Secret(k.secret) },
			[]string{"IDTokenSigningAlg"}},
		{"unsigned ID tokens", func(c *Config) { c.IDTokenSigningAlg = "none" }, []string{"IDTokenSigningAlg"}},
		{"RS256 request objects", func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.rsa, "RS256"
		}, []string{"RequestObjectSigningAlg"}},
		{"unknown profile", func(c *Config) { c.Profile = "fapi1" }, []string{"Profile"}},
		{"everything at once", func(c *Config) {
			c.AuthorizationParams = map[string]string{"response_type": "id_token"}
			c.ClientAssertionSigningKey, c.ClientSecret = nil, "a-client-secret"
			c.DPoP = nil
			c.IDTokenSigningAlg = "RS256"
		}, []string{`AuthorizationParams["response_type"]`, "ClientAuthMethod", "DPoP", "IDTokenSigningAlg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := fapi2Config()
			tt.mutate(&cfg)
			m, err := New(cfg)
			if tt.options == nil {
				require.NoError(t, err)
				assert.True(t, m.s.par, "PAR is on")
				assert.True(t, m.s.requireIss)
				assert.Equal(t, "code", m.s.responseType)
				assert.Equal(t, "PS256", m.s.alg)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Equal(t, tt.options, configOptions(err), err.Error())
		})
	}

	t.Run("the caller's Config is not changed", func(t *testing.T) {
		t.Parallel()
		cfg := fapi2Config()
		cfg.AuthorizationParams = map[string]string{"scope": "openid"}
		_, err := New(cfg)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"scope": "openid"}, cfg.AuthorizationParams)
		assert.Empty(t, cfg.DPoP.Alg)
		assert.False(t, cfg.PushedAuthorizationRequests)
	})
}

// newFAPI2App is a tkApp with ProfileFAPI2 against a provider with key
// as the client's registered key.
func newFAPI2App(t *testing.T, opts oidctest.Options, mutate func(*Config)) *testApp {
	t.Helper()
	k := ckKeys()
	opts.ClientPublicKey = k.p256.Public()
	opts.TokenEndpointAuthMethods = []string{"private_key_jwt"}
	return newTKApp(t, opts, func(c *Config) {
		c.Profile = ProfileFAPI2
		c.ClientSecret = ""
		c.ClientAssertionSigningKey = k.p256
		c.DPoP = &DPoPConfig{Key: k.ed}
		delete(c.AuthorizationParams, "response_type")
		if mutate != nil {
			mutate(c)
		}
	})
}

// TestFAPI2Login: a login with ProfileFAPI2 against a FAPI 2.0 provider:
// PAR, PKCE, private_key_jwt, DPoP, iss, PS256 ID tokens; then refresh and
// userinfo with the DPoP token.
func TestFAPI2Login(t *testing.T) {
	t.Parallel()
	e := newFAPI2App(t, oidctest.Options{FAPI2: true}, nil)
	resp, _ := e.b.get(e.url("/login"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.NotEmpty(t, loc.Query().Get("request_uri"), "pushed")
	par := e.op.LastPARRequest()
	require.NotNil(t, par)
	assert.Equal(t, "S256", par.PostForm.Get("code_challenge_method"))
	assert.Equal(t, "code", par.PostForm.Get("response_type"))
	cb, method, vals := e.b.authorize(resp)
	assert.NotEmpty(t, vals.Get("iss"))
	resp, body := e.b.deliver(cb, method, vals)
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	tok := e.tokens()
	require.True(t, tok.Authenticated)
	assert.Equal(t, "DPoP", tok.TokenType)

	var info Claims
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		info, err = c.FetchUserInfo(r.Context())
	})
	require.NoError(t, err)
	assert.NotEmpty(t, info.String("sub"))
	at, err := e.refresh(RefreshOptions{})
	require.NoError(t, err)
	assert.Equal(t, "DPoP", at.Type)
}

// TestFAPI2RequiresIss: under the profile a callback without the RFC 9207
// iss parameter is refused even when the provider does not advertise it.
func TestFAPI2RequiresIss(t *testing.T) {
	t.Parallel()
	e := newFAPI2App(t, oidctest.Options{DPoP: true}, nil)
	resp, _ := e.b.get(e.url("/login"))
	cb, method, vals := e.b.authorize(resp)
	require.False(t, vals.Has("iss"))
	resp, body := e.b.deliver(cb, method, vals)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	assert.False(t, e.tokens().Authenticated)

	// Without the profile, the same provider's answer is accepted.
	plain := newTKApp(t, oidctest.Options{DPoP: true}, nil)
	plain.login()
}
