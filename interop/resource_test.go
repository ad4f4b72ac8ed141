package interop

// The library's tokens for several APIs (Context.AccessTokenFor, RFC 8707)
// and its FAPI 2.0 profile (Config.Profile = ProfileFAPI2) against
// node-oidc-provider's "resources" and "fapi2" profiles. A Go application
// wrapped by the middleware logs in through the browser, as in
// dpop_test.go.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
)

const (
	resourceClientID = "go-resources"
	fapiRPClientID   = "go-fapi2-rp"
)

// resourceHandler is rpHandler with GET /token-for?resource=R&api=URL: it
// gets a token for R with AccessTokenFor and calls URL with it (a DPoP
// proof from DPoPProofFor for DPoP tokens), answering the API's status,
// the token and its type.
func resourceHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", rpHandler())
	mux.HandleFunc("GET /token-for", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		tok, err := c.AccessTokenFor(r.Context(), r.URL.Query().Get("resource"))
		if err != nil {
			writeError(w, err)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Query().Get("api")+"/items", nil)
		if err != nil {
			writeError(w, err)
			return
		}
		req.Header.Set("Authorization", tok.Type+" "+string(tok.Token))
		if tok.Type == "DPoP" {
			proof, err := c.DPoPProofFor(tok, req.Method, req.URL.String())
			if err != nil {
				writeError(w, err)
				return
			}
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			writeError(w, err)
			return
		}
		_ = resp.Body.Close()
		writeJSON(w, http.StatusOK, map[string]any{"api_status": resp.StatusCode, "access_token": string(tok.Token), "type": tok.Type})
	})
	return mux
}

// tokenForView is what GET /token-for answers.
type tokenForView struct {
	APIStatus   int    `json:"api_status"`
	AccessToken string `json:"access_token"`
	Type        string `json:"type"`
	Code        string `json:"code"`
}

// TestInteropAccessTokenFor logs in with two resources and gets a token
// for each with AccessTokenFor; each fake API accepts its own token only.
// With the dpop profile too, the tokens are DPoP-bound to our key.
func TestInteropAccessTokenFor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		profile, tokenType string
	}{{"resources", "Bearer"}, {"resources,dpop", "DPoP"}} {
		t.Run(tt.profile, func(t *testing.T) {
			t.Parallel()
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			srv := httptest.NewUnstartedServer(nil)
			t.Cleanup(srv.Close)
			a := &rp{name: "resources", srv: srv, base: "https://" + srv.Listener.Addr().String()}
			issuer := startProfile(t, tt.profile, map[string]any{
				"client_id": resourceClientID, "client_secret": apiSecret,
				"redirect_uris": []string{a.url("/callback")}, "token_endpoint_auth_method": "client_secret_basic",
				"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
			})
			keys, err := fetchJWKS(issuer)
			require.NoError(t, err)
			srvA := httptest.NewServer(newFakeAPI(issuer, apiA, keys, nil))
			srvB := httptest.NewServer(newFakeAPI(issuer, apiB, keys, nil))
			t.Cleanup(srvA.Close)
			t.Cleanup(srvB.Close)

			a.cfg = oidc.Config{
				Secret: oidc.Secrets{interopSecret}, IssuerBaseURL: issuer, BaseURL: a.base,
				ClientID: resourceClientID, ClientSecret: apiSecret, AuthRequired: oidc.Bool(false),
				LookupEnv: func(string) (string, bool) { return "", false },
				AuthorizationParams: map[string]string{
					"response_type": "code", "response_mode": "query",
					"scope": "openid email api:read", "resource": apiA + " " + apiB,
				},
			}
			if tt.tokenType == "DPoP" {
				a.cfg.DPoP = &oidc.DPoPConfig{Key: key}
			}
			m, err := oidc.New(a.cfg)
			require.NoError(t, err)
			srv.Config.Handler = m.Handler(resourceHandler())
			srv.StartTLS()
			op := &opWorld{issuer: issuer}
			b := newBrowser(t)

			s := login(t, op, a, b)
			assert.Equal(t, []string{apiA, apiB}, b.authorizeURL(t, op).Query()["resource"], "one parameter per resource")
			assert.Equal(t, tt.tokenType, s.TokenType)
			var info map[string]any
			require.Equal(t, http.StatusOK, b.getJSON(a.url("/userinfo"), &info), "the session's own token is for userinfo: %v", info)

			get := func(resource, api string) tokenForView {
				t.Helper()
				var out tokenForView
				q := "?resource=" + resource + "&api=" + api
				require.Equal(t, http.StatusOK, b.getJSON(a.url("/token-for"+q), &out), "%+v", out)
				return out
			}
			gotA := get(apiA, srvA.URL)
			assert.Equal(t, http.StatusOK, gotA.APIStatus)
			assert.Equal(t, tt.tokenType, gotA.Type)
			claims := jwtClaims(t, gotA.AccessToken)
			assert.Equal(t, apiA, claims["aud"])
			if tt.tokenType == "DPoP" {
				assert.Equal(t, map[string]any{"jkt": jwkThumbprint(t, key.Public())}, claims["cnf"])
			}
			gotB := get(apiB, srvB.URL)
			assert.Equal(t, http.StatusOK, gotB.APIStatus)
			assert.Equal(t, apiB, jwtClaims(t, gotB.AccessToken)["aud"])

			// Kept in the session: the same tokens again, and each is
			// refused by the other API.
			crossA := get(apiA, srvB.URL)
			assert.Equal(t, gotA.AccessToken, crossA.AccessToken)
			assert.Equal(t, http.StatusUnauthorized, crossA.APIStatus, "B refuses A's token")
			crossB := get(apiB, srvA.URL)
			assert.Equal(t, gotB.AccessToken, crossB.AccessToken)
			assert.Equal(t, http.StatusUnauthorized, crossB.APIStatus, "A refuses B's token")

			// A resource the provider does not know: invalid_target.
			var bad errorView
			assert.Equal(t, http.StatusBadRequest, b.getJSON(a.url("/token-for?resource=https://api-c.example&api="+srvA.URL), &bad))
			assert.Equal(t, "invalid_target", bad.Code)
			require.Equal(t, http.StatusOK, b.getJSON(a.url("/session"), &s))
			assert.True(t, s.Authenticated, "the session stays")
		})
	}
}

// TestInteropFAPI2 logs in with Config.Profile = ProfileFAPI2 against
// node-oidc-provider's fapi2 profile (PAR, PKCE, private_key_jwt with
// ES256, DPoP, iss, PS256 ID tokens): the session has a DPoP token, and
// userinfo and refresh work.
func TestInteropFAPI2(t *testing.T) {
	t.Parallel()
	assertionKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	a := &rp{name: "fapi2", srv: srv, base: "https://" + srv.Listener.Addr().String()}
	jwk, err := ecJWK(&assertionKey.PublicKey, fapiAssertionK)
	require.NoError(t, err)
	issuer := startProfile(t, "fapi2", map[string]any{
		"client_id": fapiRPClientID, "redirect_uris": []string{a.url("/callback")},
		"jwks": map[string]any{"keys": []any{jwk}}, "token_endpoint_auth_signing_alg": "ES256",
	})
	a.cfg = oidc.Config{
		Secret: oidc.Secrets{interopSecret}, IssuerBaseURL: issuer, BaseURL: a.base,
		ClientID: fapiRPClientID, AuthRequired: oidc.Bool(false),
		LookupEnv:                 func(string) (string, bool) { return "", false },
		Profile:                   oidc.ProfileFAPI2,
		ClientAssertionSigningKey: assertionKey,
		DPoP:                      &oidc.DPoPConfig{Key: dpopKey},
		AuthorizationParams:       map[string]string{"scope": "openid email"},
	}
	m, err := oidc.New(a.cfg)
	require.NoError(t, err)
	srv.Config.Handler = m.Handler(rpHandler())
	srv.StartTLS()
	op := &opWorld{issuer: issuer}
	b := newBrowser(t)

	s := login(t, op, a, b)
	authz := b.authorizeURL(t, op).Query()
	assert.NotEmpty(t, authz.Get("request_uri"), "pushed (PAR)")
	assert.Empty(t, authz.Get("code_challenge"), "nothing but client_id and request_uri in the browser")
	assert.Equal(t, "DPoP", s.TokenType)
	require.NotEmpty(t, s.AccessToken)

	var info map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/userinfo"), &info), "%v", info)
	assert.Equal(t, opUser, info["sub"])
	assert.Equal(t, opUser+"@interop.example", info["email"])

	require.NotEmpty(t, s.RefreshToken)
	var refreshed map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/refresh"), &refreshed), "%v", refreshed)
	assert.Equal(t, "DPoP", refreshed["type"])
	assert.NotEqual(t, s.AccessToken, refreshed["access_token"])
}

// TestInteropResourceTokensThroughExpress: a Go session with resource
// tokens (the "resourceTokens" key) is read by express-openid-connect,
// which keeps the key when it saves the session again, and Go reads the
// tokens back from express's cookie.
func TestInteropResourceTokensThroughExpress(t *testing.T) {
	t.Parallel()
	e := expressApps(t)
	g := newGoApp(t, "", nil)
	m, err := oidc.New(g.cfg)
	require.NoError(t, err)
	rt := oidc.ResourceToken{AccessToken: "at-for-api-a", TokenType: "DPoP", ExpiresAt: time.Now().Add(time.Hour).Unix(),
		Scope: "api:read", LastUsed: time.Now().Unix()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mint", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&in))
		s := goShape(in)
		s.ResourceTokens = map[string]oidc.ResourceToken{apiA: rt}
		require.NoError(t, oidc.FromRequest(r).SetSession(s))
		w.WriteHeader(http.StatusNoContent)
	})
	var got oidc.Session
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		got, _ = oidc.FromRequest(r).Session()
		w.WriteHeader(http.StatusNoContent)
	})
	g.h = m.Handler(mux)

	cookies := g.mint(sampleSession(t, e.op, "go-rt", 0))
	node := e.session(t, e.Cookie, cookies)
	require.True(t, node.Authenticated)
	assert.Equal(t, map[string]any{apiA: map[string]any{
		"access_token": "at-for-api-a", "token_type": "DPoP", "expires_at": float64(rt.ExpiresAt),
		"scope": "api:read", "last_used": float64(rt.LastUsed),
	}}, node.Session["resourceTokens"])

	// express saves the session again with a value of its own.
	resp, body := nodeDo(t, http.MethodPost, e.Cookie+"/__seed", "application/json", `{"theme":"dark"}`, cookies)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resaved := liveCookies(resp)
	require.NotEmpty(t, resaved)
	g.serve(http.MethodGet, "/read", "", nil, resaved)
	assert.Equal(t, map[string]oidc.ResourceToken{apiA: rt}, got.ResourceTokens)
	assert.Equal(t, "dark", got.Values["theme"])
	assert.NotContains(t, got.Values, "resourceTokens")
}
