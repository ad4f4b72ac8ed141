package interop

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browser is a cookie-keeping HTTP client that behaves like a browser with
// JavaScript for the flows under test: it follows redirects and submits
// auto-submitting form_post pages. It trusts the httptest TLS certificate.
type browser struct {
	t      testing.TB
	client *http.Client
	// visited lists every URL requested by navigate, in order.
	visited []string
}

// httptestRoots trusts the certificate every httptest TLS server presents.
func httptestRoots() *x509.CertPool {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

var testRoots = httptestRoots()

func newBrowser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, client: &http.Client{
		Jar:     jar,
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: testRoots, MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends one request, without following anything.
func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	require.NoError(b.t, err, "%s %s", req.Method, req.URL)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) postForm(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

// getJSON fetches u as JSON into out and returns the status.
func (b *browser) getJSON(u string, out any) int {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(b.t, err)
	req.Header.Set("Accept", "application/json")
	resp, body := b.do(req)
	require.NoError(b.t, json.Unmarshal([]byte(body), out), "GET %s: %d %s", u, resp.StatusCode, body)
	return resp.StatusCode
}

var (
	formTag    = regexp.MustCompile(`<form\b[^>]*\baction="([^"]*)"`)
	formHidden = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"\s*/?>`)
)

// parseForm returns the action and hidden fields of the first form in body.
func parseForm(t testing.TB, base, body string) (string, url.Values) {
	t.Helper()
	m := formTag.FindStringSubmatch(body)
	require.NotNil(t, m, "no form in page: %s", body)
	vals := url.Values{}
	for _, in := range formHidden.FindAllStringSubmatch(body, -1) {
		vals.Add(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return resolve(t, base, html.UnescapeString(m[1])), vals
}

func resolve(t testing.TB, base, ref string) string {
	t.Helper()
	bu, err := url.Parse(base)
	require.NoError(t, err)
	ru, err := url.Parse(ref)
	require.NoError(t, err)
	return bu.ResolveReference(ru).String()
}

// isFormPost reports whether body is node-oidc-provider's auto-submitting
// form_post page.
func isFormPost(body string) bool {
	return strings.Contains(body, "<title>Submitting Callback</title>")
}

// navigate sends req and then follows redirects and form_post pages until a
// page that is neither, which it returns.
func (b *browser) navigate(method, u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	for range 25 {
		b.visited = append(b.visited, u)
		var (
			resp *http.Response
			body string
		)
		if method == http.MethodPost {
			resp, body = b.postForm(u, form)
		} else {
			resp, body = b.get(u)
		}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "":
			method, form, u = http.MethodGet, nil, resolve(b.t, u, resp.Header.Get("Location"))
		case resp.StatusCode == http.StatusOK && isFormPost(body):
			u, form = parseForm(b.t, u, body)
			method = http.MethodPost
		default:
			return resp, body
		}
	}
	b.t.Fatalf("too many redirects: %v", b.visited)
	return nil, ""
}

// sawPrefix reports whether navigate requested a URL starting with prefix.
func (b *browser) sawPrefix(prefix string) bool {
	for _, u := range b.visited {
		if strings.HasPrefix(u, prefix) {
			return true
		}
	}
	return false
}
