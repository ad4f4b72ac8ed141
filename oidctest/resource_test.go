package oidctest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

const (
	apiA = "https://api-a.example"
	apiB = "https://api-b.example"
)

// callAPI calls target with the access token in scheme (and a DPoP proof
// from k unless k is nil; mutate may spoil it).
func callAPI(t *testing.T, p *oidctest.Provider, method, target, scheme, at string, k *oidctest.DPoPKey, mutate func(h, c map[string]any)) reply {
	t.Helper()
	h := http.Header{}
	if k != nil {
		s, err := k.ProofWith(method, target, "", at, mutate)
		require.NoError(t, err)
		h.Set("DPoP", s)
	}
	if scheme != "" {
		h.Set("Authorization", scheme+" "+at)
	}
	return send(t, p, method, target, nil, h, false)
}

// TestPresentingTokens covers userinfo and a resource alike: DPoP-bound
// tokens need the DPoP scheme and a proof of their key, Bearer tokens the
// Bearer scheme.
func TestPresentingTokens(t *testing.T) {
	p := oidctest.NewProvider(t, oidctest.Options{DPoP: true, Claims: map[string]any{"email": "u@example.com"}})
	a, b := dpopKeys["ES256"], dpopKeys["other"]
	bound := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader(proof(t, a, "POST", p.URL()+oidctest.PathToken, "", "")))
	require.Equal(t, "DPoP", bound.body["token_type"])
	plain := tokenWithProof(t, p, codeParams(p, dpopVerifier), nil)
	require.Equal(t, "Bearer", plain.body["token_type"])
	dpopAT, bearerAT := bound.body["access_token"].(string), plain.body["access_token"].(string)
	api := httptest.NewServer(p.Resource(p.UserinfoAudience()))
	t.Cleanup(api.Close)

	tests := []struct {
		name    string
		scheme  string
		at      string
		key     *oidctest.DPoPKey
		mutate  func(h, c map[string]any)
		wantErr string // "" for 200
	}{
		{"bound token, DPoP scheme, proof of its key", "DPoP", dpopAT, a, nil, ""},
		{"bound token as Bearer", "Bearer", dpopAT, nil, nil, "invalid_token"},
		{"bound token as Bearer with a proof", "Bearer", dpopAT, a, nil, "invalid_request"},
		{"stolen bound token with the thief's key", "DPoP", dpopAT, b, nil, "invalid_token"},
		{"bound token without a proof", "DPoP", dpopAT, nil, nil, "invalid_token"},
		{"proof without ath", "DPoP", dpopAT, a, func(_, c map[string]any) { delete(c, "ath") }, "invalid_dpop_proof"},
		{"proof with the ath of another token", "DPoP", dpopAT, a, func(_, c map[string]any) { c["ath"] = oidctest.AccessTokenHash(bearerAT) }, "invalid_dpop_proof"},
		{"proof for another method", "DPoP", dpopAT, a, func(_, c map[string]any) { c["htm"] = "POST" }, "invalid_dpop_proof"},
		{"proof for another URL", "DPoP", dpopAT, a, func(_, c map[string]any) { c["htu"] = p.URL() + oidctest.PathToken }, "invalid_dpop_proof"},
		{"Bearer token as Bearer", "Bearer", bearerAT, nil, nil, ""},
		{"Bearer token with the DPoP scheme", "DPoP", bearerAT, a, nil, "invalid_token"},
		{"Bearer token with a stray proof", "Bearer", bearerAT, a, nil, "invalid_request"},
		{"unknown token", "DPoP", "nope", a, nil, "invalid_token"},
		{"no Authorization", "", "", nil, nil, "no error"},
	}
	for _, target := range []string{p.URL() + oidctest.PathUserinfo, api.URL + "/v1/items"} {
		for _, tt := range tests {
			t.Run(strings.TrimPrefix(target, "http://")+"/"+tt.name, func(t *testing.T) {
				r := callAPI(t, p, http.MethodGet, target, tt.scheme, tt.at, tt.key, tt.mutate)
				if tt.wantErr == "" {
					require.Equal(t, http.StatusOK, r.status, r.body)
					assert.Equal(t, "user-1", r.body["sub"])
					return
				}
				if tt.wantErr == "invalid_request" {
					assert.Equal(t, http.StatusBadRequest, r.status)
				} else {
					assert.Equal(t, http.StatusUnauthorized, r.status)
				}
				www := r.header.Values("WWW-Authenticate")
				require.Len(t, www, 2, "a Bearer and a DPoP challenge")
				if tt.wantErr == "no error" {
					assert.Equal(t, `Bearer realm="oidctest"`, www[0])
					assert.Equal(t, `DPoP realm="oidctest", algs="ES256 EdDSA PS256 RS256"`, www[1])
					return
				}
				assert.Contains(t, strings.Join(www, "\n"), `error="`+tt.wantErr+`"`)
				assert.Equal(t, tt.wantErr, r.errorCode())
			})
		}
	}
	t.Run("resource answer", func(t *testing.T) {
		r := callAPI(t, p, http.MethodPost, api.URL+"/x?y=z", "DPoP", dpopAT, a, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, map[string]any{
			"sub": "user-1", "aud": p.UserinfoAudience(), "scope": "openid profile email",
			"client_id": p.ClientID(), "token_type": "DPoP", "jkt": a.Thumbprint(),
		}, r.body)
		assert.NotEmpty(t, p.LastDPoPProof(oidctest.EndpointResource))
		assert.Positive(t, p.Calls(oidctest.EndpointResource))
	})
	t.Run("replayed proof", func(t *testing.T) {
		s := proof(t, a, "GET", api.URL+"/r", "", dpopAT)
		h := dpopHeader(s)
		h.Set("Authorization", "DPoP "+dpopAT)
		assert.Equal(t, http.StatusOK, send(t, p, http.MethodGet, api.URL+"/r", nil, h, false).status)
		r := send(t, p, http.MethodGet, api.URL+"/r", nil, h, false)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, "invalid_dpop_proof", r.errorCode())
	})
	t.Run("token in the query", func(t *testing.T) {
		r := send(t, p, http.MethodGet, api.URL+"/?access_token="+bearerAT, nil, nil, false)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_request", r.errorCode())
	})
}

// codeWithResources returns code-flow parameters asking for resources.
func codeWithResources(p *oidctest.Provider, scope string, resources ...string) url.Values {
	v := codeParams(p, dpopVerifier)
	v["resource"] = resources
	v.Set("scope", scope)
	return v
}

// exchange runs the code grant with extra form values.
func exchange(t *testing.T, p *oidctest.Provider, params url.Values, extra url.Values) reply {
	t.Helper()
	form := codeForm(getCode(t, p, params), dpopVerifier)
	for k, v := range extra {
		form[k] = v
	}
	return send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, nil, true)
}

func audienceOf(t *testing.T, p *oidctest.Provider, r reply) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, r.body)
	info, ok := p.AccessTokenInfo(r.body["access_token"].(string))
	require.True(t, ok)
	return info.Audience
}

func TestResourceIndicators(t *testing.T) {
	both := []string{apiA, apiB}
	t.Run("audiences", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{Resources: both})
		tests := []struct {
			name      string
			scope     string
			granted   []string
			asked     []string
			wantAud   string
			wantError string
		}{
			{"code grant for A", "openid offline_access", both, []string{apiA}, apiA, ""},
			{"code grant for B", "openid", both, []string{apiB}, apiB, ""},
			{"no resource at the token endpoint, openid: userinfo", "openid", both, nil, p.UserinfoAudience(), ""},
			{"no resource requested at all", "openid", nil, nil, p.UserinfoAudience(), ""},
			{"resource not granted", "openid", []string{apiA}, []string{apiB}, "", "invalid_target"},
			{"resource but none granted", "openid", nil, []string{apiA}, "", "invalid_target"},
			{"two resources at the token endpoint", "openid", both, both, "", "invalid_target"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := exchange(t, p, codeWithResources(p, tt.scope, tt.granted...), url.Values{"resource": tt.asked})
				if tt.wantError != "" {
					assert.Equal(t, http.StatusBadRequest, r.status)
					assert.Equal(t, tt.wantError, r.errorCode(), r.body)
					return
				}
				assert.Equal(t, tt.wantAud, audienceOf(t, p, r))
			})
		}
	})
	t.Run("refresh per resource, each API accepts only its own audience", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{Resources: both})
		srvA := httptest.NewServer(p.Resource(apiA))
		srvB := httptest.NewServer(p.Resource(apiB))
		t.Cleanup(srvA.Close)
		t.Cleanup(srvB.Close)
		r := exchange(t, p, codeWithResources(p, "openid profile email", apiA, apiB), url.Values{"resource": {apiA}})
		require.Equal(t, apiA, audienceOf(t, p, r))
		atA := r.body["access_token"].(string)
		assert.Equal(t, http.StatusOK, callAPI(t, p, "GET", srvA.URL, "Bearer", atA, nil, nil).status)
		assert.Equal(t, "invalid_token", callAPI(t, p, "GET", srvB.URL, "Bearer", atA, nil, nil).errorCode())
		assert.Equal(t, "invalid_token", callAPI(t, p, "GET", p.URL()+oidctest.PathUserinfo, "Bearer", atA, nil, nil).errorCode())

		rt := r.body["refresh_token"].(string)
		r = refreshWith(t, p, rt, nil, url.Values{"resource": {apiB}, "scope": {"profile"}})
		require.Equal(t, apiB, audienceOf(t, p, r))
		assert.Equal(t, "profile", r.body["scope"])
		atB := r.body["access_token"].(string)
		resp := callAPI(t, p, "GET", srvB.URL, "Bearer", atB, nil, nil)
		require.Equal(t, http.StatusOK, resp.status)
		assert.Equal(t, apiB, resp.body["aud"])
		assert.Equal(t, "invalid_token", callAPI(t, p, "GET", srvA.URL, "Bearer", atB, nil, nil).errorCode())

		rt = r.body["refresh_token"].(string)
		r = refreshWith(t, p, rt, nil, url.Values{"resource": {"https://api-c.example"}})
		assert.Equal(t, "invalid_target", r.errorCode())
		r = refreshWith(t, p, rt, nil, url.Values{"scope": {"profile"}})
		assert.Equal(t, "invalid_target", r.errorCode(), "no openid and two granted resources: name one")
		r = refreshWith(t, p, rt, nil, url.Values{"resource": {apiA}, "scope": {"openid admin"}})
		assert.Equal(t, "invalid_scope", r.errorCode())
		r = refreshWith(t, p, rt, nil, nil)
		assert.Equal(t, p.UserinfoAudience(), audienceOf(t, p, r), "the failed refreshes did not burn the token")
	})
	t.Run("single granted resource without openid", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{ResourceIndicators: true})
		r := exchange(t, p, codeWithResources(p, "openid profile", apiA), nil)
		r = refreshWith(t, p, r.body["refresh_token"].(string), nil, url.Values{"scope": {"profile"}})
		assert.Equal(t, apiA, audienceOf(t, p, r))
	})
	t.Run("authorization request errors", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{Resources: both})
		for _, res := range []string{"https://api-c.example", "/relative", "https://api-a.example#frag", "not a uri"} {
			resp, _ := authorize(t, noRedirect(nil), p, codeWithResources(p, "openid", res))
			got := redirectParams(t, resp, false)
			assert.Equal(t, "invalid_target", got.Get("error"), res)
		}
		status, out := parPush(t, p, codeWithResources(p, "openid", apiA, "https://api-c.example"), true)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "invalid_target", out["error"])
	})
	t.Run("any absolute URI without Resources", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{ResourceIndicators: true})
		r := exchange(t, p, codeWithResources(p, "openid", "urn:example:api"), url.Values{"resource": {"urn:example:api"}})
		assert.Equal(t, "urn:example:api", audienceOf(t, p, r))
	})
	t.Run("ignored when off", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{})
		r := exchange(t, p, codeWithResources(p, "openid", "/not-even-valid"), url.Values{"resource": {apiA}})
		assert.Equal(t, p.UserinfoAudience(), audienceOf(t, p, r))
	})
	t.Run("PAR and request objects", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{Resources: both})
		status, out := parPush(t, p, codeWithResources(p, "openid", apiA, apiB), true)
		require.Equal(t, http.StatusCreated, status, out)
		q := url.Values{"client_id": {p.ClientID()}, "request_uri": {out["request_uri"].(string)}}
		assert.Equal(t, apiB, audienceOf(t, p, exchange(t, p, q, url.Values{"resource": {apiB}})))

		params := codeWithResources(p, "openid")
		jar := parRequestObject(t, p, "HS256", []byte(p.ClientSecret()), params, func(c map[string]any) {
			c["resource"] = []string{apiA, apiB}
		})
		status, out = parPush(t, p, url.Values{"request": {jar}}, true)
		require.Equal(t, http.StatusCreated, status, out)
		q = url.Values{"client_id": {p.ClientID()}, "request_uri": {out["request_uri"].(string)}}
		assert.Equal(t, apiA, audienceOf(t, p, exchange(t, p, q, url.Values{"resource": {apiA}})))
	})
	t.Run("discovery", func(t *testing.T) {
		p := oidctest.NewProvider(t, oidctest.Options{Resources: both})
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.Equal(t, []any{apiA, apiB}, doc["protected_resources"])
	})
	t.Run("bad Resources option", func(t *testing.T) {
		_, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Resources: []string{"relative"}})
		assert.Error(t, err)
	})
}

func TestJWTAccessTokens(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			p := oidctest.NewProvider(t, oidctest.Options{JWTAccessTokens: true, Alg: alg, Resources: []string{apiA}, DPoP: true})
			k := dpopKeys["ES256"]
			code := getCode(t, p, codeWithResources(p, "openid", apiA))
			form := codeForm(code, dpopVerifier)
			form.Set("resource", apiA)
			r := send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", "")), true)
			require.Equal(t, http.StatusOK, r.status, r.body)
			at := r.body["access_token"].(string)
			jws, err := jose.ParseSignedCompact(at, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			require.NoError(t, err)
			assert.Equal(t, "at+jwt", jws.Signatures[0].Header.ExtraHeaders["typ"])
			assert.Equal(t, p.KeyID(), jws.Signatures[0].Header.KeyID)
			payload, err := jws.Verify(p.PublicKey())
			require.NoError(t, err)
			var c map[string]any
			require.NoError(t, json.Unmarshal(payload, &c))
			assert.Equal(t, p.Issuer(), c["iss"])
			assert.Equal(t, apiA, c["aud"])
			assert.Equal(t, "user-1", c["sub"])
			assert.Equal(t, p.ClientID(), c["client_id"])
			assert.Equal(t, "openid", c["scope"])
			assert.Equal(t, map[string]any{"jkt": k.Thumbprint()}, c["cnf"])
			assert.NotEmpty(t, c["jti"])
		})
	}
	t.Run("not with HS256", func(t *testing.T) {
		_, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{JWTAccessTokens: true, Alg: "HS256"})
		assert.Error(t, err)
	})
}
