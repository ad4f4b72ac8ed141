package e2e

import (
	"context"
	"maps"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBasicExample runs the real examples/basic binary, which starts the
// embedded development provider with its interactive login page, and logs in
// through it in headless Chromium with the default implicit form_post flow:
// the provider's auto-submitting form posts cross-site to
// http://localhost:PORT/callback, which only works if the browser sends the
// SameSite=None; Secure transaction cookie there.
func TestBasicExample(t *testing.T) {
	ctx := newBrowser(t)
	bin := buildBasicExample(t)
	base, providerURL := startBasicExample(t, bin)
	rec := recordNetwork(t, ctx)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("navigation log:\n%s", formatHops(rec.since(0)))
		}
	})

	// 1. Visit the app. 2. Get redirected to the provider's login page.
	do(t, ctx, "visiting "+base+"/", chromedp.Navigate(base+"/"))
	waitFor(t, ctx, "the provider's login page", func(s pageState) bool {
		return strings.HasPrefix(s.URL, providerURL+"/authorize") && strings.Contains(s.Text, "Sign in")
	})
	do(t, ctx, "waiting for the notice", chromedp.WaitVisible(chromedp.CSS(".notice")))
	notice := run(t, ctx, "reading the notice", chromedp.Text(chromedp.CSS(".notice")))
	assert.Contains(t, notice, "Development provider — not for production")

	hops := rec.since(0)
	require.NotEmpty(t, hops)
	assert.Equal(t, "GET", hops[0].Method)
	assert.Equal(t, base+"/", hops[0].URL)
	assert.Equal(t, int64(302), hops[0].Status, "the app redirects to the provider")
	authz, err := url.Parse(hops[0].Location)
	require.NoError(t, err)
	assert.Equal(t, providerURL+"/authorize", authz.Scheme+"://"+authz.Host+authz.Path)
	q := authz.Query()
	assert.Equal(t, "id_token", q.Get("response_type"))
	assert.Equal(t, "form_post", q.Get("response_mode"))
	assert.Equal(t, base+"/callback", q.Get("redirect_uri"))

	// The transaction cookie is SameSite=None; Secure, and the browser kept
	// it on http://localhost (a secure context).
	tx := cookies(t, ctx, base+"/")["auth_verification"]
	require.NotNil(t, tx, "auth_verification cookie stored on localhost")
	assert.Equal(t, network.CookieSameSiteNone, tx.SameSite)
	assert.True(t, tx.Secure, "auth_verification is Secure")
	assert.True(t, tx.HTTPOnly, "auth_verification is HttpOnly")

	// 3. Type a user name and sign in. 4. Land on "hello <user>".
	mark := rec.mark()
	do(t, ctx, "signing in as e2e-alice",
		chromedp.SendKeys(chromedp.ID("username"), "e2e-alice"),
		chromedp.Click(chromedp.ID("login")))
	waitFor(t, ctx, "hello e2e-alice", func(s pageState) bool {
		return s.URL == base+"/" && strings.Contains(s.Text, "hello e2e-alice")
	})
	hops = rec.since(mark)
	cb := findHop(t, hops, "POST", base+"/callback")
	assert.Equal(t, int64(303), cb.Status, "form_post callback answers 303")
	assert.Contains(t, cb.Sent, "auth_verification", "the cross-site form_post carried the SameSite=None transaction cookie")
	assert.Equal(t, base+"/", cb.Location)

	// The session cookie: HttpOnly, SameSite=Lax, not Secure on http, with an
	// expiry (not transient); the transaction cookie is gone.
	jar := cookies(t, ctx, base+"/")
	assert.NotContains(t, jar, "auth_verification", "transaction cookie cleared after the callback")
	sess := sessionCookies(jar, "appSession")
	require.NotEmpty(t, sess, "appSession cookie set; cookies: %v", slices.Sorted(maps.Keys(jar)))
	for _, c := range sess {
		assert.True(t, c.HTTPOnly, "%s is HttpOnly", c.Name)
		assert.Equal(t, network.CookieSameSiteLax, c.SameSite, "%s is SameSite=Lax", c.Name)
		assert.False(t, c.Secure, "%s is not Secure on http", c.Name)
		assert.Equal(t, "/", c.Path, "%s path", c.Name)
		assert.Equal(t, "localhost", c.Domain, "%s is a host-only cookie", c.Name)
		assert.False(t, c.Session, "%s has an expiry", c.Name)
		assert.Greater(t, c.Expires, float64(time.Now().Unix()), "%s expires in the future", c.Name)
	}

	// 5. Reload: still logged in, served from the session without a trip to
	// the provider.
	mark = rec.mark()
	do(t, ctx, "reloading", chromedp.Reload())
	waitFor(t, ctx, "hello e2e-alice after reload", func(s pageState) bool {
		return s.URL == base+"/" && strings.Contains(s.Text, "hello e2e-alice")
	})
	hops = rec.since(mark)
	require.Len(t, hops, 1, "reload is one request:\n%s", formatHops(hops))
	assert.Equal(t, int64(200), hops[0].Status)
	assert.Contains(t, hops[0].Sent, sess[0].Name)

	// 6. /logout ends the app session. The example does not enable
	// IDPLogout (as express's default), so the provider keeps its own
	// session: the app sends the browser back to /authorize, and the
	// provider signs the same user in again without its login page.
	mark = rec.mark()
	do(t, ctx, "visiting /logout", chromedp.Navigate(base+"/logout"))
	waitFor(t, ctx, "the round trip after /logout", func(s pageState) bool {
		return s.URL == base+"/" && strings.Contains(s.Text, "hello e2e-alice")
	})
	hops = rec.since(mark)
	require.GreaterOrEqual(t, len(hops), 2, "navigation after /logout:\n%s", formatHops(hops))
	assert.Equal(t, base+"/logout", hops[0].URL)
	assert.Equal(t, int64(302), hops[0].Status)
	assert.Equal(t, base, strings.TrimSuffix(hops[0].Location, "/"), "logout returns to BaseURL")
	assert.Regexp(t, `appSession=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)`, hops[0].SetCookie, "logout clears the session cookie")
	assert.Equal(t, base+"/", hops[1].URL)
	assert.NotContains(t, hops[1].Sent, sess[0].Name, "no session cookie after logout")
	assert.Equal(t, int64(302), hops[1].Status, "logged out: / redirects to the provider")
	assert.True(t, strings.HasPrefix(hops[1].Location, providerURL+"/authorize"), "redirected to %s", hops[1].Location)

	// Now end the provider's session as well (as if it had expired there):
	// /logout then leads to the provider's login page, and another user can
	// sign in.
	do(t, ctx, "deleting the provider's cookies", chromedp.Func(func(tctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(tctx, tg, network.DeleteCookies, network.DeleteCookiesParams{Name: "oidctest_session", URL: providerURL + "/"})
		return err
	}))
	mark = rec.mark()
	do(t, ctx, "visiting /logout", chromedp.Navigate(base+"/logout"))
	waitFor(t, ctx, "the provider's login page after /logout", func(s pageState) bool {
		return strings.HasPrefix(s.URL, providerURL+"/authorize") && strings.Contains(s.Text, "Sign in")
	})
	hops = rec.since(mark)
	require.Len(t, hops, 3, "logout, /, login page:\n%s", formatHops(hops))
	assert.NotContains(t, hops[1].Sent, sess[0].Name, "no session cookie after logout")
	assert.Empty(t, sessionCookies(cookies(t, ctx, base+"/"), "appSession"), "no session cookie after logout")

	do(t, ctx, "signing in as e2e-bob",
		chromedp.SendKeys(chromedp.ID("username"), "e2e-bob"),
		chromedp.Click(chromedp.ID("login")))
	st := waitFor(t, ctx, "hello e2e-bob", func(s pageState) bool {
		return s.URL == base+"/" && strings.Contains(s.Text, "hello e2e-bob")
	})
	assert.NotContains(t, st.Text, "e2e-alice")
}

// buildBasicExample builds examples/basic into a temporary directory.
func buildBasicExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "basic")
	cmd := exec.Command(goTool(t), "build", "-o", bin, "./examples/basic")
	cmd.Dir = ".." // the core module
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/basic: %v\n%s", err, out)
	}
	return bin
}

var providerBanner = regexp.MustCompile(`runs at (http://127\.0\.0\.1:\d+)`)

// startBasicExample runs the example on a free port with a clean environment
// (no ISSUER_BASE_URL, no .env), so that it starts the embedded provider. It
// returns the app's base URL and the provider's URL from the banner.
func startBasicExample(t *testing.T, bin string) (base, providerURL string) {
	t.Helper()
	var lastErr error
	for range 3 { // a free port can be taken before the example binds it
		port := strconv.Itoa(freePort(t))
		cmd := exec.Command(bin)
		cmd.Dir = t.TempDir()
		cmd.Env = append(cleanEnv("PORT", "ISSUER_BASE_URL", "BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "SECRET"), "PORT="+port)
		p := start(t, cmd)
		m, err := p.waitOutput(providerBanner, 10*time.Second)
		if err == nil {
			err = p.waitListening("localhost:"+port, 10*time.Second)
		}
		if err == nil {
			return "http://localhost:" + port, m[1]
		}
		lastErr = err
		t.Logf("starting the example on port %s: %v; output:\n%s", port, err, tail(p.out.String(), 2000))
	}
	t.Fatalf("starting the example: %v", lastErr)
	return "", ""
}

// findHop returns the first request with method and URL.
func findHop(t *testing.T, hops []hop, method, u string) hop {
	t.Helper()
	for _, h := range hops {
		if h.Method == method && h.URL == u {
			return h
		}
	}
	t.Fatalf("no %s %s in the navigation:\n%s", method, u, formatHops(hops))
	return hop{}
}
