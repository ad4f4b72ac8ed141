package oidctest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

const dpopVerifier = "verifier-0123456789-0123456789-0123456789-abc"

// dpopKeys are DPoP keys shared by the tests (RSA generation is slow).
var dpopKeys = func() map[string]*oidctest.DPoPKey {
	out := map[string]*oidctest.DPoPKey{}
	for _, alg := range []string{"ES256", "EdDSA", "PS256", "RS256"} {
		k, err := oidctest.NewDPoPKey(alg)
		if err != nil {
			panic(err)
		}
		out[alg] = k
	}
	other, err := oidctest.NewDPoPKey("ES256")
	if err != nil {
		panic(err)
	}
	out["other"] = other
	return out
}()

// keyAt returns a copy of the shared key k whose proofs use clock.
func keyAt(k *oidctest.DPoPKey, clock func() time.Time) *oidctest.DPoPKey {
	c := *k
	c.Now = clock
	return &c
}

// reply is a decoded JSON response.
type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func (r reply) errorCode() string { s, _ := r.body["error"].(string); return s }

// send makes a request with form (POST) or none (GET), the given headers
// (several values per name allowed) and, when basic, client_secret_basic.
func send(t *testing.T, p *oidctest.Provider, method, target string, form url.Values, headers http.Header, basic bool) reply {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := reply{status: resp.StatusCode, header: resp.Header}
	_ = json.NewDecoder(resp.Body).Decode(&out.body)
	return out
}

// proof mints a DPoP proof or fails the test.
func proof(t *testing.T, k *oidctest.DPoPKey, method, target, nonce, at string) string {
	t.Helper()
	s, err := oidctest.DPoPProof(k, method, target, nonce, at)
	require.NoError(t, err)
	return s
}

func dpopHeader(proofs ...string) http.Header { return http.Header{"Dpop": proofs} }

// tokenWithProof exchanges a fresh code of params at p with the given
// DPoP headers.
func tokenWithProof(t *testing.T, p *oidctest.Provider, params url.Values, headers http.Header) reply {
	t.Helper()
	code := getCode(t, p, params)
	return send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, codeForm(code, dpopVerifier), headers, true)
}

func TestDPoPBindsTokens(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "PS256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{DPoP: true})
			k := dpopKeys[alg]
			r := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", "")))
			require.Equal(t, http.StatusOK, r.status, r.body)
			assert.Equal(t, "DPoP", r.body["token_type"])
			info, ok := p.AccessTokenInfo(r.body["access_token"].(string))
			require.True(t, ok)
			assert.Equal(t, k.Thumbprint(), info.JKT)
			assert.Equal(t, p.UserinfoAudience(), info.Audience)
			assert.NotEmpty(t, p.LastDPoPProof(oidctest.EndpointToken))
		})
	}
	t.Run("no proof gives a Bearer token", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DPoP: true})
		r := tokenWithProof(t, p, codeParams(p, dpopVerifier), nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "Bearer", r.body["token_type"])
	})
	t.Run("RequireDPoP refuses a request without a proof", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{RequireDPoP: true})
		r := tokenWithProof(t, p, codeParams(p, dpopVerifier), nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_dpop_proof", r.errorCode())
	})
	t.Run("without DPoP the header is ignored", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		r := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader("not a proof"))
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "Bearer", r.body["token_type"])
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.NotContains(t, doc, "dpop_signing_alg_values_supported")
	})
	t.Run("discovery", func(t *testing.T) {
		for _, tt := range []struct {
			opts oidctest.Options
			want []any
		}{
			{oidctest.Options{DPoP: true}, []any{"ES256", "EdDSA", "PS256", "RS256"}},
			{oidctest.Options{DPoPSigningAlgs: []string{"ES256"}}, []any{"ES256"}},
		} {
			p := newProvider(t, tt.opts)
			var doc map[string]any
			getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
			assert.Equal(t, tt.want, doc["dpop_signing_alg_values_supported"])
		}
	})
}

// TestDPoPProofValidation sends a code grant with each kind of wrong proof:
// every one is refused with 400 invalid_dpop_proof, and the right ones
// pass.
func TestDPoPProofValidation(t *testing.T) {
	clk := &parClock{now: time.Now()}
	p := newProvider(t, oidctest.Options{DPoPSigningAlgs: []string{"ES256", "EdDSA", "PS256", "RS256"}, Now: clk.Now})
	es := keyAt(dpopKeys["ES256"], clk.Now)
	tokenURL := p.URL() + oidctest.PathToken
	mutated := func(mutate func(h, c map[string]any)) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			s, err := es.ProofWith("POST", tokenURL, "", "", mutate)
			require.NoError(t, err)
			return []string{s}
		}
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	replayed := proof(t, es, "POST", tokenURL, "", "")
	tests := []struct {
		name   string
		proofs func(t *testing.T) []string
		ok     bool
	}{
		{"valid", mutated(nil), true},
		{"htu with query and fragment", mutated(func(_, c map[string]any) { c["htu"] = tokenURL + "?a=b#frag" }), true},
		{"htu normalised: case, default port, dot segments, percent-encoding",
			mutated(func(_, c map[string]any) {
				c["htu"] = strings.Replace(tokenURL, "http://", "HTTP://", 1) + "/../%74oken"
			}), true},
		{"iat 59s old", mutated(func(_, c map[string]any) { c["iat"] = clk.Now().Add(-59 * time.Second).Unix() }), true},
		{"replay, first use", func(*testing.T) []string { return []string{replayed} }, true},
		{"replay, second use", func(*testing.T) []string { return []string{replayed} }, false},
		{"two DPoP headers", func(t *testing.T) []string {
			return []string{proof(t, es, "POST", tokenURL, "", ""), proof(t, es, "POST", tokenURL, "", "")}
		}, false},
		{"empty header", func(*testing.T) []string { return []string{" "} }, false},
		{"not a JWS", func(*testing.T) []string { return []string{"a.b"} }, false},
		{"typ JWT", mutated(func(h, _ map[string]any) { h["typ"] = "JWT" }), false},
		{"no typ", mutated(func(h, _ map[string]any) { delete(h, "typ") }), false},
		{"alg none", func(t *testing.T) []string {
			h := map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": es.PublicJWK()}
			s, err := oidctest.SignJWT(h, map[string]any{"jti": "x", "htm": "POST", "htu": tokenURL, "iat": clk.Now().Unix()}, nil)
			require.NoError(t, err)
			return []string{s}
		}, false},
		{"alg HS256", func(t *testing.T) []string {
			h := map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}
			s, err := oidctest.SignJWT(h, map[string]any{"jti": "x", "htm": "POST", "htu": tokenURL, "iat": clk.Now().Unix()}, []byte("secret"))
			require.NoError(t, err)
			return []string{s}
		}, false},
		{"alg not allowed (ES384)", func(t *testing.T) []string {
			k384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			require.NoError(t, err)
			s, err := (&oidctest.DPoPKey{Alg: "ES384", Key: k384, Now: clk.Now}).ProofWith("POST", tokenURL, "", "", nil)
			require.NoError(t, err)
			return []string{s}
		}, false},
		{"private key member d in jwk", mutated(func(h, _ map[string]any) {
			jwk := es.PublicJWK()
			jwk["d"] = "AAAA"
			h["jwk"] = jwk
		}), false},
		{"no jwk", mutated(func(h, _ map[string]any) { delete(h, "jwk") }), false},
		{"jwk of another key", mutated(func(h, _ map[string]any) { h["jwk"] = dpopKeys["other"].PublicJWK() }), false},
		{"crit header", mutated(func(h, _ map[string]any) { h["crit"] = []string{"exp"} }), false},
		{"RSA key under 2048 bits", func(t *testing.T) []string {
			s, err := (&oidctest.DPoPKey{Alg: "RS256", Key: small, Now: clk.Now}).ProofWith("POST", tokenURL, "", "", nil)
			require.NoError(t, err)
			return []string{s}
		}, false},
		{"wrong htm", mutated(func(_, c map[string]any) { c["htm"] = "GET" }), false},
		{"lower-case htm", mutated(func(_, c map[string]any) { c["htm"] = "post" }), false},
		{"wrong htu path", mutated(func(_, c map[string]any) { c["htu"] = p.URL() + oidctest.PathUserinfo }), false},
		{"wrong htu port", mutated(func(_, c map[string]any) { c["htu"] = "http://127.0.0.1:1/token" }), false},
		{"htu https", mutated(func(_, c map[string]any) { c["htu"] = strings.Replace(tokenURL, "http:", "https:", 1) }), false},
		{"htu relative", mutated(func(_, c map[string]any) { c["htu"] = "/token" }), false},
		{"no htu", mutated(func(_, c map[string]any) { delete(c, "htu") }), false},
		{"stale iat", mutated(func(_, c map[string]any) { c["iat"] = clk.Now().Add(-61 * time.Second).Unix() }), false},
		{"future iat", mutated(func(_, c map[string]any) { c["iat"] = clk.Now().Add(61 * time.Second).Unix() }), false},
		{"iat a string", mutated(func(_, c map[string]any) { c["iat"] = "now" }), false},
		{"no jti", mutated(func(_, c map[string]any) { delete(c, "jti") }), false},
		{"unknown nonce", mutated(func(_, c map[string]any) { c["nonce"] = "made-up" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader(tt.proofs(t)...))
			if tt.ok {
				require.Equal(t, http.StatusOK, r.status, r.body)
				assert.Equal(t, "DPoP", r.body["token_type"])
				return
			}
			assert.Equal(t, http.StatusBadRequest, r.status)
			if tt.name == "unknown nonce" {
				assert.Equal(t, "use_dpop_nonce", r.errorCode(), r.body)
				return
			}
			assert.Equal(t, "invalid_dpop_proof", r.errorCode(), r.body)
		})
	}
}

func TestDPoPProofWindowOption(t *testing.T) {
	clk := &parClock{now: time.Now()}
	p := newProvider(t, oidctest.Options{DPoP: true, DPoPProofWindow: 5 * time.Minute, Now: clk.Now})
	k := keyAt(dpopKeys["ES256"], func() time.Time { return clk.Now().Add(-4 * time.Minute) })
	r := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", "")))
	assert.Equal(t, http.StatusOK, r.status, r.body)
}
