package oidctest_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestReadAuthorizationResponse reads the provider's answer in each
// response mode, and the request that delivers it.
func TestReadAuthorizationResponse(t *testing.T) {
	t.Parallel()
	p := newProvider(t, oidctest.Options{})
	tests := []struct {
		name, responseType, mode string
		wantMethod               string
		fragment                 bool
		wantParam                string
	}{
		{"query", "code", "query", http.MethodGet, false, "code"},
		{"fragment", "id_token", "fragment", http.MethodGet, true, "id_token"},
		{"form_post", "code", "form_post", http.MethodPost, false, "code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			params := codeParams(p, "verifier-verifier-verifier-verifier-verifier-1")
			params.Set("response_type", tc.responseType)
			params.Set("response_mode", tc.mode)
			resp, err := noRedirect(nil).Get(p.URL() + oidctest.PathAuthorize + "?" + params.Encode())
			require.NoError(t, err)
			ar, err := oidctest.ReadAuthorizationResponse(resp)
			require.NoError(t, err)
			assert.Equal(t, redirectURI, ar.URL)
			assert.Equal(t, tc.wantMethod, ar.Method)
			assert.Equal(t, tc.fragment, ar.Fragment)
			assert.Equal(t, "st-1", ar.Params.Get("state"))
			assert.NotEmpty(t, ar.Params.Get(tc.wantParam))

			req, err := ar.Request()
			require.NoError(t, err)
			assert.Equal(t, tc.wantMethod, req.Method)
			if tc.wantMethod == http.MethodPost {
				assert.Equal(t, "application/x-www-form-urlencoded", req.Header.Get("Content-Type"))
				body, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				assert.Equal(t, ar.Params.Encode(), string(body))
				assert.Equal(t, redirectURI, req.URL.String())
			} else {
				assert.Equal(t, redirectURI+"?"+ar.Params.Encode(), req.URL.String())
			}
		})
	}

	t.Run("an error page is an error", func(t *testing.T) {
		t.Parallel()
		params := codeParams(p, "verifier-verifier-verifier-verifier-verifier-1")
		params.Set("redirect_uri", "not a URL")
		resp, err := noRedirect(nil).Get(p.URL() + oidctest.PathAuthorize + "?" + params.Encode())
		require.NoError(t, err)
		_, err = oidctest.ReadAuthorizationResponse(resp)
		assert.Error(t, err)
	})
}
