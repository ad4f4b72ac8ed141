package oidc

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/state"
	"github.com/openidconnect-go/oidc/oidctest"
)

// Open-redirect tests (docs/security.md, "Redirects": catalog RED-01..RED-07,
// HDR-01, HDR-06), end to end through the middleware and the oidctest
// provider.

// rdRaw writes one raw HTTP/1.1 request to the app over TLS, so that request
// targets Go's client would clean or escape ("//evil.com", "/\evil.com")
// reach the server byte for byte. headers are name/value pairs; a "Host"
// pair replaces the default Host header.
func rdRaw(t *testing.T, app *testApp, method, target string, headers ...string) (*http.Response, string) {
	t.Helper()
	addr := app.srv.Listener.Addr().String()
	cfg := app.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	conn, err := tls.Dial("tcp", addr, cfg)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	host := addr
	var extra strings.Builder
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			host = headers[i+1]
			continue
		}
		fmt.Fprintf(&extra, "%s: %s\r\n", headers[i], headers[i+1])
	}
	_, err = fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", method, target, host, extra.String())
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// rdFinishLogin completes the login that first (a 302 from the app to the
// provider, possibly received outside b) started, in browser b, and returns
// the app's final post-login Location.
func rdFinishLogin(t *testing.T, app *testApp, b *browser, first *http.Response) string {
	t.Helper()
	require.Equal(t, http.StatusFound, first.StatusCode, "the app should redirect to the provider")
	require.True(t, strings.HasPrefix(first.Header.Get("Location"), app.op.URL()+oidctest.PathAuthorize+"?"),
		"not a redirect to the provider: %q", first.Header.Get("Location"))
	appURL, err := url.Parse(app.url("/"))
	require.NoError(t, err)
	b.jar.SetCookies(appURL, first.Cookies())
	cb, method, vals := b.authorize(first)
	resp, body := b.deliver(cb, method, vals)
	require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
	return resp.Header.Get("Location")
}

// rdAuthorizeQuery returns the query of the app's redirect to the provider.
func rdAuthorizeQuery(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	return u.Query()
}

// rdStateReturnTo decodes the returnTo carried in the authorize URL's state.
func rdStateReturnTo(t *testing.T, resp *http.Response) string {
	t.Helper()
	q := rdAuthorizeQuery(t, resp)
	require.Len(t, q["state"], 1)
	st, err := state.Decode(q.Get("state"))
	require.NoError(t, err)
	rt, _ := st["returnTo"].(string)
	return rt
}

// rdOrigin is scheme://host:port with the default port made explicit.
func rdOrigin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// rdSplitScheme splits "scheme:rest" when s starts with a valid URL scheme.
func rdSplitScheme(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return strings.ToLower(s[:i]), s[i+1:], true
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// rdBrowserOrigin approximates where a browser on a page of base navigates
// for Location loc (the oracle described in docs/security.md, "How the ids
// are used"): TAB/CR/LF removed,
// C0 and spaces trimmed, '\' read as '/', a special scheme other than the
// page's always followed by an authority, "//" starting an authority.
func rdBrowserOrigin(base *url.URL, loc string) (string, bool) {
	s := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, loc)
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	s = strings.ReplaceAll(s, `\`, "/")
	scheme, rest, hasScheme := rdSplitScheme(s)
	switch {
	case hasScheme && scheme != "http" && scheme != "https":
		return scheme + ":", true // opaque origin: never the app's
	case hasScheme && scheme == base.Scheme && !strings.HasPrefix(rest, "//"):
		return rdOrigin(base), true
	case hasScheme:
		s = scheme + "://" + strings.TrimLeft(rest, "/")
	case strings.HasPrefix(s, "//"):
		s = base.Scheme + "://" + strings.TrimLeft(s, "/")
	default:
		return rdOrigin(base), true
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", false
	}
	return rdOrigin(u), true
}

// rdAssertSameOrigin checks a Location the app emitted: no TAB/CR/LF or
// backslash, absolute on the app's origin, and on the app's origin for a
// browser too.
func rdAssertSameOrigin(t *testing.T, app *testApp, loc string, msgAndArgs ...any) bool {
	t.Helper()
	ctx := fmt.Sprint(msgAndArgs...)
	if !assert.NotEmpty(t, loc, "no Location (%s)", ctx) {
		return false
	}
	ok := assert.False(t, strings.ContainsAny(loc, "\t\r\n\\"), "Location %q contains TAB/CR/LF or a backslash (%s)", loc, ctx)
	base, err := url.Parse(app.url("/"))
	require.NoError(t, err)
	got, parsed := rdBrowserOrigin(base, loc)
	ok = assert.True(t, parsed, "Location %q does not parse (%s)", loc, ctx) && ok
	ok = assert.Equal(t, rdOrigin(base), got, "Location %q leaves the app's origin (%s)", loc, ctx) && ok
	ok = assert.True(t, strings.HasPrefix(loc, app.url("/")), "Location %q is not an absolute URL on the app's origin (%s)", loc, ctx) && ok
	return ok
}

// rdHelperHandler serves the routes the helper tests use: /custom-login and
// /custom-logout call Context.Login and Context.Logout with ReturnTo taken
// from the "to" query parameter (decoded); everything else is appHandler.
func rdHelperHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/custom-login", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Login(w, r, LoginOptions{ReturnTo: r.URL.Query().Get("to")})
	})
	mux.HandleFunc("/custom-logout", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Logout(w, r, LogoutOptions{ReturnTo: r.URL.Query().Get("to")})
	})
	mux.Handle("/", appHandler())
	return mux
}

// rdAuthRequired makes every route require a login (the default).
func rdAuthRequired(c *Config) { c.AuthRequired = nil }

// TestRedirectRawRequestTargets covers RED-01 and RED-02 for the login that
// AuthRequired starts: hostile raw request targets, then a complete login;
// the post-login Location stays on the app's origin.
func TestRedirectRawRequestTargets(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withConfig(rdAuthRequired))
	cases := []struct{ id, target string }{
		{"RED-01", "//evil.com"},
		{"RED-01", "//evil.com/"},
		{"RED-01", "///evil.com"},
		{"RED-01", "////evil.com/a?b=c"},
		{"RED-01", "//evil.com/%2e%2e"},
		{"RED-01", "//evil.com/%2e%2e//evil.com"},
		{"RED-01", "/%2F%2Fevil.com"},
		{"RED-01", "/%2e%2e//evil.com"},
		{"RED-01", "/..//evil.com"},
		{"RED-01", "/.//evil.com"},
		{"RED-02", `/\evil.com`},
		{"RED-02", `/%5Cevil.com`},
		{"RED-02", `/\/evil.com`},
		{"RED-02", `/./\evil.com`},
		{"RED-02", `//\evil.com`},
		{"RED-02", `/%5C%5Cevil.com`},
		{"RED-03", "/%09/evil.com"},
		{"RED-03", "/%0D%0A/evil.com"},
		{"RED-03", "/x?next=%0D%0ALocation:%20https://evil.com"},
	}
	for _, tc := range cases {
		t.Run(tc.id+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			first, body := rdRaw(t, app, http.MethodGet, tc.target, "Accept", "text/html")
			require.Equal(t, http.StatusFound, first.StatusCode, body)
			rt := rdStateReturnTo(t, first)
			assert.True(t, strings.HasPrefix(rt, "/") && !strings.HasPrefix(rt, "//") || strings.HasPrefix(rt, app.url("/")),
				"returnTo %q is neither path-absolute nor on the app's origin", rt)
			assert.NotContains(t, rt, `\`)
			final := rdFinishLogin(t, app, app.browser(), first)
			t.Logf("returnTo %q, post-login Location %q", rt, final)
			rdAssertSameOrigin(t, app, final, tc.target)
		})
	}
	t.Run("RED-02 targets a server refuses are not redirects", func(t *testing.T) {
		t.Parallel()
		for _, target := range []string{`\\evil.com`, `\/evil.com`, "evil.com"} {
			resp, _ := rdRaw(t, app, http.MethodGet, target, "Accept", "text/html")
			assert.NotEqual(t, http.StatusFound, resp.StatusCode, target)
			assert.Empty(t, resp.Header.Get("Location"), target)
		}
	})
}

// rdRedirectCase is one returnTo input of the helper tests; want is the
// expected Location ("" means the fallback).
type rdRedirectCase struct {
	id, value, want string
}

// rdHelperCases returns the RED-02/RED-03/RED-05 inputs for app.
func rdHelperCases(app *testApp) []rdRedirectCase {
	origin := strings.TrimSuffix(app.url(""), "/")
	host := strings.TrimPrefix(origin, "https://")
	hostname, port, _ := net.SplitHostPort(host)
	otherPort := "8443"
	if port == otherPort {
		otherPort = "8444"
	}
	return []rdRedirectCase{
		{"RED-02", `\/evil.com`, ""},
		{"RED-02", `/\evil.com`, ""},
		{"RED-02", `\\evil.com`, ""},
		{"RED-02", `/./\evil.com`, ""},
		{"RED-03", "/\t/evil.com", ""}, // ?returnTo=/%09/evil.com, decoded
		{"RED-03", "/\n/evil.com", ""},
		{"RED-03", "/\r/evil.com", ""},
		{"RED-03", "/\t\t/\t/evil.com", ""},
		{"RED-03", "/x\r\nLocation: https://evil.com", ""},
		{"RED-03", " //evil.com", ""},
		{"RED-03", "//evil.com", ""},
		{"RED-03", "///evil.com", ""},
		{"RED-03", "http:evil.com", ""},
		{"RED-03", "https:evil.com", ""},
		{"RED-03", `https:\\evil.com`, ""},
		{"RED-03", "https:/evil.com", ""},
		{"RED-05", origin + "/x?y#z", origin + "/x?y#z"},
		{"RED-05", "/x?y#z", origin + "/x?y#z"},
		{"RED-05", "http://" + host + "/x", ""},
		{"RED-05", "https://" + net.JoinHostPort(hostname, otherPort) + "/x", ""},
		{"RED-05", "https://localhost:" + port + "/x", ""},
		{"RED-05", "https://evil.example/", ""},
		{"RED-05", "https://" + hostname + ".evil.com:" + port + "/", ""},
		{"RED-05", "https://" + host + "@evil.com/", ""},
		{"RED-05", `https://evil.com\@` + host + "/", ""},
		{"RED-05", "javascript:alert(1)", ""},
		{"RED-05", "JaVaScRiPt:alert(1)//" + host, ""},
		{"RED-05", "data:text/html,x", ""},
	}
}

// TestRedirectLoginHelper covers RED-02, RED-03 and RED-05 for
// Context.Login's ReturnTo: hostile values fall back to BaseURL, the
// same-origin value is honoured, and no Location carries TAB/CR/LF.
func TestRedirectLoginHelper(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withHandler(rdHelperHandler()))
	for _, tc := range rdHelperCases(app) {
		t.Run(fmt.Sprintf("%s %q", tc.id, tc.value), func(t *testing.T) {
			t.Parallel()
			b := app.browser()
			first, _ := b.get(app.url("/custom-login?" + url.Values{"to": {tc.value}}.Encode()))
			assert.NotContains(t, first.Header.Get("Location"), "evil.com")
			final := rdFinishLogin(t, app, b, first)
			want := tc.want
			if want == "" {
				want = app.cfg.BaseURL + "/"
			}
			assert.Equal(t, want, final)
			rdAssertSameOrigin(t, app, final, tc.value)
		})
	}
}

// TestRedirectLogoutHelper covers RED-02, RED-03, RED-05 and RED-07 for
// Context.Logout's ReturnTo, with a local and an IdP logout.
func TestRedirectLogoutHelper(t *testing.T) {
	t.Parallel()
	for _, idp := range []bool{false, true} {
		t.Run(fmt.Sprintf("idpLogout=%v", idp), func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withConfig(func(c *Config) { c.IDPLogout = idp }), withHandler(rdHelperHandler()))
			for _, tc := range rdHelperCases(app) {
				t.Run(fmt.Sprintf("%s %q", tc.id, tc.value), func(t *testing.T) {
					t.Parallel()
					b := app.browser()
					resp, _ := b.get(app.url("/custom-logout?" + url.Values{"to": {tc.value}}.Encode()))
					require.Equal(t, http.StatusFound, resp.StatusCode)
					loc := resp.Header.Get("Location")
					assert.False(t, strings.ContainsAny(loc, "\t\r\n"), "Location %q", loc)
					want := tc.want
					if want == "" {
						want = app.cfg.BaseURL + "/"
					}
					if idp {
						require.True(t, strings.HasPrefix(loc, app.op.URL()+oidctest.PathEndSession+"?"), loc)
						u, err := url.Parse(loc)
						require.NoError(t, err)
						loc = u.Query().Get("post_logout_redirect_uri")
					}
					assert.Equal(t, want, loc)
					rdAssertSameOrigin(t, app, loc, tc.value)
				})
			}
		})
	}
}

// rdCorpusPath is the open-redirect corpus, which internal/safeurl's
// tests run through Resolve and FromRequest as the middleware uses them.
const rdCorpusPath = "internal/safeurl/testdata/openredirects.txt"

// rdCorpusEntry is one input of the corpus: a line verbatim, or unescaped.
type rdCorpusEntry struct {
	line       int
	src, value string // the corpus line and the input made of it
}

// rdCorpus reads the corpus: every line verbatim, QueryUnescape'd and
// PathUnescape'd (each distinct form once).
func rdCorpus(t *testing.T) []rdCorpusEntry {
	t.Helper()
	data, err := os.ReadFile(rdCorpusPath)
	require.NoError(t, err)
	var corpus []rdCorpusEntry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		seen := map[string]bool{}
		for _, v := range []string{line, rdUnescape(url.QueryUnescape, line), rdUnescape(url.PathUnescape, line)} {
			if v != "" && !seen[v] {
				seen[v] = true
				corpus = append(corpus, rdCorpusEntry{i + 1, line, v})
			}
		}
	}
	require.Greater(t, len(corpus), 300)
	return corpus
}

// rdCorpusValue returns a corpus input for app: written for
// https://app.example, whose origin is replaced by the app's, so the rest
// of "app.example" is a foreign site here.
func rdCorpusValue(app *testApp, c rdCorpusEntry) string {
	return strings.ReplaceAll(c.value, "https://app.example", strings.TrimSuffix(app.url(""), "/"))
}

// TestRedirectCorpusLogout covers RED-04 for Context.Logout, which joins a
// relative returnTo to BaseURL before safeurl.Resolve checks it (the rest of
// the corpus check is internal/safeurl's TestCorpusResolve and
// TestCorpusFromRequest): every input of the corpus, verbatim and unescaped,
// as the ReturnTo, served without a network; the Location must stay on the
// app's origin.
func TestRedirectCorpusLogout(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withHandler(rdHelperHandler()))
	for _, c := range rdCorpus(t) {
		ctx := fmt.Sprintf("line %d %q", c.line, c.value)
		req := httptest.NewRequest(http.MethodGet, app.url("/custom-logout?"+url.Values{"to": {rdCorpusValue(app, c)}}.Encode()), nil)
		rec := app.direct(req)
		require.Equal(t, http.StatusFound, rec.Code, ctx)
		rdAssertSameOrigin(t, app, rec.Header().Get("Location"), ctx, " (logout)")
	}
}

// rdCorpusSample are corpus lines, one or two of each kind, that
// TestRedirectCorpusSample drives through the whole middleware.
var rdCorpusSample = []string{
	"/protected?x=1",                // same-origin controls
	"https://app.example/x?y%23z",   //
	"//evil.com",                    // protocol-relative
	`/\evil.com`,                    // backslash
	"/%09/evil.com",                 // a control character, encoded and raw
	"/.//evil.com",                  // dot segments
	"/%2F%2Fevil.com",               // encoded slashes
	"https:evil.com",                // scheme without authority
	"https://app.example@evil.com/", // userinfo
	"https://app.example.evil.com/", // look-alike host
	"javascript:alert(1)",           // script scheme
	"//evil。com",                    // unicode full stop
	" //evil.com",                   // leading space
	"evil.com",                      // relative without a slash
}

// TestRedirectCorpusSample covers RED-04 end to end for a sample of the
// corpus (each line verbatim and unescaped): as the ReturnTo of
// Context.Login, with the login completed at the provider and the final
// Location checked; as the ReturnTo of Context.Logout; and, where it is a
// valid request target, as the raw path of a request that AuthRequired
// sends to the login.
func TestRedirectCorpusSample(t *testing.T) {
	t.Parallel()
	helperApp := newTestApp(t, withHandler(rdHelperHandler()))
	guardApp := newTestApp(t, withConfig(rdAuthRequired))
	var sample []rdCorpusEntry
	for _, c := range rdCorpus(t) {
		if slices.Contains(rdCorpusSample, c.src) {
			sample = append(sample, c)
		}
	}
	for _, line := range rdCorpusSample {
		require.True(t, slices.ContainsFunc(sample, func(c rdCorpusEntry) bool { return c.src == line }), "%q is not a corpus line", line)
	}

	accepted, targets, rawTried := 0, 0, 0
	for _, c := range sample {
		ctx := fmt.Sprintf("line %d %q", c.line, c.value)

		// Context.Login, with the login completed.
		b := helperApp.browser()
		first, _ := b.get(helperApp.url("/custom-login?" + url.Values{"to": {rdCorpusValue(helperApp, c)}}.Encode()))
		rdAssertSameOrigin(t, helperApp, rdStateReturnTo(t, first), ctx, " (login state)")
		final := rdFinishLogin(t, helperApp, b, first)
		rdAssertSameOrigin(t, helperApp, final, ctx, " (login)")
		if final != helperApp.cfg.BaseURL+"/" {
			accepted++
		}

		// Context.Logout.
		resp, _ := b.get(helperApp.url("/custom-logout?" + url.Values{"to": {rdCorpusValue(helperApp, c)}}.Encode()))
		require.Equal(t, http.StatusFound, resp.StatusCode, ctx)
		rdAssertSameOrigin(t, helperApp, resp.Header.Get("Location"), ctx, " (logout)")

		// Raw request target through AuthRequired.
		if !rdValidTarget(c.value) {
			continue
		}
		targets++
		resp, body := rdRaw(t, guardApp, http.MethodGet, rdCorpusValue(guardApp, c), "Accept", "text/html")
		if resp.StatusCode != http.StatusFound {
			assert.Empty(t, resp.Header.Get("Location"), "%s: %d %s", ctx, resp.StatusCode, body)
			continue
		}
		rawTried++
		rt := rdStateReturnTo(t, resp)
		assert.True(t, rt == guardApp.cfg.BaseURL+"/" || strings.HasPrefix(rt, "/") && !strings.HasPrefix(rt, "//"),
			"%s: returnTo %q", ctx, rt)
		final = rdFinishLogin(t, guardApp, guardApp.browser(), resp)
		rdAssertSameOrigin(t, guardApp, final, ctx, " (raw target)")
	}
	t.Logf("%d inputs, %d accepted as same-origin returnTo, %d raw targets logged in", len(sample), accepted, rawTried)
	assert.GreaterOrEqual(t, accepted, 2, "the same-origin controls of the sample should be honoured")
	assert.Greater(t, 2*rawTried, targets, "most path payloads should reach the login as raw targets")
}

// rdUnescape returns f(s), or "" when s does not unescape.
func rdUnescape(f func(string) (string, error), s string) string {
	u, err := f(s)
	if err != nil {
		return ""
	}
	return u
}

// rdValidTarget reports whether s can be written as an origin-form request
// target: it starts with '/' and has only printable ASCII without spaces.
func rdValidTarget(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// TestRedirectReturnToParameterInjection covers RED-06: a returnTo that
// looks like extra authorization parameters stays inside state; prompt and
// redirect_uri of the authorization request come from the configuration.
func TestRedirectReturnToParameterInjection(t *testing.T) {
	t.Parallel()
	const injected = "/x&prompt=none&redirect_uri=https://evil.example/cb"
	setup := func(c *Config) { c.AuthorizationParams = map[string]string{"prompt": "login"} }
	helper := newTestApp(t, withConfig(setup), withHandler(rdHelperHandler()))
	guard := newTestApp(t, withConfig(func(c *Config) { setup(c); rdAuthRequired(c) }))

	cases := []struct {
		name  string
		app   *testApp
		start func(b *browser) *http.Response
		want  string
	}{
		{"RED-06 Context.Login ReturnTo", helper, func(b *browser) *http.Response {
			resp, _ := b.get(helper.url("/custom-login?" + url.Values{"to": {injected}}.Encode()))
			return resp
		}, helper.url(injected)},
		{"RED-06 raw path through AuthRequired", guard, func(b *browser) *http.Response {
			resp, _ := rdRaw(t, guard, http.MethodGet, injected, "Accept", "text/html")
			return resp
		}, guard.url(injected)},
		{"RED-06 query through AuthRequired", guard, func(b *browser) *http.Response {
			resp, _ := rdRaw(t, guard, http.MethodGet, "/x?a=1&prompt=none&redirect_uri=https://evil.example/cb", "Accept", "text/html")
			return resp
		}, guard.url("/x?a=1&prompt=none&redirect_uri=https://evil.example/cb")},
		{"RED-06 login route ignores returnTo", helper, func(b *browser) *http.Response {
			resp, _ := b.get(helper.url("/login?returnTo=" + url.QueryEscape(injected) + "&prompt=none&redirect_uri=https://evil.example/cb"))
			return resp
		}, helper.cfg.BaseURL + "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.app.browser()
			first := tc.start(b)
			loc, err := url.Parse(first.Header.Get("Location"))
			require.NoError(t, err)
			q := loc.Query()
			assert.Equal(t, []string{"login"}, q["prompt"])
			assert.Equal(t, []string{tc.app.url("/callback")}, q["redirect_uri"])
			assert.Len(t, q["state"], 1)
			assert.NotContains(t, loc.RawQuery, "evil.example", "the returnTo must not leak into the query unencoded")
			assert.Equal(t, tc.want, rdStateReturnToAbs(t, tc.app, first))
			final := rdFinishLogin(t, tc.app, b, first)
			assert.Equal(t, tc.want, final)
			rdAssertSameOrigin(t, tc.app, final)
		})
	}
}

// rdStateReturnToAbs is the state's returnTo resolved against the app.
func rdStateReturnToAbs(t *testing.T, app *testApp, resp *http.Response) string {
	t.Helper()
	rt := rdStateReturnTo(t, resp)
	if strings.HasPrefix(rt, "/") {
		return app.url(rt)
	}
	return rt
}

// TestRedirectHostHeaders covers HDR-06: the redirect_uri, the cookies and
// the post-login target come from BaseURL, never from Host or forwarding
// headers.
func TestRedirectHostHeaders(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	cases := []struct {
		name    string
		headers []string
	}{
		{"HDR-06 Host", []string{"Host", "evil.example"}},
		{"HDR-06 X-Forwarded-Host", []string{"X-Forwarded-Host", "evil.example"}},
		{"HDR-06 X-Forwarded-Proto", []string{"X-Forwarded-Proto", "http"}},
		{"HDR-06 Forwarded", []string{"Forwarded", "host=evil.example;proto=http"}},
		{"HDR-06 all at once", []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example",
			"X-Forwarded-Proto", "http", "X-Forwarded-Port", "80", "X-Original-Host", "evil.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first, body := rdRaw(t, app, http.MethodGet, "/login", tc.headers...)
			require.Equal(t, http.StatusFound, first.StatusCode, body)
			q := rdAuthorizeQuery(t, first)
			assert.Equal(t, app.url("/callback"), q.Get("redirect_uri"))
			assert.Equal(t, app.cfg.BaseURL+"/", rdStateReturnTo(t, first))
			for _, line := range first.Header.Values("Set-Cookie") {
				assert.Contains(t, line, "; Secure", line)
				assert.NotContains(t, strings.ToLower(line), "domain=", line)
			}
			final := rdFinishLogin(t, app, app.browser(), first)
			assert.Equal(t, app.cfg.BaseURL+"/", final)
		})
	}
	t.Run("HDR-06 guarded route", func(t *testing.T) {
		t.Parallel()
		guard := newTestApp(t, withConfig(rdAuthRequired))
		first, body := rdRaw(t, guard, http.MethodGet, "/page?x=1", "Host", "evil.example",
			"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "Accept", "text/html")
		require.Equal(t, http.StatusFound, first.StatusCode, body)
		assert.Equal(t, guard.url("/callback"), rdAuthorizeQuery(t, first).Get("redirect_uri"))
		final := rdFinishLogin(t, guard, guard.browser(), first)
		assert.Equal(t, guard.url("/page?x=1"), final)
	})
}

// TestRedirectRouteProtection covers HDR-01: the protection decision uses
// the request path only; query strings, fragments and rewrite headers do not
// expose a protected route.
func TestRedirectRouteProtection(t *testing.T) {
	t.Parallel()
	const secret = "secret-content"
	handler := func() http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("/public", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "public") })
		mux.Handle("/protected", RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, secret)
		})))
		return mux
	}
	type req struct {
		name, target string
		headers      []string
	}
	reqs := []req{
		{"HDR-01 query", "/protected?x=/public", nil},
		{"HDR-01 raw fragment", "/protected#/public", nil},
		{"HDR-01 X-Original-URL", "/protected", []string{"X-Original-URL", "/public"}},
		{"HDR-01 X-Rewrite-URL", "/protected", []string{"X-Rewrite-URL", "/public"}},
		{"HDR-01 X-Forwarded-Uri", "/protected", []string{"X-Forwarded-Uri", "/public"}},
		{"HDR-01 X-Forwarded-Prefix", "/protected", []string{"X-Forwarded-Prefix", "/public"}},
		{"HDR-01 kube-probe", "/protected", []string{"User-Agent", "kube-probe/1.0"}},
		{"HDR-01 dot segments", "/public/../protected", nil},
		{"HDR-01 double slash", "//protected", nil},
		{"HDR-01 encoded", "/%70rotected", nil},
		{"HDR-01 semicolon", "/protected;/public", nil},
	}
	for _, mode := range []string{"RequiresAuth", "AuthRequired"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			mutate := func(*Config) {}
			if mode == "AuthRequired" {
				mutate = rdAuthRequired
			}
			app := newTestApp(t, withConfig(mutate), withHandler(handler()))
			for _, rq := range reqs {
				t.Run(rq.name, func(t *testing.T) {
					for _, accept := range []string{"text/html", "application/json"} {
						resp, body := rdRaw(t, app, http.MethodGet, rq.target, append([]string{"Accept", accept}, rq.headers...)...)
						assert.NotContains(t, body, secret, "%s (Accept %s) served protected content: %d", rq.target, accept, resp.StatusCode)
						assert.NotEqual(t, http.StatusOK, resp.StatusCode, "%s (Accept %s)", rq.target, accept)
					}
				})
			}
			t.Run("control: logged-in user is served", func(t *testing.T) {
				b := app.browser()
				b.login(app, "/protected")
				resp, body := b.get(app.url("/protected?x=/public"))
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, secret, body)
			})
			if mode == "RequiresAuth" {
				t.Run("control: public route is public", func(t *testing.T) {
					resp, body := rdRaw(t, app, http.MethodGet, "/public", "X-Original-URL", "/protected")
					assert.Equal(t, http.StatusOK, resp.StatusCode)
					assert.Equal(t, "public", body)
				})
			}
		})
	}
}

// TestRedirectLogoutRoute covers RED-07: the built-in logout route ignores
// returnTo-like query parameters, and a programmatic logout to "//evil.com"
// stays on the app's origin, with and without IdP logout.
func TestRedirectLogoutRoute(t *testing.T) {
	t.Parallel()
	for _, idp := range []bool{false, true} {
		t.Run(fmt.Sprintf("RED-07 idpLogout=%v", idp), func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withConfig(func(c *Config) { c.IDPLogout = idp }), withHandler(rdHelperHandler()))
			targets := []string{
				"/logout?returnTo=https://evil.example",
				"/logout?returnTo=%2F%2Fevil.example&post_logout_redirect_uri=https://evil.example/&redirect=https://evil.example",
				"/custom-logout?to=%2F%2Fevil.com",
				"/custom-logout?to=https%3A%2F%2Fevil.example%2F",
			}
			for _, target := range targets {
				t.Run(target, func(t *testing.T) {
					b := app.browser()
					b.login(app, "/login")
					resp, _ := b.get(app.url(target))
					require.Equal(t, http.StatusFound, resp.StatusCode)
					loc := resp.Header.Get("Location")
					if idp {
						require.True(t, strings.HasPrefix(loc, app.op.URL()+oidctest.PathEndSession+"?"), loc)
						u, err := url.Parse(loc)
						require.NoError(t, err)
						assert.Equal(t, []string{app.cfg.BaseURL + "/"}, u.Query()["post_logout_redirect_uri"])
						assert.Empty(t, u.Query()["returnTo"])
						assert.Empty(t, u.Query()["redirect"])
						// The provider accepts it and sends the browser back.
						back, _ := b.get(loc)
						require.Equal(t, http.StatusFound, back.StatusCode)
						loc = back.Header.Get("Location")
					}
					assert.Equal(t, app.cfg.BaseURL+"/", loc)
					rdAssertSameOrigin(t, app, loc, target)
					assert.Equal(t, false, b.session(app)["authenticated"])
				})
			}
		})
	}
}

// TestRedirectMountedReturnTo checks the AuthRequired returnTo of an
// application mounted under BaseURL's path, both when the middleware sees
// the full path and when http.StripPrefix runs before it (route() supports
// both): the user comes back to the mounted URL.
func TestRedirectMountedReturnTo(t *testing.T) {
	t.Parallel()
	mount := func(c *Config) {
		rdAuthRequired(c)
		c.BaseURL += "/app"
	}
	t.Run("middleware sees the full path", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(mount), withHandler(http.StripPrefix("/app", appHandler())))
		b := app.browser()
		first, _ := b.get(app.url("/app/page?x=1"), "Accept", "text/html")
		assert.Equal(t, app.url("/app/callback"), rdAuthorizeQuery(t, first).Get("redirect_uri"))
		final := rdFinishLogin(t, app, b, first)
		assert.Equal(t, app.url("/app/page?x=1"), final)
		_, body := b.get(app.url("/app/"))
		assert.Equal(t, "hello user-1", body)
	})
	t.Run("http.StripPrefix before the middleware", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withConfig(mount))
		outer := http.NewServeMux()
		outer.Handle("/app/", http.StripPrefix("/app", app.m.Handler(appHandler())))
		app.srv.Config.Handler = outer
		b := app.browser()
		first, _ := b.get(app.url("/app/page?x=1"), "Accept", "text/html")
		assert.Equal(t, app.url("/app/callback"), rdAuthorizeQuery(t, first).Get("redirect_uri"))
		final := rdFinishLogin(t, app, b, first)
		rdAssertSameOrigin(t, app, final)
		_, body := b.get(app.url("/app/"))
		assert.Equal(t, "hello user-1", body)
		if final != app.url("/app/page?x=1") {
			t.Errorf("login.go (*Middleware).login derives the GET returnTo from r.URL, which http.StripPrefix "+
				"has already stripped of BaseURL's path: got %q, want %q (express uses req.originalUrl)", final, app.url("/app/page?x=1"))
		}
	})
}
