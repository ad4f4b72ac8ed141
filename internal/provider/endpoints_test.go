package provider

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Unit tests of the endpoint rules. The behaviour behind them (discovery,
// logins, logouts) is tested end to end in the root package.

// TestCheckEndpoints unit-tests DISC-01's endpoint rules.
func TestCheckEndpoints(t *testing.T) {
	t.Parallel()
	good := func(scheme string) Metadata {
		b := scheme + "://op.example"
		return Metadata{
			Issuer:                b + "/",
			AuthorizationEndpoint: b + "/authorize",
			TokenEndpoint:         b + "/token",
			UserinfoEndpoint:      b + "/userinfo",
			JWKSURI:               b + "/jwks",
			EndSessionEndpoint:    b + "/logout",
		}
	}
	cases := []struct {
		name   string
		md     func() Metadata
		errSub string // "" means accepted
	}{
		{"https issuer, https endpoints", func() Metadata { return good("https") }, ""},
		{"http issuer, http endpoints (development)", func() Metadata { return good("http") }, ""},
		{"http issuer, https endpoints", func() Metadata { md := good("https"); md.Issuer = "http://op.example/"; return md }, ""},
		{"optional endpoints absent", func() Metadata {
			md := good("https")
			md.TokenEndpoint, md.UserinfoEndpoint, md.EndSessionEndpoint = "", "", ""
			return md
		}, ""},
		{"https issuer, http authorization_endpoint", func() Metadata {
			md := good("https")
			md.AuthorizationEndpoint = "http://op.example/authorize"
			return md
		}, "authorization_endpoint"},
		{"https issuer, http token_endpoint", func() Metadata { md := good("https"); md.TokenEndpoint = "http://op.example/token"; return md }, "token_endpoint"},
		{"https issuer, http userinfo_endpoint", func() Metadata {
			md := good("https")
			md.UserinfoEndpoint = "http://op.example/userinfo"
			return md
		}, "userinfo_endpoint"},
		{"https issuer, http jwks_uri", func() Metadata { md := good("https"); md.JWKSURI = "http://op.example/jwks"; return md }, "jwks_uri"},
		{"https issuer, http end_session_endpoint", func() Metadata {
			md := good("https")
			md.EndSessionEndpoint = "http://op.example/logout"
			return md
		}, "end_session_endpoint"},
		{"https issuer, upper-case HTTP endpoint", func() Metadata {
			md := good("https")
			md.JWKSURI = "HTTP://op.example/jwks"
			return md
		}, "jwks_uri"},
		{"no authorization_endpoint", func() Metadata { md := good("https"); md.AuthorizationEndpoint = ""; return md }, "authorization_endpoint"},
		{"no jwks_uri", func() Metadata { md := good("https"); md.JWKSURI = ""; return md }, "jwks_uri"},
		{"relative endpoint", func() Metadata { md := good("https"); md.TokenEndpoint = "/token"; return md }, "token_endpoint"},
		{"protocol-relative endpoint", func() Metadata { md := good("https"); md.TokenEndpoint = "//op.example/token"; return md }, "token_endpoint"},
		{"javascript endpoint", func() Metadata {
			md := good("https")
			md.AuthorizationEndpoint = "javascript:alert(1)"
			return md
		}, "authorization_endpoint"},
		{"unparsable endpoint", func() Metadata { md := good("https"); md.JWKSURI = "https://op.example/%zz"; return md }, "jwks_uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			md := tc.md()
			err := checkEndpoints(&md)
			if tc.errSub == "" {
				assert.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.Equal(t, "provider_unavailable", err.Code)
			assert.Equal(t, http.StatusBadGateway, err.StatusCode)
			assert.Contains(t, err.Error(), tc.errSub)
		})
	}
	t.Run("https issuer with an upper-case scheme, http endpoint", func(t *testing.T) {
		t.Parallel()
		md := good("https")
		md.Issuer = "HTTPS://op.example/"
		md.AuthorizationEndpoint = "http://op.example/authorize"
		if checkEndpoints(&md) == nil {
			// normalizeIssuer lower-cases the scheme, so this issuer matches an
			// https IssuerBaseURL, yet checkEndpoints' case-sensitive prefix
			// test treats it as an http issuer.
			t.Error(`discovery.go checkEndpoints: strings.HasPrefix(md.Issuer, "https:") is case-sensitive, ` +
				`so issuer "HTTPS://op.example/" (equal to IssuerBaseURL https://op.example after normalizeIssuer) ` +
				`accepts http endpoints`)
		}
	})
}

// TestRevocationEndpoint unit-tests the choice of the revocation endpoint,
// with and without UseMTLS.
func TestRevocationEndpoint(t *testing.T) {
	t.Parallel()
	newClient := func(mtls bool) *Client {
		return testClient(func(s *Settings) { s.UseMTLS = mtls })
	}
	raw := func(v any) json.RawMessage { return mustJSON(v) }
	cases := []struct {
		name    string
		mtls    bool
		md      Metadata
		want    string
		wantErr string
	}{
		{"standard", false, Metadata{RevocationEndpoint: raw("https://op.example/revoke")}, "https://op.example/revoke", ""},
		{"absent", false, Metadata{}, "", "no revocation_endpoint"},
		{"null", false, Metadata{RevocationEndpoint: json.RawMessage("null")}, "", "no revocation_endpoint"},
		{"not a string", false, Metadata{RevocationEndpoint: raw(map[string]any{"x": 1})}, "", "not a string"},
		{"http for an https issuer", false, Metadata{RevocationEndpoint: raw("http://op.example/revoke")}, "", "absolute URL"},
		{"relative", false, Metadata{RevocationEndpoint: raw("/revoke")}, "", "absolute URL"},
		{"mTLS alias", true, Metadata{RevocationEndpoint: raw("https://op.example/revoke"),
			MTLSEndpointAliases: raw(map[string]string{"revocation_endpoint": "https://mtls.op.example/revoke"})},
			"https://mtls.op.example/revoke", ""},
		{"mTLS without an alias", true, Metadata{RevocationEndpoint: raw("https://op.example/revoke"),
			MTLSEndpointAliases: raw(map[string]string{"token_endpoint": "https://mtls.op.example/token"})},
			"https://op.example/revoke", ""},
		{"mTLS alias only", true, Metadata{
			MTLSEndpointAliases: raw(map[string]string{"revocation_endpoint": "https://mtls.op.example/revoke"})},
			"https://mtls.op.example/revoke", ""},
		{"alias ignored without mTLS", false, Metadata{RevocationEndpoint: raw("https://op.example/revoke"),
			MTLSEndpointAliases: raw(map[string]string{"revocation_endpoint": "https://mtls.op.example/revoke"})},
			"https://op.example/revoke", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			md := tc.md
			md.Issuer = "https://op.example/"
			got, err := newClient(tc.mtls).revocationEndpoint(&md)
			if tc.wantErr != "" {
				require.NotNil(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Equal(t, "revocation_unsupported", err.Code)
				assert.Equal(t, tc.wantErr == "no revocation_endpoint", errors.Is(err, ErrNoRevocationEndpoint))
				return
			}
			require.Nil(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
