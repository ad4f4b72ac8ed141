package interop

// node-oidc-provider's feature profiles (provider.mjs --profile, see
// profiles.mjs): what their discovery documents advertise, and complete
// DPoP, resource-indicator and FAPI 2.0 flows through them with a bare
// client (miniclient_test.go) and the fake API (fakeapi_test.go).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

const (
	apiA           = "https://api-a.example"
	apiB           = "https://api-b.example"
	apiClientID    = "go-api"
	apiSecret      = "go-api-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	fapiClientID   = "go-fapi2"
	fapiAssertionK = "fapi2-es256"
)

// apiClient is the client of the dpop and resources profiles.
func apiClient() map[string]any {
	return map[string]any{
		"client_id": apiClientID, "client_secret": apiSecret,
		"redirect_uris": []string{miniRedirectURI}, "token_endpoint_auth_method": "client_secret_basic",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
	}
}

// fapiClient is the client of the fapi2 profile: everything else comes
// from the profile's client defaults.
func fapiClient(t *testing.T, key *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	jwk, err := ecJWK(&key.PublicKey, fapiAssertionK)
	require.NoError(t, err)
	return map[string]any{
		"client_id": fapiClientID, "redirect_uris": []string{miniRedirectURI},
		"jwks": map[string]any{"keys": []any{jwk}}, "token_endpoint_auth_signing_alg": "ES256",
	}
}

// startProfile runs provider.mjs --profile profile with clients and
// returns its issuer; the process stops with the test.
func startProfile(t *testing.T, profile string, clients ...map[string]any) string {
	t.Helper()
	needNode(t)
	file := filepath.Join(t.TempDir(), "clients.json")
	data, err := json.Marshal(clients)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, data, 0o600))
	proc, issuer, err := startNode("node-oidc-provider --profile "+profile, "provider.mjs", nil,
		"--port", "0", "--clients", file, "--profile", profile, "--exit-with-stdin")
	require.NoError(t, err)
	proc.dumpLogsOnFailure(t)
	t.Cleanup(proc.stop)
	return issuer
}

func TestProfileDiscovery(t *testing.T) {
	t.Parallel()
	fapiKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		profile string
		clients []map[string]any
		want    map[string]any
		absent  []string
	}{
		{"dpop", []map[string]any{apiClient()}, map[string]any{
			"dpop_signing_alg_values_supported":              []any{"ES256", "EdDSA", "PS256", "RS256"},
			"authorization_response_iss_parameter_supported": true,
		}, []string{"require_pushed_authorization_requests"}},
		{"resources", []map[string]any{apiClient()}, map[string]any{
			// RFC 8707 has no metadata: the scopes of the resource servers
			// show; the flows below check the behaviour.
			"scopes_supported": []any{"openid", "offline_access", "profile", "email", "api:read", "api:write"},
		}, nil},
		{"fapi2", []map[string]any{fapiClient(t, fapiKey)}, map[string]any{
			"require_pushed_authorization_requests":            true,
			"token_endpoint_auth_methods_supported":            []any{"private_key_jwt"},
			"token_endpoint_auth_signing_alg_values_supported": []any{"PS256", "ES256", "EdDSA"},
			"id_token_signing_alg_values_supported":            []any{"PS256", "ES256"},
			"dpop_signing_alg_values_supported":                []any{"PS256", "ES256", "EdDSA"},
			"authorization_response_iss_parameter_supported":   true,
			"code_challenge_methods_supported":                 []any{"S256"},
			"response_types_supported":                         []any{"code"},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			issuer := startProfile(t, tt.profile, tt.clients...)
			var doc map[string]any
			require.NoError(t, getJSONDoc(issuer+"/.well-known/openid-configuration", &doc))
			for k, v := range tt.want {
				assert.Equal(t, v, doc[k], k)
			}
			for _, k := range tt.absent {
				assert.NotContains(t, doc, k)
			}
			assert.Equal(t, issuer+"/request", doc["pushed_authorization_request_endpoint"])
		})
	}
}

// codeRequest returns authorization parameters for the code flow and the
// PKCE verifier.
func codeRequest(clientID, scope string, resources ...string) (url.Values, string) {
	v, ch := pkce()
	return url.Values{
		"client_id": {clientID}, "redirect_uri": {miniRedirectURI}, "response_type": {"code"},
		"scope": {scope}, "state": {"st"}, "nonce": {"n"}, "resource": resources,
		"code_challenge": {ch}, "code_challenge_method": {"S256"},
	}, v
}

func codeGrant(code, verifier string, extra url.Values) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {miniRedirectURI}, "code_verifier": {verifier}}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func TestProfileDPoP(t *testing.T) {
	t.Parallel()
	issuer := startProfile(t, "dpop", apiClient())
	c := newMiniClient(t, issuer, apiClientID)
	c.secret = apiSecret
	var err error
	c.dpop, err = oidctest.NewDPoPKey("ES256")
	require.NoError(t, err)

	params, verifier := codeRequest(apiClientID, "openid email")
	cb := c.authorize(t, params)
	require.NotEmpty(t, cb.Get("code"), cb)

	// The first proof has no nonce: the provider hands one out.
	first := c.send(t, http.MethodPost, c.endpoint("token_endpoint"), codeGrant(cb.Get("code"), verifier, nil), "", "")
	assert.Equal(t, http.StatusBadRequest, first.status)
	assert.Equal(t, "use_dpop_nonce", first.str("error"))
	require.NotEmpty(t, c.nonce)
	tok := c.post(t, "token_endpoint", codeGrant(cb.Get("code"), verifier, nil))
	require.Equal(t, http.StatusOK, tok.status, tok.body)
	assert.Equal(t, "DPoP", tok.str("token_type"))
	at := tok.str("access_token")

	ui := c.call(t, http.MethodGet, c.endpoint("userinfo_endpoint"), "DPoP", at)
	require.Equal(t, http.StatusOK, ui.status, ui.body)
	assert.Equal(t, opUser, ui.str("sub"))
	noProof := *c
	noProof.dpop = nil
	bearer := noProof.send(t, http.MethodGet, c.endpoint("userinfo_endpoint"), nil, "Bearer", at)
	assert.Equal(t, http.StatusUnauthorized, bearer.status, "a DPoP-bound token as Bearer")
	withProof := c.send(t, http.MethodGet, c.endpoint("userinfo_endpoint"), nil, "Bearer", at)
	assert.Equal(t, http.StatusBadRequest, withProof.status, "the Bearer scheme with a DPoP proof")
	assert.Equal(t, "invalid_request", withProof.str("error"))

	// The client is DPoP-bound: a token request without a proof fails.
	r := noProof.post(t, "token_endpoint", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}})
	assert.Equal(t, http.StatusBadRequest, r.status, r.body)
}

// TestProfileResources gets tokens for two APIs with DPoP, each accepted
// by its own fake API only.
func TestProfileResources(t *testing.T) {
	t.Parallel()
	issuer := startProfile(t, "resources,dpop", apiClient())
	keys, err := fetchJWKS(issuer)
	require.NoError(t, err)
	srvA := httptest.NewServer(newFakeAPI(issuer, apiA, keys, nil))
	srvB := httptest.NewServer(newFakeAPI(issuer, apiB, keys, nil))
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)

	c := newMiniClient(t, issuer, apiClientID)
	c.secret = apiSecret
	c.dpop, err = oidctest.NewDPoPKey("EdDSA")
	require.NoError(t, err)
	params, verifier := codeRequest(apiClientID, "openid api:read", apiA, apiB)
	cb := c.authorize(t, params)
	require.NotEmpty(t, cb.Get("code"), cb)
	tok := c.post(t, "token_endpoint", codeGrant(cb.Get("code"), verifier, url.Values{"resource": {apiA}}))
	require.Equal(t, http.StatusOK, tok.status, tok.body)
	assert.Equal(t, "DPoP", tok.str("token_type"))
	atA := tok.str("access_token")
	claims := jwtClaims(t, atA)
	assert.Equal(t, apiA, claims["aud"])
	assert.Equal(t, "api:read", claims["scope"])
	assert.Equal(t, map[string]any{"jkt": c.dpop.Thumbprint()}, claims["cnf"])

	got := c.call(t, http.MethodGet, srvA.URL+"/items", "DPoP", atA)
	require.Equal(t, http.StatusOK, got.status, got.body)
	assert.Equal(t, opUser, got.str("sub"))
	assert.Equal(t, "invalid_token", c.call(t, http.MethodGet, srvB.URL+"/items", "DPoP", atA).str("error"))
	assert.Equal(t, http.StatusUnauthorized, c.send(t, http.MethodGet, srvA.URL+"/items", nil, "Bearer", atA).status)

	r := c.post(t, "token_endpoint", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}, "resource": {apiB}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	atB := r.str("access_token")
	assert.Equal(t, apiB, jwtClaims(t, atB)["aud"])
	assert.Equal(t, http.StatusOK, c.call(t, http.MethodGet, srvB.URL+"/items", "DPoP", atB).status)
	assert.Equal(t, "invalid_token", c.call(t, http.MethodGet, srvA.URL+"/items", "DPoP", atB).str("error"))

	r = c.post(t, "token_endpoint", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}, "resource": {"https://api-c.example"}})
	assert.Equal(t, "invalid_target", r.str("error"), r.body)
}

func TestProfileFAPI2(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	issuer := startProfile(t, "fapi2", fapiClient(t, key))
	c := newMiniClient(t, issuer, fapiClientID)
	c.key, c.keyAlg = key, "ES256"
	c.dpop, err = oidctest.NewDPoPKey("PS256")
	require.NoError(t, err)

	params, verifier := codeRequest(fapiClientID, "openid")
	assert.NotEmpty(t, c.authorize(t, params).Get("error"), "authorization requests need PAR")

	par := c.post(t, "pushed_authorization_request_endpoint", params)
	require.Equal(t, http.StatusCreated, par.status, par.body)
	cb := c.authorize(t, url.Values{"client_id": {fapiClientID}, "request_uri": {par.str("request_uri")}})
	require.NotEmpty(t, cb.Get("code"), cb)
	assert.Equal(t, issuer, cb.Get("iss"))

	tok := c.post(t, "token_endpoint", codeGrant(cb.Get("code"), verifier, nil))
	require.Equal(t, http.StatusOK, tok.status, tok.body)
	assert.Equal(t, "DPoP", tok.str("token_type"))
	keys, err := fetchJWKS(issuer)
	require.NoError(t, err)
	idt, err := jose.ParseSignedCompact(tok.str("id_token"), []jose.SignatureAlgorithm{jose.PS256})
	require.NoError(t, err, "the ID token is PS256")
	ks := keys.Key(idt.Signatures[0].Header.KeyID)
	require.Len(t, ks, 1)
	_, err = idt.Verify(ks[0].Public().Key)
	assert.NoError(t, err)

	noPKCE := cloneValues(params)
	noPKCE.Del("code_challenge")
	noPKCE.Del("code_challenge_method")
	assert.Equal(t, "invalid_request", c.post(t, "pushed_authorization_request_endpoint", noPKCE).str("error"))
	secret := *c
	secret.key, secret.secret = nil, "whatever"
	assert.Equal(t, "invalid_client", secret.post(t, "pushed_authorization_request_endpoint", params).str("error"))
}
