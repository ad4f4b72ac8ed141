package interop

// Complete flows of the Go middleware against node-oidc-provider, a
// certified OpenID provider (provider.mjs). Each relying party of rpSpecs is
// a client there; the provider signs in "interop-user" without pages.

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
)

const opUser = "interop-user"

// login runs a complete login at a and checks that it lands on the home page
// as opUser.
func login(t *testing.T, w *opWorld, a *rp, b *browser) sessionView {
	t.Helper()
	resp, body := b.navigate(http.MethodGet, a.url("/login"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "login ended at %s: %s\nvisited: %v", resp.Request.URL, body, b.visited)
	require.Equal(t, "hello "+opUser, body, "visited: %v", b.visited)
	require.True(t, b.sawPrefix(w.issuer), "the login went through the provider")
	var s sessionView
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/session"), &s))
	require.True(t, s.Authenticated)
	assert.Equal(t, opUser, s.User["sub"])
	assert.Equal(t, w.issuer, s.Claims["iss"])
	assert.Equal(t, a.cfg.ClientID, s.Claims["aud"])
	return s
}

// authorizeURL returns the authorization request the browser sent.
func (b *browser) authorizeURL(t *testing.T, w *opWorld) *url.URL {
	t.Helper()
	for _, v := range b.visited {
		if strings.HasPrefix(v, w.issuer+"/auth?") {
			u, err := url.Parse(v)
			require.NoError(t, err)
			return u
		}
	}
	t.Fatalf("no authorization request in %v", b.visited)
	return nil
}

// callbackVisit returns the callback URL the browser requested.
func (b *browser) callbackVisit(t *testing.T, a *rp) string {
	t.Helper()
	for _, v := range b.visited {
		if strings.HasPrefix(v, a.url("/callback")) {
			return v
		}
	}
	t.Fatalf("no callback in %v", b.visited)
	return ""
}

func TestProviderImplicitFormPost(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "implicit")
	b := newBrowser(t)
	s := login(t, w, a, b)

	assert.True(t, b.sawPrefix(w.issuer+"/interaction/"), "the provider signed the user in")
	q := b.authorizeURL(t, w).Query()
	assert.Equal(t, "id_token", q.Get("response_type"))
	assert.Equal(t, "form_post", q.Get("response_mode"))
	assert.Equal(t, a.url("/callback"), b.callbackVisit(t, a), "form_post delivers the response in a POST body")
	// An ID token from the authorization endpoint carries the scope claims.
	assert.Equal(t, opUser+"@interop.example", s.User["email"])
	assert.Equal(t, "Interop User "+opUser, s.User["name"])
	assert.Empty(t, s.AccessToken, "the implicit id_token flow has no access token")
	assert.NotContains(t, s.User, "nonce", "protocol claims are filtered from User")
}

func TestProviderCodePKCE(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "code")
	b := newBrowser(t)
	s := login(t, w, a, b)

	q := b.authorizeURL(t, w).Query()
	assert.Equal(t, "code", q.Get("response_type"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.NotEmpty(t, q.Get("code_challenge"))
	cb, err := url.Parse(b.callbackVisit(t, a))
	require.NoError(t, err)
	assert.NotEmpty(t, cb.Query().Get("code"), "response_mode=query")
	assert.Equal(t, w.issuer, cb.Query().Get("iss"), "RFC 9207 iss parameter")

	assert.NotEmpty(t, s.AccessToken)
	assert.NotEmpty(t, s.RefreshToken, "the provider issues refresh tokens to this client")
	assert.Equal(t, "Bearer", s.TokenType)
	assert.InDelta(t, time.Now().Add(600*time.Second).Unix(), s.ExpiresAt, 30)
}

func TestProviderHybridUserinfo(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "hybrid")
	b := newBrowser(t)
	s := login(t, w, a, b)

	q := b.authorizeURL(t, w).Query()
	assert.Equal(t, "code id_token", q.Get("response_type"))
	assert.Equal(t, "form_post", q.Get("response_mode"))
	assert.NotEmpty(t, s.AccessToken)

	var info map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/userinfo"), &info), "%v", info)
	assert.Equal(t, opUser, info["sub"])
	assert.Equal(t, opUser+"@interop.example", info["email"])
	assert.Equal(t, true, info["email_verified"])
	assert.Equal(t, "Interop User "+opUser, info["name"])
}

func TestProviderUserinfo(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "code")
	b := newBrowser(t)
	s := login(t, w, a, b)
	// The token endpoint's ID token has no scope claims when an access token
	// is issued (conformIdTokenClaims): they come from userinfo.
	assert.NotContains(t, s.User, "email")

	var info map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/userinfo"), &info), "%v", info)
	assert.Equal(t, opUser, info["sub"])
	assert.Equal(t, opUser+"@interop.example", info["email"])
	assert.Equal(t, opUser, info["preferred_username"])
}

func TestProviderRefreshRotation(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "code")
	b := newBrowser(t)
	s0 := login(t, w, a, b)
	require.NotEmpty(t, s0.RefreshToken)

	refresh := func() (map[string]any, int) {
		var out map[string]any
		status := b.getJSON(a.url("/refresh"), &out)
		return out, status
	}
	out, status := refresh()
	require.Equal(t, http.StatusOK, status, "%v", out)
	var s1 sessionView
	b.getJSON(a.url("/session"), &s1)
	assert.Equal(t, out["access_token"], s1.AccessToken, "the refreshed token is saved in the session")
	assert.NotEqual(t, s0.AccessToken, s1.AccessToken)
	assert.NotEqual(t, s0.RefreshToken, s1.RefreshToken, "rotation: a new refresh token")
	assert.Equal(t, opUser, s1.User["sub"])
	assert.True(t, s1.Authenticated)

	out, status = refresh()
	require.Equal(t, http.StatusOK, status, "the rotated refresh token was saved: %v", out)
	var s2 sessionView
	b.getJSON(a.url("/session"), &s2)
	assert.NotEqual(t, s1.RefreshToken, s2.RefreshToken)

	// Reusing a rotated refresh token revokes the grant at the provider...
	resp := postToken(t, w, a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s0.RefreshToken}})
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "invalid_grant", resp.body["error"])

	// ...so the next refresh fails with invalid_grant, and the session
	// ends: the grant behind it is gone.
	var e errorView
	status = b.getJSON(a.url("/refresh"), &e)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", e.Code)
	var s3 sessionView
	b.getJSON(a.url("/session"), &s3)
	assert.False(t, s3.Authenticated)
	assert.Empty(t, s3.AccessToken)
	assert.Empty(t, s3.RefreshToken)
}

// tokenResponse is a direct token-endpoint answer.
type tokenResponse struct {
	status int
	body   map[string]any
}

// postToken calls the provider's token endpoint as a's client
// (client_secret_basic).
func postToken(t *testing.T, w *opWorld, a *rp, form url.Values) tokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.issuer+"/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(a.cfg.ClientID), url.QueryEscape(string(a.cfg.ClientSecret)))
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) tokenResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := tokenResponse{status: resp.StatusCode}
	require.NoError(t, json.Unmarshal(raw, &out.body), "%s", raw)
	return out
}

func TestProviderTokenExchange(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "code")
	b := newBrowser(t)
	s := login(t, w, a, b)

	var out map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/exchange"), &out), "%v", out)
	assert.Equal(t, oidc.TokenTypeAccessToken, out["issued_token_type"])
	assert.Equal(t, "bearer", out["token_type"])
	assert.NotEqual(t, s.AccessToken, out["access_token"])
	assert.Greater(t, out["expires_in"], 0.0)
	assert.Equal(t, "openid profile email", out["scope"], "the default scope is the login's")

	// The exchanged token is accepted by the provider's userinfo endpoint.
	req, err := http.NewRequest(http.MethodGet, w.issuer+"/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+out["access_token"].(string))
	info := doJSON(t, req)
	require.Equal(t, http.StatusOK, info.status, "%v", info.body)
	assert.Equal(t, opUser, info.body["sub"])

	require.Equal(t, http.StatusOK, b.getJSON(a.url("/exchange?scope=openid"), &out), "%v", out)
	assert.Equal(t, "openid", out["scope"])
}

// loginAndRefresh logs in at the named relying party and refreshes once,
// so that the client authentication is used twice at the token endpoint.
func loginAndRefresh(t *testing.T, name string) {
	t.Helper()
	w := nodeProvider(t)
	a := w.rp(t, name)
	b := newBrowser(t)
	s0 := login(t, w, a, b)
	require.NotEmpty(t, s0.AccessToken)
	var out map[string]any
	require.Equal(t, http.StatusOK, b.getJSON(a.url("/refresh"), &out), "%v", out)
	assert.NotEqual(t, s0.AccessToken, out["access_token"])
}

func TestProviderPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	loginAndRefresh(t, "private-key-jwt")
}

func TestProviderClientSecretJWT(t *testing.T) {
	t.Parallel()
	loginAndRefresh(t, "client-secret-jwt")
}

func TestProviderPAR(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "par")
	b := newBrowser(t)
	s := login(t, w, a, b) // the client requires PAR
	assert.NotEmpty(t, s.AccessToken)

	q := b.authorizeURL(t, w).Query()
	assert.Equal(t, []string{"client_id", "request_uri"}, sortedKeys(q), "only the request_uri travels in the browser")
	assert.True(t, strings.HasPrefix(q.Get("request_uri"), "urn:ietf:params:oauth:request_uri:"))
}

func TestProviderJARWithPAR(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "jar-par")
	b := newBrowser(t)
	s := login(t, w, a, b) // the client requires signed request objects and PAR
	assert.NotEmpty(t, s.AccessToken)
	assert.Equal(t, []string{"client_id", "request_uri"}, sortedKeys(b.authorizeURL(t, w).Query()))
}

func sortedKeys(v url.Values) []string { return slices.Sorted(maps.Keys(v)) }

func TestProviderRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	w := nodeProvider(t)
	a := w.rp(t, "code")
	b := newBrowser(t)
	s := login(t, w, a, b)

	// While the provider session lasts, a new login needs no sign-in.
	b.visited = nil
	login(t, w, a, b)
	assert.False(t, b.sawPrefix(w.issuer+"/interaction/"), "single sign-on: %v", b.visited)

	resp, _ := b.get(a.url("/logout"))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	end, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, w.issuer+"/session/end", end.Scheme+"://"+end.Host+end.Path)
	assert.Equal(t, a.url("/"), end.Query().Get("post_logout_redirect_uri"))
	hint := end.Query().Get("id_token_hint")
	assert.NotEmpty(t, hint)
	var anon sessionView
	b.getJSON(a.url("/session"), &anon)
	assert.False(t, anon.Authenticated, "the local session ends at once")

	// The provider asks for confirmation; the user confirms.
	resp, body := b.navigate(http.MethodGet, end.String(), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	action, form := parseForm(t, end.String(), body)
	assert.Equal(t, w.issuer+"/session/end/confirm", action)
	form.Set("logout", "yes")
	b.visited = nil
	resp, body = b.navigate(http.MethodPost, action, form)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "hello ", body, "back on the app, anonymous")
	assert.Contains(t, b.visited, a.url("/"), "redirected to post_logout_redirect_uri")

	// The provider session is gone: the next login signs in again.
	b.visited = nil
	s2 := login(t, w, a, b)
	assert.True(t, b.sawPrefix(w.issuer+"/interaction/"), "a new sign-in: %v", b.visited)
	assert.NotEqual(t, s.IDToken, s2.IDToken)
}

func TestProviderBackchannelLogout(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"backchannel", "backchannel-store"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := nodeProvider(t)
			a := w.rp(t, name)
			b := newBrowser(t)
			s := login(t, w, a, b)
			require.NotEmpty(t, s.SID, "the ID token carries the provider's sid")
			before := len(a.backchannelStatuses())

			// The user signs out at the provider, not through the app.
			end := w.issuer + "/session/end"
			resp, body := b.navigate(http.MethodGet, end, nil)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			action, form := parseForm(t, end, body)
			form.Set("logout", "yes")
			resp, body = b.navigate(http.MethodPost, action, form)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Contains(t, body, "Sign-out Success")

			statuses := a.backchannelStatuses()
			require.Len(t, statuses, before+1, "the provider delivered one logout token")
			assert.Equal(t, http.StatusOK, statuses[before])

			var after sessionView
			b.getJSON(a.url("/session"), &after)
			assert.False(t, after.Authenticated, "the back-channel logout ended the app session")

			// A later login is not affected by the logout.
			s2 := login(t, w, a, b)
			assert.NotEqual(t, s.SID, s2.SID)
			var again sessionView
			b.getJSON(a.url("/session"), &again)
			assert.True(t, again.Authenticated)
		})
	}
}
