package interop

// Cookie interoperability with the real express-openid-connect
// (express_cookies.mjs): session cookies (single and chunked), transaction
// cookies, and signed store-id cookies with shared store entries, in both
// directions, with the same secret.

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// expressWorld is express_cookies.mjs and the stub provider it uses.
type expressWorld struct {
	op       *stubOP
	proc     *nodeProc
	Cookie   string            `json:"cookie"`
	Code     string            `json:"code"`
	Store    string            `json:"store"`
	Unsigned string            `json:"unsigned"`
	Versions map[string]string `json:"versions"`
}

var (
	expressOnce  sync.Once
	expressState *expressWorld
	expressErr   error
)

// expressApps returns the running express applications, starting them on
// first use.
func expressApps(t testing.TB) *expressWorld {
	t.Helper()
	needNode(t)
	expressOnce.Do(func() { expressState, expressErr = startExpress() })
	require.NoError(t, expressErr)
	expressState.proc.dumpLogsOnFailure(t)
	return expressState
}

func startExpress() (*expressWorld, error) {
	op, err := newStubOP()
	if err != nil {
		return nil, err
	}
	atExit(op.close)
	proc, line, err := startNode("express-openid-connect", "express_cookies.mjs", nil,
		"--issuer", op.issuer, "--secret", cookieSecret,
		"--client-id", cookieClientID, "--client-secret", cookieClientSecret, "--exit-with-stdin")
	if err != nil {
		return nil, err
	}
	w := &expressWorld{op: op, proc: proc}
	if err := json.Unmarshal([]byte(line), w); err != nil {
		return nil, err
	}
	return w, nil
}

// nodeSession is the answer of express's GET /__session.
type nodeSession struct {
	Session       map[string]any `json:"session"`
	Authenticated bool           `json:"authenticated"`
	User          map[string]any `json:"user"`
	Claims        map[string]any `json:"claims"`
}

var nodeClient = &http.Client{
	Timeout:       15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// nodeDo sends a request to an express application, with cookies, without
// following redirects.
func nodeDo(t testing.TB, method, u, contentType, body string, cookies []*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := nodeClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(raw)
}

// seed makes the express application at base write session, and returns
// the cookies it set.
func (e *expressWorld) seed(t testing.TB, base string, session map[string]any) []*http.Cookie {
	t.Helper()
	resp, body := nodeDo(t, http.MethodPost, base+"/__seed", "application/json", jsonString(t, session), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	return liveCookies(resp)
}

// session asks the express application at base to read cookies.
func (e *expressWorld) session(t testing.TB, base string, cookies []*http.Cookie) nodeSession {
	t.Helper()
	resp, body := nodeDo(t, http.MethodGet, base+"/__session", "", "", cookies)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var out nodeSession
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	return out
}

// sampleSession is a logged-in session in express's shape: tokens, the sid,
// and application values, with blobBytes of extra data to force chunking.
func sampleSession(t testing.TB, op *stubOP, sub string, blobBytes int) map[string]any {
	t.Helper()
	s := map[string]any{
		"id_token": op.idToken(t, cookieClientID, map[string]any{
			"sub": sub, "sid": "sid-" + sub, "name": "Zoë " + sub, "nonce": "n-" + sub,
		}),
		"access_token":  "at-" + rand.Text(),
		"refresh_token": "rt-" + rand.Text(),
		"token_type":    "Bearer",
		"expires_at":    time.Now().Add(time.Hour).Unix(),
		"sid":           "sid-" + sub,
		"cart":          map[string]any{"items": []any{"apple", 2, true, nil, map[string]any{"nested": "ok"}}},
		"note":          "Zoë 日本語 🎉 <&> \"quoted\" \u2028",
	}
	if blobBytes > 0 {
		var b strings.Builder
		for b.Len() < blobBytes {
			b.WriteString(rand.Text())
		}
		s["blob"] = b.String()[:blobBytes]
	}
	return normalizeJSON(s)
}

// joinChunks returns the session cookie value, joined from its chunks.
func joinChunks(t testing.TB, cookies []*http.Cookie) string {
	t.Helper()
	if v := cookieValue(cookies, "appSession"); v != "" {
		return v
	}
	var b strings.Builder
	for i := 0; ; i++ {
		v := cookieValue(cookies, "appSession."+string(rune('0'+i)))
		if v == "" {
			break
		}
		b.WriteString(v)
	}
	require.NotZero(t, b.Len(), "no session cookie in %v", cookieNames(cookies))
	return b.String()
}

// checkSessionCookie decrypts the session cookie with the standard library
// and compares its JSON with want.
func checkSessionCookie(t testing.TB, cookies []*http.Cookie, want map[string]any) {
	t.Helper()
	h, plain, err := decryptSession(cookieSecret, joinChunks(t, cookies))
	require.NoError(t, err)
	assert.LessOrEqual(t, h.IAT, h.UAT)
	assert.Greater(t, h.EXP, h.UAT)
	var got map[string]any
	require.NoError(t, json.Unmarshal(plain, &got))
	assert.Equal(t, want, got)
}

func chunkNames(n int) []string {
	if n == 1 {
		return []string{"appSession"}
	}
	var out []string
	for i := range n {
		out = append(out, "appSession."+string(rune('0'+i)))
	}
	return out
}

var sessionSizes = []struct {
	name   string
	blob   int
	chunks int
}{
	{"small", 0, 1},
	{"chunked", 9000, 4},
}

func TestExpressSessionCookieToGo(t *testing.T) {
	t.Parallel()
	e := expressApps(t)
	for _, size := range sessionSizes {
		t.Run(size.name, func(t *testing.T) {
			t.Parallel()
			want := sampleSession(t, e.op, "node-user", size.blob)
			cookies := e.seed(t, e.Cookie, want)
			assert.Equal(t, chunkNames(size.chunks), cookieNames(cookies))
			checkSessionCookie(t, cookies, want)

			got := newGoApp(t, "", nil).whoami(cookies)
			assert.True(t, got.Authenticated)
			assert.Equal(t, want, got.Session)
			assert.Equal(t, "node-user", got.User["sub"])
			assert.Equal(t, "Zoë node-user", got.User["name"])
			assert.Equal(t, "sid-node-user", got.Claims["sid"])

			// The secret may be rotated on the Go side.
			rotated := newGoApp(t, "", func(c *oidc.Config) {
				c.Secret = oidc.Secrets{"a-newer-secret-0123456789abcdefghijklmn", cookieSecret}
			}).whoami(cookies)
			assert.Equal(t, want, rotated.Session)

			wrong := newGoApp(t, "", func(c *oidc.Config) {
				c.Secret = oidc.Secrets{"another-secret-0123456789abcdefghijklmn"}
			}).whoami(cookies)
			assert.False(t, wrong.Authenticated)
		})
	}
}

func TestGoSessionCookieToExpress(t *testing.T) {
	t.Parallel()
	e := expressApps(t)
	for _, size := range sessionSizes {
		t.Run("minted/"+size.name, func(t *testing.T) {
			t.Parallel()
			want := sampleSession(t, e.op, "go-user", size.blob)
			cookies := newGoApp(t, "", nil).mint(want)
			assert.Equal(t, chunkNames(size.chunks), cookieNames(cookies))
			checkSessionCookie(t, cookies, want)

			got := e.session(t, e.Cookie, cookies)
			assert.True(t, got.Authenticated)
			assert.Equal(t, want, got.Session)
			assert.Equal(t, "go-user", got.User["sub"])
			assert.Equal(t, "sid-go-user", got.Claims["sid"])
		})
	}

	t.Run("oidctest.SessionCookies", func(t *testing.T) {
		t.Parallel()
		cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{
			Secret:       cookieSecret,
			Claims:       map[string]any{"sub": "alice", "email": "alice@example.com", "aud": cookieClientID},
			AccessToken:  "alice-access-token",
			RefreshToken: "alice-refresh-token",
			ExpiresIn:    time.Hour,
			Values:       map[string]any{"theme": "dark", "visits": 3},
		})
		require.NoError(t, err)
		got := e.session(t, e.Cookie, cookies)
		assert.True(t, got.Authenticated)
		assert.Equal(t, "alice", got.User["sub"])
		assert.Equal(t, "alice@example.com", got.User["email"])
		assert.Equal(t, "alice-access-token", got.Session["access_token"])
		assert.Equal(t, "alice-refresh-token", got.Session["refresh_token"])
		assert.Equal(t, "Bearer", got.Session["token_type"])
		assert.Equal(t, "dark", got.Session["theme"])
		assert.Equal(t, 3.0, got.Session["visits"])
	})

	t.Run("after a Go login", func(t *testing.T) {
		t.Parallel()
		g := newGoApp(t, e.op.issuer, nil)
		resp := g.serve(http.MethodGet, "/login", "", nil, nil)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		ar := parseAuthRequest(t, resp.Header.Get("Location"))
		form := url.Values{
			"id_token": {e.op.idToken(t, cookieClientID, map[string]any{"sub": "go-login", "nonce": ar.query.Get("nonce"), "sid": "op-sid"})},
			"state":    {ar.query.Get("state")},
		}
		resp = g.serve(http.MethodPost, "/callback", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), liveCookies(resp))
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		session := liveCookies(resp)
		mine := g.whoami(session)
		require.True(t, mine.Authenticated)

		got := e.session(t, e.Cookie, session)
		assert.True(t, got.Authenticated)
		assert.Equal(t, mine.Session, got.Session)
		assert.Equal(t, "go-login", got.User["sub"])
		assert.Equal(t, "op-sid", got.Session["sid"])
	})
}

// txCookies returns the transaction cookies of a login response, after
// checking their signatures and that they carry the request's nonce and
// state.
func txCookies(t testing.TB, resp *http.Response, fallback bool) ([]*http.Cookie, map[string]any) {
	t.Helper()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	ar := parseAuthRequest(t, resp.Header.Get("Location"))
	cookies := liveCookies(resp)
	names := []string{"auth_verification"}
	if fallback {
		names = append(names, "_auth_verification")
	}
	assert.ElementsMatch(t, names, cookieNames(cookies))
	var tx map[string]any
	for _, name := range names {
		value, ok := verifySigned(cookieSecret, name, cookieValue(cookies, name))
		require.True(t, ok, "%s is signed with the secret under its own name", name)
		require.NoError(t, json.Unmarshal([]byte(value), &tx))
	}
	assert.Equal(t, ar.query.Get("nonce"), tx["nonce"])
	assert.Equal(t, ar.query.Get("state"), tx["state"])
	return cookies, tx
}

func only(cookies []*http.Cookie, name string) []*http.Cookie {
	for _, c := range cookies {
		if c.Name == name {
			return []*http.Cookie{c}
		}
	}
	return nil
}

func TestExpressTransactionCookieToGo(t *testing.T) {
	t.Parallel()
	e := expressApps(t)

	for _, name := range []string{"auth_verification", "_auth_verification"} {
		t.Run("form_post/"+name, func(t *testing.T) {
			t.Parallel()
			resp, body := nodeDo(t, http.MethodGet, e.Cookie+"/login", "", "", nil)
			require.Equal(t, http.StatusFound, resp.StatusCode, body)
			cookies, tx := txCookies(t, resp, true)
			ar := parseAuthRequest(t, resp.Header.Get("Location"))
			assert.Equal(t, "form_post", ar.query.Get("response_mode"))

			g := newGoApp(t, e.op.issuer, nil)
			form := url.Values{
				"id_token": {e.op.idToken(t, cookieClientID, map[string]any{"sub": "node-started", "nonce": tx["nonce"]})},
				"state":    {ar.query.Get("state")},
			}
			resp = g.serve(http.MethodPost, "/callback", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), only(cookies, name))
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, "Go completes a login that express started")
			assert.Equal(t, goBaseURL+"/", resp.Header.Get("Location"), "express's returnTo (its base URL) is not ours: Go falls back to BaseURL")
			got := g.whoami(liveCookies(resp))
			assert.True(t, got.Authenticated)
			assert.Equal(t, "node-started", got.User["sub"])
		})
	}

	t.Run("code+PKCE", func(t *testing.T) {
		t.Parallel()
		resp, body := nodeDo(t, http.MethodGet, e.Code+"/login", "", "", nil)
		require.Equal(t, http.StatusFound, resp.StatusCode, body)
		cookies, tx := txCookies(t, resp, false)
		ar := parseAuthRequest(t, resp.Header.Get("Location"))
		require.Equal(t, "S256", ar.query.Get("code_challenge_method"))
		require.NotEmpty(t, tx["code_verifier"])

		code := "code-" + rand.Text()
		e.op.addCode(code, map[string]any{"sub": "node-started-code", "nonce": tx["nonce"]}, ar.query.Get("code_challenge"))
		g := newGoApp(t, e.op.issuer, func(c *oidc.Config) {
			c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
		})
		q := url.Values{"code": {code}, "state": {ar.query.Get("state")}}
		resp = g.serve(http.MethodGet, "/callback?"+q.Encode(), "", nil, cookies)
		require.Equal(t, http.StatusFound, resp.StatusCode, "Go redeems the code with express's PKCE verifier")
		got := g.whoami(liveCookies(resp))
		assert.True(t, got.Authenticated)
		assert.Equal(t, "node-started-code", got.User["sub"])
		assert.NotEmpty(t, got.Session["access_token"])
	})
}

// expressFormat makes a Go app write express's transaction cookie format
// (TransactionCookie.ExpressFormat), which express needs to complete a
// login started in Go.
func expressFormat(c *oidc.Config) { c.TransactionCookie.ExpressFormat = true }

func TestGoTransactionCookieToExpress(t *testing.T) {
	t.Parallel()
	e := expressApps(t)

	for _, name := range []string{"auth_verification", "_auth_verification"} {
		t.Run("form_post/"+name, func(t *testing.T) {
			t.Parallel()
			g := newGoApp(t, e.op.issuer, expressFormat)
			resp := g.serve(http.MethodGet, "/login", "", nil, nil)
			cookies, tx := txCookies(t, resp, true)
			ar := parseAuthRequest(t, resp.Header.Get("Location"))

			form := url.Values{
				"id_token": {e.op.idToken(t, cookieClientID, map[string]any{"sub": "go-started", "nonce": tx["nonce"]})},
				"state":    {ar.query.Get("state")},
			}
			resp, body := nodeDo(t, http.MethodPost, e.Cookie+"/callback", "application/x-www-form-urlencoded", form.Encode(), only(cookies, name))
			require.Equal(t, http.StatusFound, resp.StatusCode, "express completes a login that Go started: %s", body)
			assert.Equal(t, goBaseURL+"/", resp.Header.Get("Location"), "express follows Go's returnTo")
			session := liveCookies(resp)
			got := e.session(t, e.Cookie, session)
			assert.True(t, got.Authenticated)
			assert.Equal(t, "go-started", got.User["sub"])
			// Full circle: Go reads the session express created.
			assert.Equal(t, "go-started", g.whoami(session).User["sub"])
		})
	}

	t.Run("code+PKCE", func(t *testing.T) {
		t.Parallel()
		g := newGoApp(t, e.op.issuer, func(c *oidc.Config) {
			c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
			expressFormat(c)
		})
		resp := g.serve(http.MethodGet, "/login", "", nil, nil)
		cookies, tx := txCookies(t, resp, false)
		ar := parseAuthRequest(t, resp.Header.Get("Location"))
		require.NotEmpty(t, tx["code_verifier"])

		code := "code-" + rand.Text()
		e.op.addCode(code, map[string]any{"sub": "go-started-code", "nonce": tx["nonce"]}, ar.query.Get("code_challenge"))
		q := url.Values{"code": {code}, "state": {ar.query.Get("state")}}
		resp, body := nodeDo(t, http.MethodGet, e.Code+"/callback?"+q.Encode(), "", "", cookies)
		require.Equal(t, http.StatusFound, resp.StatusCode, "express redeems the code with Go's PKCE verifier: %s", body)
		got := e.session(t, e.Code, liveCookies(resp))
		assert.True(t, got.Authenticated)
		assert.Equal(t, "go-started-code", got.User["sub"])
	})

	t.Run("tampered", func(t *testing.T) {
		t.Parallel()
		g := newGoApp(t, e.op.issuer, expressFormat)
		resp := g.serve(http.MethodGet, "/login", "", nil, nil)
		ar := parseAuthRequest(t, resp.Header.Get("Location"))
		var cookies []*http.Cookie
		for _, c := range liveCookies(resp) {
			cookies = append(cookies, &http.Cookie{Name: c.Name, Value: oidctest.Tamper(c.Value, 2)})
		}
		form := url.Values{"id_token": {"x.y.z"}, "state": {ar.query.Get("state")}}
		resp, body := nodeDo(t, http.MethodPost, e.Cookie+"/callback", "application/x-www-form-urlencoded", form.Encode(), cookies)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, `auth_verification\" cookie not found`, "a bad signature reads as a missing cookie")
	})

	// By default the transaction cookie is encrypted: express cannot read
	// it (nor can anything else without the secret), so a login started in
	// Go does not complete on a Node instance.
	t.Run("default format", func(t *testing.T) {
		t.Parallel()
		g := newGoApp(t, e.op.issuer, nil)
		resp := g.serve(http.MethodGet, "/login", "", nil, nil)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		ar := parseAuthRequest(t, resp.Header.Get("Location"))
		cookies := liveCookies(resp)
		assert.ElementsMatch(t, []string{"auth_verification", "_auth_verification"}, cookieNames(cookies))
		for _, c := range cookies {
			_, ok := verifySigned(cookieSecret, c.Name, c.Value)
			assert.False(t, ok, "%s is not in express's signed format", c.Name)
			assert.NotContains(t, c.Value, ar.query.Get("nonce"), "the nonce cannot be read from %s", c.Name)
		}
		form := url.Values{
			"id_token": {e.op.idToken(t, cookieClientID, map[string]any{"sub": "go-started", "nonce": ar.query.Get("nonce")})},
			"state":    {ar.query.Get("state")},
		}
		resp, body := nodeDo(t, http.MethodPost, e.Cookie+"/callback", "application/x-www-form-urlencoded", form.Encode(), cookies)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Contains(t, body, `auth_verification\" cookie not found`)

		// The Go app itself completes it.
		resp = g.serve(http.MethodPost, "/callback", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), cookies)
		assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	})
}

// storeEntryJSON returns the bytes stored under id in a Go MemoryStore,
// which are the JSON the middleware wrote.
func storeEntryJSON(t testing.TB, s *oidc.MemoryStore, id string) string {
	t.Helper()
	entry, err := s.Get(t.Context(), id)
	require.NoError(t, err)
	require.NotNil(t, entry, "no store entry %q", id)
	return string(entry)
}

// expressEntry is the part of a store entry these tests look at, in
// express-openid-connect's shape ({header, data, cookie}).
type expressEntry struct {
	Header struct {
		IAT int64 `json:"iat"`
		UAT int64 `json:"uat"`
		EXP int64 `json:"exp"`
	} `json:"header"`
	Data   json.RawMessage `json:"data"`
	Cookie *struct {
		Expires int64 `json:"expires"`
		MaxAge  int64 `json:"maxAge"`
	} `json:"cookie"`
}

// loadExpressEntry puts the bytes express-openid-connect stored (body, as
// its store holds them) into the Go application's store under id, until
// the entry's expiry, and returns them decoded.
func loadExpressEntry(t testing.TB, g *goApp, id, body string) expressEntry {
	t.Helper()
	var entry expressEntry
	require.NoError(t, json.Unmarshal([]byte(body), &entry))
	require.NotNil(t, entry.Cookie, "express's entry has the express-session cookie member")
	require.NoError(t, g.store.Set(t.Context(), id, []byte(body), time.Unix(entry.Header.EXP, 0)))
	return entry
}

// storeApp is a Go application with store sessions and the default signed
// session-id cookie; sess adjusts the session options.
func storeApp(t testing.TB, sess ...func(*oidc.SessionConfig)) *goApp {
	return newGoApp(t, "", func(c *oidc.Config) {
		c.Session.Store = oidc.NewMemoryStore()
		for _, f := range sess {
			f(&c.Session)
		}
	})
}

func TestExpressStoreCookieToGo(t *testing.T) {
	t.Parallel()
	e := expressApps(t)
	want := sampleSession(t, e.op, "node-store-user", 0)
	cookies := e.seed(t, e.Store, want)
	require.Equal(t, []string{"appSession"}, cookieNames(cookies))
	id, ok := verifySigned(cookieSecret, "appSession", cookies[0].Value)
	require.True(t, ok, "the id cookie is signed: %s", cookies[0].Value)
	assert.Regexp(t, `^[0-9a-f]{32}$`, id)

	resp, body := nodeDo(t, http.MethodGet, e.Store+"/__store/"+id, "", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.NotContains(t, body, `"id"`, "express writes no id member")

	g := storeApp(t)
	loadExpressEntry(t, g, id, body)
	got := g.whoami(cookies)
	assert.True(t, got.Authenticated)
	assert.Equal(t, want, got.Session)
	assert.Equal(t, "node-store-user", got.User["sub"])

	tampered := []*http.Cookie{{Name: "appSession", Value: oidctest.Tamper(cookies[0].Value, 2)}}
	assert.False(t, g.whoami(tampered).Authenticated, "a bad signature is refused")
}

func TestGoStoreCookieToExpress(t *testing.T) {
	t.Parallel()
	e := expressApps(t)
	want := sampleSession(t, e.op, "go-store-user", 0)
	g := storeApp(t)
	cookies := g.mint(want)
	require.Equal(t, []string{"appSession"}, cookieNames(cookies))
	id, ok := verifySigned(cookieSecret, "appSession", cookies[0].Value)
	require.True(t, ok, "the id cookie is signed: %s", cookies[0].Value)

	resp, body := nodeDo(t, http.MethodPut, e.Store+"/__store/"+id, "application/json", storeEntryJSON(t, g.store, id), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	got := e.session(t, e.Store, cookies)
	assert.True(t, got.Authenticated)
	assert.Equal(t, want, got.Session)
	assert.Equal(t, "go-store-user", got.User["sub"])

	tampered := []*http.Cookie{{Name: "appSession", Value: oidctest.Tamper(cookies[0].Value, 2)}}
	assert.False(t, e.session(t, e.Store, tampered).Authenticated, "express refuses a bad signature")
}

// TestExpressUnsignedStoreCookieMigration covers the two ways from
// express-openid-connect's default unsigned session-id cookie to this
// package, whose default is signed: a mixed Node/Go fleet turns signing off
// on the Go side; a Go-only cutover accepts unsigned cookies for a while and
// re-issues them signed.
func TestExpressUnsignedStoreCookieMigration(t *testing.T) {
	t.Parallel()
	e := expressApps(t)
	want := sampleSession(t, e.op, "node-unsigned-user", 0)
	cookies := e.seed(t, e.Unsigned, want)
	require.Equal(t, []string{"appSession"}, cookieNames(cookies))
	id := cookies[0].Value
	require.Regexp(t, `^[0-9a-f]{32}$`, id, "express's default id cookie is the bare id")
	resp, body := nodeDo(t, http.MethodGet, e.Unsigned+"/__store/"+id, "", "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	load := func(g *goApp) { loadExpressEntry(t, g, id, body) }

	t.Run("mixed fleet: SignSessionStoreCookie false on the Go side", func(t *testing.T) {
		t.Parallel()
		g := storeApp(t, func(s *oidc.SessionConfig) { s.SignSessionStoreCookie = oidc.Bool(false) })
		load(g)
		got := g.whoami(cookies)
		assert.True(t, got.Authenticated)
		assert.Equal(t, want, got.Session)

		// And back: Go's unsigned id cookie works in express.
		goWant := sampleSession(t, e.op, "go-unsigned-user", 0)
		goCookies := g.mint(goWant)
		goID := cookieValue(goCookies, "appSession")
		require.Regexp(t, `^[0-9a-f]{32}$`, goID)
		resp, body := nodeDo(t, http.MethodPut, e.Unsigned+"/__store/"+goID, "application/json", storeEntryJSON(t, g.store, goID), nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		node := e.session(t, e.Unsigned, goCookies)
		assert.True(t, node.Authenticated)
		assert.Equal(t, goWant, node.Session)
	})
	t.Run("Go-only cutover: unsigned accepted and re-issued signed", func(t *testing.T) {
		t.Parallel()
		g := storeApp(t, func(s *oidc.SessionConfig) { s.RequireSignedSessionStoreCookie = oidc.Bool(false) })
		load(g)
		resp := g.serve(http.MethodGet, "/whoami", "", nil, cookies)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var got whoami
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		assert.True(t, got.Authenticated)
		assert.Equal(t, want, got.Session)
		reissued := liveCookies(resp)
		require.Equal(t, []string{"appSession"}, cookieNames(reissued))
		signedID, ok := verifySigned(cookieSecret, "appSession", reissued[0].Value)
		require.True(t, ok, "re-issued signed: %s", reissued[0].Value)
		assert.Equal(t, id, signedID, "the same session")
		assert.True(t, g.whoami(reissued).Authenticated)
	})
	t.Run("default: unsigned cookies are refused", func(t *testing.T) {
		t.Parallel()
		g := storeApp(t)
		load(g)
		assert.False(t, g.whoami(cookies).Authenticated)
	})
}
