package oidc

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// Discovery, caching and outage tests (docs/security.md, "Discovery, JWKS,
// headers and outages": catalog DISC-01, DISC-02, REL-01).

// discErrors records what Config.ErrorHandler receives and renders it with
// the default handler.
type discErrors struct {
	mu   sync.Mutex
	errs []error
}

func (d *discErrors) handler(w http.ResponseWriter, r *http.Request, err error) {
	d.mu.Lock()
	d.errs = append(d.errs, err)
	d.mu.Unlock()
	defaultErrorHandler(w, r, err)
}

func (d *discErrors) last() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.errs) == 0 {
		return nil
	}
	return d.errs[len(d.errs)-1]
}

// discLogin sends GET /login in a fresh browser and returns the response,
// its body and how long it took.
func discLogin(app *testApp, header ...string) (*http.Response, string, time.Duration) {
	start := time.Now()
	resp, body := app.browser().get(app.url("/login"), header...)
	return resp, body, time.Since(start)
}

// discAssertToProvider checks that resp redirects to the provider's
// authorization endpoint.
func discAssertToProvider(t *testing.T, app *testApp, resp *http.Response, body string) {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), app.op.URL()+oidctest.PathAuthorize+"?"), resp.Header.Get("Location"))
}

// discAssertUnavailable checks the 503 page of an unreachable provider.
func discAssertUnavailable(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
	assert.Empty(t, resp.Header.Get("Location"))
	assert.Empty(t, setCookies(resp, "auth_verification"), "no transaction for a login that cannot start")
}

func TestDiscoveryIsLazy(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	assert.Equal(t, 0, app.op.Calls(oidctest.EndpointDiscovery), "New must not contact the provider")

	b := app.browser()
	for _, path := range []string{"/public", "/", "/session", "/set?k=v"} {
		resp, _ := b.get(app.url(path))
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
	}
	resp, _ := b.get(app.url("/logout"))
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, 0, app.op.Calls(oidctest.EndpointDiscovery), "public routes and a local logout need no metadata")

	t.Run("New succeeds while the provider is down", func(t *testing.T) {
		down := newTestApp(t)
		down.op.SetDown(true)
		_, err := New(down.cfg)
		require.NoError(t, err)
		resp, _ := down.browser().get(down.url("/public"))
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, 0, down.op.Calls(oidctest.EndpointDiscovery))
	})

	t.Run("the first login fetches once", func(t *testing.T) {
		resp, body, _ := discLogin(app)
		discAssertToProvider(t, app, resp, body)
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery))
		for range 5 {
			discLogin(app)
		}
		b := app.browser()
		b.login(app, "/login")
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery), "metadata is cached")
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointJWKS))
	})
}

// TestDiscoveryConcurrentFirstLogins covers DISC-02(a).
func TestDiscoveryConcurrentFirstLogins(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withProvider(oidctest.Options{Latency: 300 * time.Millisecond}))
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]int, n)
	locations := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := app.browser().client
			<-start
			resp, err := c.Get(app.url("/login"))
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
			locations[i] = resp.Header.Get("Location")
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, http.StatusFound, statuses[i])
		assert.True(t, strings.HasPrefix(locations[i], app.op.URL()+oidctest.PathAuthorize+"?"), locations[i])
	}
	assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery), "concurrent first logins share one fetch")
}

// TestDiscoveryCacheTTL checks DiscoveryCacheMaxAge against the app's clock.
func TestDiscoveryCacheTTL(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withConfig(func(c *Config) { c.DiscoveryCacheMaxAge = time.Minute }))
	resp, body, _ := discLogin(app)
	discAssertToProvider(t, app, resp, body)
	require.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery))

	app.clk.Advance(59 * time.Second)
	discLogin(app)
	assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery), "still fresh")

	app.clk.Advance(2 * time.Second)
	resp, body, _ = discLogin(app)
	discAssertToProvider(t, app, resp, body)
	assert.Equal(t, 2, app.op.Calls(oidctest.EndpointDiscovery), "refetched after the TTL")
	discLogin(app)
	assert.Equal(t, 2, app.op.Calls(oidctest.EndpointDiscovery), "the refreshed metadata is cached again")

	t.Run("a login still completes across a refresh", func(t *testing.T) {
		b := app.browser()
		resp, _ := b.login(app, "/login")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, true, b.session(app)["authenticated"])
	})
}

// TestDiscoveryStaleIfError covers DISC-02(b): after the TTL, with the
// provider down, logins keep using the last good metadata, and the refresh
// is retried once per back-off window.
func TestDiscoveryStaleIfError(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withConfig(func(c *Config) { c.DiscoveryCacheMaxAge = time.Minute }))
	resp, body, _ := discLogin(app)
	discAssertToProvider(t, app, resp, body)

	app.op.SetDown(true)
	app.clk.Advance(2 * time.Minute)
	for range 10 {
		resp, body, elapsed := discLogin(app)
		discAssertToProvider(t, app, resp, body)
		assert.Less(t, elapsed, defaultHTTPTimeout)
	}
	assert.Equal(t, 2, app.op.Calls(oidctest.EndpointDiscovery), "one failed refresh, then the back-off")

	app.op.SetDown(false)
	app.clk.Advance(discoveryBackoffMin + time.Second)
	resp, body, _ = discLogin(app)
	discAssertToProvider(t, app, resp, body)
	assert.Equal(t, 3, app.op.Calls(oidctest.EndpointDiscovery), "refreshed once the back-off passed")
	discLogin(app)
	assert.Equal(t, 3, app.op.Calls(oidctest.EndpointDiscovery), "fresh again")

	b := app.browser()
	resp, _ = b.login(app, "/login")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// TestDiscoveryProviderDown covers DISC-02(c) and the readable 503.
func TestDiscoveryProviderDown(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	app := newTestApp(t, withConfig(func(c *Config) { c.HTTPTimeout = timeout }))
	app.op.SetDown(true)

	for i := range 20 {
		resp, body, elapsed := discLogin(app, "Accept", "text/html")
		discAssertUnavailable(t, resp, body)
		assert.Less(t, elapsed, timeout, "request %d", i)
		if i == 0 {
			assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
			assert.Contains(t, body, "503 Service Unavailable")
			assert.Contains(t, body, "cannot be reached")
			assert.Contains(t, body, "provider_unavailable")
		}
	}
	assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery), "one attempt per back-off window")

	t.Run("JSON clients get a JSON error", func(t *testing.T) {
		resp, body, _ := discLogin(app, "Accept", "application/json")
		discAssertUnavailable(t, resp, body)
		var out map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		assert.Equal(t, "provider_unavailable", out["error"])
	})

	t.Run("AuthRequired login is a 503 too", func(t *testing.T) {
		guard := newTestApp(t, withConfig(func(c *Config) { c.AuthRequired = nil }))
		guard.op.SetDown(true)
		resp, body := guard.browser().get(guard.url("/page"), "Accept", "text/html")
		discAssertUnavailable(t, resp, body)
	})

	t.Run("recovers after the back-off", func(t *testing.T) {
		app.op.SetDown(false)
		resp, body, _ := discLogin(app)
		discAssertUnavailable(t, resp, body)
		assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery), "no attempt before the back-off passed")

		app.clk.Advance(discoveryBackoffMin)
		resp, body, _ = discLogin(app)
		discAssertToProvider(t, app, resp, body)
		assert.Equal(t, 2, app.op.Calls(oidctest.EndpointDiscovery))
		b := app.browser()
		resp, _ = b.login(app, "/login")
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})
}

// TestDiscoveryBackoffGrows checks the exponential back-off between failed
// discovery attempts, capped at discoveryBackoffMax.
func TestDiscoveryBackoffGrows(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	app.op.SetDown(true)
	calls := func() int { return app.op.Calls(oidctest.EndpointDiscovery) }

	discLogin(app)
	require.Equal(t, 1, calls())
	wait := discoveryBackoffMin
	for attempt := 2; attempt <= 8; attempt++ {
		app.clk.Advance(wait - time.Second)
		discLogin(app)
		require.Equal(t, attempt-1, calls(), "before the %s back-off ends", wait)
		app.clk.Advance(time.Second)
		discLogin(app)
		require.Equal(t, attempt, calls(), "once the %s back-off ended", wait)
		wait = min(wait*2, discoveryBackoffMax)
	}
	assert.Equal(t, discoveryBackoffMax, wait)

	app.op.SetDown(false)
	app.clk.Advance(wait)
	resp, body, _ := discLogin(app)
	discAssertToProvider(t, app, resp, body)

	// A success resets the back-off: the next outage starts at the minimum.
	app.op.SetDown(true)
	app.clk.Advance(defaultDiscoveryMaxAge + time.Second)
	before := calls()
	discLogin(app)
	require.Equal(t, before+1, calls())
	app.clk.Advance(discoveryBackoffMin)
	discLogin(app)
	assert.Equal(t, before+2, calls())
}

// TestDiscoveryHangingProvider: a provider that accepts connections but
// never answers costs one HTTPTimeout, after which logins fail fast.
func TestDiscoveryHangingProvider(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	app := newTestApp(t, withProvider(oidctest.Options{Latency: time.Minute}), withConfig(func(c *Config) { c.HTTPTimeout = timeout }))

	resp, body, elapsed := discLogin(app)
	discAssertUnavailable(t, resp, body)
	assert.GreaterOrEqual(t, elapsed, timeout/2)
	assert.Less(t, elapsed, timeout+2*time.Second, "bounded by HTTPTimeout")

	for range 20 {
		resp, body, elapsed := discLogin(app)
		discAssertUnavailable(t, resp, body)
		assert.Less(t, elapsed, timeout, "no new attempt inside the back-off window")
	}
	assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery))

	t.Run("concurrent logins share the hanging attempt", func(t *testing.T) {
		app2 := newTestApp(t, withProvider(oidctest.Options{Latency: time.Minute}), withConfig(func(c *Config) { c.HTTPTimeout = timeout }))
		var wg sync.WaitGroup
		var slow atomic.Int32
		statuses := make([]int, 20)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				resp, err := app2.browser().client.Get(app2.url("/login"))
				if err != nil {
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
				if time.Since(start) > timeout+2*time.Second {
					slow.Add(1)
				}
			}()
		}
		wg.Wait()
		for _, s := range statuses {
			assert.Equal(t, http.StatusServiceUnavailable, s)
		}
		assert.Zero(t, slow.Load(), "every login answered within HTTPTimeout (+2s slack for a loaded machine)")
		assert.Equal(t, 1, app2.op.Calls(oidctest.EndpointDiscovery))
	})
}

// TestDiscoveryIssuer covers the issuer comparison (DISC-01): a mismatch is
// a 503 whose error wraps ErrIssuerMismatch; the trailing slash and the case
// of the scheme and host do not matter.
func TestDiscoveryIssuer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		issuer func(op *oidctest.Provider) string // "" keeps the provider's
		base   func(op *oidctest.Provider) string // IssuerBaseURL; nil keeps op.URL()
		ok     bool
	}{
		{"issuer with slash, IssuerBaseURL without (oidctest default)", nil, nil, true},
		{"issuer without slash, IssuerBaseURL with", func(op *oidctest.Provider) string { return op.URL() },
			func(op *oidctest.Provider) string { return op.URL() + "/" }, true},
		{"both with slash", nil, func(op *oidctest.Provider) string { return op.URL() + "/" }, true},
		{"scheme in upper case", func(op *oidctest.Provider) string { return "HTTP" + strings.TrimPrefix(op.Issuer(), "http") }, nil, true},
		{"another host", func(*oidctest.Provider) string { return "https://op.example/" }, nil, false},
		{"another port", func(op *oidctest.Provider) string { return "http://127.0.0.1:1/" }, nil, false},
		{"another scheme", func(op *oidctest.Provider) string { return "https" + strings.TrimPrefix(op.Issuer(), "http") }, nil, false},
		{"another path", func(op *oidctest.Provider) string { return op.Issuer() + "tenant" }, nil, false},
		{"issuer missing", func(*oidctest.Provider) string { return "-" }, nil, false},
		{"IssuerBaseURL names the document: no issuer check", func(*oidctest.Provider) string { return "http://op.example/" },
			func(op *oidctest.Provider) string { return op.URL() + oidctest.PathDiscovery }, true},
		{"localhost for 127.0.0.1", func(op *oidctest.Provider) string { return strings.Replace(op.URL(), "127.0.0.1", "localhost", 1) }, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var issuer atomic.Value
			rec := &discErrors{}
			opts := oidctest.Options{MutateDiscovery: func(doc map[string]any) {
				switch v, _ := issuer.Load().(string); v {
				case "":
				case "-":
					delete(doc, "issuer")
				default:
					doc["issuer"] = v
				}
			}}
			app := newTestApp(t, withProvider(opts), withConfig(func(c *Config) { c.ErrorHandler = rec.handler }))
			if tc.issuer != nil {
				issuer.Store(tc.issuer(app.op))
			}
			if tc.base != nil {
				cfg := app.cfg
				cfg.IssuerBaseURL = tc.base(app.op)
				m, err := New(cfg)
				require.NoError(t, err)
				app.m = m
				app.srv.Config.Handler = m.Handler(appHandler())
			}
			resp, body, _ := discLogin(app)
			if tc.ok {
				discAssertToProvider(t, app, resp, body)
				assert.NoError(t, rec.last())
				return
			}
			err := rec.last()
			require.Error(t, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			if tc.name == "issuer missing" {
				discAssertUnavailable(t, resp, body)
				assert.Equal(t, http.StatusServiceUnavailable, e.Status)
				assert.ErrorIs(t, err, ErrProviderUnavailable)
				return
			}
			// A mismatch is a configuration problem: 500, its own code, and
			// a page that names both issuers.
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Retry-After"), "retrying does not help")
			assert.Empty(t, resp.Header.Get("Location"))
			assert.Empty(t, setCookies(resp, "auth_verification"))
			assert.Equal(t, http.StatusInternalServerError, e.Status)
			assert.Equal(t, "issuer_mismatch", e.Code)
			assert.ErrorIs(t, err, ErrIssuerMismatch)
			assert.NotErrorIs(t, err, ErrProviderUnavailable)
			assert.Contains(t, e.Description, "misconfigured")
			assert.Contains(t, e.Description, strconv.Quote(app.op.URL()), "the configured IssuerBaseURL")
			assert.Contains(t, e.Description, strconv.Quote(issuer.Load().(string)), "the discovered issuer")
			assert.Contains(t, body, "issuer_mismatch")
			assert.Contains(t, body, "misconfigured")
		})
	}
}

// TestDiscoveryIssuerPath: a discovered issuer with a path matches
// IssuerBaseURL with or without a trailing slash (express accepts the
// difference only for an empty path), and another path does not.
func TestDiscoveryIssuerPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		configured, discovered string // paths on the provider's origin
		ok                     bool
	}{
		{"/tenant", "/tenant/", true},
		{"/tenant/", "/tenant", true},
		{"/tenant", "/tenant", true},
		{"/tenant", "/other", false},
		{"/tenant", "/tenant//", false},
		{"/tenant", "/TENANT", false},
	}
	for _, tc := range cases {
		t.Run(tc.configured+" vs "+tc.discovered, func(t *testing.T) {
			t.Parallel()
			var op *httptest.Server
			op = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != strings.TrimSuffix(tc.configured, "/")+"/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(map[string]any{
					"issuer":                 op.URL + tc.discovered,
					"authorization_endpoint": op.URL + "/authorize",
					"jwks_uri":               op.URL + "/jwks",
				})
			}))
			t.Cleanup(op.Close)
			rec := &discErrors{}
			cfg := validConfig()
			cfg.IssuerBaseURL = op.URL + tc.configured
			cfg.ErrorHandler = rec.handler
			cfg.Logger = slog.New(slog.DiscardHandler)
			m, err := New(cfg)
			require.NoError(t, err)
			w := httptest.NewRecorder()
			m.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, testBaseURL+"/login", nil))
			if tc.ok {
				require.Equal(t, http.StatusFound, w.Code, w.Body.String())
				assert.True(t, strings.HasPrefix(w.Header().Get("Location"), op.URL+"/authorize?"))
				return
			}
			require.Equal(t, http.StatusInternalServerError, w.Code, w.Body.String())
			assert.ErrorIs(t, rec.last(), ErrIssuerMismatch)
		})
	}
}

// TestDiscoveryDocumentChecks covers malformed and hostile documents: the
// endpoint checks (DISC-01) through the middleware, the 1 MiB cap, and
// redirects (not followed).
func TestDiscoveryDocumentChecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		mutate    func(doc map[string]any)
		intercept func(w http.ResponseWriter, r *http.Request) bool
		ok        bool
	}{
		{"control", nil, nil, true},
		{"just under 1 MiB", func(doc map[string]any) { doc["x_padding"] = strings.Repeat("a", 1<<20-4096) }, nil, true},
		{"over 1 MiB", func(doc map[string]any) { doc["x_padding"] = strings.Repeat("a", 1<<20) }, nil, false},
		{"authorization_endpoint missing", func(doc map[string]any) { delete(doc, "authorization_endpoint") }, nil, false},
		{"jwks_uri missing", func(doc map[string]any) { delete(doc, "jwks_uri") }, nil, false},
		{"relative authorization_endpoint", func(doc map[string]any) { doc["authorization_endpoint"] = "/authorize" }, nil, false},
		{"javascript authorization_endpoint", func(doc map[string]any) { doc["authorization_endpoint"] = "javascript:alert(1)" }, nil, false},
		{"ftp token_endpoint", func(doc map[string]any) { doc["token_endpoint"] = "ftp://127.0.0.1/token" }, nil, false},
		{"issuer of the wrong type", func(doc map[string]any) { doc["issuer"] = 42 }, nil, false},
		{"not JSON", nil, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>maintenance</html>"))
			return true
		}, false},
		{"500", nil, func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "boom", http.StatusInternalServerError)
			return true
		}, false},
		{"redirect is not followed", nil, func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, "https://evil.example/.well-known/openid-configuration", http.StatusFound)
			return true
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &discErrors{}
			opts := oidctest.Options{MutateDiscovery: tc.mutate}
			if tc.intercept != nil {
				opts.Intercept = func(endpoint string, w http.ResponseWriter, r *http.Request) bool {
					return endpoint == oidctest.EndpointDiscovery && tc.intercept(w, r)
				}
			}
			app := newTestApp(t, withProvider(opts), withConfig(func(c *Config) { c.ErrorHandler = rec.handler }))
			resp, body, _ := discLogin(app)
			if tc.ok {
				discAssertToProvider(t, app, resp, body)
				return
			}
			discAssertUnavailable(t, resp, body)
			assert.ErrorIs(t, rec.last(), ErrProviderUnavailable)
			assert.NotContains(t, resp.Header.Get("Location"), "evil")
			assert.Equal(t, 1, app.op.Calls(oidctest.EndpointDiscovery))
		})
	}
}

// TestDiscoveryHTTPSEndpoints covers DISC-01 end to end: the provider is
// served over TLS with an https issuer, and one endpoint at a time is
// downgraded to http.
func TestDiscoveryHTTPSEndpoints(t *testing.T) {
	t.Parallel()
	type tcase struct {
		name, field string
		upperIssuer bool // issuer "HTTPS://..." (the same URL)
	}
	cases := []tcase{{name: "all https"}, {name: "all https, upper-case issuer scheme", upperIssuer: true}}
	for _, f := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"} {
		cases = append(cases, tcase{name: "http " + f, field: f})
	}
	cases = append(cases, tcase{name: "http authorization_endpoint, upper-case issuer scheme", field: "authorization_endpoint", upperIssuer: true})
	for _, tc := range cases {
		t.Run("DISC-01 "+tc.name, func(t *testing.T) {
			t.Parallel()
			var opHandler atomic.Value
			tlsOP := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				opHandler.Load().(http.Handler).ServeHTTP(w, r)
			}))
			t.Cleanup(tlsOP.Close)
			var plainBase atomic.Value
			opts := oidctest.Options{MutateDiscovery: func(doc map[string]any) {
				plain := plainBase.Load().(string)
				doc["issuer"] = tlsOP.URL + "/"
				if tc.upperIssuer {
					doc["issuer"] = "HTTPS" + strings.TrimPrefix(tlsOP.URL, "https") + "/"
				}
				for k, v := range doc {
					if s, ok := v.(string); ok && strings.HasPrefix(s, plain) {
						doc[k] = tlsOP.URL + strings.TrimPrefix(s, plain)
					}
				}
				if tc.field != "" {
					doc[tc.field] = plain + "/downgraded"
				}
			}}
			rec := &discErrors{}
			app := newTestApp(t, withProvider(opts), withConfig(func(c *Config) {
				c.IssuerBaseURL = tlsOP.URL
				c.HTTPClient = tlsOP.Client()
				c.ErrorHandler = rec.handler
			}))
			plainBase.Store(app.op.URL())
			opHandler.Store(app.op.Handler())

			resp, body := app.browser().get(app.url("/login"))
			if tc.field == "" {
				require.Equal(t, http.StatusFound, resp.StatusCode, body)
				assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), tlsOP.URL+oidctest.PathAuthorize+"?"), resp.Header.Get("Location"))
				return
			}
			if tc.upperIssuer && resp.StatusCode == http.StatusFound {
				t.Errorf("internal/provider/discovery.go checkEndpoints: issuer %q passes the issuer check against https IssuerBaseURL "+
					"but is not treated as https, so the login redirects to %q", "HTTPS"+strings.TrimPrefix(tlsOP.URL, "https")+"/",
					resp.Header.Get("Location"))
			}
			discAssertUnavailable(t, resp, body)
			err := rec.last()
			assert.ErrorIs(t, err, ErrProviderUnavailable)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.ErrorContains(t, e.Err, tc.field)
		})
	}
}

// TestDiscoveryOutageKeepsSessions covers REL-01: with the discovery cache
// expired and the provider down, logged-in users keep being served without
// any call to the provider; /login answers at once from the stale metadata.
func TestDiscoveryOutageKeepsSessions(t *testing.T) {
	t.Parallel()
	for name, params := range map[string]map[string]string{"implicit": nil, "code": codeQuery} {
		t.Run("REL-01 "+name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withConfig(func(c *Config) {
				c.AuthRequired = nil
				c.AuthorizationParams = params
				c.DiscoveryCacheMaxAge = time.Minute
				c.HTTPTimeout = time.Second
			}))
			b := app.browser()
			resp, _ := b.login(app, "/dashboard")
			require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode)

			app.op.SetDown(true)
			app.clk.Advance(10 * time.Minute)
			app.op.ResetCalls()
			for i := range 20 {
				resp, body := b.get(app.url("/dashboard"))
				require.Equal(t, http.StatusOK, resp.StatusCode, "request %d", i)
				assert.Equal(t, "hello alice", body)
			}
			resp, body := b.get(app.url("/session"), "Accept", "application/json")
			assert.Equal(t, http.StatusOK, resp.StatusCode, body)
			for _, ep := range []string{oidctest.EndpointDiscovery, oidctest.EndpointJWKS, oidctest.EndpointToken, oidctest.EndpointUserinfo} {
				assert.Zero(t, app.op.Calls(ep), "%s called on the hot path", ep)
			}

			start := time.Now()
			resp, body = app.browser().get(app.url("/login"))
			assert.Less(t, time.Since(start), 3*time.Second, "HTTPTimeout plus slack")
			discAssertToProvider(t, app, resp, body) // stale-if-error

			anon := app.browser()
			resp, _ = anon.get(app.url("/dashboard"), "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "anonymous users are still refused")
		})
	}
}

// TestDiscoveryErrorsAreErrors checks that the errors handed to
// ErrorHandler for an unreachable provider are *Error values.
func TestDiscoveryErrorsAreErrors(t *testing.T) {
	t.Parallel()
	rec := &discErrors{}
	app := newTestApp(t, withConfig(func(c *Config) { c.ErrorHandler = rec.handler }))
	app.op.SetDown(true)
	discLogin(app)
	err := rec.last()
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "provider_unavailable", e.Code)
	assert.ErrorIs(t, err, ErrProviderUnavailable)
	assert.NotContains(t, err.Error(), app.op.ClientSecret())
}
