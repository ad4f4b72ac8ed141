package oidc

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// The DPoP tests run against oidctest with DPoP on, which verifies every
// proof strictly (typ, alg, public jwk, signature, jti, htm, htu, iat,
// nonce, ath) and binds codes, access and refresh tokens to the key.

// dpopProof is a proof verified under the jwk of its own header.
type dpopProof struct {
	header map[string]any
	claims map[string]any
	jkt    string
}

func parseDPoPProof(t *testing.T, raw string) dpopProof {
	t.Helper()
	require.NotEmpty(t, raw, "a DPoP proof")
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
		jose.PS256, jose.PS384, jose.PS512, jose.RS256, jose.RS384, jose.RS512})
	require.NoError(t, err)
	jwk := jws.Signatures[0].Header.JSONWebKey
	require.NotNil(t, jwk)
	require.True(t, jwk.IsPublic())
	payload, err := jws.Verify(jwk.Key)
	require.NoError(t, err)
	var p dpopProof
	hdr, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(hdr, &p.header))
	require.NoError(t, json.Unmarshal(payload, &p.claims))
	tp, err := jwk.Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	p.jkt = base64.RawURLEncoding.EncodeToString(tp)
	return p
}

// peekForm reads the form body of r (an oidctest Intercept) and puts it
// back for the provider.
func peekForm(r *http.Request) url.Values {
	raw, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(raw))
	v, _ := url.ParseQuery(string(raw))
	return v
}

// thumbprint is the RFC 7638 thumbprint of key's public key.
func thumbprint(t *testing.T, key crypto.Signer) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(tp)
}

// newDPoPApp is a code-flow app (newTKApp) with DPoP on at both ends: the
// provider with opts (DPoP implied) and the app with key.
func newDPoPApp(t *testing.T, opts oidctest.Options, key crypto.Signer, mutate func(*Config)) *testApp {
	t.Helper()
	opts.DPoP = true
	return newTestApp(t, withProvider(opts), withTokenRoutes(), withConfig(func(c *Config) { c.DPoP = &DPoPConfig{Key: key} }), withConfig(mutate))
}

// TestDPoPCodeFlow: the code flow binds the code (dpop_jkt), the access
// token and the refresh token to the key, with and without server nonces,
// for each kind of key.
func TestDPoPCodeFlow(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	tests := []struct {
		name  string
		key   crypto.Signer
		alg   string
		nonce bool
	}{
		{"ES256", k.p256, "ES256", false},
		{"ES256 with nonces", k.p256, "ES256", true},
		{"EdDSA with nonces", k.ed, "EdDSA", true},
		{"PS256 (RSA default)", k.rsa, "PS256", false},
		{"an opaque signer", ckOpaque{k.p256}, "ES256", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newDPoPApp(t, oidctest.Options{DPoPNonce: tt.nonce}, tt.key, nil)
			jkt := thumbprint(t, tt.key)
			resp, _ := e.b.get(e.url("/login"))
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, jkt, loc.Query().Get("dpop_jkt"), "the code is bound to the key")
			cb, method, vals := e.b.authorize(resp)
			resp, body := e.b.deliver(cb, method, vals)
			require.Equal(t, http.StatusFound, resp.StatusCode, body)

			tok := e.tokens()
			assert.Equal(t, "DPoP", tok.TokenType)
			info, ok := e.op.AccessTokenInfo(tok.AccessToken)
			require.True(t, ok)
			assert.Equal(t, jkt, info.JKT, "the access token is bound to the key")
			wantCalls := 1
			if tt.nonce {
				wantCalls = 2 // use_dpop_nonce, then the same request with the nonce
			}
			assert.Equal(t, wantCalls, e.op.Calls(oidctest.EndpointToken))
			p := parseDPoPProof(t, e.op.LastDPoPProof(oidctest.EndpointToken))
			assert.Equal(t, "dpop+jwt", p.header["typ"])
			assert.Equal(t, tt.alg, p.header["alg"])
			assert.Equal(t, jkt, p.jkt)
			assert.Equal(t, "POST", p.claims["htm"])
			assert.Equal(t, e.op.URL()+oidctest.PathToken, p.claims["htu"])
			assert.Equal(t, float64(e.clk.Now().Unix()), p.claims["iat"])
			assert.NotContains(t, p.claims, "ath")
			if tt.nonce {
				assert.Equal(t, e.op.DPoPNonce(), p.claims["nonce"])
			}
			var at *AccessToken
			e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) { at = c.AccessToken() })
			require.NotNil(t, at)
			assert.Equal(t, "DPoP", at.Type)

			// The refresh token is bound too, and works with our key; the
			// nonce learned at login is reused, so one call.
			calls := e.op.Calls(oidctest.EndpointToken)
			at, err = e.refresh(RefreshOptions{})
			require.NoError(t, err)
			assert.Equal(t, "DPoP", at.Type)
			assert.Equal(t, calls+1, e.op.Calls(oidctest.EndpointToken))
			info, ok = e.op.AccessTokenInfo(string(at.Token))
			require.True(t, ok)
			assert.Equal(t, jkt, info.JKT)
		})
	}
}

// TestDPoPNonceRotation: a nonce the server stopped accepting is replaced
// with one retry, at the token endpoint as at login.
func TestDPoPNonceRotation(t *testing.T) {
	t.Parallel()
	e := newDPoPApp(t, oidctest.Options{DPoPNonce: true}, ckKeys().p256, nil)
	e.login()
	e.op.RotateDPoPNonce()
	calls := e.op.Calls(oidctest.EndpointToken)
	_, err := e.refresh(RefreshOptions{})
	require.NoError(t, err)
	assert.Equal(t, calls+2, e.op.Calls(oidctest.EndpointToken), "the old nonce is refused once")
	assert.Equal(t, e.op.DPoPNonce(), parseDPoPProof(t, e.op.LastDPoPProof(oidctest.EndpointToken)).claims["nonce"])

	t.Run("a second use_dpop_nonce is returned, not retried again", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		n := 0
		e := newDPoPApp(t, oidctest.Options{Intercept: func(ep string, w http.ResponseWriter, r *http.Request) bool {
			if ep != oidctest.EndpointToken || peekForm(r).Get("grant_type") != "refresh_token" {
				return false
			}
			mu.Lock()
			n++
			nonce := "nonce-" + string(rune('a'+n))
			mu.Unlock()
			w.Header().Set("DPoP-Nonce", nonce)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"use_dpop_nonce"}`))
			return true
		}}, ckKeys().p256, nil)
		e.login()
		_, err := e.refresh(RefreshOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "use_dpop_nonce", pe.Code)
		mu.Lock()
		assert.Equal(t, 2, n)
		mu.Unlock()
		assert.True(t, e.tokens().Authenticated, "not an invalid_grant: the session stays")
	})
}

// TestDPoPRetryRebuildsAssertion: the nonce retry sends a new client
// assertion (its jti is single-use) with the new proof.
func TestDPoPRetryRebuildsAssertion(t *testing.T) {
	t.Parallel()
	key := ckKeys().rsa
	var mu sync.Mutex
	var assertions, proofs []string
	e := newDPoPApp(t, oidctest.Options{
		DPoPNonce: true, ClientPublicKey: key.Public(), TokenEndpointAuthMethods: []string{"private_key_jwt"},
		Intercept: func(ep string, _ http.ResponseWriter, r *http.Request) bool {
			if ep == oidctest.EndpointToken {
				a := peekForm(r).Get("client_assertion")
				mu.Lock()
				assertions = append(assertions, a)
				proofs = append(proofs, r.Header.Get("DPoP"))
				mu.Unlock()
			}
			return false
		},
	}, ckKeys().p256, func(c *Config) {
		c.ClientSecret = ""
		c.ClientAssertionSigningKey = key
	})
	e.login()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, assertions, 2)
	first, second := ckVerifyJWT(t, assertions[0], key.Public()), ckVerifyJWT(t, assertions[1], key.Public())
	assert.NotEqual(t, first.claims["jti"], second.claims["jti"], "a fresh assertion on the retry")
	assert.NotEqual(t, proofs[0], proofs[1])
	assert.NotContains(t, parseDPoPProof(t, proofs[0]).claims, "nonce")
	assert.Contains(t, parseDPoPProof(t, proofs[1]).claims, "nonce")
}

// TestDPoPPAR: the PAR request carries a proof and dpop_jkt; the
// authorization URL then has neither (only client_id and request_uri).
func TestDPoPPAR(t *testing.T) {
	t.Parallel()
	for _, nonce := range []bool{false, true} {
		t.Run(map[bool]string{false: "no nonces", true: "nonces"}[nonce], func(t *testing.T) {
			t.Parallel()
			key := ckKeys().ed
			e := newDPoPApp(t, oidctest.Options{DPoPNonce: nonce, RequirePAR: true}, key, func(c *Config) {
				c.PushedAuthorizationRequests = true
			})
			resp, _ := e.b.get(e.url("/login"))
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"client_id", "request_uri"}, slicesKeys(loc.Query()))
			pr := e.op.LastPARRequest()
			require.NotNil(t, pr)
			require.NoError(t, pr.ParseForm())
			assert.Equal(t, thumbprint(t, key), pr.PostForm.Get("dpop_jkt"))
			p := parseDPoPProof(t, pr.Header.Get("DPoP"))
			assert.Equal(t, e.op.URL()+oidctest.PathPAR, p.claims["htu"])
			assert.Equal(t, thumbprint(t, key), p.jkt)
			wantPAR := map[bool]int{false: 1, true: 2}[nonce]
			assert.Equal(t, wantPAR, e.op.Calls(oidctest.EndpointPAR))
			cb, method, vals := e.b.authorize(resp)
			resp, body := e.b.deliver(cb, method, vals)
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			assert.Equal(t, "DPoP", e.tokens().TokenType)
			assert.Equal(t, 1, e.op.Calls(oidctest.EndpointToken), "the PAR nonce serves the token endpoint (same origin)")
		})
	}
}

// TestDPoPJAR: with request objects, dpop_jkt travels inside the signed
// request object.
func TestDPoPJAR(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	e := newDPoPApp(t, oidctest.Options{ClientPublicKey: k.p384.Public()}, k.p256, func(c *Config) {
		c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.p384, "ES384"
	})
	resp, _ := e.b.get(e.url("/login"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	ro := ckVerifyJWT(t, loc.Query().Get("request"), k.p384.Public())
	assert.Equal(t, thumbprint(t, k.p256), ro.claims["dpop_jkt"])
	cb, method, vals := e.b.authorize(resp)
	resp, body := e.b.deliver(cb, method, vals)
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	assert.Equal(t, "DPoP", e.tokens().TokenType)
}

// TestDPoPTokenExchange: the exchange carries a proof and its token is
// bound to the key.
func TestDPoPTokenExchange(t *testing.T) {
	t.Parallel()
	key := ckKeys().p256
	e := newDPoPApp(t, oidctest.Options{DPoPNonce: true}, key, nil)
	e.login()
	var res *TokenExchangeResult
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		res, err = c.CustomTokenExchange(r.Context(), TokenExchangeOptions{})
	})
	require.NoError(t, err)
	assert.Equal(t, "dpop", res.TokenType)
	info, ok := e.op.AccessTokenInfo(string(res.AccessToken))
	require.True(t, ok)
	assert.Equal(t, thumbprint(t, key), info.JKT)
}

// TestDPoPAlgorithm: the proof algorithm follows the provider's
// dpop_signing_alg_values_supported; a key that fits none fails the login
// before the browser leaves, with a *DPoPAlgorithmError naming both lists
// and a Warn.
func TestDPoPAlgorithm(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	tests := []struct {
		name     string
		key      crypto.Signer
		alg      string
		provider []string
		want     string // the proof's alg; "" for the error
	}{
		{"RSA: the provider's first that fits", k.rsa, "", []string{"ES256", "RS256", "PS256"}, "RS256"},
		{"RSA: the configured one", k.rsa, "PS256", []string{"RS256", "PS256"}, "PS256"},
		{"EdDSA", k.ed, "", []string{"ES256", "EdDSA"}, "EdDSA"},
		{"ES384", k.p384, "", []string{"ES384"}, "ES384"},
		{"the configured one is not offered", k.rsa, "PS256", []string{"RS256", "ES256"}, ""},
		{"no fit", k.p256, "", []string{"PS256", "RS256"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cap exCapture
			e := newDPoPApp(t, oidctest.Options{DPoPSigningAlgs: tt.provider}, tt.key, func(c *Config) {
				c.DPoP.Alg = tt.alg
				c.Logger = cap.logger()
				c.ErrorHandler = cap.handler
			})
			if tt.want != "" {
				e.login()
				p := parseDPoPProof(t, e.op.LastDPoPProof(oidctest.EndpointToken))
				assert.Equal(t, tt.want, p.header["alg"])
				return
			}
			resp, body := e.b.get(e.url("/login"))
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, body)
			assert.Equal(t, 0, e.op.Calls(oidctest.EndpointAuthorize))
			logs, err := cap.result()
			var ae *DPoPAlgorithmError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.provider, ae.Provider)
			assert.Equal(t, tt.alg, ae.Configured)
			for _, a := range append(append([]string{}, tt.provider...), ae.Key...) {
				assert.Contains(t, ae.Error(), a)
			}
			var pe *ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "server_error", pe.Code)
			assert.Contains(t, pe.Description, tt.provider[0])
			assert.Contains(t, logs, "level=WARN")
			assert.Contains(t, logs, "no DPoP proof algorithm fits")
			assert.Equal(t, 1, strings.Count(logs, "no DPoP proof algorithm fits"))
		})
	}
}

// TestDPoPBearerDowngrade: a Bearer token from a provider that advertises
// DPoP is refused, at the callback (400) and at refresh (*ProviderError),
// unless AllowBearerDowngrade; from a provider that does not know DPoP it
// is accepted.
func TestDPoPBearerDowngrade(t *testing.T) {
	t.Parallel()
	bearer := func(m map[string]any) { m["token_type"] = "Bearer" }
	t.Run("callback", func(t *testing.T) {
		t.Parallel()
		var cap exCapture
		e := newDPoPApp(t, oidctest.Options{MutateTokenResponse: bearer}, ckKeys().p256, func(c *Config) {
			c.ErrorHandler = cap.handler
		})
		resp, body := e.b.login(e, "/login")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		_, err := cap.result()
		var oe *Error
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, "invalid_token_response", oe.Code)
		assert.ErrorIs(t, err, ErrDPoPBearerDowngrade)
		assert.ErrorIs(t, err, ErrTokenExchange)
		assert.False(t, e.tokens().Authenticated)
	})
	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		e := newDPoPApp(t, oidctest.Options{}, ckKeys().p256, nil)
		e.login()
		before := e.tokens()
		e.op.SetOptions(func(o *oidctest.Options) { o.MutateTokenResponse = bearer })
		_, err := e.refresh(RefreshOptions{})
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "invalid_token_response", pe.Code)
		assert.Equal(t, http.StatusBadGateway, pe.StatusCode)
		assert.ErrorIs(t, err, ErrDPoPBearerDowngrade)
		assert.Equal(t, before, e.tokens(), "the session is unchanged")
	})
	t.Run("AllowBearerDowngrade", func(t *testing.T) {
		t.Parallel()
		e := newDPoPApp(t, oidctest.Options{MutateTokenResponse: bearer}, ckKeys().p256, func(c *Config) {
			c.DPoP.AllowBearerDowngrade = true
		})
		e.login()
		assert.Equal(t, "Bearer", e.tokens().TokenType)
		_, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
	})
	t.Run("a provider that does not know DPoP", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.DPoP = &DPoPConfig{Key: ckKeys().p256} })
		e.login()
		assert.Equal(t, "Bearer", e.tokens().TokenType, "proofs are ignored, Bearer tokens accepted")
		_, err := e.refresh(RefreshOptions{})
		require.NoError(t, err)
		var claims Claims
		e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) { claims, err = c.FetchUserInfo(r.Context()) })
		require.NoError(t, err)
		assert.Equal(t, "user-1", claims.String("sub"))
	})
}

// TestDPoPConfig covers Config.DPoP's validation.
func TestDPoPConfig(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	code := func(c *Config) {
		c.AuthorizationParams = map[string]string{"response_type": "code"}
		c.ClientSecret = "s"
	}
	tests := []struct {
		name   string
		mod    func(*Config)
		option string // "" for valid
		alg    string // the configured alg of a valid config
	}{
		{"ES256", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p256} }, "", ""},
		{"EdDSA, explicit", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.ed, Alg: "EdDSA"} }, "", "EdDSA"},
		{"RSA with RS256", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.rsa, Alg: "RS256"} }, "", "RS256"},
		{"an opaque signer", func(c *Config) { c.DPoP = &DPoPConfig{Key: ckOpaque{k.p521}} }, "", ""},
		{"nil key outside development", func(c *Config) { c.DPoP = &DPoPConfig{} }, "DPoP.Key", ""},
		{"nil key with http on another host", func(c *Config) {
			c.BaseURL = "http://app.example"
			c.DPoP = &DPoPConfig{}
		}, "DPoP.Key", ""},
		{"a small RSA key", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.small} }, "DPoP.Key", ""},
		{"P-224", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p224} }, "DPoP.Key", ""},
		{"an alg that does not fit the key", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p256, Alg: "ES384"} }, "DPoP.Alg", ""},
		{"RS256 with an EC key", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p256, Alg: "RS256"} }, "DPoP.Alg", ""},
		{"HS256", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p256, Alg: "HS256"} }, "DPoP.Alg", ""},
		{"none", func(c *Config) { c.DPoP = &DPoPConfig{Key: k.p256, Alg: "none"} }, "DPoP.Alg", ""},
		{"dpop_jkt configured", func(c *Config) {
			c.DPoP = &DPoPConfig{Key: k.p256}
			c.AuthorizationParams["dpop_jkt"] = "x"
		}, `AuthorizationParams["dpop_jkt"]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := resolveWith(func(c *Config) { code(c); tt.mod(c) })
			if tt.option != "" {
				requireConfigError(t, err, tt.option)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, s.dpop)
			assert.Equal(t, tt.alg, s.dpop.alg)
		})
	}
}

// TestDPoPDevelopmentKey: with an http BaseURL on a loopback host, a nil
// key is generated, with a Warn.
func TestDPoPDevelopmentKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ base, alg, wantAlg string }{
		{"http://localhost:3000", "", "ES256"},
		{"http://127.0.0.1:8080/app", "EdDSA", "EdDSA"},
		{"http://[::1]:3000", "ES384", "ES384"},
	} {
		t.Run(tt.base, func(t *testing.T) {
			t.Parallel()
			var cap exCapture
			s, err := resolveWith(func(c *Config) {
				c.BaseURL = tt.base
				c.AuthorizationParams = map[string]string{"response_type": "code"}
				c.ClientSecret = "s"
				c.Logger = cap.logger()
				c.DPoP = &DPoPConfig{Alg: tt.alg}
			})
			require.NoError(t, err)
			require.NotNil(t, s.dpop)
			assert.Equal(t, []string{tt.wantAlg}, s.dpop.key.Algs())
			logs, _ := cap.result()
			assert.Contains(t, logs, "level=WARN")
			assert.Contains(t, logs, "will not survive a restart")
		})
	}
	_, err := resolveWith(func(c *Config) {
		c.BaseURL = "http://localhost:3000"
		c.DPoP = &DPoPConfig{Alg: "HS256"}
	})
	requireConfigError(t, err, "DPoP.Alg")
}
