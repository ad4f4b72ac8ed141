package oidc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// dpopAPI is the provider's protected resource for the userinfo audience
// (the audience of tokens issued without a resource indicator), served on
// its own origin, which records the DPoP headers it received.
type dpopAPI struct {
	*httptest.Server
	mu     sync.Mutex
	proofs []string
	auths  []string
	bodies []string
}

func newDPoPAPI(t *testing.T, op *oidctest.Provider) *dpopAPI {
	t.Helper()
	a := &dpopAPI{}
	res := op.Resource(op.UserinfoAudience())
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.proofs = append(a.proofs, r.Header.Get("DPoP"))
		a.auths = append(a.auths, r.Header.Get("Authorization"))
		a.bodies = append(a.bodies, string(body))
		a.mu.Unlock()
		res.ServeHTTP(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *dpopAPI) seen() (proofs, auths, bodies []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.proofs...), append([]string(nil), a.auths...), append([]string(nil), a.bodies...)
}

// call sends req through c.Client from a request of the app and returns
// the status and the decoded JSON answer.
func (e *testApp) call(newReq func() *http.Request) (int, map[string]any, error) {
	e.t.Helper()
	var status int
	var out map[string]any
	var err error
	e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) {
		var resp *http.Response
		if resp, err = c.Client(r.Context()).Do(newReq()); err != nil {
			return
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		_ = json.NewDecoder(resp.Body).Decode(&out)
	})
	return status, out, err
}

func getReq(target string) func() *http.Request {
	return func() *http.Request { return must(http.NewRequest(http.MethodGet, target, nil)) }
}

// TestDPoPContextClient: Context.Client sends a DPoP token with a proof
// for each request (htm, htu without query, ath), answers a resource
// nonce challenge once when the body can be sent again, and keeps the
// resource nonce apart from the token endpoint's.
func TestDPoPContextClient(t *testing.T) {
	t.Parallel()
	key := ckKeys().p256
	t.Run("GET with a query, POST with a body, resource nonces", func(t *testing.T) {
		t.Parallel()
		e := newDPoPApp(t, oidctest.Options{DPoPNonce: true, ResourceDPoPNonce: true}, key, nil)
		e.login()
		api := newDPoPAPI(t, e.op)
		at := e.tokens().AccessToken

		status, out, err := e.call(getReq(api.URL + "/items?page=2#top"))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, out)
		assert.Equal(t, "DPoP", out["token_type"])
		assert.Equal(t, thumbprint(t, key), out["jkt"])
		proofs, auths, _ := api.seen()
		require.Len(t, proofs, 2, "use_dpop_nonce, then the same request with the nonce")
		assert.Equal(t, []string{"DPoP " + at, "DPoP " + at}, auths)
		first, second := parseDPoPProof(t, proofs[0]), parseDPoPProof(t, proofs[1])
		assert.NotContains(t, first.claims, "nonce", "the token endpoint's nonce is not sent to a resource")
		assert.Equal(t, e.op.ResourceDPoPNonce(), second.claims["nonce"])
		assert.Equal(t, "GET", second.claims["htm"])
		assert.Equal(t, api.URL+"/items", second.claims["htu"])
		assert.Equal(t, oidctest.AccessTokenHash(at), second.claims["ath"])
		assert.NotEqual(t, first.claims["jti"], second.claims["jti"])

		// The nonce is remembered for the origin: one request each.
		status, _, err = e.call(func() *http.Request {
			return must(http.NewRequest(http.MethodPost, api.URL+"/items", strings.NewReader(`{"n":1}`)))
		})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		proofs, _, bodies := api.seen()
		require.Len(t, proofs, 3)
		assert.Equal(t, "POST", parseDPoPProof(t, proofs[2]).claims["htm"])
		assert.Equal(t, `{"n":1}`, bodies[2])

		// A rotated nonce: the body is sent again (GetBody).
		e.op.RotateDPoPNonce()
		status, _, err = e.call(func() *http.Request {
			return must(http.NewRequest(http.MethodPut, api.URL+"/items/1", strings.NewReader(`{"n":2}`)))
		})
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		_, _, bodies = api.seen()
		assert.Equal(t, []string{`{"n":2}`, `{"n":2}`}, bodies[3:])
	})
	t.Run("a body that cannot be sent again: the 401 is returned", func(t *testing.T) {
		t.Parallel()
		e := newDPoPApp(t, oidctest.Options{ResourceDPoPNonce: true}, key, nil)
		e.login()
		api := newDPoPAPI(t, e.op)
		status, out, err := e.call(func() *http.Request {
			return must(http.NewRequest(http.MethodPost, api.URL+"/items", io.NopCloser(strings.NewReader("x"))))
		})
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, "use_dpop_nonce", out["error"])
		proofs, _, _ := api.seen()
		assert.Len(t, proofs, 1)
		// The nonce was learned all the same: the next request needs one try.
		status, _, err = e.call(getReq(api.URL + "/items"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		proofs, _, _ = api.seen()
		assert.Len(t, proofs, 2)
	})
	t.Run("TokenSource says DPoP; an expiring token is refreshed and sent bound", func(t *testing.T) {
		t.Parallel()
		e := newDPoPApp(t, oidctest.Options{AccessTokenLifetime: 300e9}, key, nil)
		e.login()
		api := newDPoPAPI(t, e.op)
		tok, err := e.token()
		require.NoError(t, err)
		assert.Equal(t, "DPoP", tok.TokenType)
		e.setClock(e.clk.Now(), 295e9)
		status, _, err := e.call(getReq(api.URL + "/items"))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, status)
		after := e.tokens().AccessToken
		assert.NotEqual(t, tok.AccessToken, after, "refreshed")
		_, auths, _ := api.seen()
		assert.Equal(t, []string{"DPoP " + after}, auths)
	})
}

// TestDPoPFetchUserInfo: FetchUserInfo sends a DPoP token with a proof,
// once more with the resource nonce.
func TestDPoPFetchUserInfo(t *testing.T) {
	t.Parallel()
	for _, nonce := range []bool{false, true} {
		t.Run(map[bool]string{false: "no nonce", true: "resource nonce"}[nonce], func(t *testing.T) {
			t.Parallel()
			key := ckKeys().ed
			e := newDPoPApp(t, oidctest.Options{ResourceDPoPNonce: nonce}, key, nil)
			e.login()
			var claims Claims
			var err error
			e.run(func(_ http.ResponseWriter, r *http.Request, c *Context) { claims, err = c.FetchUserInfo(r.Context()) })
			require.NoError(t, err)
			assert.Equal(t, "user-1", claims.String("sub"))
			assert.Equal(t, map[bool]int{false: 1, true: 2}[nonce], e.op.Calls(oidctest.EndpointUserinfo))
			p := parseDPoPProof(t, e.op.LastDPoPProof(oidctest.EndpointUserinfo))
			assert.Equal(t, e.op.URL()+oidctest.PathUserinfo, p.claims["htu"])
			assert.Equal(t, oidctest.AccessTokenHash(e.tokens().AccessToken), p.claims["ath"])
			assert.Equal(t, thumbprint(t, key), p.jkt)
		})
	}
}

// TestDPoPStolenToken: the access token alone is useless to a thief: as
// a Bearer token, or with a proof of another key.
func TestDPoPStolenToken(t *testing.T) {
	t.Parallel()
	e := newDPoPApp(t, oidctest.Options{}, ckKeys().p256, nil)
	e.login()
	api := newDPoPAPI(t, e.op)
	at := e.tokens().AccessToken
	thief, err := oidctest.NewDPoPKey("ES256")
	require.NoError(t, err)
	thief.Now = e.clk.Now
	send := func(scheme, proof string) (int, string) {
		req := must(http.NewRequest(http.MethodGet, api.URL+"/items", nil))
		req.Header.Set("Authorization", scheme+" "+at)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), "; ")
	}
	status, _ := send("Bearer", "")
	assert.Equal(t, http.StatusUnauthorized, status, "as a Bearer token")
	status, _ = send("DPoP", "")
	assert.Equal(t, http.StatusUnauthorized, status, "without a proof")
	proof, err := oidctest.DPoPProof(thief, http.MethodGet, api.URL+"/items", "", at)
	require.NoError(t, err)
	status, challenge := send("DPoP", proof)
	assert.Equal(t, http.StatusUnauthorized, status, "with a proof of another key")
	assert.Contains(t, challenge, "invalid_token")

	status, _, err = e.call(getReq(api.URL + "/items"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status, "with the key, it works")
}

// TestDPoPProofMethod covers Context.DPoPProof.
func TestDPoPProofMethod(t *testing.T) {
	t.Parallel()
	key := ckKeys().p256
	e := newDPoPApp(t, oidctest.Options{}, key, nil)
	api := newDPoPAPI(t, e.op)
	proofFor := func(e *testApp, method, target string) (string, error) {
		var p string
		var err error
		e.run(func(_ http.ResponseWriter, _ *http.Request, c *Context) { p, err = c.DPoPProof(method, target) })
		return p, err
	}
	_, err := proofFor(e, http.MethodGet, api.URL)
	assert.ErrorIs(t, err, ErrNoAccessToken, "anonymous")
	e.login()
	at := e.tokens().AccessToken

	raw, err := proofFor(e, http.MethodDelete, api.URL+"/items/7?force=1")
	require.NoError(t, err)
	p := parseDPoPProof(t, raw)
	assert.Equal(t, "DELETE", p.claims["htm"])
	assert.Equal(t, api.URL+"/items/7", p.claims["htu"])
	assert.Equal(t, oidctest.AccessTokenHash(at), p.claims["ath"])
	assert.Equal(t, thumbprint(t, key), p.jkt)
	req := must(http.NewRequest(http.MethodDelete, api.URL+"/items/7?force=1", nil))
	req.Header.Set("Authorization", "DPoP "+at)
	req.Header.Set("DPoP", raw)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the resource accepts a hand-built request")

	for _, tt := range []struct{ method, target string }{
		{"GET", "/relative"}, {"GET", "ftp://x.example/"}, {"", api.URL}, {"G T", api.URL},
	} {
		_, err := proofFor(e, tt.method, tt.target)
		assert.ErrorIs(t, err, ErrBadRequest, "%q %q", tt.method, tt.target)
	}

	t.Run("DPoP off", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, nil)
		e.login()
		_, err := proofFor(e, http.MethodGet, "https://api.example/")
		assert.ErrorIs(t, err, ErrDPoPNotConfigured)
	})
	t.Run("a Bearer token", func(t *testing.T) {
		t.Parallel()
		e := newTKApp(t, oidctest.Options{}, func(c *Config) { c.DPoP = &DPoPConfig{Key: key} })
		e.login()
		_, err := proofFor(e, http.MethodGet, "https://api.example/")
		assert.ErrorIs(t, err, ErrNotDPoPBound)
	})
	t.Run("nil Context", func(t *testing.T) {
		t.Parallel()
		var c *Context
		_, err := c.DPoPProof(http.MethodGet, "https://api.example/")
		assert.ErrorIs(t, err, ErrNoMiddleware)
	})
}

// TestDPoPWrongKeyRefresh: another application with the same session
// secret but another DPoP key cannot refresh the session's bound refresh
// token (invalid_grant), nor use its access token.
func TestDPoPWrongKeyRefresh(t *testing.T) {
	t.Parallel()
	e := newDPoPApp(t, oidctest.Options{}, ckKeys().p256, nil)
	e.login()
	cookies := e.jarCookies()
	m, err := New(func() Config {
		cfg := e.cfg
		cfg.DPoP = &DPoPConfig{Key: ckKeys().ed}
		return cfg
	}())
	require.NoError(t, err)
	var refreshErr, apiErr error
	var status int
	api := newDPoPAPI(t, e.op)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		if resp, err := c.Client(r.Context()).Get(api.URL + "/items"); err != nil {
			apiErr = err
		} else {
			status = resp.StatusCode
			resp.Body.Close()
		}
		_, refreshErr = c.Refresh(r.Context(), RefreshOptions{})
	}))
	req := httptest.NewRequest(http.MethodGet, e.url("/run"), nil)
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
	require.NoError(t, apiErr)
	assert.Equal(t, http.StatusUnauthorized, status, "the access token with another key's proof")
	var pe *ProviderError
	require.ErrorAs(t, refreshErr, &pe)
	assert.Equal(t, "invalid_grant", pe.Code)
	// The key's owner still can.
	_, err = e.refresh(RefreshOptions{})
	require.NoError(t, err)
}
