package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// ckJWT is a decoded compact JWS.
type ckJWT struct {
	header map[string]any
	claims map[string]any
	raw    string
}

// ckVerifyJWT verifies raw with key (a public key or a []byte secret)
// and decodes it.
func ckVerifyJWT(t *testing.T, raw string, key any) ckJWT {
	t.Helper()
	require.Len(t, strings.Split(raw, "."), 3, "a compact JWT with 3 parts")
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
		jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
	})
	require.NoError(t, err)
	payload, err := jws.Verify(key)
	require.NoError(t, err, "signature")
	out := ckJWT{raw: raw}
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(h, &out.header))
	require.NoError(t, json.Unmarshal(payload, &out.claims))
	return out
}

// ckAssertStdClaims checks the claims shared by client assertions and
// request objects.
func ckAssertStdClaims(t *testing.T, app *testApp, j ckJWT) {
	t.Helper()
	c := j.claims
	assert.Equal(t, app.op.ClientID(), c["iss"])
	aud, isString := c["aud"].(string)
	assert.True(t, isString, "aud is a single string: %v", c["aud"])
	assert.Equal(t, app.op.Issuer(), aud, "aud is the discovered issuer, with its trailing slash")
	now := float64(app.clk.Now().Unix())
	assert.Equal(t, now, c["iat"])
	assert.Equal(t, now, c["nbf"])
	assert.Equal(t, now+60, c["exp"])
	jti, _ := c["jti"].(string)
	assert.Len(t, jti, 32)
	_, err := hex.DecodeString(jti)
	assert.NoError(t, err, "jti is 128 random bits in hex")
	assert.NotContains(t, j.header, "typ")
}

// ckTokenAssertion returns the client assertion of the last token request,
// after checking that no other client authentication was sent.
func ckTokenAssertion(t *testing.T, r *http.Request) string {
	t.Helper()
	require.NotNil(t, r)
	assert.Empty(t, r.Header.Get("Authorization"))
	assert.False(t, r.PostForm.Has("client_secret"))
	assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", r.PostForm.Get("client_assertion_type"))
	return r.PostForm.Get("client_assertion")
}

func ckLoggedIn(t *testing.T, app *testApp, b *browser, resp *http.Response, body string) {
	t.Helper()
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
	require.Equal(t, true, b.session(app)["authenticated"])
}

// TestClientAuthPrivateKeyJWT covers CONF-04(b).
func TestClientAuthPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	key := ckKeys().rsa
	app := newTestApp(t, withProvider(oidctest.Options{
		ClientPublicKey: key.Public(), TokenEndpointAuthMethods: []string{"private_key_jwt"},
	}), withConfig(func(c *Config) {
		codeFlow(c)
		c.ClientAssertionSigningKey = key
	}))
	var jtis []string
	for range 2 {
		b := app.browser()
		resp, body := b.login(app, "/login")
		ckLoggedIn(t, app, b, resp, body)
		tr := app.op.LastTokenRequest()
		j := ckVerifyJWT(t, ckTokenAssertion(t, tr), key.Public())
		assert.Equal(t, "RS256", j.header["alg"])
		assert.NotContains(t, j.header, "kid", "no kid header, as in express")
		ckAssertStdClaims(t, app, j)
		assert.Equal(t, app.op.ClientID(), j.claims["sub"])
		assert.LessOrEqual(t, j.claims["exp"].(float64), j.claims["iat"].(float64)+300)
		assert.NotContains(t, string(must(io.ReadAll(tr.Body))), app.op.ClientSecret())
		jtis = append(jtis, j.claims["jti"].(string))
	}
	assert.NotEqual(t, jtis[0], jtis[1], "jti differs between the two logins")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestClientAuthAssertionAlgorithms covers "should use the configured
// signing algorithm in the client assertion" for every key type, including
// an opaque crypto.Signer.
func TestClientAuthAssertionAlgorithms(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	tests := []struct {
		name string
		key  crypto.Signer
		alg  string // configured; "" derives
		want string
	}{
		{"should use RS256 when clientAssertionSigningAlg is RS256", k.rsa, "RS256", "RS256"},
		{"RS512", k.rsa, "RS512", "RS512"},
		{"PS256", k.rsa, "PS256", "PS256"},
		{"ES256 derived", k.p256, "", "ES256"},
		{"ES384 derived", k.p384, "", "ES384"},
		{"ES512 derived", k.p521, "", "ES512"},
		{"EdDSA derived", k.ed, "", "EdDSA"},
		{"opaque RSA signer, PS384", ckOpaque{k.rsa}, "PS384", "PS384"},
		{"opaque ECDSA signer", ckOpaque{k.p256}, "", "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{
				ClientPublicKey: tt.key.Public(), TokenEndpointAuthMethods: []string{"private_key_jwt"},
			}), withConfig(func(c *Config) {
				codeFlow(c)
				c.ClientSecret = ""
				c.ClientAssertionSigningKey = tt.key
				c.ClientAssertionSigningAlg = tt.alg
			}))
			b := app.browser()
			resp, body := b.login(app, "/login")
			ckLoggedIn(t, app, b, resp, body)
			j := ckVerifyJWT(t, ckTokenAssertion(t, app.op.LastTokenRequest()), tt.key.Public())
			assert.Equal(t, tt.want, j.header["alg"])
			ckAssertStdClaims(t, app, j)
			if strings.HasPrefix(tt.want, "PS") {
				ckAssertPSSSalt(t, j.raw, tt.key.Public().(*rsa.PublicKey), tt.want)
			}
		})
	}
}

// ckAssertPSSSalt checks that an RSA-PSS signature uses a salt as long as
// the hash (RFC 7518 §3.5), which strict verifiers require.
func ckAssertPSSSalt(t *testing.T, raw string, pub *rsa.PublicKey, alg string) {
	t.Helper()
	h := map[string]crypto.Hash{"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512}[alg]
	i := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	require.NoError(t, err)
	hh := h.New()
	hh.Write([]byte(raw[:i]))
	assert.NoError(t, rsa.VerifyPSS(pub, h, hh.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}))
}

func TestClientAuthClientSecretJWT(t *testing.T) {
	t.Parallel()
	secret := ckKeys().secret
	app := newTestApp(t, withProvider(oidctest.Options{
		ClientSecret: secret, TokenEndpointAuthMethods: []string{"client_secret_jwt"},
	}), withConfig(func(c *Config) {
		codeFlow(c)
		c.ClientAuthMethod = "client_secret_jwt"
	}))
	b := app.browser()
	resp, body := b.login(app, "/login")
	ckLoggedIn(t, app, b, resp, body)
	tr := app.op.LastTokenRequest()
	j := ckVerifyJWT(t, ckTokenAssertion(t, tr), []byte(secret))
	assert.Equal(t, "HS256", j.header["alg"])
	ckAssertStdClaims(t, app, j)
	assert.Equal(t, app.op.ClientID(), j.claims["sub"])
	assert.NotContains(t, string(must(io.ReadAll(tr.Body))), secret)
}

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	pkcs8 := func(key any) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	valid := []struct {
		name string
		pem  []byte
		alg  string
	}{
		{"PKCS #8 RSA", pkcs8(k.rsa), "RS256"},
		{"PKCS #1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)}), "RS256"},
		{"PKCS #8 ECDSA", pkcs8(k.p384), "ES384"},
		{"SEC 1 ECDSA", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: must(x509.MarshalECPrivateKey(k.p256))}), "ES256"},
		{"PKCS #8 Ed25519", pkcs8(k.ed), "EdDSA"},
		{"leading text", append([]byte("comment\n"), pkcs8(k.p256)...), "ES256"},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := ParsePrivateKeyPEM(tt.pem)
			require.NoError(t, err)
			algs, err := signingAlgsFor(s)
			require.NoError(t, err)
			assert.Equal(t, tt.alg, algs[0])
		})
	}
	invalid := []struct {
		name string
		pem  []byte
		want string
	}{
		{"not PEM", []byte("hello"), "no PEM block"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(k.rsa.Public()))}), "unsupported PEM block type"},
		{"encrypted", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), "encrypted"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret-bytes")}), "not hold a valid private key"},
		{"X25519 cannot sign", pkcs8(x25519), "cannot sign"},
		{"RSA 1024", pkcs8(k.small), "2048"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePrivateKeyPEM(tt.pem)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "secret-bytes")
		})
	}
}

// ckMTLS is a TLS front for the provider that requires a client
// certificate, like a provider's mtls_endpoint_aliases host. It
// authenticates the client by its certificate and forwards the request to
// the provider with the client secret added (oidctest has no
// tls_client_auth of its own).
type ckMTLS struct {
	srv      *httptest.Server
	op       atomic.Pointer[oidctest.Provider]
	certHash [32]byte
	mu       sync.Mutex
	paths    []string
	forms    []url.Values
}

func newCKMTLS(t *testing.T) (*ckMTLS, *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	f := &ckMTLS{certHash: sha256.Sum256(der)}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}}}
	return f, client
}

func (f *ckMTLS) serve(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || sha256.Sum256(r.TLS.PeerCertificates[0].Raw) != f.certHash {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.forms = append(f.forms, form)
	f.mu.Unlock()
	op := f.op.Load()
	if r.Header.Get("Authorization") != "" || form.Has("client_secret") || form.Has("client_assertion") ||
		form.Get("client_id") != op.ClientID() {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	form.Set("client_secret", op.ClientSecret())
	r2 := r.Clone(r.Context())
	enc := form.Encode()
	r2.Body = io.NopCloser(strings.NewReader(enc))
	r2.ContentLength = int64(len(enc))
	op.Handler().ServeHTTP(w, r2)
}

func (f *ckMTLS) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// TestClientAuthMTLS covers the mTLS titles of test/client.tests.js.
func TestClientAuthMTLS(t *testing.T) {
	t.Parallel()
	newApp := func(t *testing.T, aliases func(f *ckMTLS) map[string]any, mutate func(*Config)) (*testApp, *ckMTLS, *[]error) {
		f, client := newCKMTLS(t)
		var mu sync.Mutex
		var errs []error
		app := newTestApp(t, withProvider(oidctest.Options{MutateDiscovery: func(doc map[string]any) {
			if a := aliases(f); a != nil {
				doc["mtls_endpoint_aliases"] = a
			}
		}}), withConfig(func(c *Config) {
			codeFlow(c)
			c.ClientSecret = ""
			c.UseMTLS = true
			c.HTTPClient = client
			c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				http.Error(w, err.Error(), statusOf(err, 500))
			}
			if mutate != nil {
				mutate(c)
			}
		}))
		f.op.Store(app.op)
		return app, f, &errs
	}
	tokenAlias := func(f *ckMTLS) map[string]any {
		return map[string]any{"token_endpoint": f.srv.URL + "/token", "userinfo_endpoint": f.srv.URL + "/userinfo"}
	}

	t.Run("should route token grants to the mTLS alias endpoint through the SDK", func(t *testing.T) {
		t.Parallel()
		app, f, _ := newApp(t, tokenAlias, nil)
		b := app.browser()
		resp, body := b.login(app, "/login")
		ckLoggedIn(t, app, b, resp, body)
		assert.Equal(t, []string{"/token"}, f.calls())
		assert.Equal(t, 1, app.op.Calls("token"), "forwarded by the mTLS front only")
		tr := app.op.LastTokenRequest()
		assert.Empty(t, tr.Header.Get("Authorization"))
		assert.Equal(t, "authorization_code", tr.PostForm.Get("grant_type"))
		md, err := app.m.provider.Discover(t.Context())
		require.NoError(t, err)
		assert.Equal(t, f.srv.URL+"/token", md.TokenEndpoint)
		assert.Equal(t, f.srv.URL+"/userinfo", md.UserinfoEndpoint, "userinfo uses its alias too")
	})
	t.Run("a missing userinfo alias keeps userinfo_endpoint", func(t *testing.T) {
		t.Parallel()
		app, f, _ := newApp(t, func(f *ckMTLS) map[string]any {
			return map[string]any{"token_endpoint": f.srv.URL + "/token"}
		}, nil)
		md, err := app.m.provider.Discover(t.Context())
		require.NoError(t, err)
		assert.Equal(t, f.srv.URL+"/token", md.TokenEndpoint)
		assert.Equal(t, app.op.URL()+"/userinfo", md.UserinfoEndpoint)
	})
	for name, aliases := range map[string]func(*ckMTLS) map[string]any{
		"should throw MtlsError(MTLS_ENDPOINT_ALIASES_MISSING) when discovery has no aliases": func(*ckMTLS) map[string]any { return nil },
		"aliases without token_endpoint": func(f *ckMTLS) map[string]any {
			return map[string]any{"userinfo_endpoint": f.srv.URL + "/userinfo"}
		},
		"aliases that are not an object": func(*ckMTLS) map[string]any { return map[string]any{"token_endpoint": 42} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app, f, errs := newApp(t, aliases, nil)
			resp, _ := app.browser().get(app.url("/login"))
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			require.Len(t, *errs, 1)
			assert.ErrorIs(t, (*errs)[0], ErrMTLSEndpointAliasesMissing)
			assert.ErrorIs(t, (*errs)[0], ErrProviderUnavailable)
			assert.Empty(t, f.calls())
		})
	}
	t.Run("should throw MTLS_ENDPOINT_ALIASES_MISSING when PAR is enabled but its alias is absent", func(t *testing.T) {
		t.Parallel()
		app, _, errs := newApp(t, tokenAlias, func(c *Config) { c.PushedAuthorizationRequests = true })
		resp, _ := app.browser().get(app.url("/login"))
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Len(t, *errs, 1)
		assert.ErrorIs(t, (*errs)[0], ErrMTLSEndpointAliasesMissing)
		var oe *Error
		require.ErrorAs(t, (*errs)[0], &oe)
		assert.Contains(t, oe.Err.Error(), "pushed_authorization_request_endpoint")
		assert.Equal(t, 0, app.op.Calls("par"))
	})
	t.Run("should accept PAR under mTLS when the PAR alias is advertised", func(t *testing.T) {
		t.Parallel()
		app, f, _ := newApp(t, func(f *ckMTLS) map[string]any {
			return map[string]any{"token_endpoint": f.srv.URL + "/token", "pushed_authorization_request_endpoint": f.srv.URL + "/par"}
		}, func(c *Config) { c.PushedAuthorizationRequests = true })
		b := app.browser()
		resp, _ := b.get(app.url("/login"))
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc := must(url.Parse(resp.Header.Get("Location")))
		assert.ElementsMatch(t, []string{"client_id", "request_uri"}, slicesKeys(loc.Query()))
		cb, method, vals := b.authorize(resp)
		resp, body := b.deliver(cb, method, vals)
		ckLoggedIn(t, app, b, resp, body)
		assert.Equal(t, []string{"/par", "/token"}, f.calls())
		assert.Equal(t, 1, app.op.Calls("par"))
	})
}

func slicesKeys(v url.Values) []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	return out
}

// TestClientAuthBasicAtPAR checks the PAR request's Basic credentials are
// form-encoded (RFC 6749 §2.3.1), like the token request's.
func TestClientAuthBasicAtPAR(t *testing.T) {
	t.Parallel()
	const id, secret = "client:with space", "s3cr3t/+%&"
	app := newTestApp(t, withProvider(oidctest.Options{ClientID: id, ClientSecret: secret}), withConfig(func(c *Config) {
		codeFlow(c)
		c.PushedAuthorizationRequests = true
	}))
	b := app.browser()
	resp, body := b.login(app, "/login")
	ckLoggedIn(t, app, b, resp, body)
	pr := app.op.LastPARRequest()
	require.NotNil(t, pr)
	raw := strings.TrimPrefix(pr.Header.Get("Authorization"), "Basic ")
	dec := must(base64.StdEncoding.DecodeString(raw))
	assert.Equal(t, url.QueryEscape(id)+":"+url.QueryEscape(secret), string(dec))
	assert.False(t, bytes.Contains(must(io.ReadAll(pr.Body)), []byte("s3cr3t")))
}
