package interop

// The library's DPoP (Config.DPoP) against node-oidc-provider's "dpop"
// profile (server nonces required at the token and userinfo endpoints,
// DPoP-bound clients) with the "resources" profile (JWT access tokens for
// https://api-a.example, which the fake API verifies with their proofs). A
// Go application wrapped by the middleware logs in through the browser.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

const dpopClientID = "go-dpop"

// dpopWorld is node-oidc-provider with the dpop and resources profiles, a
// Go relying party with a DPoP key, and the fake API for api-a.
type dpopWorld struct {
	op  *opWorld // the issuer, for the login helpers
	a   *rp
	key *ecdsa.PrivateKey
	api *httptest.Server
}

func startDPoPWorld(t *testing.T) *dpopWorld {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	a := &rp{name: "dpop", srv: srv, base: "https://" + srv.Listener.Addr().String()}
	issuer := startProfile(t, "resources,dpop", map[string]any{
		"client_id": dpopClientID, "client_secret": apiSecret,
		"redirect_uris": []string{a.url("/callback")}, "token_endpoint_auth_method": "client_secret_basic",
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
	})
	keys, err := fetchJWKS(issuer)
	require.NoError(t, err)
	api := httptest.NewServer(newFakeAPI(issuer, apiA, keys, nil))
	t.Cleanup(api.Close)

	a.cfg = oidc.Config{
		Secret:        oidc.Secrets{interopSecret},
		IssuerBaseURL: issuer,
		BaseURL:       a.base,
		ClientID:      dpopClientID,
		ClientSecret:  apiSecret,
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
		AuthorizationParams: map[string]string{
			"response_type": "code", "response_mode": "query",
			"scope": "openid email api:read", "resource": apiA,
		},
		DPoP: &oidc.DPoPConfig{Key: key},
	}
	m, err := oidc.New(a.cfg)
	require.NoError(t, err)
	srv.Config.Handler = m.Handler(dpopHandler(api.URL))
	srv.StartTLS()
	return &dpopWorld{op: &opWorld{issuer: issuer}, a: a, key: key, api: api}
}

// dpopHandler is rpHandler with two routes for the API: /refresh-api
// refreshes the session's token for api-a (resource indicator), /api
// calls the fake API through Context.Client and answers what it said.
func dpopHandler(apiURL string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", rpHandler())
	mux.HandleFunc("GET /refresh-api", func(w http.ResponseWriter, r *http.Request) {
		at, err := oidc.FromRequest(r).Refresh(r.Context(), oidc.RefreshOptions{
			TokenEndpointParams: map[string]string{"resource": apiA},
		})
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": string(at.Token), "type": at.Type})
	})
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		resp, err := oidc.FromRequest(r).Client(r.Context()).Get(apiURL + "/items?page=1")
		if err != nil {
			writeError(w, err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	})
	return mux
}

func jwkThumbprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(tp)
}

func TestInteropDPoP(t *testing.T) {
	t.Parallel()
	w := startDPoPWorld(t)
	jkt := jwkThumbprint(t, w.key.Public())
	b := newBrowser(t)

	// The code flow: the code is bound by dpop_jkt, the token request is
	// answered use_dpop_nonce first, and the token is DPoP.
	s := login(t, w.op, w.a, b)
	assert.Equal(t, jkt, b.authorizeURL(t, w.op).Query().Get("dpop_jkt"))
	assert.Equal(t, "DPoP", s.TokenType)
	require.NotEmpty(t, s.RefreshToken)

	// Userinfo wants a proof with its own nonce; the library retries.
	var info map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(w.a.url("/userinfo"), &info), "%v", info)
	assert.Equal(t, opUser, info["sub"])
	assert.Equal(t, opUser+"@interop.example", info["email"])

	// Refresh: a new DPoP token, usable at userinfo.
	var refreshed map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(w.a.url("/refresh"), &refreshed), "%v", refreshed)
	assert.Equal(t, "DPoP", refreshed["type"])
	assert.NotEqual(t, s.AccessToken, refreshed["access_token"])
	require.Equal(t, http.StatusOK, b.getJSON(w.a.url("/userinfo"), &info), "%v", info)

	// A token for the API (RFC 8707), bound to our key (cnf.jkt).
	require.Equal(t, http.StatusOK, b.getJSON(w.a.url("/refresh-api"), &refreshed), "%v", refreshed)
	assert.Equal(t, "DPoP", refreshed["type"])
	at := refreshed["access_token"].(string)
	claims := jwtClaims(t, at)
	assert.Equal(t, apiA, claims["aud"])
	assert.Equal(t, map[string]any{"jkt": jkt}, claims["cnf"])

	// The API through the middleware: Context.Client adds the proof.
	var got map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(w.a.url("/api"), &got), "%v", got)
	assert.Equal(t, opUser, got["sub"])
	assert.Equal(t, jkt, got["jkt"])
	require.Equal(t, http.StatusOK, b.getJSON(w.a.url("/api"), &got), "a second call, a new proof (jti)")

	// A stolen access token is refused by the API without our key: as a
	// Bearer token, with the DPoP scheme and no proof, or with a proof of
	// the thief's key.
	thief, err := oidctest.NewDPoPKey("ES256")
	require.NoError(t, err)
	c := newMiniClient(t, w.op.issuer, dpopClientID)
	for _, tc := range []struct {
		name      string
		dpop      *oidctest.DPoPKey
		tokenType string
		code      string
	}{
		{"as a Bearer token", nil, "Bearer", "invalid_token"},
		{"DPoP without a proof", nil, "DPoP", "invalid_dpop_proof"},
		{"DPoP with the thief's proof", thief, "DPoP", "invalid_token"},
	} {
		c.dpop = tc.dpop
		r := c.send(t, http.MethodGet, w.api.URL+"/items", nil, tc.tokenType, at)
		assert.Equal(t, http.StatusUnauthorized, r.status, tc.name)
		assert.Equal(t, tc.code, r.str("error"), tc.name)
	}
}

// TestInteropDPoPRefreshOtherKey sends the session's refresh token by hand
// with another key. node-oidc-provider DPoP-binds the refresh tokens of
// public clients only; those of confidential clients, such as the
// library's, are bound to the client's authentication instead (RFC 9449
// §5), so without the client's secret the request is refused whatever
// the key, and with it the new access token is bound to the key that
// asked (never to ours). oidctest binds refresh tokens to the key too:
// see the root package's TestDPoPWrongKeyRefresh.
func TestInteropDPoPRefreshOtherKey(t *testing.T) {
	t.Parallel()
	w := startDPoPWorld(t)
	b := newBrowser(t)
	s := login(t, w.op, w.a, b)
	thief, err := oidctest.NewDPoPKey("EdDSA")
	require.NoError(t, err)

	c := newMiniClient(t, w.op.issuer, dpopClientID)
	c.dpop = thief
	c.secret = "not-the-secret"
	grant := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}, "resource": {apiA}}
	r := c.post(t, "token_endpoint", grant)
	assert.Equal(t, http.StatusUnauthorized, r.status, r.body)
	assert.Equal(t, "invalid_client", r.str("error"))

	noProof := newMiniClient(t, w.op.issuer, dpopClientID)
	noProof.secret = apiSecret
	r = noProof.post(t, "token_endpoint", grant)
	assert.Equal(t, http.StatusBadRequest, r.status, "a DPoP-bound client needs a proof: %v", r.body)

	c.secret = apiSecret
	r = c.post(t, "token_endpoint", grant)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, map[string]any{"jkt": thief.Thumbprint()}, jwtClaims(t, r.str("access_token"))["cnf"],
		"bound to the key that asked")
	assert.NotEqual(t, jwkThumbprint(t, w.key.Public()), thief.Thumbprint())

	// The refresh token was rotated by that request: the session's own
	// refresh is refused, which ends the session.
	var out errorView
	assert.Equal(t, http.StatusBadRequest, b.getJSON(w.a.url("/refresh"), &out))
	assert.Equal(t, "invalid_grant", out.Code)
}
