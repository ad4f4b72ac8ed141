package provider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpopKeys are one key per key type, generated once.
var dpopKeys = sync.OnceValue(func() map[string]crypto.Signer {
	out := map[string]crypto.Signer{}
	for name, gen := range map[string]func() (crypto.Signer, error){
		"P-256":   func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
		"P-384":   func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) },
		"P-521":   func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P521(), rand.Reader) },
		"Ed25519": func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err },
		"RSA":     func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) },
	} {
		k, err := gen()
		if err != nil {
			panic(err)
		}
		out[name] = k
	}
	return out
})

// opaque hides a key's concrete type, as an HSM or KMS signer would.
type opaque struct{ crypto.Signer }

func mustDPoPKey(t testing.TB, key crypto.Signer) *DPoPKey {
	t.Helper()
	k, err := NewDPoPKey(key)
	require.NoError(t, err)
	return k
}

// parsedProof is a proof verified with go-jose under its own jwk.
type parsedProof struct {
	header map[string]any
	claims map[string]any
	jwk    *jose.JSONWebKey
}

func verifyProof(t *testing.T, raw string) parsedProof {
	t.Helper()
	algs := []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.PS256, jose.PS384, jose.PS512,
		jose.RS256, jose.RS384, jose.RS512}
	jws, err := jose.ParseSignedCompact(raw, algs)
	require.NoError(t, err)
	h := jws.Signatures[0].Header
	require.NotNil(t, h.JSONWebKey, "the proof has a jwk header")
	require.True(t, h.JSONWebKey.IsPublic(), "the jwk has no private members")
	payload, err := jws.Verify(h.JSONWebKey.Key)
	require.NoError(t, err)
	var out parsedProof
	out.jwk = h.JSONWebKey
	parts := strings.Split(raw, ".")
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(hdr, &out.header))
	require.NoError(t, json.Unmarshal(payload, &out.claims))
	return out
}

// TestDPoPKey: the thumbprint is RFC 7638's (as go-jose computes it), and
// the algorithms follow the key type.
func TestDPoPKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		algs []string
	}{
		{"P-256", []string{"ES256"}},
		{"P-384", []string{"ES384"}},
		{"P-521", []string{"ES512"}},
		{"Ed25519", []string{"EdDSA"}},
		{"RSA", []string{"PS256", "RS256", "PS384", "PS512", "RS384", "RS512"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			key := dpopKeys()[tt.key]
			for _, signer := range []crypto.Signer{key, opaque{key}} {
				k := mustDPoPKey(t, signer)
				assert.Equal(t, tt.algs, k.Algs())
				sum, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
				require.NoError(t, err)
				assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum), k.Thumbprint())
			}
		})
	}
	t.Run("refused keys", func(t *testing.T) {
		t.Parallel()
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		require.NoError(t, err)
		p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
		require.NoError(t, err)
		var nilKey *ecdsa.PrivateKey
		for name, key := range map[string]crypto.Signer{"RSA 1024": small, "P-224": p224, "typed nil": nilKey, "nil": nil} {
			_, err := NewDPoPKey(key)
			assert.Error(t, err, name)
		}
	})
}

// TestDPoPProofShape: every algorithm makes a proof that a JOSE library
// verifies under the jwk of its header, with RFC 9449 §4.2's members.
func TestDPoPProofShape(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_750_000_000, 0)
	cases := []struct{ key, alg string }{
		{"P-256", "ES256"}, {"P-384", "ES384"}, {"P-521", "ES512"}, {"Ed25519", "EdDSA"},
		{"RSA", "PS256"}, {"RSA", "RS256"}, {"RSA", "PS512"}, {"RSA", "RS384"},
	}
	for _, tc := range cases {
		for _, wrap := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s opaque=%v", tc.alg, wrap), func(t *testing.T) {
				t.Parallel()
				key := dpopKeys()[tc.key]
				if wrap {
					key = opaque{key}
				}
				k := mustDPoPKey(t, key)
				raw, err := k.proof(rand.Reader, now, proofRequest{alg: tc.alg, method: "POST", htu: "https://op.example/token", nonce: "n-1", ath: "x"})
				require.NoError(t, err)
				p := verifyProof(t, raw)
				assert.Equal(t, "dpop+jwt", p.header["typ"])
				assert.Equal(t, tc.alg, p.header["alg"])
				assert.NotContains(t, p.header, "kid")
				tp, err := p.jwk.Thumbprint(crypto.SHA256)
				require.NoError(t, err)
				assert.Equal(t, k.Thumbprint(), base64.RawURLEncoding.EncodeToString(tp))
				assert.Equal(t, map[string]any{"jti": p.claims["jti"], "htm": "POST", "htu": "https://op.example/token",
					"iat": float64(now.Unix()), "nonce": "n-1", "ath": "x"}, p.claims)
				jti, _ := p.claims["jti"].(string)
				assert.Len(t, jti, 22, "128 random bits")
			})
		}
	}
	t.Run("fresh jti, no nonce or ath unless given", func(t *testing.T) {
		t.Parallel()
		k := mustDPoPKey(t, dpopKeys()["P-256"])
		a, err := k.proof(rand.Reader, now, proofRequest{alg: "ES256", method: "GET", htu: "https://api.example/"})
		require.NoError(t, err)
		b, err := k.proof(rand.Reader, now, proofRequest{alg: "ES256", method: "GET", htu: "https://api.example/"})
		require.NoError(t, err)
		pa, pb := verifyProof(t, a), verifyProof(t, b)
		assert.NotEqual(t, pa.claims["jti"], pb.claims["jti"])
		assert.NotContains(t, pa.claims, "nonce")
		assert.NotContains(t, pa.claims, "ath")
	})
	t.Run("an algorithm the key cannot sign", func(t *testing.T) {
		t.Parallel()
		k := mustDPoPKey(t, dpopKeys()["P-256"])
		_, err := k.proof(rand.Reader, now, proofRequest{alg: "EdDSA", method: "GET", htu: "https://api.example/"})
		assert.Error(t, err)
	})
}

func TestProofURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://op.example/token", "https://op.example/token"},
		{"https://op.example/token?x=1#frag", "https://op.example/token"},
		{"HTTPS://op.example:8443/a%20b/c?q", "https://op.example:8443/a%20b/c"},
		{"https://user:pw@api.example/items", "https://api.example/items"},
		{"https://api.example", "https://api.example/"},
		{"https://api.example?x", "https://api.example/"},
		{"http://127.0.0.1:9000/x/", "http://127.0.0.1:9000/x/"},
		{"/relative", ""},
		{"ftp://example.com/x", ""},
		{"https:opaque", ""},
		{"%zz", ""},
	}
	for _, tt := range tests {
		got, err := "", error(nil)
		if u, perr := url.Parse(tt.in); perr != nil {
			err = perr
		} else {
			got, err = proofURL(u)
		}
		if tt.want == "" {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestNonceStore(t *testing.T) {
	t.Parallel()
	s := nonceStore{max: 3}
	for i := range 5 {
		s.put(fmt.Sprintf("https://o%d", i), fmt.Sprintf("n%d", i))
	}
	assert.Equal(t, "", s.get("https://o0"), "the oldest origins are forgotten")
	assert.Equal(t, "", s.get("https://o1"))
	assert.Equal(t, "n4", s.get("https://o4"))
	assert.Len(t, s.m, 3)
	s.put("https://o2", "again")
	assert.Equal(t, "again", s.get("https://o2"))
	assert.Len(t, s.order, 3)

	h := http.Header{}
	assert.Equal(t, "", s.learn("https://x", h), "no header")
	for _, bad := range []string{"", "has space", `quo"te`, `back\slash`, "caf\u00e9", strings.Repeat("n", maxNonceLen+1)} {
		h.Set("DPoP-Nonce", bad)
		assert.Equal(t, "", s.learn("https://x", h), "%q", bad)
	}
	h.Set("DPoP-Nonce", "eyJ7S_zG.eyJH0-Z.HX4w-7v")
	assert.Equal(t, "eyJ7S_zG.eyJH0-Z.HX4w-7v", s.learn("https://x", h))
	assert.Equal(t, "eyJ7S_zG.eyJH0-Z.HX4w-7v", s.get("https://x"))
}

func TestOriginOf(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://OP.example/token":      "https://op.example",
		"https://op.example:443/x":      "https://op.example",
		"http://op.example:80/x":        "http://op.example",
		"https://op.example:8443/x?y":   "https://op.example:8443",
		"http://[::1]:9000/x":           "http://[::1]:9000",
		"https://[::1]/x":               "https://[::1]",
		"https://user@api.example/path": "https://api.example",
	}
	for in, want := range tests {
		u, err := url.Parse(in)
		require.NoError(t, err)
		assert.Equal(t, want, originOf(u), in)
	}
}

func TestDPoPChallengeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"RFC 9449 §9 example", []string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`}, "use_dpop_nonce"},
		{"after a Bearer challenge in one field", []string{`Bearer realm="x", error="invalid_token", DPoP algs="ES256 PS256", error="use_dpop_nonce"`}, "use_dpop_nonce"},
		{"in a second field", []string{`Bearer realm="x"`, `DPoP realm="x", error="invalid_dpop_proof"`}, "invalid_dpop_proof"},
		{"only the Bearer challenge has an error", []string{`Bearer error="invalid_token", DPoP algs="ES256"`}, ""},
		{"token values and case", []string{`dpop ERROR=use_dpop_nonce`}, "use_dpop_nonce"},
		{"escaped quotes", []string{`DPoP error_description="a \"b\", c", error="use_dpop_nonce"`}, "use_dpop_nonce"},
		{"token68 before", []string{`Basic YWxhZGRpbjpvcGVuc2VzYW1l==, DPoP error="use_dpop_nonce"`}, "use_dpop_nonce"},
		{"garbage", []string{`"=,,= DPoP"`, `=`, `DPoP error=`, `DPoP error="unterminated`}, "unterminated"},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.values {
			h.Add("WWW-Authenticate", v)
		}
		assert.Equal(t, tt.want, dpopChallengeError(h), tt.name)
	}
}

// TestChooseDPoPAlg covers the algorithm choice against the provider's
// dpop_signing_alg_values_supported.
func TestChooseDPoPAlg(t *testing.T) {
	t.Parallel()
	rsaKey := mustDPoPKey(t, dpopKeys()["RSA"])
	ecKey := mustDPoPKey(t, dpopKeys()["P-256"])
	tests := []struct {
		name       string
		key        *DPoPKey
		configured string
		offered    string // JSON, "" for absent
		want       string
		wantErr    string
	}{
		{"no list: the key's default", ecKey, "", "", "ES256", ""},
		{"no list: RSA defaults to PS256", rsaKey, "", "", "PS256", ""},
		{"no list: the configured one", rsaKey, "RS256", "", "RS256", ""},
		{"the first of the provider's the key can sign", rsaKey, "", `["ES256","RS256","PS256"]`, "RS256", ""},
		{"the configured one, offered", rsaKey, "PS256", `["RS256","PS256"]`, "PS256", ""},
		{"the configured one, not offered", rsaKey, "PS256", `["RS256","ES256"]`, "",
			"DPoPConfig.Alg PS256 is not among the provider's dpop_signing_alg_values_supported (RS256, ES256)"},
		{"nothing fits", ecKey, "", `["PS256","RS256"]`, "",
			"no DPoP algorithm fits both the key (ES256) and the provider's dpop_signing_alg_values_supported (PS256, RS256)"},
		{"malformed list: not advertised", ecKey, "", `"ES256"`, "ES256", ""},
		{"empty list: not advertised", ecKey, "", `[]`, "ES256", ""},
		{"odd names are dropped", ecKey, "", `["PS256","<script>",""]`, "",
			"no DPoP algorithm fits both the key (ES256) and the provider's dpop_signing_alg_values_supported (PS256)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs strings.Builder
			var mu sync.Mutex
			c := testClient(func(s *Settings) {
				s.DPoPKey, s.DPoPAlg = tt.key, tt.configured
				s.Logger = newTestLogger(&mu, &logs)
			})
			md := &Metadata{Issuer: "https://op.example/"}
			if tt.offered != "" {
				md.DPoPSigningAlgs = json.RawMessage(tt.offered)
			}
			for range 2 { // the second answer comes from the cache, unlogged
				alg, err := c.dpopAlg(md)
				if tt.wantErr == "" {
					require.Nil(t, err)
					assert.Equal(t, tt.want, alg)
					continue
				}
				require.NotNil(t, err)
				assert.Equal(t, "server_error", err.Code)
				assert.Equal(t, http.StatusInternalServerError, err.StatusCode)
				assert.Equal(t, tt.wantErr, err.Description)
				ae, ok := err.errAlg()
				require.True(t, ok)
				assert.Contains(t, ae.Error(), tt.wantErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.wantErr != "" {
				assert.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
				assert.Contains(t, logs.String(), "no DPoP proof algorithm fits")
			} else {
				assert.Empty(t, logs.String())
			}
		})
	}
}

// TestDPoPTokenRequests: token and PAR requests carry a proof for their
// URL, retried once with the nonce the provider asks for (a new client
// assertion too); revocation requests carry none; a Bearer answer from a
// provider that advertises DPoP is refused.
func TestDPoPTokenRequests(t *testing.T) {
	t.Parallel()
	key := mustDPoPKey(t, dpopKeys()["P-256"])
	type seen struct {
		path, proof, assertion string
	}
	var mu sync.Mutex
	var got []seen
	tokenType := "DPoP"
	const nonce = "server-nonce-1"
	handler := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			mu.Lock()
			got = append(got, seen{r.URL.Path, r.Header.Get("DPoP"), r.PostForm.Get("client_assertion")})
			tt := tokenType
			mu.Unlock()
			if r.URL.Path == "/revoke" {
				answer(200, "")(w, r)
				return
			}
			p := r.Header.Get("DPoP")
			var claims map[string]any
			if p != "" {
				parts := strings.Split(p, ".")
				raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
				_ = json.Unmarshal(raw, &claims)
			}
			w.Header().Set("DPoP-Nonce", nonce)
			if claims["nonce"] != nonce {
				answer(400, `{"error":"use_dpop_nonce","error_description":"nonce required"}`)(w, r)
				return
			}
			answer(status, strings.ReplaceAll(body, "TT", tt))(w, r)
		}
	}
	srv := fakeOP(t, map[string]http.HandlerFunc{
		"/token":  handler(200, `{"access_token":"at","token_type":"TT"}`),
		"/par":    handler(201, `{"request_uri":"urn:x","expires_in":60}`),
		"/revoke": handler(200, ``),
	})
	assertionKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c, md := discovered(t, srv, func(s *Settings) {
		s.AuthMethod, s.AssertionKey, s.AssertionAlg, s.ClientSecret = AuthPrivateKeyJWT, assertionKey, "ES256", ""
		s.PAR, s.DPoPKey = true, key
	})

	doc, err := c.Token(t.Context(), md, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {"rt"}})
	require.NoError(t, err)
	tok, err := doc.Tokens(GrantRefreshToken)
	require.NoError(t, err)
	assert.Equal(t, "DPoP", tok.TokenType)
	mu.Lock()
	require.Len(t, got, 2, "one retry with the nonce")
	first, second := verifyProof(t, got[0].proof), verifyProof(t, got[1].proof)
	assert.NotContains(t, first.claims, "nonce")
	assert.Equal(t, nonce, second.claims["nonce"])
	assert.Equal(t, srv.URL+"/token", second.claims["htu"])
	assert.Equal(t, "POST", second.claims["htm"])
	assert.NotContains(t, second.claims, "ath")
	assert.NotEqual(t, first.claims["jti"], second.claims["jti"])
	fa, sa := verifyJWT(t, got[0].assertion, assertionKey.Public()), verifyJWT(t, got[1].assertion, assertionKey.Public())
	assert.NotEqual(t, fa["jti"], sa["jti"], "the retry has a fresh client assertion")
	got = nil
	mu.Unlock()

	target, err := c.AuthorizationURL(t.Context(), md, url.Values{"response_type": {"code"}, "scope": {"openid"}})
	require.NoError(t, err)
	assert.Contains(t, target, "request_uri=urn%3Ax")
	require.NoError(t, c.Revoke(t.Context(), "rt"))
	mu.Lock()
	require.Len(t, got, 2, "the nonce is known: no retry")
	assert.Equal(t, "/par", got[0].path)
	par := verifyProof(t, got[0].proof)
	assert.Equal(t, srv.URL+"/par", par.claims["htu"])
	assert.Equal(t, nonce, par.claims["nonce"], "the token endpoint's origin shares the nonce")
	assert.Equal(t, "/revoke", got[1].path)
	assert.Empty(t, got[1].proof, "no proof at revocation")
	tokenType = "bearer"
	mu.Unlock()

	t.Run("a Bearer answer is refused when the provider advertises DPoP", func(t *testing.T) {
		mdDPoP := *md
		mdDPoP.DPoPSigningAlgs = json.RawMessage(`["ES256"]`)
		for _, grant := range []string{GrantAuthorizationCode, GrantRefreshToken} {
			_, err := c.Token(t.Context(), &mdDPoP, url.Values{"grant_type": {grant}, "refresh_token": {"rt"}, "code": {"c"}})
			e := asError(t, err)
			assert.Equal(t, "invalid_token_response", e.Code)
			assert.Equal(t, http.StatusBadGateway, e.StatusCode)
			assert.ErrorIs(t, e, ErrDPoPBearerDowngrade)
			assert.ErrorIs(t, e, ErrTokenRequest)
		}
		_, err := c.Token(t.Context(), &mdDPoP, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}})
		assert.NoError(t, err, "token exchange is not checked")
		_, err = c.Token(t.Context(), md, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {"rt"}})
		assert.NoError(t, err, "a provider that advertises no DPoP")
		c.dpop.allowBearer = true
		_, err = c.Token(t.Context(), &mdDPoP, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {"rt"}})
		assert.NoError(t, err, "AllowBearerDowngrade")
	})
}

// TestDPoPUserInfo: a DPoP token goes with the DPoP scheme and a proof
// with ath, once more with the resource nonce; a Bearer token as before.
func TestDPoPUserInfo(t *testing.T) {
	t.Parallel()
	key := mustDPoPKey(t, dpopKeys()["Ed25519"])
	var mu sync.Mutex
	var headers []http.Header
	srv := fakeOP(t, map[string]http.HandlerFunc{
		"/userinfo": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			headers = append(headers, r.Header.Clone())
			n := len(headers)
			mu.Unlock()
			if r.Header.Get("DPoP") != "" && n == 1 {
				w.Header().Set("DPoP-Nonce", "rs-nonce")
				w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
				answer(401, `{"error":"use_dpop_nonce"}`)(w, r)
				return
			}
			answer(200, `{"sub":"alice"}`)(w, r)
		},
	})
	c, md := discovered(t, srv, func(s *Settings) { s.DPoPKey = key })
	claims, err := c.UserInfo(t.Context(), md, "the-token", "dpop", "alice")
	require.NoError(t, err)
	assert.Equal(t, "alice", claims["sub"])
	mu.Lock()
	require.Len(t, headers, 2)
	for i, h := range headers {
		assert.Equal(t, "DPoP the-token", h.Get("Authorization"))
		p := verifyProof(t, h.Get("DPoP"))
		sum := sha256.Sum256([]byte("the-token"))
		assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), p.claims["ath"])
		assert.Equal(t, "GET", p.claims["htm"])
		assert.Equal(t, srv.URL+"/userinfo", p.claims["htu"])
		if i == 1 {
			assert.Equal(t, "rs-nonce", p.claims["nonce"])
		}
	}
	headers = nil
	mu.Unlock()
	assert.Equal(t, "", c.dpop.asNonces.get(originOf(must(url.Parse(srv.URL)))), "resource nonces are kept apart")

	_, err = c.UserInfo(t.Context(), md, "the-token", "Bearer", "alice")
	require.NoError(t, err)
	mu.Lock()
	require.Len(t, headers, 1)
	assert.Equal(t, "Bearer the-token", headers[0].Get("Authorization"))
	assert.Empty(t, headers[0].Get("DPoP"))
	mu.Unlock()

	t.Run("DPoP off", func(t *testing.T) {
		t.Parallel()
		c, md := discovered(t, srv, nil)
		_, err := c.UserInfo(t.Context(), md, "the-token", "DPoP", "alice")
		e := asError(t, err)
		assert.Equal(t, http.StatusInternalServerError, e.StatusCode)
		assert.ErrorIs(t, e, ErrDPoPNotConfigured)
		assert.ErrorIs(t, e, ErrUserInfo)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkDPoPProof measures one proof: one signature, its claims and the
// encoding.
func BenchmarkDPoPProof(b *testing.B) {
	for _, tc := range []struct{ key, alg string }{{"P-256", "ES256"}, {"Ed25519", "EdDSA"}, {"RSA", "PS256"}} {
		b.Run(tc.alg, func(b *testing.B) {
			k := mustDPoPKey(b, dpopKeys()[tc.key])
			now := time.Now()
			r := proofRequest{alg: tc.alg, method: "GET", htu: "https://api.example/items", nonce: "nonce-1", ath: "qwerty"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.proof(rand.Reader, now, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// newTestLogger logs text records into out, guarded by mu.
func newTestLogger(mu *sync.Mutex, out *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu, out}, nil))
}

type lockedWriter struct {
	mu  *sync.Mutex
	out *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

func TestRawECDSA(t *testing.T) {
	t.Parallel()
	der := func(r, s *big.Int) []byte { return must(asn1.Marshal(struct{ R, S *big.Int }{r, s})) }
	big1 := new(big.Int).Lsh(big.NewInt(1), 255) // 32 bytes, high bit set: DER adds a zero byte
	got, ok := rawECDSA(der(big1, big.NewInt(7)), 32)
	require.True(t, ok)
	assert.Equal(t, append(big1.FillBytes(make([]byte, 32)), big.NewInt(7).FillBytes(make([]byte, 32))...), got)
	p521 := new(big.Int).Lsh(big.NewInt(1), 520) // a P-521 signature needs the long length form
	got, ok = rawECDSA(der(p521, p521), 66)
	require.True(t, ok)
	assert.Len(t, got, 132)
	for name, b := range map[string][]byte{
		"too large":      der(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)),
		"negative":       der(big.NewInt(-5), big.NewInt(1)),
		"zero":           der(big.NewInt(0), big.NewInt(1)),
		"trailing bytes": append(der(big.NewInt(1), big.NewInt(1)), 0),
		"truncated":      der(big.NewInt(1), big.NewInt(1))[:5],
		"not a sequence": {0x31, 0x00},
		"empty":          nil,
		"one integer":    {0x30, 0x03, 0x02, 0x01, 0x01},
	} {
		_, ok := rawECDSA(b, 32)
		assert.False(t, ok, name)
	}
}

// TestDPoPProofScrubbed: a provider that echoes the proof in its error
// text does not get it into the error.
func TestDPoPProofScrubbed(t *testing.T) {
	t.Parallel()
	srv := fakeOP(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			desc, _ := json.Marshal("bad proof " + r.Header.Get("DPoP"))
			answer(400, `{"error":"invalid_dpop_proof","error_description":`+string(desc)+`}`)(w, r)
		},
	})
	c, md := discovered(t, srv, func(s *Settings) { s.DPoPKey = mustDPoPKey(t, dpopKeys()["P-256"]) })
	_, err := c.Token(t.Context(), md, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {"rt"}})
	e := asError(t, err)
	assert.Equal(t, "invalid_dpop_proof", e.Code)
	assert.Contains(t, e.Description, "bad proof")
	assert.NotContains(t, e.Description, "eyJ", "no part of the proof")
}
