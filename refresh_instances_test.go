package oidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestRefreshAcrossInstances covers REF-03: two instances share a session
// store; when both refresh the same session at once, the provider rotates
// the refresh token for one of them, and the other adopts the rotated tokens
// from the store instead of failing (no user-visible logout, no lost API
// tokens).
func TestRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	store := NewMemoryStore()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		tok := c.AccessToken()
		if tok == nil {
			http.Error(w, "no access token", http.StatusUnauthorized)
			return
		}
		if tok.IsExpired() {
			var err error
			if tok, err = c.Refresh(r.Context(), RefreshOptions{}); err != nil {
				http.Error(w, "refresh failed: "+err.Error(), http.StatusBadGateway)
				return
			}
		}
		_, _ = w.Write([]byte(string(tok.Token)))
	})
	mux := http.NewServeMux()
	mux.Handle("/api", api)
	mux.Handle("/", appHandler())
	a := newTestApp(t, withProvider(oidctest.Options{AccessTokenLifetime: time.Hour}), withConfig(func(c *Config) {
		codeFlow(c)
		c.Session.Store = store
	}), withHandler(mux))
	store.Now = a.clk.Now
	mB, err := New(a.cfg)
	require.NoError(t, err)
	b := httptest.NewUnstartedServer(mB.Handler(mux))
	b.StartTLS()
	t.Cleanup(b.Close)

	br := a.browser()
	resp, body := br.login(a, "/login")
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	a.clk.Advance(2 * time.Hour) // the access token expired; the session did not
	a.op.SetOptions(func(o *oidctest.Options) { o.Latency = 150 * time.Millisecond })
	before := a.op.Calls("token")

	var wg sync.WaitGroup
	var mu sync.Mutex
	tokens := map[string]int{}
	failures := []string{}
	for i := range 20 {
		base := a.srv.URL
		if i%2 == 1 {
			base = b.URL
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := br.get(base+"/api", "Accept", "application/json")
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode != http.StatusOK {
				failures = append(failures, body)
				return
			}
			tokens[body]++
		}()
	}
	wg.Wait()
	assert.Empty(t, failures)
	assert.Len(t, tokens, 1, "every request ends with the same new access token")
	assert.LessOrEqual(t, a.op.Calls("token")-before, 2, "at most one refresh grant per instance")

	// The session in the store holds the rotated tokens: the next request
	// on either instance needs no refresh.
	calls := a.op.Calls("token")
	for _, base := range []string{a.srv.URL, b.URL} {
		resp, body := br.get(base+"/api", "Accept", "application/json")
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.False(t, strings.HasPrefix(body, "refresh failed"))
	}
	assert.Equal(t, calls, a.op.Calls("token"))
}
