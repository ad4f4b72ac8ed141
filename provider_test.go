package oidc

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// The provider client's timings and values (internal/provider), as the
// tests rely on them.
const (
	discoveryBackoffMin = 5 * time.Second
	discoveryBackoffMax = time.Minute
	jwksBackoffMin      = 5 * time.Second
	jwksCooldown        = 30 * time.Second
	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// TestFromProvider: the boundary keeps every field and the cause, so the
// sentinels stay reachable, and leaves other errors alone.
func TestFromProvider(t *testing.T) {
	t.Parallel()
	in := &provider.Error{Code: "invalid_grant", Description: "expired", URI: "https://op.example/e",
		StatusCode: http.StatusBadRequest, Err: provider.ErrTokenRequest}
	var pe *ProviderError
	require.ErrorAs(t, fromProvider(in), &pe)
	assert.Equal(t, "invalid_grant", pe.Code)
	assert.Equal(t, "expired", pe.Description)
	assert.Equal(t, "https://op.example/e", pe.URI)
	assert.Equal(t, http.StatusBadRequest, pe.StatusCode)
	assert.ErrorIs(t, pe, ErrTokenExchange)
	assert.Equal(t, "oidc: provider error: invalid_grant: expired", pe.Error())
	assert.Equal(t, in.Error(), pe.Error(), "the same text on both sides")

	plain := errors.New("x")
	assert.Same(t, plain, fromProvider(plain))

	page := pe.page()
	assert.Equal(t, http.StatusBadRequest, page.Status)
	assert.Equal(t, "invalid_grant", page.Code)
	assert.ErrorAs(t, page, &pe)
}
