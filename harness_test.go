package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

const harnessSecret = "__test_secret_that_is_long_enough__"

// harnessRSAKey is the RSA signing key that newTestApp gives its providers
// (oidctest.Options.SigningKey) unless the test sets one or picks ES256,
// EdDSA or HS256: generating a 2048-bit key per provider was most of the
// package's test time. Each provider still has its own kid, and rotations
// generate new keys.
var harnessRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testApp is the one test harness of the package: an application wrapped
// by the middleware, served over TLS (so that Secure cookies flow through
// the cookie jar), against an in-process provider; or, withOffline, the
// middleware alone, driven through httptest recorders. newTestApp builds it
// from options:
//
//	withProvider, withProviderAddr  the provider
//	withConfig, withStore           the Config
//	withHandler                     the application (default appHandler)
//	withRunRoute, withTokenRoutes   /run (setRun, run) and /tokens
//	withBackchannel                 back-channel logout, store in bcl
//	withErrorRecorder               ErrorHandler errors (takeError)
//	withOffline                     no network (session tests: mint, view)
//
// Every networked app has a default browser b. The methods of the features
// that use them live next to those tests: tokens_test.go (login, tokens,
// refresh, run), backchannel_test.go (send, loggedIn, marker),
// session_test.go (mint, do, get, view).
type testApp struct {
	t   *testing.T
	op  *oidctest.Provider
	srv *httptest.Server
	m   *Middleware
	cfg Config
	clk *fakeClock
	b   *browser     // a browser made with the app; tests may make more (nil offline)
	h   http.Handler // the middleware around the application

	logs *sessLogBuf // the middleware's debug log (offline apps only)
	base string      // BaseURL without a trailing "/"

	bcl *bclStore // withBackchannel's store of markers (and sessions in "store" mode)

	mu  sync.Mutex // guards fn and err
	fn  func(w http.ResponseWriter, r *http.Request, c *Context)
	err error // the last error withErrorRecorder's ErrorHandler got
}

// takeError returns the last error the ErrorHandler got (withErrorRecorder)
// and forgets it; nil when there was none.
func (a *testApp) takeError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.err
	a.err = nil
	return err
}

// setRun sets the function the /run route calls (withRunRoute,
// withTokenRoutes).
func (a *testApp) setRun(fn func(w http.ResponseWriter, r *http.Request, c *Context)) {
	a.mu.Lock()
	a.fn = fn
	a.mu.Unlock()
}

// serveRun is the /run route.
func (a *testApp) serveRun(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	fn := a.fn
	a.mu.Unlock()
	fn(w, r, FromRequest(r))
}

// fakeClock is a settable clock shared by the app (and optionally the OP).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Now().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// appHandler is the default application: "/" says hello, "/session" dumps the
// user and session values as JSON, "/public" never touches the session.
func appHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", FromRequest(r).User().String("sub"))
	})
	mux.HandleFunc("/session", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		out := map[string]any{"authenticated": c.IsAuthenticated(), "user": c.User()}
		if s, ok := c.Session(); ok {
			out["values"] = s.Values
			out["has_access_token"] = s.AccessToken != ""
			out["has_refresh_token"] = s.RefreshToken != ""
			out["token_type"] = s.TokenType
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		for k, v := range r.URL.Query() {
			if err := FromRequest(r).Set(k, v[0]); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/public", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "public")
	})
	return mux
}

// appOption configures newTestApp.
type appOption func(*appSettings)

// appSettings collects the options of newTestApp.
type appSettings struct {
	offline bool
	op      oidctest.Options
	opAddr  string
	mutate  []func(*testApp, *Config)
	handler func(*testApp) http.Handler
}

// withProvider sets the options of the in-process provider (Now defaults to
// the app's fake clock).
func withProvider(o oidctest.Options) appOption {
	return func(s *appSettings) { s.op = o }
}

// withOffline makes an app without a network: no provider and no server
// (IssuerBaseURL is sessIssuer, never dialled, BaseURL sessHTTPS), a clock
// at sessNow, a debug log in a.logs, and sessHandler as the default
// application. Tests serve requests with a.do, a.get or a.direct; reading
// a session never contacts the provider.
func withOffline() appOption {
	return func(s *appSettings) {
		s.offline = true
		if s.handler == nil {
			s.handler = func(*testApp) http.Handler { return sessHandler() }
		}
	}
}

// withProviderAddr starts the provider with oidctest.NewServer on addr
// (e.g. "localhost:0" for an issuer without a ".") instead of
// oidctest.NewProvider on 127.0.0.1.
func withProviderAddr(addr string) appOption {
	return func(s *appSettings) { s.opAddr = addr }
}

// withConfig adds a Config mutation; mutations run in order, after the
// harness defaults (AuthRequired false, so tests pick their guard) and after
// the options that come before it.
func withConfig(mutate func(*Config)) appOption {
	return func(s *appSettings) {
		if mutate != nil {
			s.mutate = append(s.mutate, func(_ *testApp, c *Config) { mutate(c) })
		}
	}
}

// withHandler sets the application the middleware wraps (default
// appHandler).
func withHandler(h http.Handler) appOption {
	return func(s *appSettings) {
		if h != nil {
			s.handler = func(*testApp) http.Handler { return h }
		}
	}
}

// withRunRoute adds /run to appHandler: it calls the function last given to
// setRun (see also run). It replaces the handler.
func withRunRoute() appOption {
	return func(s *appSettings) {
		s.handler = func(a *testApp) http.Handler {
			mux := http.NewServeMux()
			mux.HandleFunc("/run", a.serveRun)
			mux.Handle("/", appHandler())
			return mux
		}
	}
}

// withErrorRecorder makes the ErrorHandler record each error (takeError)
// and then render it with the default handler.
func withErrorRecorder() appOption {
	return func(s *appSettings) {
		s.mutate = append(s.mutate, func(a *testApp, c *Config) {
			c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
				defaultErrorHandler(w, r, err)
			}
		})
	}
}

// withStore puts the sessions in st (Config.Session.Store).
func withStore(st Store) appOption {
	return withConfig(func(c *Config) { c.Session.Store = st })
}

// withTokenRoutes makes the app a code-flow application (response_type
// code, response_mode query) whose /run route calls the function given to
// run and whose /tokens route reports the session's tokens as JSON
// (tkTokens). It replaces the handler.
func withTokenRoutes() appOption {
	return func(s *appSettings) {
		s.handler = (*testApp).tokenRoutes
		s.mutate = append(s.mutate, func(_ *testApp, c *Config) {
			c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
		})
	}
}

// withBackchannel turns back-channel logout on with a bclStore in a.bcl:
// mode "cookie" keeps cookie sessions and puts the markers in
// BackchannelLogout.Store, mode "store" puts sessions and markers in
// Session.Store (see bclModes).
func withBackchannel(mode string) appOption {
	return func(s *appSettings) {
		s.mutate = append(s.mutate, func(a *testApp, c *Config) {
			a.bcl = newBCLStore(c.Now)
			switch mode {
			case "cookie":
				c.BackchannelLogout = &BackchannelLogoutConfig{Store: a.bcl}
			case "store":
				c.Session.Store = a.bcl
				c.BackchannelLogout = &BackchannelLogoutConfig{}
			default:
				a.t.Fatalf("unknown back-channel mode %q", mode)
			}
		})
	}
}

// newTestApp starts a provider and an app wrapped by the middleware, served
// over TLS (so that Secure cookies flow through the cookie jar). With no
// options the provider has default options, the Config has AuthRequired
// false, and the app is appHandler.
func newTestApp(t *testing.T, opts ...appOption) *testApp {
	t.Helper()
	var s appSettings
	for _, o := range opts {
		o(&s)
	}
	if s.offline {
		return newOfflineApp(t, s)
	}
	clk := newClock()
	if s.op.Now == nil {
		s.op.Now = clk.Now
	}
	if s.op.SigningKey == nil && (s.op.Alg == "" || s.op.Alg == "RS256" || s.op.Alg == "PS256") {
		s.op.SigningKey = harnessRSAKey()
	}
	var op *oidctest.Provider
	if s.opAddr != "" {
		var err error
		op, err = oidctest.NewServer(s.opAddr, s.op)
		require.NoError(t, err)
		t.Cleanup(op.Close)
	} else {
		op = oidctest.NewProvider(t, s.op)
	}
	a := &testApp{t: t, op: op, clk: clk}
	handler := appHandler()
	if s.handler != nil {
		handler = s.handler(a)
	}
	a.srv = httptest.NewUnstartedServer(nil)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
	a.b = a.browser()
	a.cfg = Config{
		Secret:        Secrets{harnessSecret},
		IssuerBaseURL: op.URL(),
		BaseURL:       a.srv.URL,
		ClientID:      op.ClientID(),
		ClientSecret:  Secret(op.ClientSecret()),
		AuthRequired:  Bool(false),
		Now:           clk.Now,
		LookupEnv:     func(string) (string, bool) { return "", false },
	}
	for _, mutate := range s.mutate {
		mutate(a, &a.cfg)
	}
	m, err := New(a.cfg)
	require.NoError(t, err)
	a.m = m
	a.h = m.Handler(handler)
	a.srv.Config.Handler = a.h
	a.base = strings.TrimRight(a.cfg.BaseURL, "/")
	return a
}

// newOfflineApp is newTestApp with withOffline.
func newOfflineApp(t *testing.T, s appSettings) *testApp {
	t.Helper()
	a := &testApp{t: t, clk: &fakeClock{now: time.Unix(sessNow, 0)}, logs: &sessLogBuf{}}
	a.cfg = Config{
		Secret:        Secrets{harnessSecret},
		IssuerBaseURL: sessIssuer,
		BaseURL:       sessHTTPS,
		ClientID:      sessClient,
		AuthRequired:  Bool(false),
		Now:           a.clk.Now,
		Logger:        sessLogger(a.logs),
		LookupEnv:     func(string) (string, bool) { return "", false },
	}
	for _, mutate := range s.mutate {
		mutate(a, &a.cfg)
	}
	m, err := New(a.cfg)
	require.NoError(t, err)
	a.m = m
	a.h = m.Handler(s.handler(a))
	a.base = strings.TrimRight(a.cfg.BaseURL, "/")
	return a
}

// url returns the app URL for path.
func (a *testApp) url(path string) string { return a.srv.URL + path }

// direct serves one request to the middleware without a network.
func (a *testApp) direct(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	if a.srv != nil {
		a.srv.Config.Handler.ServeHTTP(rec, req) // tests may replace it
	} else {
		a.h.ServeHTTP(rec, req)
	}
	return rec
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t      *testing.T
	client *http.Client
	jar    http.CookieJar
}

func (a *testApp) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(a.t, err)
	c := *a.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Timeout = 10 * time.Second
	return &browser{t: a.t, client: &c, jar: jar}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

func (b *browser) get(u string, header ...string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func (b *browser) postForm(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// authorize follows the app's redirect to the provider and returns the
// provider's authorization response as (callback URL, method, params)
// (oidctest.ReadAuthorizationResponse).
func (b *browser) authorize(loginResp *http.Response) (string, string, url.Values) {
	b.t.Helper()
	require.Equal(b.t, http.StatusFound, loginResp.StatusCode, "login should redirect")
	resp, body := b.get(loginResp.Header.Get("Location"))
	resp.Body = io.NopCloser(strings.NewReader(body))
	ar, err := oidctest.ReadAuthorizationResponse(resp)
	require.NoError(b.t, err, "unexpected authorize response %d: %s", resp.StatusCode, body)
	return ar.URL, ar.Method, ar.Params
}

// deliver sends an authorization response to the app's callback.
func (b *browser) deliver(callback, method string, vals url.Values) (*http.Response, string) {
	b.t.Helper()
	if method == http.MethodPost {
		return b.postForm(callback, vals)
	}
	return b.get(callback + "?" + vals.Encode())
}

// login runs a complete login starting at path and returns the callback's
// response.
func (b *browser) login(a *testApp, path string) (*http.Response, string) {
	b.t.Helper()
	resp, _ := b.get(a.url(path), "Accept", "text/html")
	cb, method, vals := b.authorize(resp)
	return b.deliver(cb, method, vals)
}

// session fetches /session as JSON.
func (b *browser) session(a *testApp) map[string]any {
	b.t.Helper()
	resp, body := b.get(a.url("/session"), "Accept", "application/json")
	require.Equal(b.t, http.StatusOK, resp.StatusCode, body)
	var out map[string]any
	require.NoError(b.t, json.Unmarshal([]byte(body), &out))
	return out
}

// cookieNamed returns the Set-Cookie lines of resp for name.
func setCookies(resp *http.Response, name string) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// httptestRecorder serves one request to h and returns the recording.
func httptestRecorder(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}
