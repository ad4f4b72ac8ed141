package interop

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestFakeAPI checks the fake API with hand-minted access tokens and DPoP
// proofs, so that the client tests can trust its verdicts.
func TestFakeAPI(t *testing.T) {
	t.Parallel()
	const (
		issuer = "http://op.example"
		aud    = "https://api-a.example"
	)
	signer, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keys := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: signer.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	now := time.Now()
	api := httptest.NewServer(newFakeAPI(issuer, aud, keys, func() time.Time { return now }))
	t.Cleanup(api.Close)
	dk, err := oidctest.NewDPoPKey("ES256")
	require.NoError(t, err)
	thief, err := oidctest.NewDPoPKey("EdDSA")
	require.NoError(t, err)

	mint := func(t *testing.T, mutate func(h, c map[string]any), key any) string {
		h := map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "k1"}
		c := map[string]any{
			"iss": issuer, "aud": aud, "sub": "user-1", "client_id": "c1", "scope": "api:read",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": rand.Text(),
			"cnf": map[string]any{"jkt": dk.Thumbprint()},
		}
		if mutate != nil {
			mutate(h, c)
		}
		tok, err := oidctest.SignJWT(h, c, key)
		require.NoError(t, err)
		return tok
	}
	unbound := func(_, c map[string]any) { delete(c, "cnf") }
	tests := []struct {
		name     string
		token    func(t *testing.T) string
		scheme   string
		proofKey *oidctest.DPoPKey
		spoil    func(h, c map[string]any)
		wantErr  string // "" for 200
	}{
		{"bound token with its proof", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", dk, nil, ""},
		{"unbound token as Bearer", func(t *testing.T) string { return mint(t, unbound, signer) }, "Bearer", nil, nil, ""},
		{"audience as an array", func(t *testing.T) string {
			return mint(t, func(_, c map[string]any) { c["aud"] = []string{"x", aud} }, signer)
		}, "DPoP", dk, nil, ""},
		{"bound token as Bearer", func(t *testing.T) string { return mint(t, nil, signer) }, "Bearer", nil, nil, "invalid_token"},
		{"bound token, thief's proof", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", thief, nil, "invalid_token"},
		{"bound token, no proof", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", nil, nil, "invalid_dpop_proof"},
		{"unbound token with DPoP", func(t *testing.T) string { return mint(t, unbound, signer) }, "DPoP", dk, nil, "invalid_token"},
		{"other audience", func(t *testing.T) string {
			return mint(t, func(_, c map[string]any) { c["aud"] = "https://api-b.example" }, signer)
		}, "DPoP", dk, nil, "invalid_token"},
		{"other issuer", func(t *testing.T) string {
			return mint(t, func(_, c map[string]any) { c["iss"] = "http://evil.example" }, signer)
		}, "DPoP", dk, nil, "invalid_token"},
		{"expired", func(t *testing.T) string {
			return mint(t, func(_, c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }, signer)
		}, "DPoP", dk, nil, "invalid_token"},
		{"signed by another key", func(t *testing.T) string { return mint(t, nil, other) }, "DPoP", dk, nil, "invalid_token"},
		{"typ JWT", func(t *testing.T) string {
			return mint(t, func(h, _ map[string]any) { h["typ"] = "JWT" }, signer)
		}, "DPoP", dk, nil, "invalid_token"},
		{"proof without ath", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", dk,
			func(_, c map[string]any) { delete(c, "ath") }, "invalid_dpop_proof"},
		{"proof for another method", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", dk,
			func(_, c map[string]any) { c["htm"] = "POST" }, "invalid_dpop_proof"},
		{"proof for another URL", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", dk,
			func(_, c map[string]any) { c["htu"] = "https://api-a.example/items" }, "invalid_dpop_proof"},
		{"stale proof", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", dk,
			func(_, c map[string]any) { c["iat"] = now.Add(-2 * time.Minute).Unix() }, "invalid_dpop_proof"},
		{"proof typ JWT", func(t *testing.T) string { return mint(t, nil, signer) }, "DPoP", dk,
			func(h, _ map[string]any) { h["typ"] = "JWT" }, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.token(t)
			req, err := http.NewRequest(http.MethodGet, api.URL+"/items?page=2", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", tt.scheme+" "+at)
			if tt.proofKey != nil {
				k := *tt.proofKey
				k.Now = func() time.Time { return now }
				p, err := k.ProofWith(http.MethodGet, api.URL+"/items", "", at, tt.spoil)
				require.NoError(t, err)
				req.Header.Set("DPoP", p)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var body map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			if tt.wantErr == "" {
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				assert.Equal(t, "user-1", body["sub"])
				return
			}
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, tt.wantErr, body["error"], body)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `error="`+tt.wantErr+`"`)
		})
	}
	t.Run("replayed proof", func(t *testing.T) {
		at := mint(t, nil, signer)
		k := *dk
		k.Now = func() time.Time { return now }
		p, err := oidctest.DPoPProof(&k, http.MethodGet, api.URL+"/r", "", at)
		require.NoError(t, err)
		for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
			req, _ := http.NewRequest(http.MethodGet, api.URL+"/r", nil)
			req.Header.Set("Authorization", "DPoP "+at)
			req.Header.Set("DPoP", p)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, want, resp.StatusCode, "use %d", i+1)
		}
	})
}
