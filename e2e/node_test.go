package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
)

// nodeFlow is one way for the Go app to log in at node-oidc-provider.
type nodeFlow struct {
	name   string
	client map[string]any    // client metadata registered at the provider
	params map[string]string // the app's AuthorizationParams
	// formPost is true when the authorization response is a cross-site
	// POST to /callback.
	formPost bool
}

// TestNodeOIDCProvider logs in to a Go app using the middleware through
// node-oidc-provider's own login and consent pages (interop/provider.mjs
// --dev-interactions, that is oidc-provider's devInteractions), in
// headless Chromium, then reloads and logs out with RP-initiated logout
// through the provider's own logout confirmation page.
func TestNodeOIDCProvider(t *testing.T) {
	chromiumPath(t)
	node := requireTool(t, "node", "install Node.js (Debian's nodejs package)", "node", "nodejs")
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "oidc-provider", "package.json")); err != nil {
		msg := "interop/ has no node_modules/oidc-provider; run: (cd interop && npm ci)"
		if inCI() {
			t.Fatalf("CI=true and %s", msg)
		}
		t.Skip(msg)
	}

	clientSecret := rand.Text() + rand.Text()
	flows := []nodeFlow{{
		name: "implicit_form_post",
		client: map[string]any{
			"client_id":                  "e2e-implicit",
			"token_endpoint_auth_method": "none",
			"response_types":             []string{"id_token"},
			"grant_types":                []string{"implicit"},
		},
		formPost: true, // the middleware's default: id_token + form_post; node-oidc-provider
		// omits the RFC 9207 iss parameter from responses carrying an ID
		// token, which the middleware accepts (docs/decisions.md X5)
	}, {
		name: "code_pkce_form_post",
		client: map[string]any{
			"client_id":      "e2e-code-form-post",
			"client_secret":  clientSecret,
			"response_types": []string{"code"},
			"grant_types":    []string{"authorization_code"},
		},
		params:   map[string]string{"response_type": "code", "response_mode": "form_post"},
		formPost: true,
	}, {
		name: "code_pkce_query",
		client: map[string]any{
			"client_id":      "e2e-code",
			"client_secret":  clientSecret,
			"response_types": []string{"code"},
			"grant_types":    []string{"authorization_code"},
		},
		params: map[string]string{"response_type": "code"},
	}}

	// The redirect URIs are registered when the provider starts, so each
	// app's listener is opened first.
	listeners := make([]net.Listener, len(flows))
	var clients []map[string]any
	for i, f := range flows {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		listeners[i] = l
		base := fmt.Sprintf("http://localhost:%d", l.Addr().(*net.TCPAddr).Port)
		f.client["redirect_uris"] = []string{base + "/callback"}
		f.client["post_logout_redirect_uris"] = []string{base, base + "/"}
		clients = append(clients, f.client)
	}
	issuer := startNodeProvider(t, node, clients)

	for i, f := range flows {
		t.Run(f.name, func(t *testing.T) {
			base := fmt.Sprintf("http://localhost:%d", listeners[i].Addr().(*net.TCPAddr).Port)
			serveApp(t, listeners[i], oidc.Config{
				IssuerBaseURL:       issuer,
				BaseURL:             base,
				ClientID:            f.client["client_id"].(string),
				ClientSecret:        oidc.Secret(clientSecret),
				Secret:              oidc.Secrets{rand.Text() + rand.Text()},
				IDPLogout:           true,
				AuthorizationParams: f.params,
				LookupEnv:           func(string) (string, bool) { return "", false },
			})
			testNodeFlow(t, f, base, issuer)
		})
	}
}

func testNodeFlow(t *testing.T, f nodeFlow, base, issuer string) {
	ctx := newBrowser(t)
	// The provider's pages @import a web font; keep the browser on this
	// machine.
	_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: "https://*/*", Block: true}},
	})
	require.NoError(t, err)
	rec := recordNetwork(t, ctx)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("navigation log:\n%s", formatHops(rec.since(0)))
		}
	})
	const user = "e2e-carol"

	// Visit the app and land on the provider's own login page.
	do(t, ctx, "visiting "+base+"/", chromedp.Navigate(base+"/"))
	loginPage := func(s pageState) bool {
		return strings.HasPrefix(s.URL, issuer+"/interaction/") && strings.Contains(s.Text, "Sign-in")
	}
	waitFor(t, ctx, "node-oidc-provider's login page", loginPage)
	hops := rec.since(0)
	require.NotEmpty(t, hops)
	assert.Equal(t, int64(302), hops[0].Status)
	authz, err := url.Parse(hops[0].Location)
	require.NoError(t, err)
	assert.Equal(t, issuer+"/auth", authz.Scheme+"://"+authz.Host+authz.Path)
	if f.formPost {
		assert.Equal(t, "form_post", authz.Query().Get("response_mode"))
	}
	if rt := authz.Query().Get("response_type"); rt == "code" {
		assert.Equal(t, "S256", authz.Query().Get("code_challenge_method"), "PKCE")
	}

	tx := cookies(t, ctx, base+"/")["auth_verification"]
	require.NotNil(t, tx, "auth_verification cookie stored on localhost")
	if f.formPost {
		assert.Equal(t, network.CookieSameSiteNone, tx.SameSite)
		assert.True(t, tx.Secure)
	} else {
		assert.Equal(t, network.CookieSameSiteLax, tx.SameSite)
		assert.False(t, tx.Secure)
	}

	// Sign in with any login and password, then consent.
	do(t, ctx, "signing in as "+user,
		chromedp.WaitVisible(chromedp.CSS(`input[name="login"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "any-password"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	waitFor(t, ctx, "node-oidc-provider's consent page", func(s pageState) bool {
		return strings.HasPrefix(s.URL, issuer+"/interaction/") && strings.Contains(s.Text, "Authorize") && strings.Contains(s.Text, "Continue")
	})
	mark := rec.mark()
	do(t, ctx, "consenting", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	hello := func(s pageState) bool {
		return s.URL == base+"/" && strings.Contains(s.Text, "hello "+user)
	}
	const issMissing = "the iss parameter is missing"
	st := waitFor(t, ctx, "hello "+user, func(s pageState) bool {
		return hello(s) || strings.Contains(s.Text, issMissing)
	})
	if strings.Contains(st.Text, issMissing) {
		t.Fatalf("the callback rejected node-oidc-provider's %s response for a missing iss parameter: %s",
			authz.Query().Get("response_type"), st.Text)
	}

	hops = rec.since(mark)
	if f.formPost {
		cb := findHop(t, hops, "POST", base+"/callback")
		assert.Equal(t, int64(303), cb.Status)
		assert.Contains(t, cb.Sent, "auth_verification", "the cross-site form_post carried the SameSite=None transaction cookie")
	} else {
		var cb *hop
		for i, h := range hops {
			if h.Method == "GET" && strings.HasPrefix(h.URL, base+"/callback?") {
				cb = &hops[i]
			}
		}
		require.NotNil(t, cb, "a GET /callback:\n%s", formatHops(hops))
		assert.Equal(t, int64(302), cb.Status)
		assert.Contains(t, cb.Sent, "auth_verification")
	}

	jar := cookies(t, ctx, base+"/")
	assert.NotContains(t, jar, "auth_verification")
	sess := sessionCookies(jar, "appSession")
	require.NotEmpty(t, sess, "appSession cookie set")
	for _, c := range sess {
		assert.True(t, c.HTTPOnly, "%s is HttpOnly", c.Name)
		assert.Equal(t, network.CookieSameSiteLax, c.SameSite, "%s is SameSite=Lax", c.Name)
		assert.False(t, c.Secure, "%s is not Secure on http", c.Name)
	}

	// Reload: still logged in, no trip to the provider.
	mark = rec.mark()
	do(t, ctx, "reloading", chromedp.Reload())
	waitFor(t, ctx, "hello "+user+" after reload", hello)
	hops = rec.since(mark)
	require.Len(t, hops, 1, "reload is one request:\n%s", formatHops(hops))
	assert.Equal(t, int64(200), hops[0].Status)

	// /logout with IDPLogout: the provider's own logout confirmation page,
	// then back to the app, logged out there and at the provider, so the
	// next login shows the provider's login page again.
	mark = rec.mark()
	do(t, ctx, "visiting /logout", chromedp.Navigate(base+"/logout"))
	waitFor(t, ctx, "node-oidc-provider's logout page", func(s pageState) bool {
		return strings.HasPrefix(s.URL, issuer+"/session/end") && strings.Contains(s.Text, "Do you want to sign-out")
	})
	hops = rec.since(mark)
	require.NotEmpty(t, hops)
	assert.Equal(t, int64(302), hops[0].Status)
	assert.Regexp(t, `appSession=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)`, hops[0].SetCookie, "logout clears the session cookie")
	end, err := url.Parse(hops[0].Location)
	require.NoError(t, err)
	assert.Equal(t, issuer+"/session/end", end.Scheme+"://"+end.Host+end.Path)
	assert.NotEmpty(t, end.Query().Get("id_token_hint"))
	assert.Equal(t, base, strings.TrimSuffix(end.Query().Get("post_logout_redirect_uri"), "/"))
	assert.Empty(t, sessionCookies(cookies(t, ctx, base+"/"), "appSession"), "no session cookie after logout")

	mark = rec.mark()
	do(t, ctx, "confirming the logout", chromedp.Click(chromedp.CSS(`button[name="logout"][value="yes"]`)))
	waitFor(t, ctx, "node-oidc-provider's login page after logout", loginPage)
	hops = rec.since(mark)
	back := findHop(t, hops, "GET", base+"/")
	assert.NotContains(t, back.Sent, sess[0].Name, "no session cookie after logout")
	assert.Equal(t, int64(302), back.Status, "logged out: / redirects to the provider")
}

// interopDir holds node-oidc-provider (pinned in its package.json) and the
// provider script shared with the interop tests.
const interopDir = "../interop"

var issuerLine = regexp.MustCompile(`(?m)^(http://127\.0\.0\.1:\d+)$`)

// startNodeProvider runs interop/provider.mjs with oidc-provider's own
// development login and consent pages (--dev-interactions) and the given
// clients, and returns its issuer.
func startNodeProvider(t *testing.T, node string, clients []map[string]any) string {
	t.Helper()
	js, err := json.Marshal(clients)
	require.NoError(t, err)
	clientsFile := filepath.Join(t.TempDir(), "clients.json")
	require.NoError(t, os.WriteFile(clientsFile, js, 0o600))
	cmd := exec.Command(node, "provider.mjs", "--port", "0", "--clients", clientsFile, "--dev-interactions", "--exit-with-stdin")
	cmd.Dir = interopDir
	cmd.Env = cleanEnv("NODE_ENV")
	// The provider exits when this pipe closes, so it never outlives the
	// test binary.
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	t.Cleanup(func() { stdin.Close() })
	p := start(t, cmd)
	m, err := p.waitOutput(issuerLine, 15*time.Second)
	if err != nil {
		t.Fatalf("starting node-oidc-provider: %v\n%s", err, tail(p.out.String(), 4000))
	}
	return m[1]
}

// serveApp serves a small app on l: every route requires a login, and / says
// hello to the user's sub.
func serveApp(t *testing.T, l net.Listener, cfg oidc.Config) {
	t.Helper()
	auth, err := oidc.Auth(cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		user := oidc.FromRequest(r).User()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>hello %s</p><p><a href=\"/logout\">Log out</a></p>", html.EscapeString(user.String("sub")))
	})
	srv := &http.Server{Handler: auth(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
}
