package oidctest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// bclReceiver is a relying party's backchannel_logout_uri that records the
// requests it gets.
type bclReceiver struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []bclRequest
}

type bclRequest struct {
	method, contentType string
	cookies             int
	form                url.Values
}

func newBCLReceiver(t *testing.T) *bclReceiver {
	rc := &bclReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, bclRequest{r.Method, r.Header.Get("Content-Type"), len(r.Cookies()), form})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *bclReceiver) last(t *testing.T) bclRequest {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.NotEmpty(t, rc.reqs)
	return rc.reqs[len(rc.reqs)-1]
}

// verifyLogoutToken checks a logout token with go-oidc's own verifier and
// returns its header typ and claims.
func verifyLogoutToken(t *testing.T, p *oidctest.Provider, raw string) (*gooidc.LogoutToken, map[string]any) {
	t.Helper()
	ctx := context.Background()
	prov, err := gooidc.NewProvider(ctx, p.Issuer())
	require.NoError(t, err)
	lt, err := prov.Verifier(&gooidc.Config{ClientID: p.ClientID()}).VerifyLogout(ctx, raw)
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, lt.Claims(&claims))
	return lt, claims
}

func TestSendBackchannelLogout(t *testing.T) {
	t.Parallel()
	p := newProvider(t, oidctest.Options{})
	rc := newBCLReceiver(t)
	ctx := context.Background()

	t.Run("valid token by sub and sid", func(t *testing.T) {
		resp, err := p.SendBackchannelLogout(ctx, rc.srv.URL, "alice", "sid-1")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		got := rc.last(t)
		assert.Equal(t, http.MethodPost, got.method)
		assert.Equal(t, "application/x-www-form-urlencoded", got.contentType)
		assert.Zero(t, got.cookies)
		require.Len(t, got.form["logout_token"], 1)
		lt, claims := verifyLogoutToken(t, p, got.form.Get("logout_token"))
		assert.Equal(t, "alice", lt.Subject)
		assert.Equal(t, "sid-1", lt.SessionID)
		assert.NotEmpty(t, lt.TokenID)
		assert.Equal(t, map[string]any{}, claims["events"].(map[string]any)[oidctest.BackchannelLogoutEvent])

		jws, err := jose.ParseSignedCompact(got.form.Get("logout_token"), []jose.SignatureAlgorithm{jose.RS256})
		require.NoError(t, err)
		assert.Equal(t, "logout+jwt", jws.Signatures[0].Header.ExtraHeaders["typ"])
		assert.Equal(t, p.KeyID(), jws.Signatures[0].Header.KeyID)
	})
	t.Run("sub only and sid only", func(t *testing.T) {
		for _, tc := range []struct{ sub, sid string }{{"bob", ""}, {"", "sid-2"}} {
			resp, err := p.SendBackchannelLogout(ctx, rc.srv.URL, tc.sub, tc.sid)
			require.NoError(t, err)
			resp.Body.Close()
			_, claims := verifyLogoutToken(t, p, rc.last(t).form.Get("logout_token"))
			assert.Equal(t, tc.sub != "", claims["sub"] != nil)
			assert.Equal(t, tc.sid != "", claims["sid"] != nil)
		}
	})
	t.Run("mutated header and claims, extra form fields", func(t *testing.T) {
		resp, err := p.SendBackchannelLogoutWith(ctx, rc.srv.URL, oidctest.BackchannelLogoutOptions{
			Sub:    "alice",
			Claims: map[string]any{"jti": nil, "extra": "x"},
			Mutate: func(header, claims map[string]any) {
				header["typ"] = "at+jwt"
				claims["nonce"] = "n"
			},
			Form: url.Values{"ignored_parameter": {"1"}},
		})
		require.NoError(t, err)
		resp.Body.Close()
		got := rc.last(t)
		assert.Equal(t, "1", got.form.Get("ignored_parameter"))
		jws, err := jose.ParseSignedCompact(got.form.Get("logout_token"), []jose.SignatureAlgorithm{jose.RS256})
		require.NoError(t, err)
		assert.Equal(t, "at+jwt", jws.Signatures[0].Header.ExtraHeaders["typ"])
		payload, err := jws.Verify(p.PublicKey())
		require.NoError(t, err, "a mutated token is still signed with the provider key")
		var claims map[string]any
		require.NoError(t, json.Unmarshal(payload, &claims))
		assert.Equal(t, "n", claims["nonce"])
		assert.Equal(t, "x", claims["extra"])
		assert.NotContains(t, claims, "jti")
		assert.Equal(t, "alice", claims["sub"])
	})
	t.Run("alg none, raw token, no token, duplicate token", func(t *testing.T) {
		tok, err := p.MutatedLogoutToken("alice", "", nil, func(h, _ map[string]any) { h["alg"] = "none" })
		require.NoError(t, err)
		assert.True(t, strings.HasSuffix(tok, "."), "alg none has an empty signature")

		resp, err := p.SendBackchannelLogoutWith(ctx, rc.srv.URL, oidctest.BackchannelLogoutOptions{Token: "not-a-jwt"})
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, []string{"not-a-jwt"}, rc.last(t).form["logout_token"])

		resp, err = p.SendBackchannelLogoutWith(ctx, rc.srv.URL, oidctest.BackchannelLogoutOptions{OmitToken: true})
		require.NoError(t, err)
		resp.Body.Close()
		assert.NotContains(t, rc.last(t).form, "logout_token")

		resp, err = p.SendBackchannelLogoutWith(ctx, rc.srv.URL, oidctest.BackchannelLogoutOptions{
			Sid: "s", Form: url.Values{"logout_token": {"second"}},
		})
		require.NoError(t, err)
		resp.Body.Close()
		assert.Len(t, rc.last(t).form["logout_token"], 2)
	})
}

func TestSendBackchannelLogoutHS256(t *testing.T) {
	t.Parallel()
	p := newProvider(t, oidctest.Options{Alg: "HS256"})
	tok, err := p.MutatedLogoutToken("alice", "", nil, func(h, _ map[string]any) { h["x"] = 1 })
	require.NoError(t, err)
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.HS256})
	require.NoError(t, err)
	_, err = jws.Verify([]byte(p.ClientSecret()))
	assert.NoError(t, err)
}
