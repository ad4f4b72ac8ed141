package interop

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// stubOP is a minimal OpenID provider for the cookie tests: discovery, JWKS
// and a token endpoint for codes the test registers. The authorization
// endpoint is never visited: tests read the authorization request from the
// login redirect and mint the response themselves, so that a login started
// by express-openid-connect can complete at the Go middleware and the other
// way round.
type stubOP struct {
	srv    *httptest.Server
	issuer string
	key    *rsa.PrivateKey

	mu    sync.Mutex
	codes map[string]stubCode
}

// stubCode is an authorization code: the ID token claims to issue and the
// PKCE challenge the code_verifier must match.
type stubCode struct {
	claims    map[string]any
	challenge string
}

const stubKeyID = "stub-rs256"

func newStubOP() (*stubOP, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	op := &stubOP{key: key, codes: map[string]stubCode{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /op/.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /op/jwks", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{rsaJWK(&op.key.PublicKey, stubKeyID)}})
	})
	mux.HandleFunc("POST /op/token", op.token)
	op.srv = httptest.NewServer(mux)
	op.issuer = op.srv.URL + "/op"
	return op, nil
}

func (op *stubOP) close() { op.srv.Close() }

func (op *stubOP) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                op.issuer,
		"authorization_endpoint":                op.issuer + "/authorize",
		"token_endpoint":                        op.issuer + "/token",
		"jwks_uri":                              op.issuer + "/jwks",
		"response_types_supported":              []string{"code", "id_token", "code id_token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email"},
		"grant_types_supported":                 []string{"authorization_code", "implicit"},
	})
}

// idToken signs an ID token for clientID with claims over iss, aud, iat and
// exp.
func (op *stubOP) idToken(t testing.TB, clientID string, claims map[string]any) string {
	t.Helper()
	now := time.Now().Unix()
	all := map[string]any{"iss": op.issuer, "aud": clientID, "iat": now, "exp": now + 600}
	for k, v := range claims {
		all[k] = v
	}
	tok, err := oidctest.SignJWT(map[string]any{"alg": "RS256", "typ": "JWT", "kid": stubKeyID}, all, op.key)
	require.NoError(t, err)
	return tok
}

// addCode registers an authorization code.
func (op *stubOP) addCode(code string, claims map[string]any, challenge string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.codes[code] = stubCode{claims: claims, challenge: challenge}
}

func (op *stubOP) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(code, desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr("invalid_request", err.Error())
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		oauthErr("unsupported_grant_type", "only authorization_code")
		return
	}
	clientID, _, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: the credentials are form-urlencoded first.
		if id, err := url.QueryUnescape(clientID); err == nil {
			clientID = id
		}
	} else {
		clientID = r.PostForm.Get("client_id")
	}
	op.mu.Lock()
	c, found := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code"))
	op.mu.Unlock()
	if !found {
		oauthErr("invalid_grant", "unknown or used code")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if b64(sum[:]) != c.challenge {
		oauthErr("invalid_grant", "PKCE verification failed")
		return
	}
	now := time.Now().Unix()
	claims := map[string]any{"iss": op.issuer, "aud": clientID, "iat": now, "exp": now + 600}
	for k, v := range c.claims {
		claims[k] = v
	}
	idToken, err := oidctest.SignJWT(map[string]any{"alg": "RS256", "typ": "JWT", "kid": stubKeyID}, claims, op.key)
	if err != nil {
		oauthErr("server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 3600,
		"id_token": idToken, "scope": "openid profile email",
	})
}

// authRequest is an authorization request read from a login redirect.
type authRequest struct {
	url   *url.URL
	query url.Values
}

func parseAuthRequest(t testing.TB, location string) authRequest {
	t.Helper()
	u, err := url.Parse(location)
	require.NoError(t, err)
	return authRequest{url: u, query: u.Query()}
}

// jsonString is a helper for building JSON request bodies.
func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
