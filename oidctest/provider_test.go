package oidctest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/openidconnect-go/oidc/oidctest"
)

const redirectURI = "http://app.example/callback"

// noRedirect is an http.Client that reports redirects instead of following
// them, so tests can read Location.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

func codeParams(p *oidctest.Provider, verifier string) url.Values {
	return url.Values{
		"client_id":             {p.ClientID()},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {"openid profile email"},
		"state":                 {"st-1"},
		"nonce":                 {"nonce-1"},
		"code_challenge":        {s256(verifier)},
		"code_challenge_method": {"S256"},
	}
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize sends GET /authorize and returns the response (body read into
// the returned string).
func authorize(t *testing.T, c *http.Client, p *oidctest.Provider, params url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(p.URL() + oidctest.PathAuthorize + "?" + params.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// redirectParams returns the query or fragment parameters of a 302.
func redirectParams(t *testing.T, resp *http.Response, fragment bool) url.Values {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, redirectURI, loc.Scheme+"://"+loc.Host+loc.Path)
	raw := loc.RawQuery
	if fragment {
		raw = loc.Fragment
	}
	v, err := url.ParseQuery(raw)
	require.NoError(t, err)
	return v
}

func getCode(t *testing.T, p *oidctest.Provider, params url.Values) string {
	t.Helper()
	resp, _ := authorize(t, noRedirect(nil), p, params)
	v := redirectParams(t, resp, false)
	require.Empty(t, v.Get("error"), v.Get("error_description"))
	require.NotEmpty(t, v.Get("code"))
	return v.Get("code")
}

// postToken posts form to /token with client_secret_basic (when basic) and
// returns the status and decoded JSON.
func postToken(t *testing.T, p *oidctest.Provider, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL()+oidctest.PathToken, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(p.ClientID()), url.QueryEscape(p.ClientSecret()))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	if resp.StatusCode == http.StatusOK {
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	}
	return resp.StatusCode, out
}

func codeForm(code, verifier string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
	}
}

func verifier(t *testing.T, p *oidctest.Provider, algs ...string) *oidc.IDTokenVerifier {
	t.Helper()
	op, err := oidc.NewProvider(context.Background(), p.Issuer())
	require.NoError(t, err)
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	return op.Verifier(&oidc.Config{ClientID: p.ClientID(), SupportedSigningAlgs: algs})
}

func claimsOf(t *testing.T, tok *oidc.IDToken) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, tok.Claims(&m))
	return m
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name  string
		opts  oidctest.Options
		check func(t *testing.T, p *oidctest.Provider, doc map[string]any)
	}{
		{"defaults", oidctest.Options{}, func(t *testing.T, p *oidctest.Provider, doc map[string]any) {
			assert.Equal(t, p.Issuer(), doc["issuer"])
			assert.True(t, strings.HasSuffix(p.Issuer(), "/"))
			assert.Equal(t, p.URL()+"/", p.Issuer())
			assert.True(t, strings.HasPrefix(p.Issuer(), "http://127.0.0.1:"))
			assert.Equal(t, p.URL()+"/authorize", doc["authorization_endpoint"])
			assert.Equal(t, p.URL()+"/token", doc["token_endpoint"])
			assert.Equal(t, p.URL()+"/userinfo", doc["userinfo_endpoint"])
			assert.Equal(t, p.URL()+"/jwks", doc["jwks_uri"])
			assert.Equal(t, p.URL()+"/session/end", doc["end_session_endpoint"])
			assert.Equal(t, []any{"code", "id_token", "code id_token"}, doc["response_types_supported"])
			assert.Equal(t, []any{"query", "fragment", "form_post"}, doc["response_modes_supported"])
			assert.Equal(t, []any{"RS256"}, doc["id_token_signing_alg_values_supported"])
			assert.Equal(t, []any{"client_secret_basic", "client_secret_post"}, doc["token_endpoint_auth_methods_supported"])
			assert.Equal(t, []any{"S256"}, doc["code_challenge_methods_supported"])
			assert.Contains(t, doc["grant_types_supported"], "authorization_code")
			assert.Contains(t, doc["grant_types_supported"], "refresh_token")
			assert.Equal(t, []any{"public"}, doc["subject_types_supported"])
			assert.Contains(t, doc["scopes_supported"], "openid")
			assert.Contains(t, doc["claims_supported"], "sub")
			assert.NotContains(t, doc, "authorization_response_iss_parameter_supported")
		}},
		{"iss parameter, no end session, ES256", oidctest.Options{
			AuthorizationResponseIssParameter: true, DisableEndSession: true, Alg: "ES256",
			Claims: map[string]any{"email": "a@example.com"},
		}, func(t *testing.T, p *oidctest.Provider, doc map[string]any) {
			assert.Equal(t, true, doc["authorization_response_iss_parameter_supported"])
			assert.NotContains(t, doc, "end_session_endpoint")
			assert.Equal(t, []any{"ES256"}, doc["id_token_signing_alg_values_supported"])
			assert.Contains(t, doc["claims_supported"], "email")
		}},
		{"mutated", oidctest.Options{MutateDiscovery: func(doc map[string]any) { doc["issuer"] = "https://evil.example/" }},
			func(t *testing.T, p *oidctest.Provider, doc map[string]any) {
				assert.Equal(t, "https://evil.example/", doc["issuer"])
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.opts)
			var doc map[string]any
			getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
			tt.check(t, p, doc)
			assert.Equal(t, 1, p.Calls("discovery"))
		})
	}

	t.Run("go-oidc accepts the issuer", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		_, err := oidc.NewProvider(context.Background(), p.Issuer())
		require.NoError(t, err)
	})
	t.Run("EndSession toggled at runtime", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DisableEndSession: true})
		p.SetOptions(func(o *oidctest.Options) { o.DisableEndSession = false })
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.Contains(t, doc, "end_session_endpoint")
		p.SetOptions(func(o *oidctest.Options) { o.EndSession = false })
		doc = nil
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.NotContains(t, doc, "end_session_endpoint")
	})
}

func TestJWKSAndRotateKeys(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{Alg: alg})
			var set jose.JSONWebKeySet
			getJSON(t, p.URL()+oidctest.PathJWKS, &set)
			require.Len(t, set.Keys, 1)
			k := set.Keys[0]
			assert.Equal(t, p.KeyID(), k.KeyID)
			assert.NotEmpty(t, k.KeyID)
			assert.Equal(t, "sig", k.Use)
			assert.Equal(t, alg, k.Algorithm)
			assert.True(t, k.IsPublic())

			old := k.KeyID
			p.RotateKeys()
			set = jose.JSONWebKeySet{}
			getJSON(t, p.URL()+oidctest.PathJWKS, &set)
			require.Len(t, set.Keys, 1)
			assert.NotEqual(t, old, set.Keys[0].KeyID)
			assert.Equal(t, p.KeyID(), set.Keys[0].KeyID)
			assert.Equal(t, 2, p.Calls("jwks"))

			// A token signed now verifies with the new key only.
			raw := p.IDToken("u", "", nil)
			jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			require.NoError(t, err)
			assert.Equal(t, p.KeyID(), jws.Signatures[0].Header.KeyID)
			_, err = jws.Verify(set.Keys[0].Key)
			require.NoError(t, err)
		})
	}
	t.Run("HS256 has no keys", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{Alg: "HS256"})
		assert.GreaterOrEqual(t, len(p.ClientSecret()), 32, "go-jose needs HS256 keys of at least 32 bytes")
		var set jose.JSONWebKeySet
		getJSON(t, p.URL()+oidctest.PathJWKS, &set)
		assert.Empty(t, set.Keys)
		raw := p.IDToken("u", "n", nil)
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.HS256})
		require.NoError(t, err)
		_, err = jws.Verify([]byte(p.ClientSecret()))
		require.NoError(t, err)
	})
	t.Run("MutateJWKS", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{MutateJWKS: func(jwks map[string]any) {
			for _, k := range jwks["keys"].([]any) {
				delete(k.(map[string]any), "kid")
			}
		}})
		var set jose.JSONWebKeySet
		getJSON(t, p.URL()+oidctest.PathJWKS, &set)
		require.Len(t, set.Keys, 1)
		assert.Empty(t, set.Keys[0].KeyID)
	})
}

func TestCodeFlowEndToEnd(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{
				Alg:          alg,
				RedirectURIs: []string{redirectURI},
				Claims:       map[string]any{"email": "user@example.com", "name": "User One"},
			})
			ctx := context.Background()
			op, err := oidc.NewProvider(ctx, p.Issuer())
			require.NoError(t, err)
			cfg := oauth2.Config{
				ClientID:     p.ClientID(),
				ClientSecret: p.ClientSecret(),
				Endpoint:     op.Endpoint(),
				RedirectURL:  redirectURI,
				Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
			}
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
			v := oauth2.GenerateVerifier()
			authURL := cfg.AuthCodeURL("state-xyz", oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-xyz"))

			resp, err := noRedirect(nil).Get(authURL)
			require.NoError(t, err)
			resp.Body.Close()
			q := redirectParams(t, resp, false)
			assert.Equal(t, "state-xyz", q.Get("state"))
			assert.False(t, q.Has("iss"))
			require.NotEmpty(t, q.Get("code"))
			assert.Contains(t, resp.Header.Get("Set-Cookie"), oidctest.SessionCookieName+"=")

			tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(v))
			require.NoError(t, err)
			assert.Equal(t, "Bearer", tok.TokenType)
			assert.NotEmpty(t, tok.RefreshToken)
			assert.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute)
			assert.Equal(t, "openid profile email", tok.Extra("scope"))

			raw, _ := tok.Extra("id_token").(string)
			require.NotEmpty(t, raw)
			idt, err := op.Verifier(&oidc.Config{ClientID: p.ClientID(), SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw)
			require.NoError(t, err)
			assert.Equal(t, "user-1", idt.Subject)
			assert.Equal(t, "nonce-xyz", idt.Nonce)
			assert.Equal(t, p.Issuer(), idt.Issuer)
			c := claimsOf(t, idt)
			assert.Equal(t, "user@example.com", c["email"])
			assert.Equal(t, "User One", c["name"])
			assert.Contains(t, c, "auth_time")
			assert.Contains(t, c, "sid")
			assert.NotContains(t, c, "c_hash")

			ui, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			require.NoError(t, err)
			assert.Equal(t, "user-1", ui.Subject)
			assert.Equal(t, "user@example.com", ui.Email)

			last := p.LastTokenRequest()
			require.NotNil(t, last)
			assert.Equal(t, v, last.PostForm.Get("code_verifier"))
			assert.Equal(t, "authorization_code", last.PostForm.Get("grant_type"))
			assert.True(t, strings.HasPrefix(last.Header.Get("Authorization"), "Basic "))
			body, err := io.ReadAll(last.Body)
			require.NoError(t, err)
			assert.Contains(t, string(body), "code_verifier=")

			for ep, n := range map[string]int{"discovery": 1, "authorize": 1, "token": 1, "userinfo": 1, "jwks": 1} {
				assert.Equal(t, n, p.Calls(ep), ep)
			}
			p.ResetCalls()
			assert.Zero(t, p.Calls("token"))
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	tests := []struct {
		name       string
		opts       oidctest.Options
		form       func(code string) url.Values
		basic      bool
		wantStatus int
		wantError  string
	}{
		{"ok", oidctest.Options{}, func(c string) url.Values { return codeForm(c, v) }, true, 200, ""},
		{"client_secret_post ok", oidctest.Options{}, func(c string) url.Values {
			f := codeForm(c, v)
			f.Set("client_id", "test-client")
			f.Set("client_secret", "test-secret")
			return f
		}, false, 200, ""},
		{"PKCE mismatch", oidctest.Options{}, func(c string) url.Values { return codeForm(c, v+"x") }, true, 400, "invalid_grant"},
		{"PKCE missing verifier", oidctest.Options{}, func(c string) url.Values {
			f := codeForm(c, v)
			f.Del("code_verifier")
			return f
		}, true, 400, "invalid_grant"},
		{"SkipPKCE ignores mismatch", oidctest.Options{SkipPKCE: true}, func(c string) url.Values { return codeForm(c, v+"x") }, true, 200, ""},
		{"redirect_uri mismatch", oidctest.Options{}, func(c string) url.Values {
			f := codeForm(c, v)
			f.Set("redirect_uri", "http://app.example/other")
			return f
		}, true, 400, "invalid_grant"},
		{"unknown code", oidctest.Options{}, func(string) url.Values { return codeForm("nope", v) }, true, 400, "invalid_grant"},
		{"no client auth", oidctest.Options{}, func(c string) url.Values { return codeForm(c, v) }, false, 401, "invalid_client"},
		{"wrong secret", oidctest.Options{}, func(c string) url.Values {
			f := codeForm(c, v)
			f.Set("client_id", "test-client")
			f.Set("client_secret", "wrong")
			return f
		}, false, 401, "invalid_client"},
		{"post not allowed", oidctest.Options{TokenEndpointAuthMethods: []string{"client_secret_basic"}}, func(c string) url.Values {
			f := codeForm(c, v)
			f.Set("client_id", "test-client")
			f.Set("client_secret", "test-secret")
			return f
		}, false, 401, "invalid_client"},
		{"unsupported grant", oidctest.Options{}, func(string) url.Values {
			return url.Values{"grant_type": {"password"}}
		}, true, 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.opts)
			code := getCode(t, p, codeParams(p, v))
			status, body := postToken(t, p, tt.form(code), tt.basic)
			assert.Equal(t, tt.wantStatus, status, body)
			if tt.wantError != "" {
				assert.Equal(t, tt.wantError, body["error"])
			} else {
				assert.NotEmpty(t, body["access_token"])
				assert.NotEmpty(t, body["id_token"])
			}
		})
	}

	t.Run("code replay", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		code := getCode(t, p, codeParams(p, v))
		status, first := postToken(t, p, codeForm(code, v), true)
		require.Equal(t, 200, status)
		status, body := postToken(t, p, codeForm(code, v), true)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_grant", body["error"])
		// The replay revoked what the first exchange issued.
		assert.Equal(t, http.StatusUnauthorized, userinfoStatus(t, p, first["access_token"].(string)))
		assert.Equal(t, 2, p.Calls("token"))
	})
	t.Run("failed attempt consumes the code", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		code := getCode(t, p, codeParams(p, v))
		status, _ := postToken(t, p, codeForm(code, "wrong-verifier-0123456789-0123456789-0123456789"), true)
		require.Equal(t, 400, status)
		status, body := postToken(t, p, codeForm(code, v), true)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_grant", body["error"])
	})
	t.Run("expired code", func(t *testing.T) {
		now := time.Now()
		p := newProvider(t, oidctest.Options{Now: func() time.Time { return now }})
		code := getCode(t, p, codeParams(p, v))
		p.SetOptions(func(o *oidctest.Options) { o.Now = func() time.Time { return now.Add(61 * time.Second) } })
		status, body := postToken(t, p, codeForm(code, v), true)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_grant", body["error"])
	})
	t.Run("verifier without challenge", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		params := codeParams(p, v)
		params.Del("code_challenge")
		params.Del("code_challenge_method")
		code := getCode(t, p, params)
		status, body := postToken(t, p, codeForm(code, v), true)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_grant", body["error"])
	})
	t.Run("MutateTokenResponse", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{MutateTokenResponse: func(resp map[string]any) {
			delete(resp, "id_token")
			resp["token_type"] = "weird"
		}})
		code := getCode(t, p, codeParams(p, v))
		status, body := postToken(t, p, codeForm(code, v), true)
		require.Equal(t, 200, status)
		assert.NotContains(t, body, "id_token")
		assert.Equal(t, "weird", body["token_type"])
	})
}

func TestBasicAuthEncoding(t *testing.T) {
	const id, secret = "my client", "p@ss:w%rd+/é"
	p := newProvider(t, oidctest.Options{ClientID: id, ClientSecret: secret})
	v := oauth2.GenerateVerifier()
	cfg := oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.URL() + oidctest.PathAuthorize,
			TokenURL:  p.URL() + oidctest.PathToken,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: redirectURI,
		Scopes:      []string{"openid"},
	}
	resp, err := noRedirect(nil).Get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	require.NoError(t, err)
	resp.Body.Close()
	code := redirectParams(t, resp, false).Get("code")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)

	// The raw, unencoded credentials are not what RFC 6749 §2.3.1 asks for.
	req, _ := http.NewRequest(http.MethodPost, p.URL()+oidctest.PathToken,
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, r2.StatusCode)
	assert.NotEmpty(t, r2.Header.Get("WWW-Authenticate"))
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

func formFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func TestFormPost(t *testing.T) {
	p := newProvider(t, oidctest.Options{AuthorizationResponseIssParameter: true})
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	params := codeParams(p, v)
	evil := `"><script>alert(1)</script>&x='y'`
	params.Set("state", evil)
	params.Set("response_mode", "form_post")
	resp, body := authorize(t, noRedirect(nil), p, params)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Contains(t, body, `<form method="post" action="`+redirectURI+`">`)
	assert.Contains(t, body, "<noscript>")
	assert.Contains(t, body, `type="submit"`)
	assert.Contains(t, body, "document.forms[0].submit()")
	assert.NotContains(t, body, "<script>alert(1)")
	assert.NotContains(t, body, `"><`)

	fields := formFields(body)
	assert.Equal(t, evil, fields.Get("state"))
	assert.Equal(t, p.Issuer(), fields.Get("iss"))
	require.NotEmpty(t, fields.Get("code"))
	// Inline script is allowed by nonce only.
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'nonce-")

	status, _ := postToken(t, p, codeForm(fields.Get("code"), v), true)
	assert.Equal(t, 200, status)
}

func TestImplicitFlow(t *testing.T) {
	p := newProvider(t, oidctest.Options{Claims: map[string]any{"email": "x@example.com"}})
	params := url.Values{
		"client_id":     {p.ClientID()},
		"redirect_uri":  {redirectURI},
		"response_type": {"id_token"},
		"scope":         {"openid"},
		"state":         {"s"},
		"nonce":         {"implicit-nonce"},
	}
	resp, _ := authorize(t, noRedirect(nil), p, params)
	frag := redirectParams(t, resp, true)
	assert.Equal(t, "s", frag.Get("state"))
	assert.False(t, frag.Has("code"))
	idt, err := verifier(t, p).Verify(context.Background(), frag.Get("id_token"))
	require.NoError(t, err)
	assert.Equal(t, "implicit-nonce", idt.Nonce)
	assert.Equal(t, "x@example.com", claimsOf(t, idt)["email"])

	t.Run("nonce required", func(t *testing.T) {
		bad := url.Values{"client_id": {p.ClientID()}, "redirect_uri": {redirectURI}, "response_type": {"id_token"}, "scope": {"openid"}, "state": {"s"}}
		resp, _ := authorize(t, noRedirect(nil), p, bad)
		frag := redirectParams(t, resp, true)
		assert.Equal(t, "invalid_request", frag.Get("error"))
		assert.Equal(t, "s", frag.Get("state"))
	})
	t.Run("query mode refused for id_token", func(t *testing.T) {
		q := url.Values{"client_id": {p.ClientID()}, "redirect_uri": {redirectURI}, "response_type": {"id_token"},
			"scope": {"openid"}, "nonce": {"n"}, "response_mode": {"query"}}
		resp, _ := authorize(t, noRedirect(nil), p, q)
		frag := redirectParams(t, resp, true)
		assert.Equal(t, "invalid_request", frag.Get("error"))
	})
}

func TestHybridFlow(t *testing.T) {
	p := newProvider(t, oidctest.Options{})
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	params := codeParams(p, v)
	params.Set("response_type", "code id_token")
	params.Set("response_mode", "form_post")
	resp, body := authorize(t, noRedirect(nil), p, params)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	fields := formFields(body)
	code := fields.Get("code")
	require.NotEmpty(t, code)
	idt, err := verifier(t, p).Verify(context.Background(), fields.Get("id_token"))
	require.NoError(t, err)
	assert.Equal(t, "nonce-1", idt.Nonce)
	sum := sha256.Sum256([]byte(code))
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:16]), claimsOf(t, idt)["c_hash"])

	status, tok := postToken(t, p, codeForm(code, v), true)
	require.Equal(t, 200, status)
	idt2, err := verifier(t, p).Verify(context.Background(), tok["id_token"].(string))
	require.NoError(t, err)
	assert.Equal(t, "nonce-1", idt2.Nonce)
	assert.Equal(t, idt.Subject, idt2.Subject)

	t.Run("default response mode is fragment", func(t *testing.T) {
		params := codeParams(p, v)
		params.Set("response_type", "id_token code")
		resp, _ := authorize(t, noRedirect(nil), p, params)
		frag := redirectParams(t, resp, true)
		assert.NotEmpty(t, frag.Get("code"))
		assert.NotEmpty(t, frag.Get("id_token"))
	})
}

func TestRefreshRotation(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	login := func(t *testing.T, p *oidctest.Provider) map[string]any {
		code := getCode(t, p, codeParams(p, v))
		status, tok := postToken(t, p, codeForm(code, v), true)
		require.Equal(t, 200, status)
		return tok
	}
	refresh := func(t *testing.T, p *oidctest.Provider, rt string) (int, map[string]any) {
		return postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, true)
	}

	t.Run("rotation", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		first := login(t, p)
		rt1 := first["refresh_token"].(string)
		status, second := refresh(t, p, rt1)
		require.Equal(t, 200, status, second)
		rt2, _ := second["refresh_token"].(string)
		require.NotEmpty(t, rt2)
		assert.NotEqual(t, rt1, rt2)
		assert.NotEqual(t, first["access_token"], second["access_token"])
		idt, err := verifier(t, p).Verify(context.Background(), second["id_token"].(string))
		require.NoError(t, err)
		c := claimsOf(t, idt)
		assert.NotContains(t, c, "nonce")
		assert.NotContains(t, c, "sid")
		assert.Equal(t, "user-1", c["sub"])
		assert.Equal(t, http.StatusOK, userinfoStatus(t, p, second["access_token"].(string)))

		status, body := refresh(t, p, rt1)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_grant", body["error"])
		status, _ = refresh(t, p, rt2)
		assert.Equal(t, 200, status)
	})
	t.Run("reuse detection revokes the family", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{RefreshTokenReuseDetection: true})
		rt1 := login(t, p)["refresh_token"].(string)
		_, second := refresh(t, p, rt1)
		status, _ := refresh(t, p, rt1)
		assert.Equal(t, 400, status)
		status, _ = refresh(t, p, second["refresh_token"].(string))
		assert.Equal(t, 400, status)
		assert.Equal(t, http.StatusUnauthorized, userinfoStatus(t, p, second["access_token"].(string)))
	})
	t.Run("rotation disabled", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DisableRefreshTokenRotation: true})
		rt := login(t, p)["refresh_token"].(string)
		for range 2 {
			status, body := refresh(t, p, rt)
			require.Equal(t, 200, status)
			assert.NotContains(t, body, "refresh_token")
		}
	})
	t.Run("scope narrowing", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		rt := login(t, p)["refresh_token"].(string)
		status, body := postToken(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid admin"}}, true)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_scope", body["error"])
	})
	t.Run("RevokeAll", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		rt := login(t, p)["refresh_token"].(string)
		p.RevokeAll()
		status, body := refresh(t, p, rt)
		assert.Equal(t, 400, status)
		assert.Equal(t, "invalid_grant", body["error"])
	})
}

func userinfoStatus(t *testing.T, p *oidctest.Provider, at string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL()+oidctest.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestUserinfo(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	now := time.Now()
	p := newProvider(t, oidctest.Options{
		Claims: map[string]any{"email": "u@example.com"},
		Now:    func() time.Time { return now },
	})
	code := getCode(t, p, codeParams(p, v))
	_, tok := postToken(t, p, codeForm(code, v), true)
	at := tok["access_token"].(string)

	tests := []struct {
		name       string
		target     string
		header     string
		wantStatus int
		wantWWW    string
	}{
		{"bearer", "", "Bearer " + at, 200, ""},
		{"lower-case scheme", "", "bearer " + at, 200, ""},
		{"no token", "", "", 401, `Bearer realm="oidctest"`},
		{"basic scheme", "", "Basic Zm9vOmJhcg==", 401, `Bearer realm="oidctest"`},
		{"bad token", "", "Bearer nope", 401, `error="invalid_token"`},
		{"token in query", "?access_token=" + at, "", 400, `error="invalid_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, p.URL()+oidctest.PathUserinfo+tt.target, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), tt.wantWWW)
			if tt.wantStatus == 200 {
				var m map[string]any
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
				assert.Equal(t, map[string]any{"sub": "user-1", "email": "u@example.com"}, m)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		p.SetOptions(func(o *oidctest.Options) { o.Now = func() time.Time { return now.Add(2 * time.Hour) } })
		assert.Equal(t, http.StatusUnauthorized, userinfoStatus(t, p, at))
	})
}

func TestEndSession(t *testing.T) {
	const plru = "http://app.example/logged-out"
	tests := []struct {
		name       string
		opts       oidctest.Options
		params     func(p *oidctest.Provider) url.Values
		wantStatus int
		wantLoc    string
	}{
		{"hint + redirect + state", oidctest.Options{PostLogoutRedirectURIs: []string{plru}}, func(p *oidctest.Provider) url.Values {
			return url.Values{"id_token_hint": {p.IDToken("user-1", "", nil)}, "post_logout_redirect_uri": {plru}, "state": {"a b"}}
		}, 302, plru + "?state=a+b"},
		{"client_id + redirect", oidctest.Options{}, func(p *oidctest.Provider) url.Values {
			return url.Values{"client_id": {p.ClientID()}, "post_logout_redirect_uri": {plru + "?x=1"}}
		}, 302, plru + "?x=1"},
		{"no redirect: logged-out page", oidctest.Options{}, func(p *oidctest.Provider) url.Values {
			return url.Values{"client_id": {p.ClientID()}}
		}, 200, ""},
		{"redirect not registered", oidctest.Options{PostLogoutRedirectURIs: []string{plru}}, func(p *oidctest.Provider) url.Values {
			return url.Values{"client_id": {p.ClientID()}, "post_logout_redirect_uri": {"https://evil.example/"}}
		}, 400, ""},
		{"redirect without client identification", oidctest.Options{}, func(p *oidctest.Provider) url.Values {
			return url.Values{"post_logout_redirect_uri": {plru}}
		}, 400, ""},
		{"bad hint signature", oidctest.Options{}, func(p *oidctest.Provider) url.Values {
			tok := p.IDToken("user-1", "", nil)
			return url.Values{"id_token_hint": {oidctest.Tamper(tok, 4)}}
		}, 400, ""},
		{"hint for another audience", oidctest.Options{}, func(p *oidctest.Provider) url.Values {
			return url.Values{"id_token_hint": {p.IDToken("user-1", "", map[string]any{"aud": "other"})}}
		}, 400, ""},
		{"unknown client", oidctest.Options{}, func(p *oidctest.Provider) url.Values {
			return url.Values{"client_id": {"other"}}
		}, 400, ""},
		{"disabled", oidctest.Options{DisableEndSession: true}, func(p *oidctest.Provider) url.Values {
			return url.Values{"client_id": {p.ClientID()}}
		}, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.opts)
			resp, err := noRedirect(nil).Get(p.URL() + oidctest.PathEndSession + "?" + tt.params(p).Encode())
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			assert.Equal(t, tt.wantLoc, resp.Header.Get("Location"))
			if tt.wantStatus == 200 {
				assert.Contains(t, string(body), "You are logged out")
			}
			if tt.wantStatus < 400 {
				assert.Contains(t, resp.Header.Get("Set-Cookie"), oidctest.SessionCookieName+"=;")
			}
			assert.Equal(t, 1, p.Calls("end_session"))
		})
	}

	t.Run("ends the OP session", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{RequireSessionForPromptNone: true})
		jar, _ := cookiejar.New(nil)
		c := noRedirect(jar)
		const v = "verifier-0123456789-0123456789-0123456789-abc"
		params := codeParams(p, v)
		resp, _ := authorize(t, c, p, params)
		require.NotEmpty(t, redirectParams(t, resp, false).Get("code"))
		params.Set("prompt", "none")
		resp, _ = authorize(t, c, p, params)
		require.NotEmpty(t, redirectParams(t, resp, false).Get("code"))

		r, err := c.Get(p.URL() + oidctest.PathEndSession + "?client_id=" + p.ClientID())
		require.NoError(t, err)
		r.Body.Close()
		resp, _ = authorize(t, c, p, params)
		assert.Equal(t, "login_required", redirectParams(t, resp, false).Get("error"))
	})
	t.Run("hint signed before RotateKeys", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		hint := p.IDToken("user-1", "", nil)
		p.RotateKeys()
		resp, err := noRedirect(nil).Get(p.URL() + oidctest.PathEndSession + "?id_token_hint=" + hint)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode)
	})
}

func TestSetDown(t *testing.T) {
	p := newProvider(t, oidctest.Options{})
	p.SetDown(true)
	paths := map[string]string{
		"discovery":   oidctest.PathDiscovery,
		"jwks":        oidctest.PathJWKS,
		"authorize":   oidctest.PathAuthorize,
		"token":       oidctest.PathToken,
		"userinfo":    oidctest.PathUserinfo,
		"end_session": oidctest.PathEndSession,
		"revoke":      oidctest.PathRevoke,
	}
	for ep, path := range paths {
		resp, err := http.Get(p.URL() + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, ep)
		assert.Equal(t, 1, p.Calls(ep), ep)
	}
	_, err := oidc.NewProvider(context.Background(), p.Issuer())
	require.Error(t, err)

	p.SetDown(false)
	_, err = oidc.NewProvider(context.Background(), p.Issuer())
	require.NoError(t, err)
}

func TestInteractiveLogin(t *testing.T) {
	p := newProvider(t, oidctest.Options{Interactive: true, Claims: map[string]any{"email_verified": true}})
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	params := codeParams(p, v)

	resp, body := authorize(t, c, p, params)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Development provider — not for production")
	assert.Contains(t, body, `id="username"`)
	assert.Contains(t, body, `name="username"`)
	assert.Contains(t, body, `id="login"`)
	assert.Contains(t, body, `type="submit"`)
	assert.NotRegexp(t, `(src|href)="https?:`, body)
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	hidden := formFields(body)
	assert.Equal(t, params, hidden)

	post := func(form url.Values) (*http.Response, string) {
		resp, err := c.PostForm(p.URL()+oidctest.PathAuthorize, form)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	// Empty name: the page comes back with an error.
	hidden.Set("username", "  ")
	resp, body = post(hidden)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Please enter a user name.")

	hidden.Set("username", "alice")
	resp, _ = post(hidden)
	code := redirectParams(t, resp, false).Get("code")
	require.NotEmpty(t, code)
	status, tok := postToken(t, p, codeForm(code, v), true)
	require.Equal(t, 200, status)
	idt, err := verifier(t, p).Verify(context.Background(), tok["id_token"].(string))
	require.NoError(t, err)
	cl := claimsOf(t, idt)
	assert.Equal(t, "alice", cl["sub"])
	assert.Equal(t, "alice", cl["name"])
	assert.Equal(t, true, cl["email_verified"])

	// The OP session lets prompt=none (and a plain request) through.
	params.Set("prompt", "none")
	resp, _ = authorize(t, c, p, params)
	assert.NotEmpty(t, redirectParams(t, resp, false).Get("code"))
	// prompt=login forces the page.
	params.Set("prompt", "login")
	resp, body = authorize(t, c, p, params)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `id="username"`)
	// Without the session cookie prompt=none fails.
	params.Set("prompt", "none")
	resp, _ = authorize(t, noRedirect(nil), p, params)
	q := redirectParams(t, resp, false)
	assert.Equal(t, "login_required", q.Get("error"))
	assert.Equal(t, "st-1", q.Get("state"))
}

func TestAuthorizeErrors(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	tests := []struct {
		name      string
		opts      oidctest.Options
		mutate    func(url.Values)
		wantPage  bool // 400 page instead of a redirect
		wantError string
	}{
		{"unknown client", oidctest.Options{}, func(q url.Values) { q.Set("client_id", "x") }, true, "invalid_client"},
		{"missing redirect_uri", oidctest.Options{}, func(q url.Values) { q.Del("redirect_uri") }, true, "invalid_request"},
		{"unregistered redirect_uri", oidctest.Options{RedirectURIs: []string{"http://app.example/cb2"}}, nil, true, "invalid_request"},
		{"redirect_uri with fragment", oidctest.Options{}, func(q url.Values) { q.Set("redirect_uri", redirectURI+"#x") }, true, "invalid_request"},
		{"javascript redirect_uri", oidctest.Options{}, func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") }, true, "invalid_request"},
		{"unsupported response_type", oidctest.Options{}, func(q url.Values) { q.Set("response_type", "token") }, false, "unsupported_response_type"},
		{"no openid scope", oidctest.Options{}, func(q url.Values) { q.Set("scope", "profile") }, false, "invalid_scope"},
		{"plain PKCE", oidctest.Options{}, func(q url.Values) { q.Set("code_challenge_method", "plain") }, false, "invalid_request"},
		{"challenge without method", oidctest.Options{}, func(q url.Values) { q.Del("code_challenge_method") }, false, "invalid_request"},
		{"PKCE required", oidctest.Options{RequirePKCE: true}, func(q url.Values) {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}, false, "invalid_request"},
		{"bad max_age", oidctest.Options{}, func(q url.Values) { q.Set("max_age", "-1") }, false, "invalid_request"},
		{"prompt none with login", oidctest.Options{}, func(q url.Values) { q.Set("prompt", "none login") }, false, "invalid_request"},
		{"unsigned request object", oidctest.Options{}, func(q url.Values) { q.Set("request", "e30.e30.") }, true, "invalid_request_object"},
		{"repeated state", oidctest.Options{}, func(q url.Values) { q.Add("state", "again") }, false, "invalid_request"},
		{"bad response_mode", oidctest.Options{}, func(q url.Values) { q.Set("response_mode", "web_message") }, false, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.opts)
			q := codeParams(p, v)
			if tt.mutate != nil {
				tt.mutate(q)
			}
			resp, body := authorize(t, noRedirect(nil), p, q)
			if tt.wantPage {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
				assert.Empty(t, resp.Header.Get("Location"))
				assert.Contains(t, body, tt.wantError)
				return
			}
			got := redirectParams(t, resp, false)
			assert.Equal(t, tt.wantError, got.Get("error"), got.Get("error_description"))
			assert.NotEmpty(t, got.Get("error_description"))
			assert.False(t, got.Has("code"))
		})
	}

	t.Run("iss in error responses", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{AuthorizationResponseIssParameter: true})
		q := codeParams(p, v)
		q.Set("scope", "email")
		resp, _ := authorize(t, noRedirect(nil), p, q)
		got := redirectParams(t, resp, false)
		assert.Equal(t, "invalid_scope", got.Get("error"))
		assert.Equal(t, p.Issuer(), got.Get("iss"))
		assert.Equal(t, "st-1", got.Get("state"))
	})
	t.Run("redirect_uri query is kept", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		q := codeParams(p, v)
		q.Set("redirect_uri", redirectURI+"?tenant=a")
		resp, _ := authorize(t, noRedirect(nil), p, q)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "a", loc.Query().Get("tenant"))
		assert.NotEmpty(t, loc.Query().Get("code"))
	})
}

func TestPromptNoneAndMaxAge(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	t.Run("auto-login answers prompt=none", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		q := codeParams(p, v)
		q.Set("prompt", "none")
		assert.NotEmpty(t, getCode(t, p, q))
	})
	t.Run("RequireSessionForPromptNone", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{RequireSessionForPromptNone: true})
		q := codeParams(p, v)
		q.Set("prompt", "none")
		resp, _ := authorize(t, noRedirect(nil), p, q)
		assert.Equal(t, "login_required", redirectParams(t, resp, false).Get("error"))
	})
	t.Run("max_age gives auth_time", func(t *testing.T) {
		now := time.Unix(1_700_000_000, 0)
		p := newProvider(t, oidctest.Options{Now: func() time.Time { return now }})
		q := codeParams(p, v)
		q.Set("max_age", "0")
		code := getCode(t, p, q)
		_, tok := postToken(t, p, codeForm(code, v), true)
		parts := strings.Split(tok["id_token"].(string), ".")
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		require.NoError(t, err)
		var c map[string]any
		require.NoError(t, json.Unmarshal(raw, &c))
		assert.Equal(t, float64(now.Unix()), c["auth_time"])
		assert.Equal(t, float64(now.Unix()), c["iat"])
		assert.Equal(t, float64(now.Add(time.Hour).Unix()), c["exp"])
	})
	t.Run("session too old for max_age", func(t *testing.T) {
		now := time.Now()
		p := newProvider(t, oidctest.Options{Now: func() time.Time { return now }})
		jar, _ := cookiejar.New(nil)
		c := noRedirect(jar)
		q := codeParams(p, v)
		resp, _ := authorize(t, c, p, q)
		require.NotEmpty(t, redirectParams(t, resp, false).Get("code"))
		p.SetOptions(func(o *oidctest.Options) { o.Now = func() time.Time { return now.Add(10 * time.Minute) } })
		q.Set("prompt", "none")
		q.Set("max_age", "60")
		resp, _ = authorize(t, c, p, q)
		assert.Equal(t, "login_required", redirectParams(t, resp, false).Get("error"))
	})
}

func TestMutateIDToken(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	tests := []struct {
		name    string
		mutate  func(h, c map[string]any)
		wantErr string
	}{
		{"valid", func(h, c map[string]any) {}, ""},
		{"wrong iss", func(h, c map[string]any) { c["iss"] = "https://evil.example/" }, "different provider"},
		{"wrong aud", func(h, c map[string]any) { c["aud"] = "other" }, "audience"},
		{"alg none", func(h, c map[string]any) { h["alg"] = "none"; delete(h, "kid") }, "unexpected signature algorithm"},
		{"HS256 with client secret", func(h, c map[string]any) { h["alg"] = "HS256" }, "unexpected signature algorithm"},
		{"unknown kid", func(h, c map[string]any) { h["kid"] = "nope" }, "signature"},
		{"expired", func(h, c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{MutateIDToken: tt.mutate})
			code := getCode(t, p, codeParams(p, v))
			status, tok := postToken(t, p, codeForm(code, v), true)
			require.Equal(t, 200, status)
			raw := tok["id_token"].(string)
			_, err := verifier(t, p).Verify(context.Background(), raw)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	t.Run("none has empty signature", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{MutateIDToken: func(h, c map[string]any) { h["alg"] = "none" }})
		q := codeParams(p, v)
		q.Set("response_type", "id_token")
		resp, _ := authorize(t, noRedirect(nil), p, q)
		tok := redirectParams(t, resp, true).Get("id_token")
		assert.True(t, strings.HasSuffix(tok, "."), tok)
	})
}

func TestTokenExchange(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	p := newProvider(t, oidctest.Options{})
	code := getCode(t, p, codeParams(p, v))
	_, tok := postToken(t, p, codeForm(code, v), true)
	form := url.Values{
		"grant_type":         {oidctest.GrantTypeTokenExchange},
		"subject_token":      {tok["access_token"].(string)},
		"subject_token_type": {oidctest.TokenTypeAccessToken},
		"audience":           {"https://api.example"},
	}
	status, body := postToken(t, p, form, true)
	require.Equal(t, 200, status, body)
	assert.Equal(t, oidctest.TokenTypeAccessToken, body["issued_token_type"])
	assert.Equal(t, "Bearer", body["token_type"])
	assert.Equal(t, http.StatusOK, userinfoStatus(t, p, body["access_token"].(string)))
	assert.Equal(t, "https://api.example", p.LastTokenRequest().PostForm.Get("audience"))

	form.Set("actor_token", "x")
	status, body = postToken(t, p, form, true)
	assert.Equal(t, 400, status)
	assert.Equal(t, "invalid_request", body["error"])
}

func TestRevoke(t *testing.T) {
	const v = "verifier-0123456789-0123456789-0123456789-abc"
	p := newProvider(t, oidctest.Options{})
	code := getCode(t, p, codeParams(p, v))
	_, tok := postToken(t, p, codeForm(code, v), true)
	req, _ := http.NewRequest(http.MethodPost, p.URL()+oidctest.PathRevoke,
		strings.NewReader(url.Values{"token": {tok["refresh_token"].(string)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID(), p.ClientSecret())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, 1, p.Calls("revoke"))
	assert.Equal(t, http.StatusUnauthorized, userinfoStatus(t, p, tok["access_token"].(string)))
}

func TestHelpers(t *testing.T) {
	p := newProvider(t, oidctest.Options{Claims: map[string]any{"email": "e@example.com"}})
	idt, err := verifier(t, p).Verify(context.Background(), p.IDToken("bob", "n1", map[string]any{"email": nil, "x": "y"}))
	require.NoError(t, err)
	c := claimsOf(t, idt)
	assert.Equal(t, "bob", c["sub"])
	assert.Equal(t, "n1", c["nonce"])
	assert.Equal(t, "y", c["x"])
	assert.NotContains(t, c, "email")

	raw := p.SignIDToken(map[string]any{"sub": "only"})
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	assert.Equal(t, p.KeyID(), jws.Signatures[0].Header.KeyID)
	payload, err := jws.Verify(p.PublicKey())
	require.NoError(t, err)
	assert.JSONEq(t, `{"sub":"only"}`, string(payload))

	lt := p.LogoutToken("bob", "sid-1", nil)
	jws, err = jose.ParseSignedCompact(lt, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	assert.Equal(t, "logout+jwt", jws.Signatures[0].Header.ExtraHeaders["typ"])
	payload, err = jws.Verify(p.PublicKey())
	require.NoError(t, err)
	var lc map[string]any
	require.NoError(t, json.Unmarshal(payload, &lc))
	assert.Equal(t, "sid-1", lc["sid"])
	assert.Contains(t, lc["events"], "http://schemas.openid.net/event/backchannel-logout")
	assert.NotContains(t, lc, "nonce")

	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		key := strings.Repeat("k", 64)
		tok, err := oidctest.SignJWT(map[string]any{"alg": alg}, map[string]any{"a": 1}, key)
		require.NoError(t, err)
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		require.NoError(t, err)
		_, err = jws.Verify([]byte(key))
		require.NoError(t, err, alg)
	}
	_, err = oidctest.SignJWT(map[string]any{"alg": "RS256"}, map[string]any{}, []byte("k"))
	assert.Error(t, err)
}

func TestServerOptions(t *testing.T) {
	t.Run("NewServer", func(t *testing.T) {
		p, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{})
		require.NoError(t, err)
		defer p.Close()
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		p.Close()
		p.Close() // idempotent
		_, err = http.Get(p.URL() + oidctest.PathDiscovery)
		assert.Error(t, err)
	})
	t.Run("bad alg", func(t *testing.T) {
		_, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Alg: "PS384"})
		assert.Error(t, err)
	})
	t.Run("Intercept", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{Intercept: func(ep string, w http.ResponseWriter, r *http.Request) bool {
			if ep != oidctest.EndpointUserinfo {
				return false
			}
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>"))
			return true
		}})
		assert.Equal(t, http.StatusOK, userinfoStatus(t, p, "anything"))
		assert.Equal(t, 1, p.Calls("userinfo"))
	})
	t.Run("Latency", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{Latency: 100 * time.Millisecond})
		start := time.Now()
		var doc map[string]any
		getJSON(t, p.URL()+oidctest.PathDiscovery, &doc)
		assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	})
	t.Run("SetOptions changes Alg", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{})
		old := p.KeyID()
		p.SetOptions(func(o *oidctest.Options) { o.Alg = "ES256" })
		assert.NotEqual(t, old, p.KeyID())
		_, err := verifier(t, p, "ES256").Verify(context.Background(), p.IDToken("u", "", nil))
		require.NoError(t, err)
	})
}

func TestConcurrentFlows(t *testing.T) {
	p := newProvider(t, oidctest.Options{})
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := oauth2.GenerateVerifier()
			q := codeParams(p, v)
			resp, err := noRedirect(nil).Get(p.URL() + oidctest.PathAuthorize + "?" + q.Encode())
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			form := codeForm(loc.Query().Get("code"), v)
			req, _ := http.NewRequest(http.MethodPost, p.URL()+oidctest.PathToken, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(p.ClientID(), p.ClientSecret())
			tr, err := http.DefaultClient.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			tr.Body.Close()
			assert.Equal(t, 200, tr.StatusCode)
			if i%2 == 0 {
				p.RotateKeys()
			}
			_ = p.LastTokenRequest()
			p.SetOptions(func(o *oidctest.Options) { o.Claims = map[string]any{"i": i} })
		}()
	}
	wg.Wait()
	assert.Equal(t, n, p.Calls("authorize"))
	assert.Equal(t, n, p.Calls("token"))
}
