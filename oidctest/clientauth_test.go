package oidctest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// caKeys are client keys shared by the tests (RSA generation is slow).
var caKeys = func() map[string]crypto.Signer {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return map[string]crypto.Signer{"RS256": rsaKey, "PS256": rsaKey, "ES256": ecKey, "EdDSA": edKey}
}()

// caAssertion returns a valid client assertion for p, after mutate.
func caAssertion(t *testing.T, p *oidctest.Provider, alg string, key any, mutate func(h, c map[string]any)) string {
	t.Helper()
	now := time.Now().Unix()
	h := map[string]any{"alg": alg}
	c := map[string]any{
		"iss": p.ClientID(), "sub": p.ClientID(), "aud": p.Issuer(),
		"jti": rand.Text(), "iat": now, "nbf": now, "exp": now + 60,
	}
	if mutate != nil {
		mutate(h, c)
	}
	tok, err := oidctest.SignJWT(h, c, key)
	require.NoError(t, err)
	return tok
}

func caForm(form url.Values, assertion string) url.Values {
	form.Set("client_assertion_type", oidctest.ClientAssertionType)
	form.Set("client_assertion", assertion)
	return form
}

func TestClientAssertionAuthentication(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	rsaKey := caKeys["RS256"].(*rsa.PrivateKey)
	jwtOpts := func(pub crypto.PublicKey) oidctest.Options {
		return oidctest.Options{ClientPublicKey: pub, TokenEndpointAuthMethods: []string{"private_key_jwt", "client_secret_jwt"}}
	}
	tests := []struct {
		name      string
		opts      oidctest.Options
		alg       string
		key       func(p *oidctest.Provider) any
		mutate    func(h, c map[string]any)
		form      func(url.Values)
		wantError string // "" for success
	}{
		{"private_key_jwt RS256", jwtOpts(rsaKey.Public()), "RS256", nil, nil, nil, ""},
		{"private_key_jwt PS256", jwtOpts(rsaKey.Public()), "PS256", nil, nil, nil, ""},
		{"private_key_jwt ES256", jwtOpts(caKeys["ES256"].Public()), "ES256", nil, nil, nil, ""},
		{"private_key_jwt EdDSA", jwtOpts(caKeys["EdDSA"].Public()), "EdDSA", nil, nil, nil, ""},
		{"client_secret_jwt HS256 with a short secret", jwtOpts(rsaKey.Public()), "HS256",
			func(p *oidctest.Provider) any { return p.ClientSecret() }, nil, nil, ""},
		{"client_secret_jwt HS512", jwtOpts(rsaKey.Public()), "HS512",
			func(p *oidctest.Provider) any { return p.ClientSecret() }, nil, nil, ""},
		{"client_secret_jwt wrong secret", jwtOpts(rsaKey.Public()), "HS256",
			func(*oidctest.Provider) any { return "not-the-secret" }, nil, nil, "invalid_client"},
		{"client_id in the form", jwtOpts(rsaKey.Public()), "RS256", nil, nil,
			func(f url.Values) { f.Set("client_id", "test-client") }, ""},
		{"other client_id in the form", jwtOpts(rsaKey.Public()), "RS256", nil, nil,
			func(f url.Values) { f.Set("client_id", "other") }, "invalid_client"},
		{"method not allowed", oidctest.Options{}, "HS256",
			func(p *oidctest.Provider) any { return p.ClientSecret() }, nil, nil, "invalid_client"},
		{"private_key_jwt not allowed", oidctest.Options{ClientPublicKey: rsaKey.Public(),
			TokenEndpointAuthMethods: []string{"client_secret_jwt"}}, "RS256", nil, nil, nil, "invalid_client"},
		{"signed with another key", jwtOpts(caKeys["ES256"].Public()), "RS256", nil, nil, nil, "invalid_client"},
		{"alg none", jwtOpts(rsaKey.Public()), "none", nil, nil, nil, "invalid_client"},
		{"aud is the token endpoint", jwtOpts(rsaKey.Public()), "RS256", nil,
			func(_, c map[string]any) { c["aud"] = strings.TrimSuffix(c["aud"].(string), "/") + "/token" }, nil, "invalid_client"},
		{"aud is an array", jwtOpts(rsaKey.Public()), "RS256", nil,
			func(_, c map[string]any) { c["aud"] = []any{c["aud"]} }, nil, "invalid_client"},
		{"aud without trailing slash", jwtOpts(rsaKey.Public()), "RS256", nil,
			func(_, c map[string]any) { c["aud"] = strings.TrimSuffix(c["aud"].(string), "/") }, nil, "invalid_client"},
		{"iss differs", jwtOpts(rsaKey.Public()), "RS256", nil, func(_, c map[string]any) { c["iss"] = "x" }, nil, "invalid_client"},
		{"sub differs", jwtOpts(rsaKey.Public()), "RS256", nil, func(_, c map[string]any) { c["sub"] = "x" }, nil, "invalid_client"},
		{"expired", jwtOpts(rsaKey.Public()), "RS256", nil,
			func(_, c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() }, nil, "invalid_client"},
		{"no exp", jwtOpts(rsaKey.Public()), "RS256", nil, func(_, c map[string]any) { delete(c, "exp") }, nil, "invalid_client"},
		{"exp too far", jwtOpts(rsaKey.Public()), "RS256", nil,
			func(_, c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }, nil, "invalid_client"},
		{"nbf in the future", jwtOpts(rsaKey.Public()), "RS256", nil,
			func(_, c map[string]any) { c["nbf"] = time.Now().Add(time.Minute).Unix() }, nil, "invalid_client"},
		{"no jti", jwtOpts(rsaKey.Public()), "RS256", nil, func(_, c map[string]any) { delete(c, "jti") }, nil, "invalid_client"},
		{"wrong assertion type", jwtOpts(rsaKey.Public()), "RS256", nil, nil,
			func(f url.Values) { f.Set("client_assertion_type", "urn:x") }, "invalid_client"},
		{"assertion and client_secret", jwtOpts(rsaKey.Public()), "RS256", nil, nil,
			func(f url.Values) { f.Set("client_secret", "test-secret") }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.opts)
			var key any = caKeys[tt.alg]
			if tt.key != nil {
				key = tt.key(p)
			}
			code := getCode(t, p, codeParams(p, v))
			form := caForm(codeForm(code, v), caAssertion(t, p, tt.alg, key, tt.mutate))
			if tt.form != nil {
				tt.form(form)
			}
			status, body := postToken(t, p, form, false)
			if tt.wantError == "" {
				assert.Equal(t, http.StatusOK, status, body)
				assert.NotEmpty(t, body["access_token"])
				return
			}
			assert.Equal(t, tt.wantError, body["error"], body)
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, status)
		})
	}

	t.Run("a replayed jti is refused", func(t *testing.T) {
		p := newProvider(t, jwtOpts(rsaKey.Public()))
		assertion := caAssertion(t, p, "RS256", rsaKey, nil)
		code := getCode(t, p, codeParams(p, v))
		status, _ := postToken(t, p, caForm(codeForm(code, v), assertion), false)
		require.Equal(t, http.StatusOK, status)
		code = getCode(t, p, codeParams(p, v))
		status, body := postToken(t, p, caForm(codeForm(code, v), assertion), false)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body["error_description"], "replayed")
	})
	t.Run("private_key_jwt needs ClientPublicKey", func(t *testing.T) {
		_, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{TokenEndpointAuthMethods: []string{"private_key_jwt"}})
		assert.ErrorContains(t, err, "ClientPublicKey")
		_, err = oidctest.NewServer("127.0.0.1:0", oidctest.Options{ClientPublicKey: "nope"})
		assert.ErrorContains(t, err, "ClientPublicKey")
	})
	t.Run("discovery advertises the methods and algorithms", func(t *testing.T) {
		p := newProvider(t, jwtOpts(rsaKey.Public()))
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.Equal(t, []any{"private_key_jwt", "client_secret_jwt"}, doc["token_endpoint_auth_methods_supported"])
		assert.Contains(t, doc["token_endpoint_auth_signing_alg_values_supported"], "RS256")
		assert.Contains(t, doc["token_endpoint_auth_signing_alg_values_supported"], "HS256")
		assert.NotContains(t, doc["token_endpoint_auth_signing_alg_values_supported"], "none")
	})
	t.Run("revocation accepts assertions", func(t *testing.T) {
		p := newProvider(t, jwtOpts(rsaKey.Public()))
		code := getCode(t, p, codeParams(p, v))
		status, tok := postToken(t, p, caForm(codeForm(code, v), caAssertion(t, p, "RS256", rsaKey, nil)), false)
		require.Equal(t, http.StatusOK, status)
		form := caForm(url.Values{"token": {tok["refresh_token"].(string)}}, caAssertion(t, p, "RS256", rsaKey, nil))
		resp, err := http.PostForm(p.URL()+oidctest.PathRevoke, form)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}
