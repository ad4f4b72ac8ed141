package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// ckKeySet holds client signing keys shared by the client-authentication,
// JAR and PAR tests (RSA generation is slow under -race).
type ckKeySet struct {
	rsa    *rsa.PrivateKey
	small  *rsa.PrivateKey // 1024 bits: too small
	p256   *ecdsa.PrivateKey
	p384   *ecdsa.PrivateKey
	p521   *ecdsa.PrivateKey
	p224   *ecdsa.PrivateKey // unsupported curve
	ed     ed25519.PrivateKey
	secret string // 64 bytes: enough for HS512
}

var ckKeysOnce = sync.OnceValue(func() *ckKeySet {
	must := func(k crypto.Signer, err error) crypto.Signer {
		if err != nil {
			panic(err)
		}
		return k
	}
	ec := func(c elliptic.Curve) *ecdsa.PrivateKey {
		return must(ecdsa.GenerateKey(c, rand.Reader)).(*ecdsa.PrivateKey)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &ckKeySet{
		rsa:    must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey),
		small:  must(rsa.GenerateKey(rand.Reader, 1024)).(*rsa.PrivateKey),
		p256:   ec(elliptic.P256()),
		p384:   ec(elliptic.P384()),
		p521:   ec(elliptic.P521()),
		p224:   ec(elliptic.P224()),
		ed:     ed,
		secret: "client-secret-jwt-0123456789abcdef-0123456789abcdef-0123456789ab",
	}
})

func ckKeys() *ckKeySet { return ckKeysOnce() }

// ckOpaque hides the concrete key type, like an HSM or KMS signer.
type ckOpaque struct{ s crypto.Signer }

func (o ckOpaque) Public() crypto.PublicKey { return o.s.Public() }
func (o ckOpaque) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

// ckMTLSClient is an HTTP client whose transport presents a certificate.
func ckMTLSClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{{0}}}},
	}}}
}

func TestConfigClientAuthValid(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	code := map[string]string{"response_type": "code"}
	tests := []struct {
		name       string
		mod        func(*Config)
		env        map[string]string
		wantMethod string
		wantAlg    string
	}{
		{"id_token flow defaults to none", nil, nil, "none", ""},
		{"code flow defaults to client_secret_basic", func(c *Config) {
			c.AuthorizationParams, c.ClientSecret = code, "s"
		}, nil, "client_secret_basic", ""},
		{"a signing key makes private_key_jwt the default (RS256 for RSA)", func(c *Config) {
			c.AuthorizationParams, c.ClientAssertionSigningKey = code, k.rsa
		}, nil, "private_key_jwt", "RS256"},
		{"a signing key makes private_key_jwt the default in the id_token flow too", func(c *Config) {
			c.ClientAssertionSigningKey = k.rsa
		}, nil, "private_key_jwt", "RS256"},
		{"should use the configured signing algorithm (PS384)", func(c *Config) {
			c.AuthorizationParams, c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = code, k.rsa, "PS384"
		}, nil, "private_key_jwt", "PS384"},
		{"P-256 derives ES256", func(c *Config) { c.ClientAssertionSigningKey = k.p256 }, nil, "private_key_jwt", "ES256"},
		{"P-384 derives ES384", func(c *Config) { c.ClientAssertionSigningKey = k.p384 }, nil, "private_key_jwt", "ES384"},
		{"P-521 derives ES512", func(c *Config) { c.ClientAssertionSigningKey = k.p521 }, nil, "private_key_jwt", "ES512"},
		{"Ed25519 derives EdDSA", func(c *Config) { c.ClientAssertionSigningKey = k.ed }, nil, "private_key_jwt", "EdDSA"},
		{"an opaque crypto.Signer", func(c *Config) {
			c.ClientAssertionSigningKey = ckOpaque{k.p256}
		}, nil, "private_key_jwt", "ES256"},
		{"explicit private_key_jwt", func(c *Config) {
			c.ClientAuthMethod, c.ClientAssertionSigningKey = "private_key_jwt", k.rsa
		}, nil, "private_key_jwt", "RS256"},
		{"client_secret_jwt defaults to HS256", func(c *Config) {
			c.AuthorizationParams, c.ClientAuthMethod, c.ClientSecret = code, "client_secret_jwt", Secret(k.secret[:32])
		}, nil, "client_secret_jwt", "HS256"},
		{"client_secret_jwt HS512 with a 64-byte secret", func(c *Config) {
			c.AuthorizationParams, c.ClientAuthMethod, c.ClientSecret = code, "client_secret_jwt", Secret(k.secret)
			c.ClientAssertionSigningAlg = "HS512"
		}, nil, "client_secret_jwt", "HS512"},
		{"PAR in the id_token flow defaults to client_secret_basic", func(c *Config) {
			c.PushedAuthorizationRequests, c.ClientSecret = true, "s"
		}, nil, "client_secret_basic", ""},
		{"UseMTLS selects tls_client_auth", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient = code, true, ckMTLSClient()
		}, nil, "tls_client_auth", ""},
		{"UseMTLS from AUTH0_MTLS", func(c *Config) {
			c.AuthorizationParams, c.HTTPClient = code, ckMTLSClient()
		}, map[string]string{"AUTH0_MTLS": " TRUE "}, "tls_client_auth", ""},
		{"AUTH0_MTLS other than true is ignored", func(c *Config) {
			c.AuthorizationParams, c.ClientSecret = code, "s"
		}, map[string]string{"AUTH0_MTLS": "1"}, "client_secret_basic", ""},
		{"UseMTLS with an opaque transport", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS = code, true
			c.HTTPClient = &http.Client{Transport: http.NewFileTransport(http.Dir("."))}
		}, nil, "tls_client_auth", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			if tt.env != nil {
				cfg.LookupEnv = fakeEnv(tt.env)
			}
			if tt.mod != nil {
				tt.mod(&cfg)
			}
			s, err := resolve(cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.wantMethod, s.authMethod)
			assert.Equal(t, tt.wantAlg, s.assertionAlg)
		})
	}

	t.Run("request objects", func(t *testing.T) {
		t.Parallel()
		s, err := resolveWith(func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg, c.RequestObjectSigningKeyID = k.p256, "ES256", "kid-1"
		})
		require.NoError(t, err)
		assert.Equal(t, "ES256", s.requestAlg)
		assert.Equal(t, "kid-1", s.requestKeyID)
		assert.Equal(t, "none", s.authMethod, "JAR alone does not change the client authentication")
	})
	t.Run("PAR and silent login flags", func(t *testing.T) {
		t.Parallel()
		s, err := resolveWith(func(c *Config) {
			c.PushedAuthorizationRequests, c.AttemptSilentLogin, c.ClientSecret = true, true, "s"
		})
		require.NoError(t, err)
		assert.True(t, s.par)
		assert.True(t, s.silentLogin)
	})
}

func TestConfigClientAuthInvalid(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	code := map[string]string{"response_type": "code"}
	var nilRSA *rsa.PrivateKey
	tests := []struct {
		name   string
		mod    func(*Config)
		env    map[string]string
		option string
		reason string // substring of the error
	}{
		{"tls_client_auth cannot be set explicitly", func(c *Config) { c.ClientAuthMethod = "tls_client_auth" }, nil, "ClientAuthMethod", "UseMTLS"},
		{"self_signed_tls_client_auth cannot be set", func(c *Config) { c.ClientAuthMethod = "self_signed_tls_client_auth" }, nil, "ClientAuthMethod", "UseMTLS"},
		{"unknown method", func(c *Config) { c.ClientAuthMethod = "client_secret" }, nil, "ClientAuthMethod", "private_key_jwt"},
		{"private_key_jwt requires a key", func(c *Config) { c.ClientAuthMethod = "private_key_jwt" }, nil,
			"ClientAssertionSigningKey", "is required"},
		{"should fail when signing algorithm is incompatible with the key type (RSA, ES256)", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.rsa, "ES256"
		}, nil, "ClientAssertionSigningAlg", "does not fit"},
		{"incompatible curve (P-256, ES384)", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.p256, "ES384"
		}, nil, "ClientAssertionSigningAlg", "does not fit"},
		{"incompatible Ed25519 (RS256)", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.ed, "RS256"
		}, nil, "ClientAssertionSigningAlg", "does not fit"},
		{"HS256 for private_key_jwt", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.rsa, "HS256"
		}, nil, "ClientAssertionSigningAlg", "asymmetric"},
		{"alg none", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.rsa, "none"
		}, nil, "ClientAssertionSigningAlg", "asymmetric"},
		{"unsupported alg", func(c *Config) {
			c.ClientAssertionSigningKey, c.ClientAssertionSigningAlg = k.p256, "ES256K"
		}, nil, "ClientAssertionSigningAlg", "unsupported"},
		{"RSA keys under 2048 bits", func(c *Config) { c.ClientAssertionSigningKey = k.small }, nil,
			"ClientAssertionSigningKey", "2048"},
		{"unsupported curve", func(c *Config) { c.ClientAssertionSigningKey = k.p224 }, nil,
			"ClientAssertionSigningKey", "curve"},
		{"typed nil key", func(c *Config) { c.ClientAssertionSigningKey = nilRSA }, nil,
			"ClientAssertionSigningKey", "public key"},
		{"a key with another method", func(c *Config) {
			c.AuthorizationParams, c.ClientSecret = code, "s"
			c.ClientAuthMethod, c.ClientAssertionSigningKey = "client_secret_basic", k.rsa
		}, nil, "ClientAssertionSigningKey", "only used"},
		{"an assertion alg with client_secret_post", func(c *Config) {
			c.AuthorizationParams, c.ClientSecret = code, "s"
			c.ClientAuthMethod, c.ClientAssertionSigningAlg = "client_secret_post", "RS256"
		}, nil, "ClientAssertionSigningAlg", "only used"},
		{"client_secret_jwt requires a secret", func(c *Config) {
			c.AuthorizationParams, c.ClientAuthMethod = code, "client_secret_jwt"
		}, nil, "ClientSecret", "client_secret_jwt"},
		{"client_secret_jwt with a short secret", func(c *Config) {
			c.AuthorizationParams, c.ClientAuthMethod, c.ClientSecret = code, "client_secret_jwt", "short-secret"
		}, nil, "ClientSecret", "at least 32 bytes"},
		{"client_secret_jwt HS512 with a 32-byte secret", func(c *Config) {
			c.AuthorizationParams, c.ClientAuthMethod, c.ClientSecret = code, "client_secret_jwt", Secret(k.secret[:32])
			c.ClientAssertionSigningAlg = "HS512"
		}, nil, "ClientSecret", "at least 64 bytes"},
		{"client_secret_jwt with RS256", func(c *Config) {
			c.AuthorizationParams, c.ClientAuthMethod, c.ClientSecret = code, "client_secret_jwt", Secret(k.secret)
			c.ClientAssertionSigningAlg = "RS256"
		}, nil, "ClientAssertionSigningAlg", "HS256"},
		{"public PAR clients are not supported", func(c *Config) {
			c.ClientAuthMethod, c.PushedAuthorizationRequests = "none", true
		}, nil, "ClientAuthMethod", "PushedAuthorizationRequests"},
		{"public code flow clients are not supported", func(c *Config) {
			c.ClientAuthMethod, c.AuthorizationParams = "none", code
		}, nil, "ClientAuthMethod", "code"},
		{"requestObjectSigningAlg is required when requestObjectSigningKey is set", func(c *Config) {
			c.RequestObjectSigningKey = k.rsa
		}, nil, "RequestObjectSigningAlg", "is required"},
		{"request object alg HS256", func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.rsa, "HS256"
		}, nil, "RequestObjectSigningAlg", "asymmetric"},
		{"request object alg incompatible", func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.p256, "RS256"
		}, nil, "RequestObjectSigningAlg", "does not fit"},
		{"request object key too small", func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.small, "RS256"
		}, nil, "RequestObjectSigningKey", "2048"},
		{"request object alg without key", func(c *Config) { c.RequestObjectSigningAlg = "RS256" }, nil,
			"RequestObjectSigningAlg", "RequestObjectSigningKey"},
		{"request object kid without key", func(c *Config) { c.RequestObjectSigningKeyID = "k" }, nil,
			"RequestObjectSigningKeyID", "RequestObjectSigningKey"},
		{"mtls_requires_custom_fetch: UseMTLS without HTTPClient", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS = code, true
		}, nil, "HTTPClient", "UseMTLS"},
		{"mtls_incompatible_client_auth: ClientSecret", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient, c.ClientSecret = code, true, ckMTLSClient(), "s"
		}, nil, "ClientSecret", "UseMTLS"},
		{"mtls_incompatible_client_auth: CLIENT_SECRET in the environment", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient = code, true, ckMTLSClient()
		}, map[string]string{"CLIENT_SECRET": "from-env"}, "ClientSecret", "CLIENT_SECRET"},
		{"mtls_incompatible_client_auth: AUTH0_MTLS with CLIENT_SECRET", func(c *Config) {
			c.AuthorizationParams, c.HTTPClient = code, ckMTLSClient()
		}, map[string]string{"CLIENT_SECRET": "from-env", "AUTH0_MTLS": "true"}, "ClientSecret", "UseMTLS"},
		{"mtls_incompatible_client_auth: assertion key", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient, c.ClientAssertionSigningKey = code, true, ckMTLSClient(), k.rsa
		}, nil, "ClientAssertionSigningKey", "UseMTLS"},
		{"mtls_incompatible_client_auth: explicit method", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient, c.ClientAuthMethod = code, true, ckMTLSClient(), "client_secret_basic"
		}, nil, "ClientAuthMethod", "UseMTLS"},
		{"UseMTLS with an assertion alg", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient, c.ClientAssertionSigningAlg = code, true, ckMTLSClient(), "RS256"
		}, nil, "ClientAssertionSigningAlg", "UseMTLS"},
		{"UseMTLS with a transport without certificate", func(c *Config) {
			c.AuthorizationParams, c.UseMTLS, c.HTTPClient = code, true, &http.Client{}
		}, nil, "HTTPClient", "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			if tt.env != nil {
				cfg.LookupEnv = fakeEnv(tt.env)
			}
			tt.mod(&cfg)
			_, err := resolve(cfg)
			requireConfigError(t, err, tt.option)
			assert.Contains(t, err.Error(), tt.reason)
			assert.NotContains(t, err.Error(), "from-env")
		})
	}
	t.Run("New reports the same errors", func(t *testing.T) {
		t.Parallel()
		cfg := validConfig()
		cfg.ClientAuthMethod = "private_key_jwt"
		_, err := New(cfg)
		requireConfigError(t, err, "ClientAssertionSigningKey")
	})
}

func TestConfigClientAuthWarnings(t *testing.T) {
	t.Parallel()
	k := ckKeys()
	tests := []struct {
		name string
		mod  func(*Config)
		want string // "" means no warning
	}{
		{"JAR without PAR", func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.rsa, "RS256"
		}, "Using JAR without PAR is permitted but not recommended"},
		{"JAR with PAR", func(c *Config) {
			c.RequestObjectSigningKey, c.RequestObjectSigningAlg = k.rsa, "RS256"
			c.PushedAuthorizationRequests, c.ClientSecret = true, "s"
		}, ""},
		{"UseMTLS outside the code flow", func(c *Config) {
			c.UseMTLS, c.HTTPClient = true, ckMTLSClient()
		}, "code flow"},
		{"UseMTLS with an auth0.com issuer", func(c *Config) {
			c.UseMTLS, c.HTTPClient, c.IssuerBaseURL = true, ckMTLSClient(), "https://tenant.auth0.com"
			c.AuthorizationParams = map[string]string{"response_type": "code"}
		}, "custom domains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			_, err := resolveWith(func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
				tt.mod(c)
			})
			require.NoError(t, err)
			if tt.want == "" {
				assert.Empty(t, buf.String())
			} else {
				assert.Contains(t, buf.String(), tt.want)
			}
		})
	}
}

// The tests below cover express-openid-connect titles that docs/express-tests.md
// once listed as MISSING. Each t.Run name is the express title, verbatim.
// Where the port behaves differently on purpose, the test asserts the
// port's behaviour and the comment says why (docs/decisions.md).

// gapUARecorder records the headers of the requests the provider receives,
// by endpoint.
type gapUARecorder struct {
	mu      sync.Mutex
	ua      map[string][]string
	headers []http.Header
}

func (g *gapUARecorder) intercept(endpoint string, _ http.ResponseWriter, r *http.Request) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ua == nil {
		g.ua = map[string][]string{}
	}
	g.ua[endpoint] = append(g.ua[endpoint], r.Header.Get("User-Agent"))
	g.headers = append(g.headers, r.Header.Clone())
	return false
}

func (g *gapUARecorder) snapshot() (map[string][]string, []http.Header) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ua := map[string][]string{}
	for k, v := range g.ua {
		ua[k] = append([]string(nil), v...)
	}
	return ua, append([]http.Header(nil), g.headers...)
}

// gapAssertUA checks that the discovery, JWKS and token requests of a code
// flow login were made, all with User-Agent want.
func gapAssertUA(t *testing.T, ua map[string][]string, want string) {
	t.Helper()
	for _, ep := range []string{oidctest.EndpointDiscovery, oidctest.EndpointJWKS, oidctest.EndpointToken} {
		require.NotEmpty(t, ua[ep], "no %s request", ep)
		for _, got := range ua[ep] {
			assert.Equal(t, want, got, "User-Agent of the %s request", ep)
		}
	}
}

// gapRecordingTransport records the requests that go through a custom
// HTTPClient.
type gapRecordingTransport struct {
	mu   sync.Mutex
	base http.RoundTripper
	reqs []*http.Request
}

func (g *gapRecordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.mu.Lock()
	g.reqs = append(g.reqs, r.Clone(r.Context()))
	g.mu.Unlock()
	return g.base.RoundTrip(r)
}

func (g *gapRecordingTransport) requests() []*http.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*http.Request(nil), g.reqs...)
}

// test/client.tests.js

func TestGapClientHeaders(t *testing.T) {
	t.Parallel()
	login := func(t *testing.T, mutate func(*Config)) (*testApp, map[string][]string, []http.Header) {
		t.Helper()
		rec := &gapUARecorder{}
		app := newTestApp(t, withProvider(oidctest.Options{Intercept: rec.intercept}), withConfig(func(c *Config) {
			codeFlow(c)
			if mutate != nil {
				mutate(c)
			}
		}))
		resp, body := app.browser().login(app, "/login")
		require.Equal(t, http.StatusFound, resp.StatusCode, body)
		ua, headers := rec.snapshot()
		return app, ua, headers
	}
	const defaultUA = "openidconnect-go/" + Version

	// express also sends an Auth0-Client telemetry header (enableTelemetry);
	// the port has no telemetry, so only the User-Agent is checked, and the
	// absence of the header.
	t.Run("should send the correct default headers", func(t *testing.T) {
		t.Parallel()
		app, ua, headers := login(t, nil)
		gapAssertUA(t, ua, defaultUA)
		for _, h := range headers {
			assert.Empty(t, h.Get("Auth0-Client"), "no telemetry header")
		}
		tr := app.op.LastTokenRequest()
		require.NotNil(t, tr)
		assert.Equal(t, defaultUA, tr.Header.Get("User-Agent"))
		assert.Equal(t, "application/x-www-form-urlencoded", tr.Header.Get("Content-Type"))
	})

	t.Run("should send default UA header", func(t *testing.T) {
		t.Parallel()
		_, ua, _ := login(t, nil)
		gapAssertUA(t, ua, defaultUA)
		assert.True(t, strings.HasPrefix(defaultUA, "openidconnect-go/"))
	})

	t.Run("should send custom UA header", func(t *testing.T) {
		t.Parallel()
		app, ua, _ := login(t, func(c *Config) { c.HTTPUserAgent = "my-app/1.2.3 (+https://example.org)" })
		gapAssertUA(t, ua, "my-app/1.2.3 (+https://example.org)")
		assert.Equal(t, "my-app/1.2.3 (+https://example.org)", app.op.LastTokenRequest().Header.Get("User-Agent"))
	})

	t.Run("should inject SDK headers into customFetch calls", func(t *testing.T) {
		t.Parallel()
		tr := &gapRecordingTransport{base: http.DefaultTransport}
		_, ua, _ := login(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: tr} })
		gapAssertUA(t, ua, defaultUA)
		reqs := tr.requests()
		require.NotEmpty(t, reqs)
		seen := map[string]bool{}
		for _, r := range reqs {
			seen[r.URL.Path] = true
			assert.Equal(t, defaultUA, r.Header.Get("User-Agent"), "request to %s", r.URL.Path)
		}
		for _, p := range []string{oidctest.PathDiscovery, oidctest.PathJWKS, oidctest.PathToken} {
			assert.True(t, seen[p], "%s went through the custom client", p)
		}
	})
}

func TestGapClientDiscovery(t *testing.T) {
	t.Parallel()

	t.Run("should prefer user configuration regardless of idP discovery", func(t *testing.T) {
		t.Parallel()
		rec := &acRecorder{}
		app := newTestApp(t, withProvider(oidctest.Options{MutateDiscovery: func(doc map[string]any) {
			doc["id_token_signing_alg_values_supported"] = []string{"HS256"}
		}}), withConfig(func(c *Config) { c.ErrorHandler = rec.handle }))
		assert.Equal(t, "RS256", app.m.s.alg)
		// The RS256 token is accepted although discovery lists HS256 only.
		resp, body := app.browser().login(app, "/login")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
		assert.Equal(t, "RS256", app.m.s.alg)
		// An HS256 token, as advertised, is refused: the configured alg wins.
		app.op.SetOptions(func(o *oidctest.Options) {
			o.MutateIDToken = func(h, _ map[string]any) { h["alg"] = "HS256" }
		})
		b := app.browser()
		resp, _ = b.login(app, "/login")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.ErrorIs(t, rec.last(), ErrInvalidIDToken)
		assert.Equal(t, false, b.session(app)["authenticated"])
	})

	t.Run("should succeed when discovery delay is less than httpTimeout", func(t *testing.T) {
		t.Parallel()
		const delay = time.Second
		app := newTestApp(t, withProvider(oidctest.Options{Intercept: func(ep string, _ http.ResponseWriter, r *http.Request) bool {
			if ep == oidctest.EndpointDiscovery {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
				}
			}
			return false
		}}), withConfig(func(c *Config) { c.HTTPTimeout = 4 * time.Second }))
		require.Equal(t, 4*time.Second, app.m.s.httpTimeout)
		start := time.Now()
		resp, body := app.browser().get(app.url("/login"))
		elapsed := time.Since(start)
		require.Equal(t, http.StatusFound, resp.StatusCode, body)
		assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), app.op.URL()+oidctest.PathAuthorize+"?"))
		assert.GreaterOrEqual(t, elapsed, delay, "discovery was slow")
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery))
	})

	// The port has no client metadata object: without UseMTLS, advertised
	// mtls_endpoint_aliases are simply not used.
	t.Run("should NOT set use_mtls_endpoint_aliases when useMtls is not enabled", func(t *testing.T) {
		t.Parallel()
		var aliasCalls atomic.Int32
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			aliasCalls.Add(1)
			http.Error(w, "not the endpoint to use", http.StatusTeapot)
		}))
		t.Cleanup(front.Close)
		app := newTestApp(t, withProvider(oidctest.Options{MutateDiscovery: func(doc map[string]any) {
			doc["mtls_endpoint_aliases"] = map[string]any{
				"token_endpoint":                        front.URL + "/token",
				"userinfo_endpoint":                     front.URL + "/userinfo",
				"pushed_authorization_request_endpoint": front.URL + "/par",
			}
		}}), withConfig(codeFlow))
		resp, body := app.browser().login(app, "/login")
		require.Equal(t, http.StatusFound, resp.StatusCode, body)
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointToken))
		assert.Zero(t, aliasCalls.Load())
		md, err := app.m.provider.Discover(t.Context())
		require.NoError(t, err)
		assert.Equal(t, app.op.URL()+oidctest.PathToken, md.TokenEndpoint)
		assert.Equal(t, app.op.URL()+oidctest.PathUserinfo, md.UserinfoEndpoint)
		var par string
		require.NoError(t, json.Unmarshal(md.PAREndpoint, &par))
		assert.Equal(t, app.op.URL()+oidctest.PathPAR, par)
	})
}
