package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
	"github.com/openidconnect-go/oidc/redisstore"
	"github.com/openidconnect-go/oidc/redisstore/internal/redistest"
)

// TestMultiInstance runs two application instances sharing one Redis: a
// login through A works on B; an entry whose id is not its key is refused
// (ST-05); a back-channel logout delivered to B logs the user out on both;
// with Redis stopped, protected requests get 503 (nobody is logged out),
// and after a restart the same cookies work again.
func TestMultiInstance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	op := oidctest.NewProvider(t, oidctest.Options{Subject: "multi-user"})
	rdb := newClient(t, srv.Addr())
	store := redisstore.New(rdb, redisstore.Options{Timeout: 500 * time.Millisecond})

	protected := oidc.RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	}))
	newInstance := func() *httptest.Server {
		ts := httptest.NewUnstartedServer(nil)
		ts.StartTLS()
		t.Cleanup(ts.Close)
		return ts
	}
	a, b := newInstance(), newInstance()
	// Both instances serve the same public URL in production; here each has
	// its own port, so both are configured with A's BaseURL and B is reached
	// with a request rewritten to its port.
	cfg := oidc.Config{
		Secret:        oidc.Secrets{"a-shared-secret-for-both-instances"},
		IssuerBaseURL: op.URL(),
		BaseURL:       a.URL,
		ClientID:      op.ClientID(),
		ClientSecret:  oidc.Secret(op.ClientSecret()),
		AuthRequired:  oidc.Bool(false),
		HTTPTimeout:   time.Second,
		Session: oidc.SessionConfig{
			Store: store, // the session-id cookie is signed by default
		},
		BackchannelLogout: &oidc.BackchannelLogoutConfig{},
		LookupEnv:         func(string) (string, bool) { return "", false },
	}
	for _, ts := range []*httptest.Server{a, b} {
		m, err := oidc.New(cfg)
		require.NoError(t, err)
		ts.Config.Handler = m.Handler(protected)
	}

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := *a.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Timeout = 10 * time.Second
	get := func(base *httptest.Server, path string, accept string) (int, string) {
		t.Helper()
		// The cookie jar is keyed by host, and both instances are on
		// 127.0.0.1, so the session cookie is shared like behind a balancer.
		req, err := http.NewRequest(http.MethodGet, base.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", accept)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// Log in through A (default implicit form_post flow).
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/login", nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = client.Get(resp.Header.Get("Location"))
	require.NoError(t, err)
	ar, err := oidctest.ReadAuthorizationResponse(resp)
	require.NoError(t, err)
	require.Equal(t, http.MethodPost, ar.Method, "form_post")
	req, err = ar.Request()
	require.NoError(t, err)
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	status, body := get(a, "/", "text/html")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello multi-user", body)
	status, body = get(b, "/", "text/html")
	require.Equal(t, http.StatusOK, status, "the session is shared through Redis")
	assert.Equal(t, "hello multi-user", body)

	// ST-05: the middleware checks the id that every entry carries. An
	// entry that names another id (a reply meant for another request) is a
	// store fault: 503, and the session is not served, changed or removed.
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "sess:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	id := strings.TrimPrefix(keys[0], "sess:")
	value, err := rdb.Get(ctx, keys[0]).Result()
	require.NoError(t, err)
	require.Contains(t, value, `"id":"`+id+`"`)
	foreign := strings.Replace(value, `"id":"`+id+`"`, `"id":"someone-else"`, 1)
	require.NoError(t, rdb.Set(ctx, keys[0], foreign, redis.KeepTTL).Err())
	status, _ = get(a, "/", "application/json")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, foreign, rdb.Get(ctx, keys[0]).Val())
	require.NoError(t, rdb.Set(ctx, keys[0], value, redis.KeepTTL).Err())
	status, _ = get(a, "/", "application/json")
	assert.Equal(t, http.StatusOK, status)

	// Redis goes away: 503, nobody is logged out.
	srv.Stop()
	for _, inst := range []*httptest.Server{a, b} {
		status, _ = get(inst, "/", "application/json")
		assert.Equal(t, http.StatusServiceUnavailable, status)
	}
	srv.Restart()
	require.Eventually(t, func() bool {
		s, _ := get(a, "/", "application/json")
		return s == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "the same cookie works after Redis restarts")
	status, _ = get(b, "/", "application/json")
	assert.Equal(t, http.StatusOK, status)

	// Back-channel logout delivered to B logs the user out on A and B.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	bclResp, err := op.SendBackchannelLogoutWith(ctx, b.URL+"/backchannel-logout", oidctest.BackchannelLogoutOptions{
		Sub: "multi-user", Client: b.Client(),
	})
	require.NoError(t, err)
	bclResp.Body.Close()
	require.Equal(t, http.StatusOK, bclResp.StatusCode)
	for _, inst := range []*httptest.Server{a, b} {
		status, _ = get(inst, "/", "application/json")
		assert.Equal(t, http.StatusUnauthorized, status)
	}
}
