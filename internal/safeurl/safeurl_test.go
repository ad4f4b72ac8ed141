package safeurl

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	appBase     = "https://app.example"
	mountedBase = "https://app.example/app/"
	localBase   = "http://localhost:3000/app"
	corpusPath  = "testdata/openredirects.txt"
)

// mustParse parses an absolute base URL for tests.
func mustParse(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	require.NoError(tb, err)
	return u
}

// testBases are the bases every corpus and fuzz input is checked against.
func testBases(tb testing.TB) []*url.URL {
	return []*url.URL{mustParse(tb, appBase), mustParse(tb, mountedBase), mustParse(tb, localBase)}
}

// locationProblem returns why loc, emitted by Resolve for base, is unsafe,
// or "" if it is fine.
func locationProblem(base *url.URL, loc string) string {
	if loc == "" {
		return "empty location"
	}
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "location contains control, space, backslash or non-ASCII byte"
		}
	}
	if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
		return "location is protocol-relative"
	}
	if u, err := url.Parse(loc); err != nil || strings.HasPrefix(RemoveDotSegments(u.EscapedPath()), "//") {
		return "location does not parse or its path starts with //"
	}
	got, ok := browserResolve(base, loc)
	if !ok {
		return "browser could not parse location"
	}
	if want := baseOrigin(base); got != want {
		return "browser goes to " + got.scheme + "://" + got.host + ":" + got.port
	}
	again, ok := Resolve(base, loc)
	if !ok || again != loc {
		return "Resolve is not idempotent on its own output: " + again
	}
	return ""
}

// relativeProblem returns why ref, returned by FromRequest for base, is
// unsafe, or "" if it is fine.
func relativeProblem(base *url.URL, ref string) string {
	if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
		return "not a single-slash path-absolute reference"
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '#' {
			return "reference contains control, space, backslash, '#' or non-ASCII byte"
		}
	}
	if got, ok := browserResolve(base, ref); !ok || got != baseOrigin(base) {
		return "browser leaves the origin for the relative reference"
	}
	loc, ok := Resolve(base, ref)
	if !ok {
		return "FromRequest result does not pass Resolve"
	}
	return locationProblem(base, loc)
}

type resolveCase struct {
	name string
	base string // appBase when empty
	in   string
	want string // "" means rejected
}

// resolveCases covers the "Redirects" table of docs/security.md: RED-01..RED-05
// and RED-07.
var resolveCases = []resolveCase{
	// Accepted.
	{name: "root", in: "/", want: "https://app.example/"},
	{name: "path and query", in: "/protected?x=1", want: "https://app.example/protected?x=1"},
	{name: "RED-05 same origin absolute", in: "https://app.example/x?y#z", want: "https://app.example/x?y#z"},
	{name: "absolute no path", in: "https://app.example", want: "https://app.example"},
	{name: "absolute query only", in: "https://app.example?x", want: "https://app.example?x"},
	{name: "upper-case host", in: "https://APP.Example/x", want: "https://app.example/x"},
	{name: "upper-case scheme", in: "HTTPS://app.example/x", want: "https://app.example/x"},
	{name: "explicit default port", in: "https://app.example:443/x", want: "https://app.example/x"},
	{name: "empty port", in: "https://app.example:/x", want: "https://app.example/x"},
	{name: "encoded backslash stays encoded", in: "/%5Cevil.com", want: "https://app.example/%5Cevil.com"},
	{name: "encoded slashes stay encoded", in: "/%2F%2Fevil.com", want: "https://app.example/%2F%2Fevil.com"},
	{name: "encoded dot dot removed like a browser", in: "/evil.com/%2e%2e", want: "https://app.example/"},
	{name: "encoded dots mixed case", in: "/a/%2E/b/.%2e/c/%2e./d/%2E%2e", want: "https://app.example/a/"},
	{name: "encoded dot dot at root", in: "/%2e%2e/x", want: "https://app.example/x"},
	{name: "double-encoded dot is not a dot", in: "/a/%252e%252e/b", want: "https://app.example/a/%252e%252e/b"},
	{name: "dot segments", in: "/a/../b/./c", want: "https://app.example/b/c"},
	{name: "query with space and unicode escaped", in: "/a?q=x y&r=é", want: "https://app.example/a?q=x%20y&r=%C3%A9"},
	{name: "unicode path escaped", in: "/é", want: "https://app.example/%C3%A9"},
	{name: "ideographic space inside path", in: "/\u3000/evil.com", want: "https://app.example/%E3%80%80/evil.com"},
	{name: "empty query kept", in: "/?", want: "https://app.example/?"},
	{name: "query contains slashes", in: "/cb?next=//evil.com", want: "https://app.example/cb?next=//evil.com"},
	{name: "mounted base relative", base: mountedBase, in: "/x", want: "https://app.example/x"},
	{name: "mounted base absolute", base: mountedBase, in: "https://app.example/app/x", want: "https://app.example/app/x"},
	{name: "port base relative", base: localBase, in: "/app/p?q", want: "http://localhost:3000/app/p?q"},
	{name: "port base absolute", base: localBase, in: "http://localhost:3000/x", want: "http://localhost:3000/x"},
	{name: "base userinfo not copied", base: "https://u:p@app.example", in: "/x", want: "https://app.example/x"},

	// §3.4 table and RED-01/RED-02: slashes and backslashes.
	{name: "RED-01 protocol relative", in: "//evil.com"},
	{name: "RED-01 triple slash", in: "///evil.com"},
	{name: "RED-01 encoded dots", in: "//evil.com/%2e%2e"},
	{name: "protocol relative to own host", in: "//app.example/x"},
	{name: "RED-02 slash backslash", in: `/\evil.com`},
	{name: "RED-02 slash backslash slash", in: `/\/evil.com`},
	{name: "RED-02 dot backslash", in: `/./\evil.com`},
	{name: "RED-02 backslash slash", in: `\/evil.com`},
	{name: "double backslash", in: `\\evil.com`},
	{name: "dot dot backslash", in: `/./../../\evil.com`},
	{name: "dot double slash", in: "/.//evil.com"},
	{name: "encoded dot dot double slash", in: "/%2e%2e//evil.com"},
	{name: "encoded dot double slash", in: "/%2E//evil.com"},
	{name: "absolute encoded dot double slash", in: "https://app.example/%2e%2e//evil.com"},
	// Go's dot-segment removal differs from the browser's here ("/evil.com"
	// vs "//evil.com"), but the emitted URL is absolute, so it is harmless.
	{name: "dot dot double slash", in: "/..//evil.com", want: "https://app.example/evil.com"},
	{name: "mounted dot dot double slash", base: mountedBase, in: "/a/..//evil.com", want: "https://app.example/evil.com"},

	// RED-03: whitespace and controls.
	{name: "RED-03 tab", in: "/\t/evil.com"},
	{name: "RED-03 LF", in: "/\n/evil.com"},
	{name: "RED-03 CR", in: "/\r/evil.com"},
	{name: "RED-03 tabs", in: "/\t\t/\t/evil.com"},
	{name: "RED-03 leading space", in: " //evil.com"},
	{name: "leading space path", in: " /x"},
	{name: "trailing space", in: "/x "},
	{name: "leading NBSP", in: "\u00a0/x"},
	{name: "leading ideographic space", in: "\u3000/x"},
	{name: "NUL", in: "/x\x00"},
	{name: "DEL", in: "/x\x7f"},
	{name: "vertical tab", in: "/\v/evil.com"},
	{name: "space only", in: " "},
	{name: "empty", in: ""},

	// RED-03 and §3.4: scheme tricks.
	{name: "RED-03 http scheme only", in: "http:evil.com"},
	{name: "https scheme only", in: "https:evil.com"},
	{name: "scheme one slash", in: "https:/evil.com"},
	{name: "scheme three slashes", in: "https:///evil.com"},
	{name: "RED-03 scheme backslashes", in: `https:\\evil.com`},
	{name: "scheme only own host", in: "https:app.example/x"},
	{name: "scheme one slash own host", in: "https:/app.example/x"},

	// RED-05 and §3.4: origin checks and userinfo.
	{name: "RED-05 other scheme", in: "http://app.example/x"},
	{name: "RED-05 other port", in: "https://app.example:8443/x"},
	{name: "port with leading zero", in: "https://app.example:0443/x"},
	{name: "http default port on https", in: "https://app.example:80/x"},
	{name: "RED-05 suffix look-alike", in: "https://evilapp.example/"},
	{name: "RED-05 subdomain of evil", in: "https://app.example.evil.com/"},
	{name: "RED-05 userinfo host", in: "https://app.example@evil.com/"},
	{name: "RED-05 backslash userinfo", in: `https://evil.com\@app.example/`},
	{name: "userinfo on own host", in: "https://user:pw@app.example/"},
	{name: "empty userinfo", in: "https://@app.example/"},
	{name: "trailing dot host", in: "https://app.example./"},
	{name: "percent-encoded host", in: "https://app%2Eexample/"},
	{name: "encoded dot into evil", in: "https://app.example%2eevil.com/"},
	{name: "ideographic full stop", in: "https://app.example\u3002evil.com/"},
	{name: "full-width host", in: "https://\uff41\uff50\uff50.example/"},
	{name: "other host", in: "https://evil.com/"},
	{name: "ws scheme", in: "ws://app.example/"},
	{name: "local base other port", base: localBase, in: "http://localhost/x"},
	{name: "local base https", base: localBase, in: "https://localhost:3000/x"},

	// RED-05 and RED-07: script schemes and non-path relatives.
	{name: "RED-05 javascript", in: "javascript:alert(1)"},
	{name: "javascript mixed case", in: "JaVaScRiPt:alert(1)"},
	{name: "javascript with authority", in: "javascript://app.example/%0aalert(1)"},
	{name: "RED-05 data", in: "data:text/html,x"},
	{name: "RED-07 logout protocol relative", in: "//evil.com"},
	{name: "RED-07 logout absolute", in: "https://evil.example"},
	{name: "query only", in: "?x"},
	{name: "fragment only", in: "#y"},
	{name: "bare word", in: "evil.com"},
	{name: "dot relative", in: "./x"},
	{name: "dot dot relative", in: "../x"},
	{name: "invalid escape", in: "/%zz"},
	{name: "colon first", in: ":x"},

	// Bad bases.
	{name: "relative base", base: "/app", in: "/x"},
	{name: "non-http base", base: "ftp://app.example", in: "/x"},
	{name: "opaque base", base: "mailto:a@b", in: "/x"},
}

func TestResolve(t *testing.T) {
	for _, tc := range resolveCases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.base
			if b == "" {
				b = appBase
			}
			base := mustParse(t, b)
			got, ok := Resolve(base, tc.in)
			if tc.want == "" {
				assert.False(t, ok, "accepted %q as %q", tc.in, got)
				assert.Empty(t, got)
				return
			}
			require.True(t, ok, "rejected %q", tc.in)
			assert.Equal(t, tc.want, got)
			assert.Empty(t, locationProblem(base, got))
		})
	}
}

func TestResolveNilBase(t *testing.T) {
	got, ok := Resolve(nil, "/x")
	assert.False(t, ok)
	assert.Empty(t, got)
}

// TestOracle checks that browserResolve recognises the attacks in §3.4's
// "Browser result" column, so that the corpus and fuzz checks mean something.
func TestOracle(t *testing.T) {
	base := mustParse(t, appBase)
	evil := origin{scheme: "https", host: "evil.com"}
	cases := []struct {
		loc  string
		want origin
	}{
		{"//evil.com", evil},
		{"///evil.com", evil},
		{`/\evil.com`, evil},
		{`\/evil.com`, evil},
		{`/\/evil.com`, evil},
		{"/\t/evil.com", evil},
		{"/\t\t/\t/evil.com", evil},
		{" //evil.com", evil},
		{"\n//evil.com", evil},
		{"http:evil.com", origin{scheme: "http", host: "evil.com"}},
		{"http:/evil.com", origin{scheme: "http", host: "evil.com"}},
		{`https:\\evil.com`, evil},
		{"https:///evil.com", evil},
		{`https://evil.com\@app.example/`, evil},
		{"https://app.example@evil.com/", evil},
		{"https://app.example:443/x", baseOrigin(base)},
		{"https://EVIL.com:443/", evil},
		{"https://app.example\u3002evil.com/", origin{scheme: "https", host: "app.example.evil.com"}},
		{"//\uff45\uff56\uff49\uff4c.com", evil},
		{"https:evil.com", baseOrigin(base)},
		{"https:/evil.com", baseOrigin(base)},
		{"/evil.com", baseOrigin(base)},
		{"?//evil.com", baseOrigin(base)},
		{"https://app.example/x", baseOrigin(base)},
		{"javascript:alert(1)", origin{scheme: "javascript", opaque: true}},
	}
	for _, tc := range cases {
		t.Run(tc.loc, func(t *testing.T) {
			got, ok := browserResolve(base, tc.loc)
			require.True(t, ok)
			assert.Equal(t, tc.want, got)
		})
	}
	_, ok := browserResolve(base, "https://evil.com%2F.app.example/")
	assert.False(t, ok, "forbidden host code point must fail to parse")
}

type corpusLine struct {
	line  int
	value string
}

// loadCorpus reads testdata/openredirects.txt: each payload verbatim and, when
// different, its url.QueryUnescape'd and url.PathUnescape'd forms.
func loadCorpus(tb testing.TB) []corpusLine {
	tb.Helper()
	data, err := os.ReadFile(corpusPath)
	require.NoError(tb, err)
	var out []corpusLine
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, corpusLine{i + 1, line})
		seen := map[string]bool{line: true}
		for _, unescape := range []func(string) (string, error){url.QueryUnescape, url.PathUnescape} {
			if u, err := unescape(line); err == nil && !seen[u] {
				seen[u] = true
				out = append(out, corpusLine{i + 1, u})
			}
		}
	}
	return out
}

// middlewareBase returns base as the middleware holds BaseURL: with the
// path "/" when it has none.
func middlewareBase(base *url.URL) *url.URL {
	u := *base
	if u.Path == "" {
		u.Path = "/"
	}
	return &u
}

// resolveOr is Resolve as the middleware uses it: the resolved URL, or
// fallback (BaseURL) when Resolve refuses the candidate.
func resolveOr(base *url.URL, candidate, fallback string) string {
	if loc, ok := Resolve(base, candidate); ok {
		return loc
	}
	return fallback
}

// checkRedirect checks a Location the middleware would emit for base: safe
// (locationProblem) and an absolute URL on base's origin.
func checkRedirect(t *testing.T, base *url.URL, loc string, c corpusLine, step string) {
	t.Helper()
	assert.Empty(t, locationProblem(base, loc), "line %d %q (%s) -> %q", c.line, c.value, step, loc)
	origin := strings.ToLower(base.Scheme) + "://" + base.Host + "/"
	assert.True(t, strings.HasPrefix(loc, origin), "line %d %q (%s): %q is not an absolute URL on %s", c.line, c.value, step, loc, origin)
}

// TestCorpusResolve covers RED-04 for a returnTo given to Context.Login
// (login.go): the login state holds Resolve's result, or BaseURL when
// Resolve refuses the value, and the callback (callback.go) resolves the
// state's returnTo again, falling back to BaseURL, for its Location. Every
// payload, verbatim and unescaped, must give safe Locations on BaseURL's
// origin at both steps, and the corpus's same-origin controls must be
// honoured. (Context.Logout joins relative values to BaseURL first; the root
// package's TestRedirectCorpusLogout covers it.)
func TestCorpusResolve(t *testing.T) {
	corpus := loadCorpus(t)
	require.GreaterOrEqual(t, len(corpus), 300)
	for _, base := range testBases(t) {
		base := middlewareBase(base)
		t.Run(base.String(), func(t *testing.T) {
			accepted, offOrigin := 0, 0
			for _, c := range corpus {
				if o, ok := browserResolve(base, c.value); !ok || o != baseOrigin(base) {
					offOrigin++
				}
				if loc, ok := Resolve(base, c.value); !ok {
					assert.Empty(t, loc)
				}
				state := resolveOr(base, c.value, base.String())
				checkRedirect(t, base, state, c, "login state")
				final := resolveOr(base, state, base.String())
				checkRedirect(t, base, final, c, "callback")
				if final != base.String() {
					accepted++
				}
			}
			// The corpus must actually be hostile and Resolve must not be a
			// reject-everything stub.
			assert.Greater(t, offOrigin, 200, "payloads the oracle sends off-origin")
			assert.Greater(t, accepted, 10, "the same-origin controls of the corpus should be honoured")
			t.Logf("%d inputs, %d off-origin as raw Location, %d accepted as same-origin returnTo", len(corpus), offOrigin, accepted)
		})
	}
}

// TestCorpusFromRequest covers RED-04 for the URL of a request that
// AuthRequired sends to the login (login.go): every payload that is a
// request target net/http accepts (it starts with '/' and url.ParseRequestURI
// takes it, which includes bytes a raw request line cannot carry) becomes
// the state's returnTo through FromRequest, or BaseURL when FromRequest
// refuses it; the callback then resolves it. The returnTo must be BaseURL
// or a single-slash path-absolute reference (relativeProblem), and the
// callback's Location safe and on BaseURL's origin.
func TestCorpusFromRequest(t *testing.T) {
	corpus := loadCorpus(t)
	for _, base := range testBases(t) {
		base := middlewareBase(base)
		t.Run(base.String(), func(t *testing.T) {
			tried, kept := 0, 0
			for _, c := range corpus {
				if !strings.HasPrefix(c.value, "/") {
					continue
				}
				u, err := url.ParseRequestURI(c.value)
				if err != nil {
					continue
				}
				tried++
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.URL = u
				state := base.String()
				if got := FromRequest(base, r); got != "" {
					kept++
					assert.Empty(t, relativeProblem(base, got), "line %d %q -> %q", c.line, c.value, got)
					state = got
				}
				checkRedirect(t, base, resolveOr(base, state, base.String()), c, "callback")
			}
			assert.Greater(t, tried, 100, "most path payloads should be request targets")
			assert.Greater(t, kept, 100, "and most of them kept as the returnTo")
			t.Logf("%d request targets, %d kept as returnTo", tried, kept)
		})
	}
}

func TestFromRequest(t *testing.T) {
	base := mustParse(t, appBase)
	cases := []struct {
		name string
		raw  string // request target set via url.ParseRequestURI
		want string
	}{
		{"RED-01 double slash", "//evil.com", "/evil.com"},
		{"RED-01 triple slash", "///evil.com", "/evil.com"},
		{"RED-01 encoded dots", "//evil.com/%2e%2e", "/evil.com/%2e%2e"},
		{"RED-02 slash backslash", `/\evil.com`, "/%5Cevil.com"},
		{"RED-02 encoded backslash", "/%5Cevil.com", "/%5Cevil.com"},
		{"RED-02 slash backslash slash", `/\/evil.com`, "/%5C/evil.com"},
		{"RED-02 dot backslash", `/./\evil.com`, "/./%5Cevil.com"},
		{"encoded slashes not decoded", "/%2F%2Fevil.com", "/%2F%2Fevil.com"},
		{"plain", "/protected?x=1", "/protected?x=1"},
		{"root", "/", "/"},
		{"empty query kept", "/p?", "/p?"},
		{"backslash in query escaped", `/search?q=a\b`, "/search?q=a%5Cb"},
		{"non-ASCII query escaped", "/search?q=é", "/search?q=%C3%A9"},
		{"dot double slash falls back", "/.//evil.com", ""},
		{"encoded dot double slash falls back", "/%2e%2e//evil.com", ""},
		{"mounted path kept", "/app/protected?y", "/app/protected?y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.raw)
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL = u
			got := FromRequest(base, r)
			assert.Equal(t, tc.want, got)
			if got != "" {
				assert.Empty(t, relativeProblem(base, got))
			}
		})
	}

	t.Run("absolute-form request target", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "http://app.example//evil.com", nil)
		assert.Equal(t, "/evil.com", FromRequest(base, r))
		r = httptest.NewRequest(http.MethodGet, "http://app.example/a?b=c", nil)
		assert.Equal(t, "/a?b=c", FromRequest(base, r))
	})
	t.Run("origin-form via httptest", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/protected?x=1", nil)
		assert.Equal(t, "/protected?x=1", FromRequest(base, r))
	})
	t.Run("decoded path is never used", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL = &url.URL{Path: "///evil.com", RawPath: "/%2F%2Fevil.com"}
		assert.Equal(t, "/%2F%2Fevil.com", FromRequest(base, r))
	})
	t.Run("hand-built URL with raw controls", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL = &url.URL{Path: "\\\t/evil.com", RawQuery: "a=\t#b"}
		got := FromRequest(base, r)
		assert.Equal(t, "/%5C%09/evil.com?a=%09%23b", got)
		assert.Empty(t, relativeProblem(base, got))
	})
	t.Run("nil inputs", func(t *testing.T) {
		assert.Empty(t, FromRequest(base, nil))
		assert.Empty(t, FromRequest(base, &http.Request{}))
		assert.Empty(t, FromRequest(nil, httptest.NewRequest(http.MethodGet, "/x", nil)))
	})
	t.Run("opaque URL", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL = &url.URL{Scheme: "http", Opaque: "//evil.com"}
		assert.Empty(t, FromRequest(base, r))
	})
}

// seedInputs returns the table inputs and the corpus for fuzz seeding.
func seedInputs(tb testing.TB) []string {
	var seeds []string
	for _, tc := range resolveCases {
		seeds = append(seeds, tc.in)
	}
	for _, c := range loadCorpus(tb) {
		seeds = append(seeds, c.value)
	}
	return seeds
}

func FuzzResolve(f *testing.F) {
	for _, s := range seedInputs(f) {
		f.Add(s)
	}
	bases := testBases(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, base := range bases {
			loc, ok := Resolve(base, s)
			if !ok {
				if loc != "" {
					t.Fatalf("rejected %q but returned %q", s, loc)
				}
				continue
			}
			if p := locationProblem(base, loc); p != "" {
				t.Fatalf("base %s: Resolve(%q) = %q: %s", base, s, loc, p)
			}
		}
	})
}

func FuzzFromRequest(f *testing.F) {
	for _, s := range seedInputs(f) {
		f.Add(s)
	}
	base := mustParse(f, appBase)
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.ParseRequestURI(s)
		if err != nil {
			return
		}
		r := &http.Request{Method: http.MethodGet, URL: u}
		if got := FromRequest(base, r); got != "" {
			if p := relativeProblem(base, got); p != "" {
				t.Fatalf("FromRequest(%q) = %q: %s", s, got, p)
			}
		}
	})
}

func BenchmarkResolve(b *testing.B) {
	base := mustParse(b, appBase)
	inputs := []string{
		"/protected?x=1",
		"https://app.example/x?y#z",
		"//evil.com",
		`/\evil.com`,
		"https://app.example.evil.com/",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range inputs {
			Resolve(base, in)
		}
	}
}

func BenchmarkFromRequest(b *testing.B) {
	base := mustParse(b, appBase)
	r := httptest.NewRequest(http.MethodGet, "//evil.com/a/b?c=d", nil)
	b.ReportAllocs()
	for b.Loop() {
		FromRequest(base, r)
	}
}
