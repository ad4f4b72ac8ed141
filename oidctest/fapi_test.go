package oidctest_test

import (
	"crypto"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// fapiPush pushes params with a private_key_jwt assertion (alg, key) and
// the given DPoP headers.
func fapiPush(t *testing.T, p *oidctest.Provider, params url.Values, alg string, key crypto.Signer, h http.Header) reply {
	t.Helper()
	return send(t, p, http.MethodPost, p.URL()+oidctest.PathPAR, caForm(params, caAssertion(t, p, alg, key, nil)), h, false)
}

func TestFAPI2(t *testing.T) {
	rsaKey := caKeys["PS256"]
	newFAPI := func(t *testing.T) *oidctest.Provider {
		return oidctest.NewProvider(t, oidctest.Options{FAPI2: true, ClientPublicKey: rsaKey.Public()})
	}
	k := dpopKeys["ES256"]

	t.Run("discovery", func(t *testing.T) {
		p := newFAPI(t)
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.Equal(t, true, doc["require_pushed_authorization_requests"])
		assert.Equal(t, p.URL()+oidctest.PathPAR, doc["pushed_authorization_request_endpoint"])
		assert.Equal(t, true, doc["authorization_response_iss_parameter_supported"])
		assert.Equal(t, []any{"PS256"}, doc["id_token_signing_alg_values_supported"])
		assert.Equal(t, []any{"private_key_jwt"}, doc["token_endpoint_auth_methods_supported"])
		assert.Equal(t, []any{"PS256", "ES256", "EdDSA"}, doc["token_endpoint_auth_signing_alg_values_supported"])
		assert.Equal(t, []any{"PS256", "ES256", "EdDSA"}, doc["dpop_signing_alg_values_supported"])
		assert.Equal(t, []any{"code"}, doc["response_types_supported"])
		assert.Equal(t, []any{"S256"}, doc["code_challenge_methods_supported"])
		assert.NotContains(t, doc["grant_types_supported"], "implicit")
	})
	t.Run("the whole flow", func(t *testing.T) {
		p := newFAPI(t)
		r := fapiPush(t, p, codeParams(p, dpopVerifier), "PS256", rsaKey, dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathPAR, "", "")))
		require.Equal(t, http.StatusCreated, r.status, r.body)
		resp, _ := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request_uri": {r.body["request_uri"].(string)}})
		got := redirectParams(t, resp, false)
		require.NotEmpty(t, got.Get("code"), got)
		assert.Equal(t, p.Issuer(), got.Get("iss"))
		form := caForm(codeForm(got.Get("code"), dpopVerifier), caAssertion(t, p, "ES256", caKeys["ES256"], nil))
		// The client key is RSA: an ES256 assertion does not verify.
		tok := send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", "")), false)
		assert.Equal(t, "invalid_client", tok.errorCode())

		r = fapiPush(t, p, codeParams(p, dpopVerifier), "PS256", rsaKey, dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathPAR, "", "")))
		resp, _ = authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request_uri": {r.body["request_uri"].(string)}})
		got = redirectParams(t, resp, false)
		form = caForm(codeForm(got.Get("code"), dpopVerifier), caAssertion(t, p, "PS256", rsaKey, nil))
		tok = send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", "")), false)
		require.Equal(t, http.StatusOK, tok.status, tok.body)
		assert.Equal(t, "DPoP", tok.body["token_type"])
		idt, err := verifier(t, p, "PS256").Verify(t.Context(), tok.body["id_token"].(string))
		require.NoError(t, err)
		assert.Equal(t, "user-1", idt.Subject)
	})

	refusals := []struct {
		name      string
		push      func(t *testing.T, p *oidctest.Provider) reply
		wantError string
	}{
		{"client_secret_basic", func(t *testing.T, p *oidctest.Provider) reply {
			return send(t, p, http.MethodPost, p.URL()+oidctest.PathPAR, codeParams(p, dpopVerifier), nil, true)
		}, "invalid_client"},
		{"RS256 client assertion", func(t *testing.T, p *oidctest.Provider) reply {
			return fapiPush(t, p, codeParams(p, dpopVerifier), "RS256", rsaKey, nil)
		}, "invalid_client"},
		{"no PKCE", func(t *testing.T, p *oidctest.Provider) reply {
			v := codeParams(p, dpopVerifier)
			v.Del("code_challenge")
			v.Del("code_challenge_method")
			return fapiPush(t, p, v, "PS256", rsaKey, nil)
		}, "invalid_request"},
		{"hybrid flow", func(t *testing.T, p *oidctest.Provider) reply {
			v := codeParams(p, dpopVerifier)
			v.Set("response_type", "code id_token")
			return fapiPush(t, p, v, "PS256", rsaKey, nil)
		}, "unsupported_response_type"},
		{"implicit flow", func(t *testing.T, p *oidctest.Provider) reply {
			v := codeParams(p, dpopVerifier)
			v.Set("response_type", "id_token")
			return fapiPush(t, p, v, "PS256", rsaKey, nil)
		}, "unsupported_response_type"},
		{"RS256 DPoP proof", func(t *testing.T, p *oidctest.Provider) reply {
			return fapiPush(t, p, codeParams(p, dpopVerifier), "PS256", rsaKey, dpopHeader(proof(t, dpopKeys["RS256"], "POST", p.URL()+oidctest.PathPAR, "", "")))
		}, "invalid_dpop_proof"},
		{"HS256 request object", func(t *testing.T, p *oidctest.Provider) reply {
			jar := parRequestObject(t, p, "HS256", []byte(p.ClientSecret()+"-0123456789abcdef0123456789"), codeParams(p, dpopVerifier), nil)
			return fapiPush(t, p, url.Values{"request": {jar}}, "PS256", rsaKey, nil)
		}, "invalid_request_object"},
	}
	for _, tt := range refusals {
		t.Run("PAR refuses "+tt.name, func(t *testing.T) {
			p := newFAPI(t)
			r := tt.push(t, p)
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, r.status)
			assert.Equal(t, tt.wantError, r.errorCode(), r.body)
		})
	}
	t.Run("authorize refuses a request without PAR", func(t *testing.T) {
		p := newFAPI(t)
		resp, body := authorize(t, noRedirect(nil), p, codeParams(p, dpopVerifier))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "pushed authorization requests are required")
	})
	t.Run("token endpoint refuses a request without a proof", func(t *testing.T) {
		p := newFAPI(t)
		r := fapiPush(t, p, codeParams(p, dpopVerifier), "PS256", rsaKey, nil)
		require.Equal(t, http.StatusCreated, r.status, r.body)
		resp, _ := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request_uri": {r.body["request_uri"].(string)}})
		code := redirectParams(t, resp, false).Get("code")
		form := caForm(codeForm(code, dpopVerifier), caAssertion(t, p, "PS256", rsaKey, nil))
		tok := send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, nil, false)
		assert.Equal(t, http.StatusBadRequest, tok.status)
		assert.Equal(t, "invalid_dpop_proof", tok.errorCode())
	})
	t.Run("invalid options", func(t *testing.T) {
		for name, o := range map[string]oidctest.Options{
			"RS256 ID tokens":      {FAPI2: true, ClientPublicKey: rsaKey.Public(), Alg: "RS256"},
			"client secrets":       {FAPI2: true, ClientPublicKey: rsaKey.Public(), TokenEndpointAuthMethods: []string{"client_secret_basic"}},
			"RS256 DPoP":           {FAPI2: true, ClientPublicKey: rsaKey.Public(), DPoPSigningAlgs: []string{"RS256"}},
			"no PAR":               {FAPI2: true, ClientPublicKey: rsaKey.Public(), DisablePAR: true},
			"no client key":        {FAPI2: true},
			"unknown DPoP alg":     {DPoPSigningAlgs: []string{"HS256"}},
			"unknown ID token alg": {Alg: "ES384"},
		} {
			_, err := oidctest.NewServer("127.0.0.1:0", o)
			assert.Error(t, err, name)
		}
	})
	t.Run("ES256 and EdDSA ID tokens", func(t *testing.T) {
		for _, alg := range []string{"ES256", "EdDSA"} {
			p := oidctest.NewProvider(t, oidctest.Options{FAPI2: true, Alg: alg, ClientPublicKey: rsaKey.Public()})
			var doc map[string]any
			getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
			assert.Equal(t, []any{alg}, doc["id_token_signing_alg_values_supported"])
		}
	})
}
