package oidctest_test

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// parPush posts form to /par (with client_secret_basic when basic) and
// returns the status and the decoded JSON.
func parPush(t *testing.T, p *oidctest.Provider, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL()+oidctest.PathPAR, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNotFound {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	}
	return resp.StatusCode, out
}

// parRequestObject signs params (plus the JAR claims) with the client key.
func parRequestObject(t *testing.T, p *oidctest.Provider, alg string, key any, params url.Values, mutate func(map[string]any)) string {
	t.Helper()
	now := time.Now().Unix()
	c := map[string]any{"iss": p.ClientID(), "aud": p.Issuer(), "jti": "j1", "iat": now, "nbf": now, "exp": now + 60}
	for k := range params {
		c[k] = params.Get(k)
	}
	c["max_age"] = 600 // a number, as OpenID Connect Core §6.1 has it
	if mutate != nil {
		mutate(c)
	}
	tok, err := oidctest.SignJWT(map[string]any{"alg": alg}, c, key)
	require.NoError(t, err)
	return tok
}

type parClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *parClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *parClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestPushedAuthorizationRequests(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"

	t.Run("push, then authorize with request_uri", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.Equal(t, p.URL()+"/par", doc["pushed_authorization_request_endpoint"])
		assert.Equal(t, true, doc["request_parameter_supported"])
		assert.NotContains(t, doc, "require_pushed_authorization_requests")

		status, out := parPush(t, p, codeParams(p, v), true)
		require.Equal(t, http.StatusCreated, status, out)
		uri, _ := out["request_uri"].(string)
		assert.True(t, strings.HasPrefix(uri, oidctest.RequestURIPrefix), uri)
		assert.EqualValues(t, 60, out["expires_in"])
		assert.Equal(t, 1, p.Calls(oidctest.EndpointPAR))
		last := p.LastPARRequest()
		require.NotNil(t, last)
		assert.Equal(t, "st-1", last.PostForm.Get("state"))

		q := url.Values{"client_id": {p.ClientID()}, "request_uri": {uri}}
		resp, _ := authorize(t, noRedirect(nil), p, q)
		got := redirectParams(t, resp, false)
		require.NotEmpty(t, got.Get("code"), got.Get("error_description"))
		assert.Equal(t, "st-1", got.Get("state"))
		status, body := postToken(t, p, codeForm(got.Get("code"), v), true)
		assert.Equal(t, http.StatusOK, status, body)

		// request_uri is single use.
		resp, body2 := authorize(t, noRedirect(nil), p, q)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body2, "invalid_request_uri")
	})
	t.Run("request_uri expires after 60 seconds", func(t *testing.T) {
		clk := &parClock{now: time.Now()}
		p := newProvider(t, oidctest.Options{Now: clk.Now})
		_, out := parPush(t, p, codeParams(p, v), true)
		clk.Advance(61 * time.Second)
		resp, body := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request_uri": {out["request_uri"].(string)}})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "invalid_request_uri")
	})
	t.Run("request_uri is bound to the client", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		_, out := parPush(t, p, codeParams(p, v), true)
		resp, body := authorize(t, noRedirect(nil), p, url.Values{"client_id": {"other"}, "request_uri": {out["request_uri"].(string)}})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "invalid_request_uri")
	})

	errs := []struct {
		name       string
		opts       oidctest.Options
		form       func(url.Values)
		basic      bool
		wantStatus int
		wantError  string
	}{
		{"no client authentication", oidctest.Options{}, nil, false, http.StatusUnauthorized, "invalid_client"},
		{"client_secret_post", oidctest.Options{}, func(f url.Values) { f.Set("client_secret", "test-secret") }, false, http.StatusCreated, ""},
		{"request_uri pushed", oidctest.Options{}, func(f url.Values) { f.Set("request_uri", oidctest.RequestURIPrefix+"x") }, true, http.StatusBadRequest, "invalid_request"},
		{"invalid scope", oidctest.Options{}, func(f url.Values) { f.Set("scope", "profile") }, true, http.StatusBadRequest, "invalid_scope"},
		{"other client_id", oidctest.Options{}, func(f url.Values) { f.Set("client_id", "other") }, true, http.StatusBadRequest, "invalid_request"},
		{"unregistered redirect_uri", oidctest.Options{RedirectURIs: []string{"http://app.example/x"}}, nil, true, http.StatusBadRequest, "invalid_request"},
		{"signed request object required", oidctest.Options{RequireSignedRequestObject: true}, nil, true, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.opts)
			form := codeParams(p, v)
			if tt.form != nil {
				tt.form(form)
			}
			status, out := parPush(t, p, form, tt.basic)
			assert.Equal(t, tt.wantStatus, status, out)
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, out["error"], out)
			}
		})
	}

	t.Run("DisablePAR", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DisablePAR: true})
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.NotContains(t, doc, "pushed_authorization_request_endpoint")
		status, _ := parPush(t, p, codeParams(p, v), true)
		assert.Equal(t, http.StatusNotFound, status)
	})
	t.Run("RequirePAR refuses plain requests", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{RequirePAR: true})
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.Equal(t, true, doc["require_pushed_authorization_requests"])
		resp, body := authorize(t, noRedirect(nil), p, codeParams(p, v))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "pushed authorization requests are required")
		_, out := parPush(t, p, codeParams(p, v), true)
		resp, _ = authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request_uri": {out["request_uri"].(string)}})
		assert.NotEmpty(t, redirectParams(t, resp, false).Get("code"))
	})
}

func TestRequestObjects(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	rsaKey := caKeys["RS256"].(*rsa.PrivateKey)
	opts := oidctest.Options{ClientPublicKey: rsaKey.Public()}

	t.Run("a signed request object alone is a complete request", func(t *testing.T) {
		p := newProvider(t, opts)
		ro := parRequestObject(t, p, "RS256", rsaKey, codeParams(p, v), nil)
		resp, _ := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request": {ro}})
		got := redirectParams(t, resp, false)
		require.NotEmpty(t, got.Get("code"), got.Get("error_description"))
		assert.Equal(t, "st-1", got.Get("state"))
	})
	t.Run("HS256 with the client secret", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		ro := parRequestObject(t, p, "HS256", p.ClientSecret(), codeParams(p, v), nil)
		resp, _ := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request": {ro}})
		assert.NotEmpty(t, redirectParams(t, resp, false).Get("code"))
	})
	t.Run("parameters outside the object are ignored", func(t *testing.T) {
		p := newProvider(t, opts)
		ro := parRequestObject(t, p, "RS256", rsaKey, codeParams(p, v), nil)
		resp, _ := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request": {ro}, "state": {"outer"}})
		assert.Equal(t, "st-1", redirectParams(t, resp, false).Get("state"))
	})
	t.Run("pushed request object", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{ClientPublicKey: rsaKey.Public(), RequireSignedRequestObject: true})
		ro := parRequestObject(t, p, "RS256", rsaKey, codeParams(p, v), nil)
		status, out := parPush(t, p, url.Values{"client_id": {p.ClientID()}, "request": {ro}}, true)
		require.Equal(t, http.StatusCreated, status, out)
		resp, _ := authorize(t, noRedirect(nil), p, url.Values{"client_id": {p.ClientID()}, "request_uri": {out["request_uri"].(string)}})
		assert.NotEmpty(t, redirectParams(t, resp, false).Get("code"))
	})

	bad := []struct {
		name   string
		alg    string
		key    any
		mutate func(map[string]any)
		query  func(url.Values)
		want   string
	}{
		{"alg none", "none", nil, nil, nil, "invalid_request_object"},
		{"another key", "ES256", caKeys["ES256"], nil, nil, "invalid_request_object"},
		{"wrong aud", "RS256", rsaKey, func(c map[string]any) { c["aud"] = "https://other.example/" }, nil, "invalid_request_object"},
		{"no aud", "RS256", rsaKey, func(c map[string]any) { delete(c, "aud") }, nil, "invalid_request_object"},
		{"iss is not the client", "RS256", rsaKey, func(c map[string]any) { c["iss"] = "x" }, nil, "invalid_request_object"},
		{"client_id differs", "RS256", rsaKey, func(c map[string]any) { c["client_id"] = "x" }, nil, "invalid_request_object"},
		{"expired", "RS256", rsaKey, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, nil, "invalid_request_object"},
		{"not valid yet", "RS256", rsaKey, func(c map[string]any) { c["nbf"] = time.Now().Add(time.Minute).Unix() }, nil, "invalid_request_object"},
		{"no outer client_id", "RS256", rsaKey, nil, func(q url.Values) { q.Del("client_id") }, "invalid_request"},
		{"request and request_uri", "RS256", rsaKey, nil, func(q url.Values) { q.Set("request_uri", oidctest.RequestURIPrefix+"x") }, "invalid_request"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, opts)
			q := url.Values{"client_id": {p.ClientID()}, "request": {parRequestObject(t, p, tt.alg, tt.key, codeParams(p, v), tt.mutate)}}
			if tt.query != nil {
				tt.query(q)
			}
			resp, body := authorize(t, noRedirect(nil), p, q)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Contains(t, body, tt.want)
		})
	}
	t.Run("RequireSignedRequestObject refuses plain requests", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{ClientPublicKey: rsaKey.Public(), RequireSignedRequestObject: true})
		resp, body := authorize(t, noRedirect(nil), p, codeParams(p, v))
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, "signed request object is required")
	})
}
