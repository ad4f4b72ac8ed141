package oidc

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

const harnessSecret = "__test_secret_that_is_long_enough__"

// testApp is an application wrapped by the middleware, served over TLS (so
// that Secure cookies flow through the cookie jar), against an in-process
// provider.
type testApp struct {
	t   *testing.T
	op  *oidctest.Provider
	srv *httptest.Server
	m   *Middleware
	cfg Config
	clk *fakeClock
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

// newTestApp starts a provider and an app. mutate adjusts the Config (with
// AuthRequired false by default so tests pick their guard).
func newTestApp(t *testing.T, opOpts oidctest.Options, mutate func(*Config), handler http.Handler) *testApp {
	t.Helper()
	clk := newClock()
	if opOpts.Now == nil {
		opOpts.Now = clk.Now
	}
	op := oidctest.NewProvider(t, opOpts)
	if handler == nil {
		handler = appHandler()
	}
	a := &testApp{t: t, op: op, clk: clk}
	a.srv = httptest.NewUnstartedServer(nil)
	a.srv.StartTLS()
	t.Cleanup(a.srv.Close)
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
	if mutate != nil {
		mutate(&a.cfg)
	}
	m, err := New(a.cfg)
	require.NoError(t, err)
	a.m = m
	a.srv.Config.Handler = m.Handler(handler)
	return a
}

// url returns the app URL for path.
func (a *testApp) url(path string) string { return a.srv.URL + path }

// direct serves one request to the middleware without a network.
func (a *testApp) direct(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.srv.Config.Handler.ServeHTTP(rec, req)
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

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	formInput  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// parseFormPost extracts the action and fields of the provider's form_post
// page.
func parseFormPost(t *testing.T, body string) (string, url.Values) {
	t.Helper()
	m := formAction.FindStringSubmatch(body)
	require.NotNil(t, m, "no form in %q", body)
	vals := url.Values{}
	for _, in := range formInput.FindAllStringSubmatch(body, -1) {
		vals.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), vals
}

// authorize follows the app's redirect to the provider and returns the
// provider's authorization response as (callback URL, method, params).
func (b *browser) authorize(loginResp *http.Response) (string, string, url.Values) {
	b.t.Helper()
	require.Equal(b.t, http.StatusFound, loginResp.StatusCode, "login should redirect")
	resp, body := b.get(loginResp.Header.Get("Location"))
	switch resp.StatusCode {
	case http.StatusOK:
		action, vals := parseFormPost(b.t, body)
		return action, http.MethodPost, vals
	case http.StatusFound, http.StatusSeeOther:
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(b.t, err)
		vals := loc.Query()
		if loc.Fragment != "" {
			vals, _ = url.ParseQuery(loc.Fragment)
		}
		loc.RawQuery, loc.Fragment = "", ""
		return loc.String(), http.MethodGet, vals
	}
	b.t.Fatalf("unexpected authorize response %d: %s", resp.StatusCode, body)
	return "", "", nil
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
