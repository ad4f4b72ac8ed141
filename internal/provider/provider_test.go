package provider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testClient returns a Client for client "client" with the secret
// "a-client-secret-of-32-bytes-long", client_secret_basic, after mutate.
func testClient(mutate func(*Settings)) *Client {
	s := Settings{
		IssuerBaseURL: "https://op.example",
		ClientID:      "client",
		ClientSecret:  "a-client-secret-of-32-bytes-long",
		AuthMethod:    AuthSecretBasic,
		IDTokenAlg:    "RS256",
		HTTPClient:    &http.Client{},
		HTTPTimeout:   2 * time.Second,
		UserAgent:     "provider-test",
		DiscoveryTTL:  10 * time.Minute,
		JWKSMaxAge:    10 * time.Minute,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:           time.Now,
		Random:        rand.Reader,
	}
	if mutate != nil {
		mutate(&s)
	}
	return New(s)
}

// fakeOP is a provider whose discovery document points at its own
// endpoints, served by the handlers in ep (by path); the others answer 404.
func fakeOP(t *testing.T, ep map[string]http.HandlerFunc) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"issuer": srv.URL + "/", "authorization_endpoint": srv.URL + "/authorize",
				"token_endpoint": srv.URL + "/token", "userinfo_endpoint": srv.URL + "/userinfo",
				"jwks_uri": srv.URL + "/jwks", "pushed_authorization_request_endpoint": srv.URL + "/par",
				"revocation_endpoint": srv.URL + "/revoke",
			})
			return
		}
		if h, ok := ep[r.URL.Path]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// answer writes a JSON answer with status.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// discovered returns the metadata of a Client of srv.
func discovered(t *testing.T, srv *httptest.Server, mutate func(*Settings)) (*Client, *Metadata) {
	t.Helper()
	c := testClient(func(s *Settings) {
		s.IssuerBaseURL = srv.URL
		if mutate != nil {
			mutate(s)
		}
	})
	md, err := c.Discover(t.Context())
	require.NoError(t, err)
	return c, md
}

// asError returns err's *Error, failing when it is not one at the top of
// the chain (the package's contract with the root's converter).
func asError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	e, ok := err.(*Error)
	require.True(t, ok, "%T is not an *Error", err)
	return e
}

// TestClientAuthFreshAssertions checks that every client-authenticated
// request (token, PAR, revocation) gets a new assertion.
func TestClientAuthFreshAssertions(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := testClient(func(s *Settings) {
		s.AuthMethod, s.AssertionKey, s.AssertionAlg, s.ClientSecret = AuthPrivateKeyJWT, key, "ES256", ""
	})
	md := &Metadata{Issuer: "https://op.example/"}
	seen := map[string]bool{}
	for range 3 {
		a, err := c.clientAuth(md)
		require.Nil(t, err)
		assert.False(t, a.basic)
		assert.Equal(t, "client", a.params.Get("client_id"))
		assert.Equal(t, clientAssertionType, a.params.Get("client_assertion_type"))
		claims := verifyJWT(t, a.params.Get("client_assertion"), key.Public())
		assert.Equal(t, "client", claims["sub"])
		assert.Equal(t, "https://op.example/", claims["aud"])
		jti := claims["jti"].(string)
		assert.False(t, seen[jti])
		seen[jti] = true
	}
	_, aerr := c.clientAuth(nil)
	require.NotNil(t, aerr)
	assert.Equal(t, http.StatusInternalServerError, aerr.StatusCode)

	t.Run("a failing signer is a 500 without details", func(t *testing.T) {
		t.Parallel()
		c := testClient(func(s *Settings) {
			s.AuthMethod, s.AssertionKey, s.AssertionAlg, s.ClientSecret = AuthPrivateKeyJWT, failingSigner{key}, "ES256", ""
		})
		_, err := c.clientAuth(md)
		require.NotNil(t, err)
		assert.Equal(t, http.StatusInternalServerError, err.StatusCode)
		assert.Equal(t, "server_error", err.Code)
		assert.NotContains(t, err.Error(), "hsm offline")
	})
}

type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("hsm offline")
}

// verifyJWT verifies a compact JWS with key and returns its claims.
func verifyJWT(t *testing.T, raw string, key any) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.HS256})
	require.NoError(t, err)
	payload, err := jws.Verify(key)
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	return claims
}

// TestRequestObject covers express's request-object tests that need no
// provider.
func TestRequestObject(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	c := testClient(func(s *Settings) { s.RequestKey, s.RequestAlg = key, "ES256" })
	t.Run("should throw when no audience (discovered issuer) is passed", func(t *testing.T) {
		t.Parallel()
		for _, md := range []*Metadata{nil, {}} {
			_, err := c.requestObject(md, url.Values{"scope": {"openid"}})
			require.NotNil(t, err)
			assert.Equal(t, http.StatusInternalServerError, err.StatusCode)
		}
	})
	t.Run("should set exp to approximately 60 seconds in future", func(t *testing.T) {
		t.Parallel()
		ro, err := c.requestObject(&Metadata{Issuer: "https://op.example/"}, url.Values{"scope": {"openid"}})
		require.Nil(t, err)
		claims := verifyJWT(t, ro, key.Public())
		assert.Equal(t, claims["iat"].(float64)+60, claims["exp"])
		assert.Equal(t, "https://op.example/", claims["aud"])
		assert.Equal(t, "openid", claims["scope"])
	})
}

// TestTokenErrors checks the one token-endpoint path's error shapes: the
// RFC 6749 fields, the status, the sentinels and the scrubbing.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	const secret = "a-client-secret-of-32-bytes-long"
	cases := []struct {
		name        string
		h           http.HandlerFunc
		code, desc  string
		uri         string
		status      int
		unavailable bool
	}{
		{"OAuth error with error_uri", answer(400, `{"error":"invalid_grant","error_description":"expired","error_uri":"https://op.example/errors/invalid_grant"}`),
			"invalid_grant", "expired", "https://op.example/errors/invalid_grant", 400, false},
		{"an echoed secret is scrubbed, a URI carrying one dropped", answer(401,
			`{"error":"invalid_client","error_description":"bad secret `+secret+`","error_uri":"https://op.example/?s=`+secret+`"}`),
			"invalid_client", "bad secret [REDACTED]", "", 401, false},
		{"error_uri that is not an http URL", answer(400, `{"error":"invalid_grant","error_uri":"javascript:alert(1)"}`),
			"invalid_grant", "the token endpoint refused the request", "", 400, false},
		{"5xx", answer(500, `{"error":"server_error"}`), "server_error", "the token endpoint answered 500", "", 500, true},
		{"503 without a body", answer(503, ``), "provider_unavailable", "the token endpoint answered 503", "", 503, true},
		{"not JSON", answer(200, `<html>`), "invalid_token_response", "the token response is not a JSON object", "", 502, false},
		{"no access_token", answer(200, `{"token_type":"Bearer"}`), "invalid_token_response", "the token response has no access_token", "", 502, false},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) },
			"invalid_token_response", "the token endpoint answered 302", "", 502, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := fakeOP(t, map[string]http.HandlerFunc{"/token": tc.h})
			c, md := discovered(t, srv, nil)
			_, err := c.Token(t.Context(), md, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-value"}})
			e := asError(t, err)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, tc.desc, e.Description)
			assert.Equal(t, tc.uri, e.URI)
			assert.Equal(t, tc.status, e.StatusCode)
			assert.ErrorIs(t, err, ErrTokenRequest)
			assert.Equal(t, tc.unavailable, errors.Is(err, ErrUnavailable))
			assert.Equal(t, tc.unavailable, e.Unavailable())
			assert.NotContains(t, e.Error(), secret)
			assert.NotContains(t, e.Detail(), "rt-value")
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := fakeOP(t, nil)
		c, md := discovered(t, srv, nil)
		md2 := *md
		md2.TokenEndpoint = "http://127.0.0.1:1/token?secret=x"
		_, err := c.Token(t.Context(), &md2, url.Values{"grant_type": {"refresh_token"}})
		e := asError(t, err)
		assert.Equal(t, "provider_unavailable", e.Code)
		assert.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.ErrorIs(t, err, ErrTokenRequest)
		assert.NotContains(t, e.Detail(), "secret=x")
	})
}

// TestOnePathForClientAuthenticatedRequests: token, PAR and revocation
// requests all carry the client authentication, with a fresh assertion
// each.
func TestOnePathForClientAuthenticatedRequests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var assertions []string
	record := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			if a := r.PostForm.Get("client_assertion"); a != "" {
				mu.Lock()
				assertions = append(assertions, a)
				mu.Unlock()
			}
			answer(status, body)(w, r)
		}
	}
	srv := fakeOP(t, map[string]http.HandlerFunc{
		"/token":  record(200, `{"access_token":"at","token_type":"Bearer"}`),
		"/par":    record(201, `{"request_uri":"urn:x","expires_in":60}`),
		"/revoke": record(200, ``),
	})
	c, md := discovered(t, srv, func(s *Settings) { s.AuthMethod, s.AssertionAlg, s.PAR = AuthSecretJWT, "HS256", true })
	_, err := c.Token(t.Context(), md, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}})
	require.NoError(t, err)
	target, err := c.AuthorizationURL(t.Context(), md, url.Values{"scope": {"openid"}})
	require.NoError(t, err)
	assert.Contains(t, target, "request_uri=urn%3Ax")
	require.NoError(t, c.Revoke(t.Context(), "rt"))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, assertions, 3)
	assert.NotEqual(t, assertions[0], assertions[1])
	assert.NotEqual(t, assertions[1], assertions[2])
}

// TestPARErrorShape: PAR errors carry the provider's fields and wrap
// ErrPushedAuthorizationRequest.
func TestPARErrorShape(t *testing.T) {
	t.Parallel()
	srv := fakeOP(t, map[string]http.HandlerFunc{
		"/par": answer(400, `{"error":"invalid_request","error_description":"bad redirect_uri","error_uri":"https://op.example/e"}`),
	})
	c, md := discovered(t, srv, func(s *Settings) { s.PAR = true })
	_, err := c.AuthorizationURL(t.Context(), md, url.Values{"scope": {"openid"}})
	e := asError(t, err)
	assert.Equal(t, "invalid_request", e.Code)
	assert.Equal(t, "bad redirect_uri", e.Description)
	assert.Equal(t, "https://op.example/e", e.URI)
	assert.Equal(t, http.StatusBadRequest, e.StatusCode)
	assert.ErrorIs(t, err, ErrPushedAuthorizationRequest)
}

// TestDiscoveryErrorShape: discovery failures are provider_unavailable
// (503 unreachable or 503, else 502), or issuer_mismatch (500).
func TestDiscoveryErrorShape(t *testing.T) {
	t.Parallel()
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		c := testClient(func(s *Settings) { s.IssuerBaseURL = "http://127.0.0.1:1" })
		_, err := c.Discover(t.Context())
		e := asError(t, err)
		assert.Equal(t, "provider_unavailable", e.Code)
		assert.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
		assert.ErrorIs(t, err, ErrUnavailable)
		assert.True(t, strings.HasPrefix(e.Detail(), "oidc: provider unavailable: "), e.Detail())
	})
	t.Run("500", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(answer(500, `{}`))
		t.Cleanup(srv.Close)
		_, err := testClient(func(s *Settings) { s.IssuerBaseURL = srv.URL }).Discover(t.Context())
		e := asError(t, err)
		assert.Equal(t, http.StatusBadGateway, e.StatusCode)
		assert.Contains(t, e.Description, "answered 500")
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		t.Parallel()
		srv := fakeOP(t, nil)
		_, err := testClient(func(s *Settings) { s.IssuerBaseURL = srv.URL + "/other" }).Discover(t.Context())
		e := asError(t, err)
		assert.Equal(t, "issuer_mismatch", e.Code)
		assert.Equal(t, http.StatusInternalServerError, e.StatusCode)
		assert.ErrorIs(t, err, ErrIssuerMismatch)
		assert.NotErrorIs(t, err, ErrUnavailable)
		var mm *IssuerMismatchError
		require.ErrorAs(t, err, &mm)
		assert.Equal(t, srv.URL+"/", mm.Discovered)
	})
}

// TestVerifyIDTokenKeysUnavailable: when the keys cannot be fetched, the
// error keeps go-oidc's text and wraps the fetch's *Error.
func TestVerifyIDTokenKeysUnavailable(t *testing.T) {
	t.Parallel()
	srv := fakeOP(t, map[string]http.HandlerFunc{"/jwks": answer(503, ``)})
	c, md := discovered(t, srv, nil)
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k"}`))
	body := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + md.Issuer + `","aud":"client","sub":"u","exp":9999999999,"iat":1}`))
	err := c.VerifyIDToken(t.Context(), md, hdr+"."+body+".c2ln")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed to verify signature: oidc: provider unavailable: ")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "provider_unavailable", e.Code)
	assert.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
}

func TestCleanErrorURI(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"https://op.example/errors/x":                       "https://op.example/errors/x",
		"http://op.example/e?code=invalid_grant":            "http://op.example/e?code=invalid_grant",
		"/relative":                                         "",
		"javascript:alert(1)":                               "",
		"https://op.example/a b":                            "",
		"https://op.example/\"><script>":                    "",
		"https://op.example/" + strings.Repeat("a", 600):    "",
		"https://op.example/?leak=a-client-secret-of-32-by": "",
	} {
		assert.Equal(t, want, cleanErrorURI(uri, []string{"a-client-secret-of-32-by"}), uri)
	}
}
