package oidctest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// refreshWith runs a refresh grant with the given DPoP key (nil: no proof).
func refreshWith(t *testing.T, p *oidctest.Provider, rt string, k *oidctest.DPoPKey, extra url.Values) reply {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	for key, v := range extra {
		form[key] = v
	}
	var h http.Header
	if k != nil {
		h = dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", ""))
	}
	return send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, h, true)
}

func TestDPoPRefreshBinding(t *testing.T) {
	a, b := dpopKeys["ES256"], dpopKeys["other"]
	tests := []struct {
		name     string
		unbound  bool
		key      *oidctest.DPoPKey
		wantErr  string
		wantType string
		wantJKT  string
	}{
		{"same key", false, a, "", "DPoP", a.Thumbprint()},
		{"another key", false, b, "invalid_grant", "", ""},
		{"no proof", false, nil, "invalid_grant", "", ""},
		{"unbound refresh tokens: another key", true, b, "", "DPoP", b.Thumbprint()},
		{"unbound refresh tokens: no proof", true, nil, "", "Bearer", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{DPoP: true, DPoPUnboundRefreshTokens: tt.unbound})
			r := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader(proof(t, a, "POST", p.URL()+oidctest.PathToken, "", "")))
			require.Equal(t, http.StatusOK, r.status, r.body)
			rt := r.body["refresh_token"].(string)
			got := refreshWith(t, p, rt, tt.key, nil)
			if tt.wantErr != "" {
				assert.Equal(t, http.StatusBadRequest, got.status)
				assert.Equal(t, tt.wantErr, got.errorCode(), got.body)
				// The refused attempt did not burn the refresh token.
				again := refreshWith(t, p, rt, a, nil)
				require.Equal(t, http.StatusOK, again.status, again.body)
				assert.Equal(t, "DPoP", again.body["token_type"])
				return
			}
			require.Equal(t, http.StatusOK, got.status, got.body)
			assert.Equal(t, tt.wantType, got.body["token_type"])
			info, ok := p.AccessTokenInfo(got.body["access_token"].(string))
			require.True(t, ok)
			assert.Equal(t, tt.wantJKT, info.JKT)
			if !tt.unbound {
				// The rotated refresh token stays bound.
				assert.Equal(t, "invalid_grant", refreshWith(t, p, got.body["refresh_token"].(string), b, nil).errorCode())
			}
		})
	}
}

func TestDPoPCodeBinding(t *testing.T) {
	a, b := dpopKeys["ES256"], dpopKeys["other"]
	withJKT := func(p *oidctest.Provider, jkt string) url.Values {
		v := codeParams(p, dpopVerifier)
		v.Set("dpop_jkt", jkt)
		return v
	}
	tests := []struct {
		name    string
		key     *oidctest.DPoPKey
		wantErr string
	}{
		{"proof of the dpop_jkt key", a, ""},
		{"proof of another key", b, "invalid_grant"},
		{"no proof", nil, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run("authorize/"+tt.name, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{DPoP: true})
			var h http.Header
			if tt.key != nil {
				h = dpopHeader(proof(t, tt.key, "POST", p.URL()+oidctest.PathToken, "", ""))
			}
			r := tokenWithProof(t, p, withJKT(p, a.Thumbprint()), h)
			if tt.wantErr == "" {
				require.Equal(t, http.StatusOK, r.status, r.body)
				return
			}
			assert.Equal(t, http.StatusBadRequest, r.status)
			assert.Equal(t, tt.wantErr, r.errorCode(), r.body)
		})
	}
	t.Run("malformed dpop_jkt", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DPoP: true})
		resp, _ := authorize(t, noRedirect(nil), p, withJKT(p, "short"))
		got := redirectParams(t, resp, false)
		assert.Equal(t, "invalid_request", got.Get("error"))
	})

	// PAR: a proof binds the code like dpop_jkt.
	parTests := []struct {
		name      string
		parKey    *oidctest.DPoPKey
		dpopJKT   string
		wantPAR   string // error of the push
		tokenKey  *oidctest.DPoPKey
		wantToken string
	}{
		{"proof at PAR, same key at token", a, "", "", a, ""},
		{"proof at PAR, another key at token", a, "", "", b, "invalid_grant"},
		{"proof and matching dpop_jkt", a, a.Thumbprint(), "", a, ""},
		{"proof and another dpop_jkt", a, b.Thumbprint(), "invalid_request", nil, ""},
		{"dpop_jkt only", nil, b.Thumbprint(), "", a, "invalid_grant"},
	}
	for _, tt := range parTests {
		t.Run("PAR/"+tt.name, func(t *testing.T) {
			p := newProvider(t, oidctest.Options{DPoP: true})
			form := codeParams(p, dpopVerifier)
			if tt.dpopJKT != "" {
				form.Set("dpop_jkt", tt.dpopJKT)
			}
			var h http.Header
			if tt.parKey != nil {
				h = dpopHeader(proof(t, tt.parKey, "POST", p.URL()+oidctest.PathPAR, "", ""))
			}
			r := send(t, p, http.MethodPost, p.URL()+oidctest.PathPAR, form, h, true)
			if tt.wantPAR != "" {
				assert.Equal(t, http.StatusBadRequest, r.status)
				assert.Equal(t, tt.wantPAR, r.errorCode(), r.body)
				return
			}
			require.Equal(t, http.StatusCreated, r.status, r.body)
			q := url.Values{"client_id": {p.ClientID()}, "request_uri": {r.body["request_uri"].(string)}}
			tok := tokenWithProof(t, p, q, dpopHeader(proof(t, tt.tokenKey, "POST", p.URL()+oidctest.PathToken, "", "")))
			if tt.wantToken == "" {
				require.Equal(t, http.StatusOK, tok.status, tok.body)
				return
			}
			assert.Equal(t, tt.wantToken, tok.errorCode(), tok.body)
		})
	}
	t.Run("PAR/invalid proof", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DPoP: true})
		r := send(t, p, http.MethodPost, p.URL()+oidctest.PathPAR, codeParams(p, dpopVerifier),
			dpopHeader(proof(t, a, "POST", p.URL()+oidctest.PathToken, "", "")), true)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_dpop_proof", r.errorCode())
		assert.NotEmpty(t, p.LastDPoPProof(oidctest.EndpointPAR))
	})
}

func TestDPoPNonce(t *testing.T) {
	a := dpopKeys["ES256"]
	t.Run("token endpoint", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DPoPNonce: true})
		tokenURL := p.URL() + oidctest.PathToken
		code := getCode(t, p, codeParams(p, dpopVerifier))
		form := codeForm(code, dpopVerifier)

		r := send(t, p, http.MethodPost, tokenURL, form, dpopHeader(proof(t, a, "POST", tokenURL, "", "")), true)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "use_dpop_nonce", r.errorCode())
		nonce := r.header.Get("DPoP-Nonce")
		assert.Equal(t, p.DPoPNonce(), nonce)
		assert.NotEqual(t, p.ResourceDPoPNonce(), nonce, "the resources have their own nonce")

		r = send(t, p, http.MethodPost, tokenURL, form, dpopHeader(proof(t, a, "POST", tokenURL, "wrong", "")), true)
		assert.Equal(t, "use_dpop_nonce", r.errorCode(), "a wrong nonce")

		r = send(t, p, http.MethodPost, tokenURL, form, dpopHeader(proof(t, a, "POST", tokenURL, nonce, "")), true)
		require.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "DPoP", r.body["token_type"])
		assert.Equal(t, nonce, r.header.Get("DPoP-Nonce"))

		p.RotateDPoPNonce()
		rt := r.body["refresh_token"].(string)
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		r = send(t, p, http.MethodPost, tokenURL, refresh, dpopHeader(proof(t, a, "POST", tokenURL, nonce, "")), true)
		assert.Equal(t, "use_dpop_nonce", r.errorCode(), "the old nonce after rotation")
		fresh := r.header.Get("DPoP-Nonce")
		assert.NotEqual(t, nonce, fresh)
		r = send(t, p, http.MethodPost, tokenURL, refresh, dpopHeader(proof(t, a, "POST", tokenURL, fresh, "")), true)
		assert.Equal(t, http.StatusOK, r.status, r.body)
	})
	t.Run("PAR", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{DPoPNonce: true})
		parURL := p.URL() + oidctest.PathPAR
		r := send(t, p, http.MethodPost, parURL, codeParams(p, dpopVerifier), dpopHeader(proof(t, a, "POST", parURL, "", "")), true)
		assert.Equal(t, "use_dpop_nonce", r.errorCode())
		r = send(t, p, http.MethodPost, parURL, codeParams(p, dpopVerifier), dpopHeader(proof(t, a, "POST", parURL, r.header.Get("DPoP-Nonce"), "")), true)
		assert.Equal(t, http.StatusCreated, r.status, r.body)
	})
	t.Run("userinfo", func(t *testing.T) {
		p := newProvider(t, oidctest.Options{ResourceDPoPNonce: true})
		tok := tokenWithProof(t, p, codeParams(p, dpopVerifier), dpopHeader(proof(t, a, "POST", p.URL()+oidctest.PathToken, "", "")))
		require.Equal(t, http.StatusOK, tok.status, "the token endpoint needs no nonce: %v", tok.body)
		at := tok.body["access_token"].(string)
		ui := p.URL() + oidctest.PathUserinfo
		h := dpopHeader(proof(t, a, "GET", ui, "", at))
		h.Set("Authorization", "DPoP "+at)
		r := send(t, p, http.MethodGet, ui, nil, h, false)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.header.Get("WWW-Authenticate"), `DPoP realm="oidctest", error="use_dpop_nonce"`)
		nonce := r.header.Get("DPoP-Nonce")
		assert.Equal(t, p.ResourceDPoPNonce(), nonce)

		h = dpopHeader(proof(t, a, "GET", ui, nonce, at))
		h.Set("Authorization", "DPoP "+at)
		r = send(t, p, http.MethodGet, ui, nil, h, false)
		assert.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "user-1", r.body["sub"])
	})
}

func TestDPoPTokenExchange(t *testing.T) {
	p := newProvider(t, oidctest.Options{DPoP: true})
	k := dpopKeys["EdDSA"]
	first := tokenWithProof(t, p, codeParams(p, dpopVerifier), nil)
	require.Equal(t, http.StatusOK, first.status, first.body)
	form := url.Values{
		"grant_type":         {oidctest.GrantTypeTokenExchange},
		"subject_token":      {first.body["access_token"].(string)},
		"subject_token_type": {oidctest.TokenTypeAccessToken},
	}
	r := send(t, p, http.MethodPost, p.URL()+oidctest.PathToken, form, dpopHeader(proof(t, k, "POST", p.URL()+oidctest.PathToken, "", "")), true)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "DPoP", r.body["token_type"])
	info, ok := p.AccessTokenInfo(r.body["access_token"].(string))
	require.True(t, ok)
	assert.Equal(t, k.Thumbprint(), info.JKT)
}
