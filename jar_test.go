package oidc

import (
	"crypto"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// jarApp is an app whose requests objects are signed with key (alg).
func jarApp(t *testing.T, key crypto.Signer, alg string, mutate func(*Config)) *testApp {
	t.Helper()
	return newTestApp(t, withProvider(oidctest.Options{ClientPublicKey: key.Public()}), withConfig(codeFlow), withConfig(func(c *Config) {
		c.RequestObjectSigningKey, c.RequestObjectSigningAlg = key, alg
	}), withConfig(mutate))
}

// jarLogin starts a login and returns the redirect and its query.
func jarLogin(t *testing.T, app *testApp, b *browser) (*http.Response, url.Values) {
	t.Helper()
	resp, _ := b.get(app.url("/login"))
	return resp, parLocation(t, resp).Query()
}

// TestJAR covers the "JAR (JWT-Secured Authorization Requests)" titles of
// test/login.tests.js and the buildRequestObject titles of
// test/client.tests.js.
func TestJAR(t *testing.T) {
	t.Parallel()
	key := ckKeys().rsa

	t.Run("should include request param when requestObjectSigningKey is set", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", nil)
		_, q := jarLogin(t, app, app.browser())
		assert.NotEmpty(t, q.Get("request"))
	})
	t.Run("should reduce the non-PAR authorize redirect to only client_id and request", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", nil)
		resp, q := jarLogin(t, app, app.browser())
		assert.ElementsMatch(t, []string{"client_id", "request"}, slicesKeys(q))
		assert.Equal(t, app.op.ClientID(), q.Get("client_id"))
		loc := parLocation(t, resp)
		assert.Equal(t, app.op.URL()+"/authorize", loc.Scheme+"://"+loc.Host+loc.Path)
		assert.Equal(t, 0, app.op.Calls(oidctest.EndpointPAR))
	})
	t.Run("should return a valid JWT in request param", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", nil)
		_, q := jarLogin(t, app, app.browser())
		j := ckVerifyJWT(t, q.Get("request"), key.Public()) // 3 parts, verified
		assert.Equal(t, "RS256", j.header["alg"], "should decode header with correct algorithm")
		assert.NotContains(t, j.header, "kid", "should exclude kid from header when requestObjectSigningKeyId is not set")
		assert.NotContains(t, j.header, "typ")
	})
	t.Run("should include standard claims in request JWT payload", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", func(c *Config) {
			c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query",
				"max_age": "600", "audience": "https://api.example", "claims": `{"id_token":{"email":null}}`}
		})
		_, q := jarLogin(t, app, app.browser())
		j := ckVerifyJWT(t, q.Get("request"), key.Public())
		ckAssertStdClaims(t, app, j) // iss, aud, jti, iat = nbf = now, exp = now + 60
		c := j.claims
		assert.Equal(t, app.op.ClientID(), c["client_id"])
		assert.Equal(t, app.url("/callback"), c["redirect_uri"])
		assert.Equal(t, "code", c["response_type"])
		assert.Equal(t, "query", c["response_mode"])
		assert.Equal(t, "openid profile email", c["scope"])
		assert.Equal(t, "https://api.example", c["audience"])
		assert.Equal(t, "S256", c["code_challenge_method"])
		for _, k := range []string{"nonce", "state", "code_challenge"} {
			assert.NotEmpty(t, c[k], k)
		}
		assert.Equal(t, float64(600), c["max_age"], "max_age is a number (OpenID Connect Core §6.1)")
		assert.Equal(t, map[string]any{"id_token": map[string]any{"email": nil}}, c["claims"], "claims is an object")
		assert.NotContains(t, c, "sub")
	})
	t.Run("should set aud to the discovered issuer, not issuerBaseURL (trailing slash)", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", nil)
		require.NotEqual(t, app.cfg.IssuerBaseURL, app.op.Issuer())
		_, q := jarLogin(t, app, app.browser())
		j := ckVerifyJWT(t, q.Get("request"), key.Public())
		assert.Equal(t, app.op.Issuer(), j.claims["aud"])
		assert.Equal(t, app.cfg.IssuerBaseURL+"/", j.claims["aud"])
	})
	t.Run("should include kid in header when requestObjectSigningKeyId is provided", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "PS256", func(c *Config) { c.RequestObjectSigningKeyID = "ro-key-1" })
		_, q := jarLogin(t, app, app.browser())
		j := ckVerifyJWT(t, q.Get("request"), key.Public())
		assert.Equal(t, "ro-key-1", j.header["kid"])
		assert.Equal(t, "PS256", j.header["alg"])
	})
	t.Run("jti differs between logins", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", nil)
		_, q1 := jarLogin(t, app, app.browser())
		_, q2 := jarLogin(t, app, app.browser())
		j1 := ckVerifyJWT(t, q1.Get("request"), key.Public())
		j2 := ckVerifyJWT(t, q2.Get("request"), key.Public())
		assert.NotEqual(t, j1.claims["jti"], j2.claims["jti"])
		assert.NotEqual(t, j1.claims["nonce"], j2.claims["nonce"])
	})
	t.Run("should use PAR endpoint when pushedAuthorizationRequests is enabled", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", func(c *Config) { c.PushedAuthorizationRequests = true })
		jarLogin(t, app, app.browser())
		require.Equal(t, 1, app.op.Calls(oidctest.EndpointPAR))
		f := app.op.LastPARRequest().PostForm
		assert.ElementsMatch(t, []string{"client_id", "request"}, slicesKeys(f), "only client_id and request are pushed (Basic auth)")
		j := ckVerifyJWT(t, f.Get("request"), key.Public())
		ckAssertStdClaims(t, app, j)
		assert.Equal(t, app.url("/callback"), j.claims["redirect_uri"])
	})
	t.Run("should not include request param in final URL when PAR is used", func(t *testing.T) {
		t.Parallel()
		app := jarApp(t, key, "RS256", func(c *Config) { c.PushedAuthorizationRequests = true })
		_, q := jarLogin(t, app, app.browser())
		assert.ElementsMatch(t, []string{"client_id", "request_uri"}, slicesKeys(q))
		assert.False(t, q.Has("request"))
	})

	logins := []struct {
		name   string
		key    crypto.Signer
		alg    string
		mutate func(*Config)
	}{
		{"RS256", key, "RS256", nil},
		{"ES384", ckKeys().p384, "ES384", nil},
		{"EdDSA", ckKeys().ed, "EdDSA", nil},
		{"opaque PS256 signer", ckOpaque{key}, "PS256", nil},
		{"with PAR", key, "RS256", func(c *Config) { c.PushedAuthorizationRequests = true }},
		{"with PAR and private_key_jwt (one registered key for both)", key, "RS256", func(c *Config) {
			c.PushedAuthorizationRequests = true
			c.ClientAssertionSigningKey = key
		}},
		{"id_token flow", key, "RS256", func(c *Config) { c.AuthorizationParams = nil }},
	}
	for _, tt := range logins {
		t.Run("the provider accepts the request object: "+tt.name, func(t *testing.T) {
			t.Parallel()
			opOpts := oidctest.Options{ClientPublicKey: tt.key.Public(), RequireSignedRequestObject: true, Subject: "jay"}
			app := newTestApp(t, withProvider(opOpts), withConfig(func(c *Config) {
				codeFlow(c)
				c.RequestObjectSigningKey = tt.key
				c.RequestObjectSigningAlg = tt.alg
				if tt.mutate != nil {
					tt.mutate(c)
				}
			}))
			if app.cfg.ClientAssertionSigningKey != nil {
				app.op.SetOptions(func(o *oidctest.Options) { o.TokenEndpointAuthMethods = []string{"private_key_jwt"} })
			}
			b := app.browser()
			resp, body := b.login(app, "/login")
			ckLoggedIn(t, app, b, resp, body)
			_, body = b.get(app.url("/"))
			assert.Equal(t, "hello jay", body)
		})
	}
}
