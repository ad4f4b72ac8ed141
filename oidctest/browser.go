package oidctest

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

const (
	// maxBrowserPages bounds the pages one Get or Login goes through
	// (each page may itself follow up to 10 redirects).
	maxBrowserPages = 10
	// maxPageBytes bounds every response body the Browser reads.
	maxPageBytes = 1 << 20
	// browserAccept is the Accept header of every request, as a browser
	// navigating to a page sends it.
	browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// Browser is a scripted web browser for tests of applications that log in
// with OpenID Connect: it keeps cookies, follows redirects, submits the
// provider's auto-submitting form_post page (as a browser with JavaScript
// does), and types a user name into the login page of an interactive
// [Provider] ([Options.Interactive]). With it a test runs a complete login
// against a Provider in a few lines:
//
//	op := oidctest.NewProvider(t, oidctest.Options{Interactive: true})
//	// ... start the application on srv, configured with op.URL() ...
//	b := oidctest.NewBrowser(srv.Client())
//	resp, err := b.Login(srv.URL+"/profile", "alice")
//	// resp is the /profile page, seen by alice
//
// It understands this package's pages only; it runs no JavaScript. A
// Browser is not safe for concurrent use.
type Browser struct {
	client *http.Client
}

// NewBrowser returns a Browser that sends its requests with a copy of
// client (nil means a client with http.DefaultTransport): the copy keeps
// client's Transport and Timeout, uses client's Jar or, when it has none, a
// new cookie jar, and follows up to 10 redirects per page whatever
// client's CheckRedirect says. Use the client of an httptest.Server for an
// application served over TLS. Go's cookie jar, like browsers, sends
// Secure cookies to http://localhost and loopback addresses.
func NewBrowser(client *http.Client) *Browser {
	c := &http.Client{}
	if client != nil {
		c.Transport, c.Timeout, c.Jar = client.Transport, client.Timeout, client.Jar
	}
	if c.Jar == nil {
		c.Jar, _ = cookiejar.New(nil) // cookiejar.New(nil) never fails
	}
	return &Browser{client: c}
}

// Client returns the Browser's cookie-keeping client, for requests that
// Get does not cover (a POST, other headers). It follows redirects but
// does not submit forms.
func (b *Browser) Client() *http.Client { return b.client }

// Cookies returns the cookies the Browser would send to rawURL, or nil when
// rawURL does not parse.
func (b *Browser) Cookies(rawURL string) []*http.Cookie {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil
	}
	return b.client.Jar.Cookies(u)
}

// Get opens rawURL like a browser: it follows redirects and submits the
// provider's auto-submitting form_post pages, and returns the first other
// page, whatever its status. That is the provider's login page when a
// login is needed and the provider is interactive (then use Login). The
// returned response's body is read already (up to 1 MiB) and can be read
// again; closing it is optional.
//
// Errors are transport errors, a page over 1 MiB, and more than 10 pages
// in a row. They never contain the query of a URL, where authorization
// codes travel.
func (b *Browser) Get(rawURL string) (*http.Response, error) {
	return b.navigate(rawURL, "", false)
}

// Login opens startURL like Get and, when the provider's login page comes
// up, signs in as user (the name becomes the ID token's sub and name), then
// follows the way back to the application, through the callback, and
// returns the page the application shows at the end: typically startURL as
// seen by the logged-in user, or the application's error page when it
// refuses the login. Login reports no error for an HTTP error status; check
// the response.
//
// When no login page comes up, user is not used: a provider in auto-login
// mode signs in [Options.Subject], a provider that still has a session in
// this Browser signs in its user again, and an application that has a
// session already shows the page at once. It is an error when the login
// page comes up and user is empty, or when it comes up a second time.
func (b *Browser) Login(startURL, user string) (*http.Response, error) {
	return b.navigate(startURL, user, true)
}

// navigate is Get, and Login when login is set.
func (b *Browser) navigate(target, user string, login bool) (*http.Response, error) {
	method, form := http.MethodGet, url.Values(nil)
	signedIn := false
	for range maxBrowserPages {
		resp, body, err := b.send(method, target, form)
		if err != nil {
			return nil, err
		}
		f := findForm(resp, body)
		switch {
		case f != nil && f.login:
			if !login {
				return resp, nil
			}
			if user == "" {
				return nil, errors.New("oidctest: the provider's login page came up, and the user name is empty")
			}
			if signedIn {
				return nil, fmt.Errorf("oidctest: the provider showed its login page again%s", pageError(body))
			}
			signedIn = true
			f.values.Set("username", user)
		case f != nil && f.autoSubmit:
		default:
			return resp, nil
		}
		action, err := resp.Request.URL.Parse(f.action)
		if err != nil {
			return nil, fmt.Errorf("oidctest: the form of %s has an invalid action", redactURL(resp.Request.URL))
		}
		method, target, form = http.MethodPost, action.String(), f.values
	}
	return nil, fmt.Errorf("oidctest: still no application page after %d pages", maxBrowserPages)
}

// send sends one request, following redirects, and reads the final body.
func (b *Browser) send(method, target string, form url.Values) (*http.Response, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		if u, perr := url.Parse(target); perr == nil {
			return nil, nil, fmt.Errorf("oidctest: %s %s: invalid request", method, redactURL(u))
		}
		return nil, nil, errors.New("oidctest: invalid URL")
	}
	req.Header.Set("Accept", browserAccept)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			where := redactURL(req.URL)
			if u, perr := url.Parse(ue.URL); perr == nil {
				where = redactURL(u)
			}
			return nil, nil, fmt.Errorf("oidctest: %s %s: %w", ue.Op, where, ue.Err)
		}
		return nil, nil, fmt.Errorf("oidctest: %s %s: %w", method, redactURL(req.URL), err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("oidctest: reading %s: %w", redactURL(resp.Request.URL), err)
	}
	if len(page) > maxPageBytes {
		return nil, nil, fmt.Errorf("oidctest: the page %s is larger than %d bytes", redactURL(resp.Request.URL), maxPageBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(page))
	return resp, page, nil
}

// redactURL returns u without its query, fragment and user information.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return v.String()
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrRE  = regexp.MustCompile(`(?is)([a-z][a-z0-9_:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+))`)
	errorRE = regexp.MustCompile(`(?is)<p class="error"[^>]*>(.*?)</p>`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// pageForm is a POST form the Browser can submit.
type pageForm struct {
	action     string
	values     url.Values
	login      bool // the provider's login page: a username text field
	autoSubmit bool // only hidden fields, submitted by a script
}

// findForm returns the first POST form of an HTML page that is a login page
// or an auto-submitting page, or nil.
func findForm(resp *http.Response, body []byte) *pageForm {
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/html" {
		return nil
	}
	scripted := bytes.Contains(body, []byte(".submit()"))
	for _, m := range formRE.FindAllSubmatch(body, -1) {
		attrs := parseAttrs(m[1])
		if !strings.EqualFold(attrs["method"], http.MethodPost) {
			continue
		}
		f := &pageForm{action: attrs["action"], values: url.Values{}}
		hidden, others := 0, 0
		for _, in := range inputRE.FindAllSubmatch(m[2], -1) {
			a := parseAttrs(in[1])
			typ := strings.ToLower(a["type"])
			switch {
			case typ == "hidden":
				hidden++
				if a["name"] != "" {
					f.values.Add(a["name"], a["value"])
				}
			case a["name"] == "username" && (typ == "" || typ == "text"):
				f.login = true
			default:
				others++
			}
		}
		f.autoSubmit = !f.login && scripted && hidden > 0 && others == 0
		if f.login || f.autoSubmit {
			return f
		}
	}
	return nil
}

// parseAttrs returns the attributes of a tag, names lower-cased and values
// unescaped. The first of repeated attributes wins.
func parseAttrs(tag []byte) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllSubmatch(tag, -1) {
		name := strings.ToLower(string(m[1]))
		if _, seen := out[name]; seen {
			continue
		}
		out[name] = html.UnescapeString(string(m[2]) + string(m[3]) + string(m[4]))
	}
	return out
}

// pageError returns ": " and the error message of a provider page, or "".
func pageError(body []byte) string {
	m := errorRE.FindSubmatch(body)
	if m == nil {
		return ""
	}
	text := strings.TrimSpace(html.UnescapeString(string(tagRE.ReplaceAll(m[1], nil))))
	if text == "" {
		return ""
	}
	return ": " + text
}
