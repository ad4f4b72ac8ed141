package oidc

// Tests for the encrypted cookie session (session.go, requestsession.go,
// cookiebackend.go, sessionexpiry.go, cookies.go, writer.go and the
// session half of context.go). Subtest names are the titles of
// express-openid-connect's test/appSession.tests.js, or the ids of the
// security catalog (the SESS and JOSE tables of docs/security.md).
//
// Most tests drive m.Handler with httptest.NewRecorder and cookies minted
// with the middleware's own keyring: reading a session never contacts the
// provider, so IssuerBaseURL points at an address that is never dialled.

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/oidctest"
)

const (
	sessIssuer = "https://op.example.com"
	sessHTTPS  = "https://app.example.com"
	sessHTTP   = "http://app.example.com"
	sessClient = "sess-client"
	// sessNow is where the fake clock of sessNew starts (Unix seconds).
	sessNow = 1_760_000_000
	// sessEpochDate is the Expires attribute of a cleared cookie.
	sessEpochDate = "Thu, 01 Jan 1970 00:00:00 GMT"
	// sessBudget bounds the time a hostile cookie may cost. The catalog asks
	// for < 50 ms; the bound is looser because the suite runs with -race and
	// in parallel, and the fastest of three runs is compared.
	sessBudget = 100 * time.Millisecond
)

// sessLogBuf is a goroutine-safe sink for slog output.
type sessLogBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *sessLogBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *sessLogBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func sessLogger(l *sessLogBuf) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// sessView is what sessHandler's "/" reports about the request's session.
type sessView struct {
	Authenticated    bool           `json:"authenticated"`
	Sub              string         `json:"sub"`
	HasSession       bool           `json:"has_session"`
	IDToken          string         `json:"id_token"`
	SID              string         `json:"sid"`
	SessionExpiresAt int64          `json:"session_expires_at"`
	Values           map[string]any `json:"values"`
}

// sessHandler is the application used by the recorder tests:
//
//	/           dumps the session as a sessView (JSON)
//	/untouched  never looks at the session
//	/set?k=v    stores values; big=N stores N bytes under "big"
//	/delete?key=k  deletes values
//	/clear      SetSession(Session{})
func sessHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		v := sessView{Authenticated: c.IsAuthenticated(), Sub: c.User().String("sub")}
		if s, ok := c.Session(); ok {
			v.HasSession, v.IDToken, v.SID = true, string(s.IDToken), s.SID
			v.SessionExpiresAt, v.Values = s.SessionExpiresAt, s.Values
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	})
	mux.HandleFunc("/untouched", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "untouched")
	})
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		for k, v := range r.URL.Query() {
			var err error
			if k == "big" {
				n, _ := strconv.Atoi(v[0])
				err = c.Set("big", strings.Repeat("b", n))
			} else {
				err = c.Set(k, v[0])
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/delete", func(w http.ResponseWriter, r *http.Request) {
		for _, k := range r.URL.Query()["key"] {
			if err := FromRequest(r).Delete(k); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/clear", func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).SetSession(Session{}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	return mux
}

// sessEnv is a middleware around an application, with a fake clock and a
// debug log, driven through httptest.ResponseRecorder.
type sessEnv struct {
	t    *testing.T
	m    *Middleware
	h    http.Handler
	clk  *fakeClock
	logs *sessLogBuf
	base string
}

func sessNew(t *testing.T, mutate func(*Config), handler http.Handler) *sessEnv {
	t.Helper()
	clk := &fakeClock{now: time.Unix(sessNow, 0)}
	logs := &sessLogBuf{}
	cfg := Config{
		Secret:        Secrets{harnessSecret},
		IssuerBaseURL: sessIssuer,
		BaseURL:       sessHTTPS,
		ClientID:      sessClient,
		AuthRequired:  Bool(false),
		Now:           clk.Now,
		Logger:        sessLogger(logs),
		LookupEnv:     func(string) (string, bool) { return "", false },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(cfg)
	require.NoError(t, err)
	if handler == nil {
		handler = sessHandler()
	}
	return &sessEnv{t: t, m: m, h: m.Handler(handler), clk: clk, logs: logs, base: strings.TrimRight(cfg.BaseURL, "/")}
}

func (e *sessEnv) name() string { return e.m.s.sessionName }
func (e *sessEnv) unix() int64  { return e.clk.Now().Unix() }

// cookie returns "name=value" for the session cookie.
func (e *sessEnv) cookie(value string) string { return e.name() + "=" + value }

// hdr is the JWE header of a session created iatAgo and last written uatAgo,
// with the exp the middleware itself would compute.
func (e *sessEnv) hdr(iatAgo, uatAgo time.Duration) cookiecrypto.Header {
	now := e.unix()
	iat, uat := now-int64(iatAgo/time.Second), now-int64(uatAgo/time.Second)
	return cookiecrypto.Header{IAT: iat, UAT: uat, EXP: e.m.s.expiry(iat, uat, &Session{})}
}

// mint encrypts body (a JSON object) under the middleware's current key.
func (e *sessEnv) mint(h cookiecrypto.Header, body string) string {
	e.t.Helper()
	v, err := e.m.keys.Encrypt(h, []byte(body))
	require.NoError(e.t, err)
	return v
}

// mintUser mints a fresh session for sub, with extra session keys.
func (e *sessEnv) mintUser(sub string, extra map[string]any) string {
	e.t.Helper()
	return e.mint(e.hdr(0, 0), sessBody(e.t, sub, extra))
}

// sessDue is older than the touch interval: an unchanged session last
// written this long ago is re-issued by the next response. (express
// re-issues on every response; the port may skip re-issuing an unchanged,
// recently written rolling session.)
const sessDue = 5 * time.Minute

// mintDue mints a session for sub created and last written sessDue ago,
// so that the next response re-issues it.
func (e *sessEnv) mintDue(sub string, extra map[string]any) string {
	e.t.Helper()
	return e.mint(e.hdr(sessDue, sessDue), sessBody(e.t, sub, extra))
}

// sessBody is an express-style session object for sub.
func sessBody(t *testing.T, sub string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"id_token": sessJWT(sessClaims(sub))}
	for k, v := range extra {
		body[k] = v
	}
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return string(b)
}

func sessClaims(sub string) map[string]any {
	return map[string]any{
		"iss": sessIssuer + "/", "aud": sessClient, "sub": sub, "email": sub + "@example.com",
		"iat": sessNow, "exp": sessNow + 3600, "nonce": "n-0S6_WzA2Mj",
	}
}

// sessJWT builds an unsigned JWT: the session trusts its own encrypted
// cookie and only decodes the ID token's claims.
func sessJWT(claims map[string]any) string {
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(c) + ".c2lnbmF0dXJl"
}

// do serves one request; headers are name, value pairs.
func (e *sessEnv) do(method, path, cookie string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, e.base+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *sessEnv) get(path, cookie string) *httptest.ResponseRecorder {
	return e.do(http.MethodGet, path, cookie)
}

// view fetches "/" with cookie and decodes the sessView.
func (e *sessEnv) view(cookie string) (sessView, *httptest.ResponseRecorder) {
	e.t.Helper()
	rec := e.get("/", cookie)
	return sessViewOf(e.t, rec), rec
}

func sessViewOf(t *testing.T, rec *httptest.ResponseRecorder) sessView {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var v sessView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

// sessLines returns the Set-Cookie lines of a recorded response as sent.
func sessLines(rec *httptest.ResponseRecorder) []string {
	return rec.Result().Header.Values("Set-Cookie")
}

// sessParse splits the Set-Cookie lines of rec into the cookies it sets (by
// name) and the names it clears (sorted). A name appears at most once.
func sessParse(t *testing.T, rec *httptest.ResponseRecorder) (map[string]*http.Cookie, []string) {
	t.Helper()
	set := map[string]*http.Cookie{}
	var cleared []string
	seen := map[string]bool{}
	for _, line := range sessLines(rec) {
		c, err := http.ParseSetCookie(line)
		require.NoError(t, err, line)
		require.False(t, seen[c.Name], "cookie %q written twice", c.Name)
		seen[c.Name] = true
		if sessIsClear(c) {
			cleared = append(cleared, c.Name)
			continue
		}
		set[c.Name] = c
	}
	sort.Strings(cleared)
	return set, cleared
}

func sessIsClear(c *http.Cookie) bool {
	return c.Value == "" && !c.Expires.IsZero() && c.Expires.Unix() <= 0
}

func sessSetNames(set map[string]*http.Cookie) []string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sessChunkNames returns name.0 … name.(n-1).
func sessChunkNames(name string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = chunk.ChunkName(name, i)
	}
	return out
}

// sessJar is a minimal cookie jar: it applies Set-Cookie lines and builds
// the Cookie header (names sorted; see headerOrder for other orders).
type sessJar map[string]string

func (j sessJar) apply(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	set, cleared := sessParse(t, rec)
	for _, n := range cleared {
		delete(j, n)
	}
	for n, c := range set {
		j[n] = c.Value
	}
}

func (j sessJar) names() []string {
	names := make([]string, 0, len(j))
	for n := range j {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (j sessJar) header() string { return j.headerOrder(j.names()) }

func (j sessJar) headerOrder(names []string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+j[n])
	}
	return strings.Join(parts, "; ")
}

// sessDecrypt decrypts a session cookie value with the given secrets.
func sessDecrypt(t *testing.T, value string, secrets ...string) (cookiecrypto.Header, map[string]any, error) {
	t.Helper()
	bs := make([][]byte, len(secrets))
	for i, s := range secrets {
		bs[i] = []byte(s)
	}
	k, err := cookiecrypto.NewKeyring(bs, nil)
	require.NoError(t, err)
	h, plain, err := k.Decrypt(value)
	if err != nil {
		return h, nil, err
	}
	var body map[string]any
	require.NoError(t, json.Unmarshal(plain, &body))
	return h, body, nil
}

// bigFor returns a length of the "big" value that makes a session of
// about chunks cookie chunks under e's configuration (the middle of the
// range, so the exact JWE overhead does not matter).
func (e *sessEnv) bigFor(chunks int) int {
	e.t.Helper()
	size := e.m.s.chunkSize(0)
	base := e.mint(e.hdr(0, 0), sessBody(e.t, "alice", map[string]any{"big": ""}))
	target := size*(chunks-1) + size/2
	return max(0, (target-len(base))*3/4)
}

func sessDate(unix int64) string { return time.Unix(unix, 0).UTC().Format(http.TimeFormat) }

// sessAssertNoStore checks that a response which sets the session cookie is
// marked uncacheable (SESS-09).
func sessAssertNoStore(t *testing.T, h http.Header) {
	t.Helper()
	cc := strings.ToLower(strings.Join(h.Values("Cache-Control"), ","))
	assert.Contains(t, cc, "no-store", "Cache-Control %q", cc)
	assert.Contains(t, cc, "private", "Cache-Control %q", cc)
}

// sessFastest runs f three times and returns the fastest duration.
func sessFastest(f func()) time.Duration {
	best := time.Duration(math.MaxInt64)
	for range 3 {
		start := time.Now()
		f()
		best = min(best, time.Since(start))
	}
	return best
}

// ---------------------------------------------------------------------------
// express-openid-connect test/appSession.tests.js

func TestSessionExpressAppSession(t *testing.T) {
	t.Parallel()

	t.Run("should not create a session when there are no cookies", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		v, rec := e.view("")
		assert.False(t, v.HasSession)
		assert.False(t, v.Authenticated)
		assert.Empty(t, sessLines(rec))
		rec = e.get("/untouched", "")
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, sessLines(rec))
		// A foreign cookie is not a session either.
		rec = e.get("/", "other=1; appSessionX=2")
		assert.Empty(t, sessLines(rec))
	})

	t.Run("should not error for malformed sessions", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		want := "appSession=; Path=/; Expires=" + sessEpochDate + "; Secure; SameSite=Lax"
		for _, path := range []string{"/", "/untouched"} {
			rec := e.get(path, "appSession=__invalid_identity__")
			require.Equal(t, http.StatusOK, rec.Code, path)
			assert.Equal(t, []string{want}, sessLines(rec), "the bad cookie is cleared even when the handler never reads the session (%s)", path)
		}
		v, _ := e.view("appSession=__invalid_identity__")
		assert.False(t, v.HasSession)
		assert.Contains(t, e.logs.String(), "oidc: session cookie rejected")
	})

	t.Run("should get an existing session", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		t0 := e.unix()
		cookie := e.mintUser("__test_sub__", map[string]any{"shoppingCartId": "__test_cart_id__"})
		e.clk.Advance(10 * time.Minute)
		v, rec := e.view(e.cookie(cookie))
		assert.True(t, v.Authenticated)
		assert.Equal(t, "__test_sub__", v.Sub)
		assert.Equal(t, map[string]any{"shoppingCartId": "__test_cart_id__"}, v.Values)

		// Every response re-issues a rolling session: new IV, new uat,
		// iat carried forward.
		set, cleared := sessParse(t, rec)
		assert.Empty(t, cleared)
		require.Contains(t, set, "appSession")
		assert.NotEqual(t, cookie, set["appSession"].Value)
		h, body, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, cookiecrypto.Header{IAT: t0, UAT: t0 + 600, EXP: t0 + 600 + 86400}, h)
		assert.Equal(t, "__test_cart_id__", body["shoppingCartId"])
		assert.Equal(t, sessJWT(sessClaims("__test_sub__")), body["id_token"])
		sessAssertNoStore(t, rec.Header())
	})

	t.Run("should throw for duplicate mw", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		twice := e.m.Handler(e.m.Handler(sessHandler()))
		req := httptest.NewRequest(http.MethodGet, e.base+"/", nil)
		req.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		twice.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
		assert.Contains(t, rec.Body.String(), "installed twice")

		// Two instances with the same cookie name clash too.
		other := sessNew(t, nil, nil)
		rec = httptest.NewRecorder()
		e.m.Handler(other.h).ServeHTTP(rec, req)
		assert.Equal(t, http.StatusInternalServerError, rec.Code)

		// Different cookie names may be nested.
		named := sessNew(t, func(c *Config) { c.Session.Name = "otherSession" }, nil)
		rec = httptest.NewRecorder()
		e.m.Handler(named.h).ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code)
	})

	// "should disregard custom id generation without a custom store" is
	// TestGapCookieSessionGenid (express_gaps_test.go): Session.Genid is
	// only used with a Session.Store.
}

// SESS-06 and "should not error with JWEDecryptionFailed when using old
// secrets".
func TestSessionKeyRotation(t *testing.T) {
	t.Parallel()
	const k1, k2 = "first-secret-0123456789abcdef-0123", "second-secret-0123456789abcdef-012"
	withSecrets := func(s ...string) func(*Config) { return func(c *Config) { c.Secret = Secrets(s) } }
	old := sessNew(t, withSecrets(k1), nil)
	cookie := old.mintUser("alice", map[string]any{"n": 1})

	t.Run("should not error with JWEDecryptionFailed when using old secrets", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, withSecrets(k2, k1), nil)
		v, rec := e.view("appSession=" + cookie)
		assert.True(t, v.Authenticated)
		assert.Equal(t, "alice", v.Sub)
		assert.Equal(t, float64(1), v.Values["n"])

		// SESS-06: the response re-encrypts under K2, the new current key.
		set, _ := sessParse(t, rec)
		require.Contains(t, set, "appSession")
		_, body, err := sessDecrypt(t, set["appSession"].Value, k2)
		require.NoError(t, err, "the new cookie decrypts with K2 alone")
		assert.Equal(t, float64(1), body["n"])
		_, _, err = sessDecrypt(t, set["appSession"].Value, k1)
		assert.ErrorIs(t, err, cookiecrypto.ErrDecrypt, "the new cookie is not under K1 any more")
	})

	t.Run("SESS-06 a K1 cookie under [K2] alone is anonymous", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, withSecrets(k2), nil)
		v, rec := e.view("appSession=" + cookie)
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, cleared)

		guarded := sessNew(t, func(c *Config) { c.Secret = Secrets{k2}; c.AuthRequired = nil }, nil)
		rec = guarded.do(http.MethodGet, "/", "appSession="+cookie, "Accept", "application/json")
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
	})

	t.Run("SESS-06 rotating back: a K2 cookie under [K1,K2]", func(t *testing.T) {
		t.Parallel()
		newer := sessNew(t, withSecrets(k2), nil)
		e := sessNew(t, withSecrets(k1, k2), nil)
		v, rec := e.view("appSession=" + newer.mintUser("bob", nil))
		assert.Equal(t, "bob", v.Sub)
		set, _ := sessParse(t, rec)
		_, _, err := sessDecrypt(t, set["appSession"].Value, k1)
		assert.NoError(t, err)
	})
}

// ---------------------------------------------------------------------------
// Cookie attributes (SESS-01)

func TestSessionCookieOptions(t *testing.T) {
	t.Parallel()

	// line reissues a fresh session and returns the session's Set-Cookie line.
	line := func(t *testing.T, e *sessEnv) (string, string) {
		t.Helper()
		rec := e.get("/", e.cookie(e.mintDue("alice", nil)))
		set, _ := sessParse(t, rec)
		require.Contains(t, set, e.name())
		lines := sessLines(rec)
		require.Len(t, lines, 1)
		return lines[0], set[e.name()].Value
	}

	t.Run("should set the default cookie options over http", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) { c.BaseURL = sessHTTP }, nil)
		got, v := line(t, e)
		assert.Equal(t, "appSession="+v+"; Path=/; Expires="+sessDate(e.unix()+86400)+"; HttpOnly; SameSite=Lax", got)
	})

	t.Run("should set the default cookie options over https", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		got, v := line(t, e)
		assert.Equal(t, "appSession="+v+"; Path=/; Expires="+sessDate(e.unix()+86400)+"; HttpOnly; Secure; SameSite=Lax", got)
	})

	t.Run("SESS-01 Expires is min(uat+rolling, iat+absolute)", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			iatAgo time.Duration
			want   time.Duration // from now
		}{
			{sessDue, 24 * time.Hour},
			{24 * time.Hour, 24 * time.Hour},
			{144 * time.Hour, 24 * time.Hour},
			{156 * time.Hour, 12 * time.Hour}, // iat + 7d comes first
			{168*time.Hour - time.Second, time.Second},
		} {
			e := sessNew(t, nil, nil)
			rec := e.get("/", e.cookie(e.mint(e.hdr(tc.iatAgo, sessDue), sessBody(t, "alice", nil))))
			set, _ := sessParse(t, rec)
			require.Contains(t, set, "appSession", "iat %s ago", tc.iatAgo)
			c := set["appSession"]
			assert.Equal(t, e.unix()+int64(tc.want/time.Second), c.Expires.Unix(), "iat %s ago", tc.iatAgo)
			assert.True(t, c.HttpOnly)
			assert.True(t, c.Secure)
			assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
			assert.Equal(t, "/", c.Path)
			h, _, err := sessDecrypt(t, c.Value, harnessSecret)
			require.NoError(t, err)
			assert.Equal(t, c.Expires.Unix(), h.EXP, "the cookie expires with the session")
		}
	})

	t.Run("SESS-01 log in over https", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}))
		resp, _ := app.browser().login(app, "/login")
		var lines []string
		for _, l := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(l, "appSession=") {
				lines = append(lines, l)
			}
		}
		require.Len(t, lines, 1)
		value := lines[0][len("appSession="):strings.IndexByte(lines[0], ';')]
		want := "appSession=" + value + "; Path=/; Expires=" + sessDate(app.clk.Now().Unix()+86400) + "; HttpOnly; Secure; SameSite=Lax"
		assert.Equal(t, want, lines[0])
	})

	t.Run("SESS-01 Secure with an http BaseURL is rejected", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{
			Secret: Secrets{harnessSecret}, IssuerBaseURL: sessIssuer, BaseURL: sessHTTP, ClientID: sessClient,
			Session:   SessionConfig{Cookie: CookieConfig{Secure: Bool(true)}},
			LookupEnv: func(string) (string, bool) { return "", false },
		})
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "Session.Cookie.Secure", ce.Option)
	})

	t.Run("should set the custom cookie options", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) {
			c.Session.Cookie = CookieConfig{Domain: "example.com", Path: "/foo", HTTPOnly: Bool(false), SameSite: http.SameSiteStrictMode}
		}, nil)
		got, v := line(t, e)
		assert.Equal(t, "appSession="+v+"; Domain=example.com; Path=/foo; Expires="+sessDate(e.unix()+86400)+"; Secure; SameSite=Strict", got)

		// Clears carry Domain, Path, Secure and SameSite (no HttpOnly), as express's clearCookie does.
		rec := e.get("/", "appSession=garbage")
		assert.Equal(t, []string{"appSession=; Domain=example.com; Path=/foo; Expires=" + sessEpochDate + "; Secure; SameSite=Strict"}, sessLines(rec))

		none := sessNew(t, func(c *Config) { c.Session.Cookie.SameSite = http.SameSiteNoneMode }, nil)
		got, v = line(t, none)
		assert.Equal(t, "appSession="+v+"; Path=/; Expires="+sessDate(none.unix()+86400)+"; HttpOnly; Secure; SameSite=None", got)
	})

	t.Run("should use a custom cookie name", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) { c.Session.Name = "myCustomName" }, nil)
		cookie := e.mintDue("alice", nil)
		v, rec := e.view("myCustomName=" + cookie)
		assert.Equal(t, "alice", v.Sub)
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"myCustomName"}, sessSetNames(set))
		assert.Empty(t, cleared)

		// The default name means nothing to it: not read, not cleared.
		v, rec = e.view("appSession=" + cookie)
		assert.False(t, v.HasSession)
		assert.Empty(t, sessLines(rec))
	})

	t.Run("should set an ephemeral cookie", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) { c.Session.Cookie.Transient = true }, nil)
		got, v := line(t, e)
		assert.Equal(t, "appSession="+v+"; Path=/; HttpOnly; Secure; SameSite=Lax", got)
		// The server still enforces the expiry.
		h, _, err := sessDecrypt(t, v, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, e.unix()+86400, h.EXP)
		e.clk.Advance(24 * time.Hour)
		view, _ := e.view("appSession=" + v)
		assert.False(t, view.HasSession)
	})
}

// ---------------------------------------------------------------------------
// Chunking (SESS-08) and chunk reading (SESS-10)

func TestSessionChunking(t *testing.T) {
	t.Parallel()

	t.Run("should chunk and accept chunked cookies over 4kb", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/set?big=4500", "")
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, sessSetNames(set))
		assert.Empty(t, cleared)
		sessAssertNoStore(t, rec.Header())
		jar := sessJar{}
		jar.apply(t, rec)
		v, _ := e.view(jar.header())
		assert.True(t, v.HasSession)
		assert.Len(t, v.Values["big"], 4500)
	})

	t.Run("should clean up single cookie when switching to chunked", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil))
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, sessSetNames(set))
		assert.Equal(t, []string{"appSession"}, cleared)
	})

	t.Run("should clean up chunked cookies when switching to single cookie", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{}
		jar.apply(t, e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil)))
		require.Equal(t, []string{"appSession.0", "appSession.1"}, jar.names())
		rec := e.get("/delete?key=big", jar.header())
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, sessSetNames(set))
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, cleared)
		jar.apply(t, rec)
		v, _ := e.view(jar.header())
		assert.Equal(t, "alice", v.Sub)
		assert.NotContains(t, v.Values, "big")
	})

	t.Run("SESS-08 chunks shrink and grow", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{"appSession": e.mintUser("alice", nil)}
		for _, chunks := range []int{4, 2, 3, 1, 4, 1} {
			n := e.bigFor(chunks)
			before := jar.names()
			rec := e.get("/set?big="+strconv.Itoa(n), jar.header())
			set, cleared := sessParse(t, rec)
			want := []string{"appSession"}
			if chunks > 1 {
				want = sessChunkNames("appSession", chunks)
			}
			require.Equal(t, want, sessSetNames(set), "%d chunks", chunks)
			// Every request cookie the new state does not use is expired.
			var stale []string
			for _, name := range before {
				if !slices.Contains(want, name) {
					stale = append(stale, name)
				}
			}
			assert.Equal(t, stale, cleared, "%d chunks after %v", chunks, before)
			for _, l := range sessLines(rec) {
				assert.LessOrEqual(t, len(l), 4096)
			}
			jar.apply(t, rec)
			require.Equal(t, want, jar.names())
			v, _ := e.view(jar.header())
			require.Equal(t, "alice", v.Sub, "readable at %d chunks", chunks)
			assert.Len(t, v.Values["big"], n)
		}
	})

	t.Run("SESS-08 shrinking from 4 chunks to 2 clears .2 and .3", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{}
		jar.apply(t, e.get("/set?big="+strconv.Itoa(e.bigFor(4)), "appSession="+e.mintUser("alice", nil)))
		require.Equal(t, sessChunkNames("appSession", 4), jar.names())
		rec := e.get("/set?big="+strconv.Itoa(e.bigFor(2)), jar.header())
		set, cleared := sessParse(t, rec)
		assert.Equal(t, sessChunkNames("appSession", 2), sessSetNames(set))
		assert.Equal(t, []string{"appSession.2", "appSession.3"}, cleared,
			"express leaves these behind and then loses the session")
		jar.apply(t, rec)
		v, _ := e.view(jar.header())
		assert.Equal(t, "alice", v.Sub)
	})

	t.Run("SESS-08 stale chunk indexes of 10 and more are cleared", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		stale := []string{"appSession.10", "appSession.11", "appSession.19", "appSession.25", "appSession.123"}
		header := "appSession=" + e.mintDue("alice", nil)
		for _, n := range stale {
			header += "; " + n + "=stale"
		}
		v, rec := e.view(header)
		assert.Equal(t, "alice", v.Sub, "the unchunked cookie wins")
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, sessSetNames(set))
		want := slices.Clone(stale)
		sort.Strings(want)
		assert.Equal(t, want, cleared)

		// Next to a chunked session a stale .10 is a gap (there is no .2):
		// the session is refused and every chunk cleared.
		jar := sessJar{}
		jar.apply(t, e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil)))
		v, rec = e.view(jar.header() + "; appSession.10=stale")
		assert.False(t, v.HasSession)
		_, cleared = sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1", "appSession.10"}, cleared)
	})
}

// SESS-08: every Set-Cookie line, name=value plus attributes, is at most
// 4096 bytes, for several attribute sets.
func TestSessionCookieSizeLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*Config)
	}{
		{"should limit total cookie size to 4096 Bytes", nil},
		{"should limit total cookie size to 4096 Bytes over http", func(c *Config) { c.BaseURL = sessHTTP }},
		{"should limit total cookie size to 4096 Bytes with custom path", func(c *Config) { c.Session.Cookie.Path = "/some-path" }},
		{"SESS-08 custom domain and a long path", func(c *Config) {
			c.Session.Cookie.Domain = "app.example.com"
			c.Session.Cookie.Path = "/a/rather/long/cookie/path/for/this/application/" + strings.Repeat("p", 200)
		}},
		{"SESS-08 transient cookie", func(c *Config) { c.Session.Cookie.Transient = true }},
		{"SESS-08 long cookie name, SameSite=None, no HttpOnly", func(c *Config) {
			c.Session.Name = "my_application_session_cookie"
			c.Session.Cookie.SameSite = http.SameSiteNoneMode
			c.Session.Cookie.HTTPOnly = Bool(false)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for chunks := 1; chunks <= 4; chunks++ {
				e := sessNew(t, tc.mutate, nil)
				n := e.bigFor(chunks)
				rec := e.get("/set?big="+strconv.Itoa(n), e.cookie(e.mintUser("alice", nil)))
				lines := sessLines(rec)
				set, cleared := sessParse(t, rec)
				want := []string{e.name()}
				if chunks > 1 {
					want = sessChunkNames(e.name(), chunks)
				}
				require.Equal(t, want, sessSetNames(set), "%d chunks", chunks)
				if chunks > 1 {
					assert.Equal(t, []string{e.name()}, cleared)
				}
				for i, l := range lines {
					assert.LessOrEqual(t, len(l), 4096, "line %d of %d chunks", i, chunks)
					if chunks > 1 && strings.HasPrefix(l, e.name()+".") && i < chunks-1 {
						// Like express, every chunk but the last fills the line exactly.
						assert.Len(t, l, 4096, "chunk %d of %d", i, chunks)
					}
				}
				// Read back, in reverse order ("should handle unordered chunked cookies").
				jar := sessJar{}
				jar.apply(t, rec)
				names := jar.names()
				slices.Reverse(names)
				v, _ := e.view(jar.headerOrder(names))
				require.Equal(t, "alice", v.Sub, "%d chunks", chunks)
				assert.Len(t, v.Values["big"], n)
			}
		})
	}
}

// SESS-08: a cookie Path (or Domain) so long that the session needs ten or
// more chunks: the lines with two-digit chunk indexes still fit 4096 bytes
// (express computes the size from a ".0" name only). A Path that leaves no
// room for a useful chunk is a config error, not a panic at write time.
func TestSessionCookieSizeLimitLongPath(t *testing.T) {
	t.Parallel()

	e := sessNew(t, func(c *Config) { c.Session.Cookie.Path = "/" + strings.Repeat("p", 2900) }, nil)
	rec := e.get("/set?big="+strconv.Itoa(e.bigFor(12)), "")
	for _, l := range sessLines(rec) {
		assert.LessOrEqual(t, len(l), 4096, l[:strings.IndexByte(l, '=')])
	}
	_, err := New(Config{Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com",
		BaseURL: "https://app.example", ClientID: "c", LookupEnv: func(string) (string, bool) { return "", false },
		Session: SessionConfig{Cookie: CookieConfig{Path: "/" + strings.Repeat("p", 4100)}}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Session.Cookie.Path", ce.Option)
}

func TestSessionChunkReading(t *testing.T) {
	t.Parallel()

	// chunked returns an env and a jar holding a valid session for alice in
	// n chunks.
	chunked := func(t *testing.T, n int) (*sessEnv, sessJar) {
		t.Helper()
		e := sessNew(t, nil, nil)
		jar := sessJar{}
		jar.apply(t, e.get("/set?big="+strconv.Itoa(e.bigFor(n)), "appSession="+e.mintUser("alice", nil)))
		require.Equal(t, sessChunkNames("appSession", n), jar.names())
		e.clk.Advance(sessDue) // the next response re-issues it
		return e, jar
	}

	t.Run("should handle unordered chunked cookies", func(t *testing.T) {
		t.Parallel()
		e, jar := chunked(t, 3)
		for _, order := range [][]string{
			{"appSession.2", "appSession.0", "appSession.1"},
			{"appSession.1", "appSession.2", "appSession.0"},
		} {
			v, _ := e.view(jar.headerOrder(order))
			assert.Equal(t, "alice", v.Sub, "%v", order)
		}
	})

	t.Run("should not throw for malformed cookie chunks", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		v, rec := e.view("appSession.0=foo; appSession.1=bar")
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, cleared)
	})

	t.Run("SESS-10 chunks .0 and .2 only are a gap", func(t *testing.T) {
		t.Parallel()
		e, jar := chunked(t, 3)
		v, rec := e.view(jar.headerOrder([]string{"appSession.0", "appSession.2"}))
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.2"}, cleared)
		assert.NotContains(t, e.logs.String(), "session cookie rejected", "a gap is refused before any decryption")
	})

	t.Run("SESS-10 odd names next to a chunked session are ignored", func(t *testing.T) {
		t.Parallel()
		e, jar := chunked(t, 2)
		odd := "appSession.x=1; appSession.-1=2; appSession.=3; appSessionX.0=4; appSession.0x=5; xappSession.1=6; appsession.0=7"
		v, rec := e.view(odd + "; " + jar.header())
		assert.Equal(t, "alice", v.Sub)
		set, cleared := sessParse(t, rec)
		assert.Equal(t, sessChunkNames("appSession", 2), sessSetNames(set))
		assert.Empty(t, cleared, "foreign cookies are neither used nor cleared")
	})

	// Documented rule of internal/chunk: an all-digit suffix that is not a
	// canonical index below chunk.MaxChunks (".01", ".99999999999999999999")
	// makes a chunked value unusable; the name is cleared. The catalog says
	// "odd names ignored": here they are not silently skipped but refuse
	// the chunked session (which is lost once, then the jar is clean).
	t.Run("SESS-10 non-canonical chunk indexes refuse a chunked session and are cleared", func(t *testing.T) {
		t.Parallel()
		for _, odd := range []string{"appSession.01", "appSession.99999999999999999999", "appSession.20"} {
			e, jar := chunked(t, 2)
			v, rec := e.view(jar.header() + "; " + odd + "=x")
			assert.False(t, v.HasSession, odd)
			_, cleared := sessParse(t, rec)
			want := []string{"appSession.0", "appSession.1", odd}
			sort.Strings(want)
			assert.Equal(t, want, cleared, odd)
		}
	})

	t.Run("SESS-10 non-canonical chunk indexes do not affect an unchunked session", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		v, rec := e.view("appSession.01=x; appSession=" + e.mintDue("alice", nil) + "; appSession.99999999999999999999=y")
		assert.Equal(t, "alice", v.Sub)
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, sessSetNames(set))
		assert.Equal(t, []string{"appSession.01", "appSession.99999999999999999999"}, cleared)
	})

	t.Run("SESS-10 both appSession and appSession.0: unchunked wins", func(t *testing.T) {
		t.Parallel()
		e, jar := chunked(t, 2)
		v, rec := e.view("appSession.0=garbage; appSession=" + e.mintDue("bob", nil))
		assert.Equal(t, "bob", v.Sub)
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, sessSetNames(set))
		assert.Equal(t, []string{"appSession.0"}, cleared)

		// Even a bad unchunked cookie wins over valid chunks (as in express).
		v, rec = e.view("appSession=garbage; " + jar.header())
		assert.False(t, v.HasSession)
		_, cleared = sessParse(t, rec)
		assert.Equal(t, []string{"appSession", "appSession.0", "appSession.1"}, cleared)
	})

	// Duplicates: the first occurrence of a name wins (like
	// net/http.Request.Cookie); values are never concatenated.
	t.Run("SESS-10 two appSession cookies, garbage first: the first wins", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		v, rec := e.view("appSession=garbage; appSession=" + e.mintUser("alice", nil))
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, cleared)
	})

	t.Run("SESS-10 two appSession cookies, valid first: the first wins", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		v, rec := e.view("appSession=" + e.mintDue("alice", nil) + "; appSession=garbage")
		assert.Equal(t, "alice", v.Sub)
		set, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, sessSetNames(set))
		assert.Empty(t, cleared)

		v, _ = e.view("appSession=" + e.mintUser("alice", nil) + "; appSession=" + e.mintUser("mallory", nil))
		assert.Equal(t, "alice", v.Sub)
	})

	t.Run("SESS-10 duplicate chunk names: the first wins", func(t *testing.T) {
		t.Parallel()
		e, jar := chunked(t, 2)
		v, _ := e.view(jar.header() + "; appSession.0=garbage; appSession.1=garbage")
		assert.Equal(t, "alice", v.Sub)
		v, _ = e.view("appSession.1=garbage; " + jar.header())
		assert.False(t, v.HasSession)
	})

	t.Run("SESS-10 2,900 chunk cookies in one header", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		var b strings.Builder
		val := strings.Repeat("A", 300)
		for i := range 2900 {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "appSession.%d=%s", i, val)
		}
		header := b.String()
		require.Greater(t, len(header), 850<<10)
		var rec *httptest.ResponseRecorder
		elapsed := sessFastest(func() { rec = e.get("/", header) })
		t.Logf("2,900 chunk cookies (%d KiB): %s, %d Set-Cookie lines", len(header)>>10, elapsed, len(sessLines(rec)))
		assert.Less(t, elapsed, sessBudget)
		v := sessViewOf(t, rec)
		assert.False(t, v.HasSession)
		assert.NotContains(t, e.logs.String(), "session cookie rejected", "the chunk-count cap refuses before any decryption")
		set, cleared := sessParse(t, rec)
		assert.Empty(t, set)
		for _, n := range sessChunkNames("appSession", chunk.MaxChunks) {
			assert.Contains(t, cleared, n)
		}
	})
}

// ---------------------------------------------------------------------------
// Expiry (SESS-07) and the IPSIE session_expiry ceiling

func TestSessionExpiry(t *testing.T) {
	t.Parallel()

	t.Run("should not throw for expired cookies", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		now := e.unix()
		cookie := e.mint(cookiecrypto.Header{IAT: now - 7200, UAT: now - 7200, EXP: now - 3600}, sessBody(t, "alice", nil))
		v, rec := e.view("appSession=" + cookie)
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, cleared)
		assert.Regexp(t, `session (cookie )?expired`, e.logs.String())
	})

	t.Run("SESS-07 expired, idle or too old cookies are anonymous", func(t *testing.T) {
		t.Parallel()
		day := int64(86400)
		cases := []struct {
			name          string
			iat, uat, exp int64 // relative to now
			ok            bool
		}{
			{"fresh (control)", 0, 0, day, true},
			{"exp in the past", -3600, -3600, -1, false},
			{"exp is now (strict)", -3600, -3600, 0, false},
			{"uat 25h ago, exp still in the future", -25 * 3600, -25 * 3600, 3600, false},
			{"uat exactly 24h ago", -24 * 3600, -24 * 3600, 3600, false},
			{"uat 24h minus a second ago", -24*3600 + 1, -24*3600 + 1, 3600, true},
			{"iat 8 days ago, uat and exp fresh", -8 * day, 0, 3600, false},
			{"iat exactly 7 days ago", -7 * day, 0, 3600, false},
			{"iat 7 days minus a second ago", -7*day + 1, 0, 3600, true},
		}
		for _, tc := range cases {
			e := sessNew(t, nil, nil)
			now := e.unix()
			cookie := e.mint(cookiecrypto.Header{IAT: now + tc.iat, UAT: now + tc.uat, EXP: now + tc.exp}, sessBody(t, "alice", nil))
			v, rec := e.view("appSession=" + cookie)
			assert.Equal(t, tc.ok, v.Authenticated, tc.name)
			_, cleared := sessParse(t, rec)
			if !tc.ok {
				assert.Equal(t, []string{"appSession"}, cleared, tc.name)
			}
		}
	})

	t.Run("SESS-07 a restart with a shorter AbsoluteDuration expires existing sessions", func(t *testing.T) {
		t.Parallel()
		before := sessNew(t, nil, nil)
		cookie := before.mint(before.hdr(2*time.Hour, time.Minute), sessBody(t, "alice", nil))
		v, _ := before.view("appSession=" + cookie)
		require.True(t, v.Authenticated)
		after := sessNew(t, func(c *Config) { c.Session.AbsoluteDuration = time.Hour }, nil)
		v, rec := after.view("appSession=" + cookie)
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, cleared)
	})

	t.Run("should expire after 24hrs of inactivity by default", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		first := e.mintUser("alice", nil)
		e.clk.Advance(24*time.Hour - time.Second)
		v, rec := e.view("appSession=" + first)
		require.True(t, v.Authenticated)
		set, _ := sessParse(t, rec)
		refreshed := set["appSession"].Value
		e.clk.Advance(time.Second)
		v, _ = e.view("appSession=" + first)
		assert.False(t, v.HasSession, "24h without a request")
		v, _ = e.view("appSession=" + refreshed)
		assert.True(t, v.Authenticated, "the rolling cookie of the last request is still good")
	})

	t.Run("should expire after 7days regardless of activity by default", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		t0 := e.unix()
		jar := sessJar{"appSession": e.mintUser("alice", nil)}
		for elapsed := 20 * time.Hour; ; elapsed += 20 * time.Hour {
			e.clk.Advance(20 * time.Hour)
			v, rec := e.view(jar.header())
			if elapsed >= 7*24*time.Hour {
				assert.False(t, v.HasSession, "after %s", elapsed)
				break
			}
			require.True(t, v.Authenticated, "after %s", elapsed)
			set, _ := sessParse(t, rec)
			assert.Equal(t, min(e.unix()+86400, t0+7*86400), set["appSession"].Expires.Unix(), "after %s", elapsed)
			jar.apply(t, rec)
		}
	})

	t.Run("should expire only after defined absoluteDuration", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) {
			c.Session.Rolling = Bool(false)
			c.Session.AbsoluteDuration = 10 * time.Second
		}, nil)
		t0 := e.unix()
		cookie := e.mintUser("alice", nil)
		e.clk.Advance(9 * time.Second)
		v, _ := e.view("appSession=" + cookie)
		require.True(t, v.Authenticated)
		// When a non-rolling session is written again, its expiry does not move.
		rec := e.get("/set?visits=2", "appSession="+cookie)
		set, _ := sessParse(t, rec)
		require.Contains(t, set, "appSession")
		assert.Equal(t, t0+10, set["appSession"].Expires.Unix())
		h, _, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, cookiecrypto.Header{IAT: t0, UAT: t0 + 9, EXP: t0 + 10}, h)
		e.clk.Advance(time.Second)
		for _, c := range []string{cookie, set["appSession"].Value} {
			v, _ = e.view("appSession=" + c)
			assert.False(t, v.HasSession)
		}
	})

	// express uses a 10-second rollingDuration; here it is 10 minutes with a
	// request every 9 minutes, so that the steps are longer than the
	// middleware's touch interval (see the next subtest for short ones).
	t.Run("should expire only after defined rollingDuration period of inactivty", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) { c.Session.RollingDuration = 10 * time.Minute }, nil)
		t0 := e.unix()
		first := e.mintUser("alice", nil)
		e.clk.Advance(9 * time.Minute)
		v, rec := e.view("appSession=" + first)
		require.True(t, v.Authenticated)
		set, _ := sessParse(t, rec)
		require.Contains(t, set, "appSession", "the rolling session is extended")
		second := set["appSession"].Value
		assert.Equal(t, t0+19*60, set["appSession"].Expires.Unix())
		e.clk.Advance(9 * time.Minute)
		v, _ = e.view("appSession=" + first)
		assert.False(t, v.HasSession, "10 minutes without a request")
		v, _ = e.view("appSession=" + second)
		assert.True(t, v.Authenticated)
	})

	t.Run("SESS-07 a short RollingDuration is extended by activity", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) { c.Session.RollingDuration = 10 * time.Second }, nil)
		jar := sessJar{"appSession": e.mintUser("alice", nil)}
		for step := 1; step <= 5; step++ {
			e.clk.Advance(9 * time.Second)
			v, rec := e.view(jar.header())
			require.True(t, v.Authenticated, "active for %ds", 9*step)
			jar.apply(t, rec)
		}
	})

	t.Run("SESS-07 no absolute limit with AbsoluteDuration < 0", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, func(c *Config) { c.Session.AbsoluteDuration = -1 }, nil)
		now := e.unix()
		cookie := e.mint(cookiecrypto.Header{IAT: now - 400*86400, UAT: now - 3600, EXP: now + 3600}, sessBody(t, "alice", nil))
		v, rec := e.view("appSession=" + cookie)
		assert.True(t, v.Authenticated)
		set, _ := sessParse(t, rec)
		assert.Equal(t, now+86400, set["appSession"].Expires.Unix())
	})
}

func TestSessionExpiresAtCeiling(t *testing.T) {
	t.Parallel()
	mint := func(e *sessEnv, sessionExpiresAt int64) string {
		return e.mint(e.hdr(sessDue, sessDue), sessBody(e.t, "alice", map[string]any{"sessionExpiresAt": sessionExpiresAt}))
	}

	t.Run("should expire the session when sessionExpiresAt ceiling is reached", func(t *testing.T) {
		t.Parallel()
		for _, rel := range []int64{-3600, -1, 0, 29, 30} {
			e := sessNew(t, nil, nil)
			v, rec := e.view("appSession=" + mint(e, e.unix()+rel))
			assert.False(t, v.HasSession, "sessionExpiresAt = now%+d (30s skew guard)", rel)
			_, cleared := sessParse(t, rec)
			assert.Equal(t, []string{"appSession"}, cleared)
		}
	})

	t.Run("should not expire the session when ceiling is in the future", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		sea := e.unix() + 3600
		cookie := mint(e, sea)
		v, _ := e.view("appSession=" + cookie)
		assert.True(t, v.Authenticated)
		assert.Equal(t, sea, v.SessionExpiresAt)
		e.clk.Advance(3600*time.Second - 31*time.Second)
		v, _ = e.view("appSession=" + cookie)
		assert.True(t, v.Authenticated, "31s before the ceiling")
		e.clk.Advance(time.Second)
		v, _ = e.view("appSession=" + cookie)
		assert.False(t, v.HasSession, "30s before the ceiling")
	})

	t.Run("should not affect sessions without sessionExpiresAt (non-breaking)", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		v, rec := e.view("appSession=" + e.mintDue("alice", nil))
		assert.True(t, v.Authenticated)
		assert.Zero(t, v.SessionExpiresAt)
		set, _ := sessParse(t, rec)
		assert.Equal(t, e.unix()+86400, set["appSession"].Expires.Unix())
	})

	t.Run("should cap the cookie maxAge at sessionExpiresAt when it is sooner than absoluteDuration", func(t *testing.T) {
		t.Parallel()
		for _, mutate := range []func(*Config){
			nil,
			func(c *Config) { c.Session.Rolling = Bool(false) },
		} {
			e := sessNew(t, mutate, nil)
			sea := e.unix() + 2*3600
			rec := e.get("/set?visits=1", "appSession="+mint(e, sea))
			set, _ := sessParse(t, rec)
			require.Contains(t, set, "appSession")
			assert.Equal(t, sea, set["appSession"].Expires.Unix())
			h, body, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
			require.NoError(t, err)
			assert.Equal(t, sea, h.EXP)
			assert.Equal(t, float64(sea), body["sessionExpiresAt"])
		}
	})
}

// ---------------------------------------------------------------------------
// Writing the cookie when headers are sent

func TestSessionFlushedHeaders(t *testing.T) {
	t.Parallel()
	flush := func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }
	cases := []struct {
		name   string
		start  func(http.ResponseWriter)
		status int
	}{
		{"should write session cookie even when headers are flushed before res.end()", flush, http.StatusOK},
		{"streaming write, then flush", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, "part one\n")
			flush(w)
		}, http.StatusOK},
		{"WriteHeader(201), then flush", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusCreated)
			flush(w)
		}, http.StatusCreated},
		{"a streamed body larger than the server's buffer, no explicit flush", func(w http.ResponseWriter) {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 64<<10))
		}, http.StatusOK},
		{"103 Early Hints pass through, then flush", func(w http.ResponseWriter) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			flush(w)
		}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			t.Cleanup(unblock)
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c := FromRequest(r)
				assert.NoError(t, c.Set("streamed", "yes"))
				tc.start(w)
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				// After the headers: refused, the session is unchanged.
				assert.ErrorIs(t, c.Set("late", "lost"), ErrResponseCommitted)
				_, _ = io.WriteString(w, "end")
			})
			e := sessNew(t, func(c *Config) { c.BaseURL = sessHTTP }, app)
			srv := httptest.NewServer(e.h)
			t.Cleanup(srv.Close)
			client := srv.Client()
			client.Timeout = 10 * time.Second
			resp, err := client.Get(srv.URL + "/stream")
			require.NoError(t, err)
			defer resp.Body.Close()
			// The headers arrived while the handler is still blocked.
			assert.Equal(t, tc.status, resp.StatusCode)
			cookies := setCookies(resp, "appSession")
			require.Len(t, cookies, 1, "the session cookie is in the flushed headers")
			assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
			unblock()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.True(t, strings.HasSuffix(string(body), "end"))

			_, sess, err := sessDecrypt(t, cookies[0].Value, harnessSecret)
			require.NoError(t, err)
			assert.Equal(t, "yes", sess["streamed"])
			assert.NotContains(t, sess, "late")
		})
	}
}

// ---------------------------------------------------------------------------
// Context session values

func TestSessionContextValues(t *testing.T) {
	t.Parallel()

	t.Run("Set on an anonymous session creates a cookie that carries the value", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/set?color=blue", "")
		set, _ := sessParse(t, rec)
		require.Equal(t, []string{"appSession"}, sessSetNames(set))
		sessAssertNoStore(t, rec.Header())
		jar := sessJar{}
		jar.apply(t, rec)
		v, rec := e.view(jar.header())
		assert.True(t, v.HasSession)
		assert.False(t, v.Authenticated, "values alone are not a login")
		assert.Equal(t, map[string]any{"color": "blue"}, v.Values)
		jar.apply(t, rec)
		jar.apply(t, e.get("/set?size=xl", jar.header()))
		v, _ = e.view(jar.header())
		assert.Equal(t, map[string]any{"color": "blue", "size": "xl"}, v.Values)
	})

	t.Run("Delete removes a value; deleting the last one clears the cookie", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{"appSession": e.mint(e.hdr(0, 0), `{"a":1,"b":"two"}`)}
		rec := e.get("/delete?key=a&key=missing", jar.header())
		jar.apply(t, rec)
		v, _ := e.view(jar.header())
		assert.Equal(t, map[string]any{"b": "two"}, v.Values)
		rec = e.get("/delete?key=b", jar.header())
		set, cleared := sessParse(t, rec)
		assert.Empty(t, set)
		assert.Equal(t, []string{"appSession"}, cleared)

		// Delete on an anonymous request writes nothing.
		assert.Empty(t, sessLines(e.get("/delete?key=a", "")))

		// A logged-in user keeps the login when values are deleted.
		jar = sessJar{"appSession": e.mintUser("alice", map[string]any{"a": 1})}
		v, _ = e.view(jar.header())
		require.Equal(t, float64(1), v.Values["a"])
		jar.apply(t, e.get("/delete?key=a", jar.header()))
		v, _ = e.view(jar.header())
		assert.Equal(t, "alice", v.Sub)
		assert.Empty(t, v.Values)
	})

	t.Run("reserved keys and non-JSON values are rejected", func(t *testing.T) {
		t.Parallel()
		var errs []error
		var mu sync.Mutex
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := FromRequest(r)
			mu.Lock()
			defer mu.Unlock()
			for _, k := range []string{"id_token", "access_token", "refresh_token", "token_type", "expires_at", "sid", "sessionExpiresAt"} {
				errs = append(errs, c.Set(k, "forged"))
			}
			errs = append(errs, c.Set("ch", make(chan int)), c.Set("nan", math.NaN()), c.Set("fn", func() {}))
			_, _ = io.WriteString(w, "ok")
		})
		e := sessNew(t, nil, app)
		rec := e.get("/", "")
		assert.Empty(t, sessLines(rec), "nothing was stored")
		mu.Lock()
		require.Len(t, errs, 10)
		for i, err := range errs {
			assert.Error(t, err, i)
		}
		assert.ErrorContains(t, errs[0], "reserved")
		errs = nil
		mu.Unlock()

		// A logged-in session keeps its own id_token.
		rec = e.get("/", "appSession="+e.mintDue("alice", nil))
		set, _ := sessParse(t, rec)
		require.Contains(t, set, "appSession")
		_, body, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, sessJWT(sessClaims("alice")), body["id_token"])
		assert.NotContains(t, body, "sid")
		assert.NotContains(t, body, "access_token")
	})

	t.Run("should not throw for reassigining session to empty", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/clear", "appSession="+e.mintUser("alice", map[string]any{"a": 1}))
		assert.Equal(t, http.StatusOK, rec.Code)
		set, cleared := sessParse(t, rec)
		assert.Empty(t, set)
		assert.Equal(t, []string{"appSession"}, cleared)

		// Chunked sessions are cleared chunk by chunk.
		jar := sessJar{}
		jar.apply(t, e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil)))
		rec = e.get("/clear", jar.header())
		_, cleared = sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, cleared)
		jar.apply(t, rec)
		assert.Empty(t, jar)
	})

	// express throws for req.appSession = {...}; Go's SetSession replaces.
	t.Run("should throw for reassigning session", func(t *testing.T) {
		t.Parallel()
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.NoError(t, FromRequest(r).SetSession(Session{IDToken: Secret(sessJWT(sessClaims("bob"))), Values: map[string]any{"k": "v"}}))
			_, _ = io.WriteString(w, "ok")
		})
		e := sessNew(t, nil, app)
		rec := e.get("/", "appSession="+e.mintUser("alice", map[string]any{"old": 1}))
		set, _ := sessParse(t, rec)
		_, body, err := sessDecrypt(t, set["appSession"].Value, harnessSecret)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"id_token": sessJWT(sessClaims("bob")), "k": "v"}, body)
	})
}

// ---------------------------------------------------------------------------
// Tampering (SESS-03), caching (SESS-09), size cap (SESS-11)

func sessFlip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// sessSegment applies f to segment i of a compact JWE.
func sessSegment(v string, i int, f func(string) string) string {
	segs := strings.Split(v, ".")
	segs[i] = f(segs[i])
	return strings.Join(segs, ".")
}

func TestSessionTampering(t *testing.T) {
	t.Parallel()
	e0 := sessNew(t, nil, nil)
	valid := e0.mintUser("alice", nil)
	mid := func(s string) string { return sessFlip(s, len(s)/2) }
	cases := []struct {
		name  string
		value string
	}{
		{"SESS-03 flip a byte in the protected header", sessSegment(valid, 0, mid)},
		{"SESS-03 flip the first byte of the protected header", sessSegment(valid, 0, func(s string) string { return sessFlip(s, 0) })},
		{"SESS-03 add a byte to the empty encrypted-key segment", sessSegment(valid, 1, func(string) string { return "AA" })},
		{"SESS-03 flip a byte in the IV", sessSegment(valid, 2, mid)},
		{"SESS-03 flip a byte in the ciphertext", sessSegment(valid, 3, mid)},
		{"SESS-03 flip a byte in the tag", sessSegment(valid, 4, mid)},
		{"SESS-03 flip the last bits of the tag (non-canonical base64)", sessSegment(valid, 4, func(s string) string {
			return s[:len(s)-1] + string(s[len(s)-1]^1)
		})},
		{"SESS-03 truncate one character", valid[:len(valid)-1]},
		{"SESS-03 truncate to half", valid[:len(valid)/2]},
		{"SESS-03 append '='", valid + "="},
		{"SESS-03 append '.'", valid + "."},
		{"SESS-03 drop a segment", sessSegment(valid, 3, func(string) string { return "" })},
		{"SESS-03 swap IV and tag", strings.Join(func() []string {
			s := strings.Split(valid, ".")
			s[2], s[4] = s[4], s[2]
			return s
		}(), ".")},
		{"SESS-03 empty value", ""},
		{"SESS-03 percent-encoded value", url.QueryEscape(valid + "=")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := sessNew(t, nil, nil)
			v, rec := e.view("appSession=" + tc.value)
			assert.False(t, v.HasSession)
			assert.False(t, v.Authenticated)
			_, cleared := sessParse(t, rec)
			assert.Equal(t, []string{"appSession"}, cleared)

			guarded := sessNew(t, func(c *Config) { c.AuthRequired = nil }, nil)
			rec = guarded.do(http.MethodGet, "/protected", "appSession="+tc.value, "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "anonymous, never 5xx")
		})
	}

	t.Run("SESS-03 swap two chunks' contents", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{}
		jar.apply(t, e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil)))
		require.Len(t, jar, 2)
		jar["appSession.0"], jar["appSession.1"] = jar["appSession.1"], jar["appSession.0"]
		v, rec := e.view(jar.header())
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, cleared)
	})

	t.Run("SESS-03 flip a byte in the second chunk", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		jar := sessJar{}
		jar.apply(t, e.get("/set?big=4500", "appSession="+e.mintUser("alice", nil)))
		jar["appSession.1"] = sessFlip(jar["appSession.1"], 10)
		v, rec := e.view(jar.header())
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession.0", "appSession.1"}, cleared)
	})

	t.Run("SESS-03 a valid JWE whose payload is not a session object", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		for _, body := range []string{`[]`, `"x"`, `null`, `{"id_token":42}`, `{"expires_at":"soon"}`, `{`, ``} {
			v, rec := e.view("appSession=" + e.mint(e.hdr(0, 0), body))
			assert.False(t, v.HasSession, body)
			_, cleared := sessParse(t, rec)
			assert.Equal(t, []string{"appSession"}, cleared, body)
		}
		// An empty object is a valid but empty session: cleared, like express.
		v, rec := e.view("appSession=" + e.mint(e.hdr(0, 0), `{}`))
		assert.False(t, v.HasSession)
		_, cleared := sessParse(t, rec)
		assert.Equal(t, []string{"appSession"}, cleared)
	})
}

func TestSESS09CacheControl(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("/", sessHandler())
	mux.HandleFunc("/cacheable", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=600")
		_ = FromRequest(r).Set("seen", true)
		_, _ = io.WriteString(w, "cache me")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public")
		_, _ = io.WriteString(w, "streamed")
		_ = FromRequest(r).Set("late", true)
	})
	e := sessNew(t, nil, mux)
	valid := "appSession=" + e.mintDue("alice", nil)
	cases := []struct{ name, path, cookie string }{
		{"SESS-09 rolling refresh", "/", valid},
		{"SESS-09 Set on an anonymous session", "/set?a=b", ""},
		{"SESS-09 chunked session", "/set?big=9000", valid},
		{"SESS-09 the application asked for public caching", "/cacheable", valid},
		{"SESS-09 the application asked for public caching and streamed", "/stream", valid},
		{"SESS-09 the route never reads the session", "/untouched", valid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := e.get(tc.path, tc.cookie)
			set, _ := sessParse(t, rec)
			require.NotEmpty(t, set)
			sessAssertNoStore(t, rec.Result().Header)
			assert.NotContains(t, strings.ToLower(rec.Result().Header.Get("Cache-Control")), "public")
		})
	}

	t.Run("SESS-09 the login callback", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}))
		b := app.browser()
		resp, _ := b.login(app, "/login")
		require.NotEmpty(t, setCookies(resp, "appSession"))
		sessAssertNoStore(t, resp.Header)
		// And a later, rolling, re-issue.
		app.clk.Advance(sessDue)
		resp, _ = b.get(app.url("/"))
		require.NotEmpty(t, setCookies(resp, "appSession"))
		sessAssertNoStore(t, resp.Header)
	})
}

func TestSessionSizeCap(t *testing.T) {
	t.Parallel()
	// About 13,000 plaintext bytes make a JWE over maxSessionBytes.
	const tooBig = 13000

	t.Run("SESS-11 a session over the cap is not written and the error is logged", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		rec := e.get("/set?big="+strconv.Itoa(tooBig), "")
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, sessLines(rec))
		logs := e.logs.String()
		assert.Contains(t, logs, `"level":"ERROR"`)
		assert.Contains(t, logs, "oidc: session not saved")
		assert.Contains(t, logs, errSessionTooLarge.Error())
	})

	t.Run("SESS-11 an oversized update leaves the previous cookie in place", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		cookie := e.mintUser("alice", nil)
		rec := e.get("/set?big="+strconv.Itoa(tooBig), "appSession="+cookie)
		assert.Empty(t, sessLines(rec), "neither written nor cleared")
		v, _ := e.view("appSession=" + cookie)
		assert.Equal(t, "alice", v.Sub)
		assert.NotContains(t, v.Values, "big")
	})

	t.Run("SESS-11 the largest session under the cap fits in 5 chunks of at most 4096 bytes", func(t *testing.T) {
		t.Parallel()
		e := sessNew(t, nil, nil)
		base := e.mint(e.hdr(0, 0), sessBody(t, "alice", map[string]any{"big": ""}))
		n := (maxSessionBytes - len(base) - 8) * 3 / 4
		rec := e.get("/set?big="+strconv.Itoa(n), "appSession="+e.mintUser("alice", nil))
		set, _ := sessParse(t, rec)
		require.NotEmpty(t, set, e.logs.String())
		total := 0
		for _, c := range set {
			total += len(c.Value)
		}
		assert.LessOrEqual(t, total, maxSessionBytes)
		assert.Greater(t, total, maxSessionBytes-100)
		assert.Equal(t, sessChunkNames("appSession", 5), sessSetNames(set))
		for _, l := range sessLines(rec) {
			assert.LessOrEqual(t, len(l), 4096)
		}
		jar := sessJar{}
		jar.apply(t, rec)
		v, _ := e.view(jar.header())
		assert.Len(t, v.Values["big"], n)
		// One more byte and it is refused.
		rec = e.get("/set?big="+strconv.Itoa(n+3*8), jar.header())
		assert.Empty(t, sessLines(rec))
	})

	t.Run("SESS-11 a login whose session exceeds the cap fails loudly", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t, withProvider(oidctest.Options{Subject: "alice"}), withConfig(func(c *Config) {
			c.AfterCallback = func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
				s.Values = map[string]any{"big": strings.Repeat("b", tooBig)}
				return s, nil
			}
		}))
		b := app.browser()
		resp, body := b.login(app, "/login")
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		assert.Contains(t, body, "session_too_large")
		assert.Empty(t, setCookies(resp, "appSession"))
		assert.Equal(t, false, b.session(app)["authenticated"])
	})
}

// ---------------------------------------------------------------------------
// Interoperability vectors (SESS-12)

func TestSessionExpressVectors(t *testing.T) {
	t.Parallel()
	// express-openid-connect's known cookie vectors (catalog SESS-12 in
	// docs/security.md).
	const (
		vectorSecret = "__test_secret__"
		vectorJWE    = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaWF0IjoxNzAwMDAwMDAwLCJ1YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDA4NjQwMH0..AAECAwQFBgcICQoL.EaIvxDfrG0-187jApFps260K0bauWiBFRVMS3g5stOQ.TBsL0nK9kTRT31IdzQFHNw"
		// the second SESS-12 vector
		vector2Secret = "0123456789abcdef0123456789abcdef"
		vector2JWE    = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaWF0IjoxNzAwMDAwMDAwLCJ1YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDA4NjQwMH0..AAECAwQFBgcICQoL._q-M0p_X3_jyh4e4FQ.ykK5dROTVWnAZNti3EHrMQ"
	)
	at := func(unix int64, secret string) *sessEnv {
		e := sessNew(t, func(c *Config) { c.Secret = Secrets{secret} }, nil)
		e.clk.Advance(time.Unix(unix, 0).Sub(e.clk.Now()))
		return e
	}

	t.Run("SESS-12 derived keys", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ secret, enc, sign string }{
			{vectorSecret, "47c4e100b0cc03c7a093b3e2964bbf3fb9f0ebee1d8ae92e580c77587037788b", "472a865b55bdfff0b0b548394b8603229bbe2e7b1cd17d025f80fa511f38ec98"},
			{vector2Secret, "948b6624dca4d9f50f954c73aad1acc24af9ac06785ed9cc633e3dd912c2548d", "aabf0f391541baad62e0d20d011ddbe9fabc5a6d2f1901495e1d1edab68caa46"},
		} {
			assert.Equal(t, tc.enc, hex.EncodeToString(cookiecrypto.DeriveEncryptionKey([]byte(tc.secret))))
			assert.Equal(t, tc.sign, hex.EncodeToString(cookiecrypto.DeriveSigningKey([]byte(tc.secret))))
		}
	})

	// The vector's session holds id_token "x.y.z", which is not a decodable
	// JWT ("y" is not base64url JSON). The session is read and kept, but
	// IsAuthenticated needs decodable ID-token claims, so the request is
	// anonymous. (express would throw from jose.decodeJwt in the
	// idTokenClaims getter; the port degrades to anonymous instead.)
	t.Run("SESS-12 the express vector is read through the middleware", func(t *testing.T) {
		t.Parallel()
		e := at(1700000000+100, vectorSecret)
		v, rec := e.view("appSession=" + vectorJWE)
		assert.True(t, v.HasSession)
		assert.False(t, v.Authenticated)
		assert.Equal(t, "x.y.z", v.IDToken)
		assert.Equal(t, "abc", v.SID)
		assert.Empty(t, v.Sub)

		// It is re-issued as express would: iat carried, uat now,
		// exp = min(uat+24h, iat+7d).
		set, cleared := sessParse(t, rec)
		assert.Empty(t, cleared)
		require.Contains(t, set, "appSession")
		assert.Equal(t, int64(1700086500), set["appSession"].Expires.Unix())
		h, body, err := sessDecrypt(t, set["appSession"].Value, vectorSecret)
		require.NoError(t, err)
		assert.Equal(t, cookiecrypto.Header{IAT: 1700000000, UAT: 1700000100, EXP: 1700086500}, h)
		assert.Equal(t, map[string]any{"id_token": "x.y.z", "sid": "abc"}, body)

		// With a guard, the undecodable token is not a login.
		guarded := sessNew(t, func(c *Config) { c.Secret = Secrets{vectorSecret}; c.AuthRequired = nil }, nil)
		guarded.clk.Advance(time.Unix(1700000100, 0).Sub(guarded.clk.Now()))
		rec = guarded.do(http.MethodGet, "/", "appSession="+vectorJWE, "Accept", "application/json")
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
	})

	t.Run("SESS-12 the express vector expires at its exp", func(t *testing.T) {
		t.Parallel()
		e := at(1700086400, vectorSecret)
		v, _ := e.view("appSession=" + vectorJWE)
		assert.False(t, v.HasSession)
	})

	t.Run("SESS-12 the security §5.1 vector", func(t *testing.T) {
		t.Parallel()
		e := at(1700000000+100, vector2Secret)
		v, _ := e.view("appSession=" + vector2JWE)
		assert.True(t, v.HasSession)
		assert.False(t, v.Authenticated)
		assert.Equal(t, map[string]any{"foo": "bar"}, v.Values)
	})

	t.Run("SESS-12 a header byte changed is rejected", func(t *testing.T) {
		t.Parallel()
		e := at(1700000000+100, vectorSecret)
		v, _ := e.view("appSession=" + sessSegment(vectorJWE, 0, func(s string) string { return sessFlip(s, 30) }))
		assert.False(t, v.HasSession)
	})
}

// ---------------------------------------------------------------------------
// Hostile JWEs (JOSE-01, JOSE-02, JOSE-06)

// sessSeal builds a compact JWE with an arbitrary protected header whose
// AES-256-GCM tag is genuine under secret, independently of the code under
// test: only header handling stands between it and acceptance.
func sessSeal(t *testing.T, secret, header string, plaintext []byte) string {
	t.Helper()
	block, err := aes.NewCipher(cookiecrypto.DeriveEncryptionKey([]byte(secret)))
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	aad := enc.EncodeToString([]byte(header))
	iv := []byte("0123456789ab")
	sealed := aead.Seal(nil, iv, plaintext, []byte(aad))
	ct, tag := sealed[:len(plaintext)], sealed[len(plaintext):]
	return aad + ".." + enc.EncodeToString(iv) + "." + enc.EncodeToString(ct) + "." + enc.EncodeToString(tag)
}

// sessResize re-encodes segment i of a compact JWE with n bytes.
func sessResize(v string, i, n int) string {
	return sessSegment(v, i, func(s string) string {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		b = append(b, make([]byte, max(0, n-len(b)))...)
		return base64.RawURLEncoding.EncodeToString(b[:n])
	})
}

// sessHostileCookies returns name → Cookie header of hostile session
// cookies for secret, expiring well after sessNow.
func sessHostileCookies(t *testing.T, secret string) map[string]string {
	t.Helper()
	const times = `"iat":1760000000,"uat":1760000000,"exp":1760003600`
	plain := []byte(sessBody(t, "mallory", nil))
	seal := func(header string) string { return sessSeal(t, secret, header, plain) }
	var zipped bytes.Buffer
	zw, err := flate.NewWriter(&zipped, flate.BestCompression)
	require.NoError(t, err)
	zeros := make([]byte, 1<<20)
	for range 10 {
		_, _ = zw.Write(zeros)
	}
	require.NoError(t, zw.Close())

	valid := seal(`{"alg":"dir","enc":"A256GCM",` + times + `}`)
	dots := strings.Repeat(".", 1<<20)
	out := map[string]string{
		"JOSE-01 alg RSA-OAEP, empty key":             seal(`{"alg":"RSA-OAEP","enc":"A256GCM",` + times + `}`),
		"JOSE-01 alg RSA-OAEP with a 256-byte key":    sessResize(seal(`{"alg":"RSA-OAEP","enc":"A256GCM",`+times+`}`), 1, 256),
		"JOSE-01 alg PBES2 with p2c 2147483647":       seal(`{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":2147483647,"p2s":"c2FsdHNhbHRzYWx0c2FsdA",` + times + `}`),
		"JOSE-01 enc A128CBC-HS256":                   seal(`{"alg":"dir","enc":"A128CBC-HS256",` + times + `}`),
		"JOSE-01 enc A128GCM":                         seal(`{"alg":"dir","enc":"A128GCM",` + times + `}`),
		"JOSE-01 zip DEF over 10 MiB of zeros":        sessSeal(t, secret, `{"alg":"dir","enc":"A256GCM","zip":"DEF",`+times+`}`, zipped.Bytes()),
		"JOSE-01 crit exp":                            seal(`{"alg":"dir","enc":"A256GCM","crit":["exp"],` + times + `}`),
		"JOSE-01 alg none":                            seal(`{"alg":"none","enc":"A256GCM",` + times + `}`),
		"JOSE-01 duplicate alg member":                seal(`{"alg":"dir","alg":"RSA-OAEP","enc":"A256GCM",` + times + `}`),
		"JOSE-01 header is an array":                  seal(`[{"alg":"dir","enc":"A256GCM",` + times + `}]`),
		"JOSE-01 iat is a string":                     seal(`{"alg":"dir","enc":"A256GCM","iat":"1760000000","uat":1760000000,"exp":1760003600}`),
		"JOSE-01 exp is huge":                         seal(`{"alg":"dir","enc":"A256GCM","iat":1760000000,"uat":1760000000,"exp":1e400}`),
		"JOSE-01 trailing data after the header":      seal(`{"alg":"dir","enc":"A256GCM",` + times + `}{}`),
		"JOSE-01 header nested 20,000 deep":           seal(`{"alg":"dir","enc":"A256GCM",` + times + `,"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`),
		"JOSE-02 1-byte encrypted key":                sessResize(valid, 1, 1),
		"JOSE-02 7-byte IV":                           sessResize(valid, 2, 7),
		"JOSE-02 empty IV":                            sessResize(valid, 2, 0),
		"JOSE-02 15-byte tag":                         sessResize(valid, 4, 15),
		"JOSE-02 17-byte tag":                         sessResize(valid, 4, 17),
		"JOSE-02 empty tag":                           sessResize(valid, 4, 0),
		"JOSE-02 six segments":                        valid + ".AAAA",
		"JOSE-06 64 KiB of dots":                      strings.Repeat(".", 64<<10),
		"JOSE-06 1 MiB of dots":                       dots,
		"JOSE-06 1 MiB base64 header":                 base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"dir","enc":"A256GCM","x":"`+strings.Repeat("a", 1<<20)+`"}`)) + "..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA",
		"JOSE-06 60 KiB header under the size cap":    sessSeal(t, "an-attacker-secret-0123456789abcdef", `{"alg":"dir","enc":"A256GCM",`+times+`,"x":"`+strings.Repeat("a", 44<<10)+`"}`, plain),
		"JOSE-06 64 KiB of invalid base64 ciphertext": sessSegment(valid, 3, func(string) string { return strings.Repeat("*", 60<<10) }),
	}
	for name, v := range out {
		out[name] = "appSession=" + v
	}
	// Through chunks: 20 chunks of 1 MiB / 20 dots, and two chunks of 1 MiB
	// around the four separators.
	var b strings.Builder
	part := dots[:len(dots)/chunk.MaxChunks]
	for i := range chunk.MaxChunks {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "appSession.%d=%s", i, part)
	}
	out["JOSE-06 1 MiB of dots in 20 chunks"] = b.String()
	out["JOSE-06 1 MiB chunk and the four dots in another"] = "appSession.0=" + strings.Repeat("A", 1<<20) + "; appSession.1=...."
	return out
}

func TestSessionHostileJOSE(t *testing.T) {
	t.Parallel()
	for name, cookie := range sessHostileCookies(t, harnessSecret) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := sessNew(t, nil, nil)
			var rec *httptest.ResponseRecorder
			elapsed := sessFastest(func() { rec = e.get("/", cookie) })
			t.Logf("%s: %s", name, elapsed)
			assert.Less(t, elapsed, sessBudget)
			v := sessViewOf(t, rec)
			assert.False(t, v.HasSession)
			set, cleared := sessParse(t, rec)
			assert.Empty(t, set)
			assert.NotEmpty(t, cleared)
			assert.NotContains(t, e.logs.String(), "mallory")

			guarded := sessNew(t, func(c *Config) { c.AuthRequired = nil }, nil)
			rec = guarded.do(http.MethodGet, "/", cookie, "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, rec.Code, "anonymous, never 5xx")
		})
	}
}

// JOSE-06: per-request heap growth stays small for hostile cookies. Not
// parallel, so that runtime.MemStats sees this test's allocations only.
func TestSessionHostileJOSEMemory(t *testing.T) {
	cookies := sessHostileCookies(t, harnessSecret)
	e := sessNew(t, nil, nil)
	for _, name := range []string{
		"JOSE-06 1 MiB of dots", "JOSE-06 1 MiB of dots in 20 chunks", "JOSE-06 1 MiB base64 header",
		"JOSE-06 60 KiB header under the size cap", "JOSE-01 zip DEF over 10 MiB of zeros", "JOSE-01 header nested 20,000 deep",
	} {
		req := httptest.NewRequest(http.MethodGet, e.base+"/untouched", nil)
		req.Header.Set("Cookie", cookies[name])
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e.h.ServeHTTP(rec, req)
		runtime.ReadMemStats(&after)
		grew := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d KiB allocated", name, grew>>10)
		assert.Less(t, grew, uint64(10<<20), name)
		assert.Equal(t, http.StatusOK, rec.Code)
	}
}

// ---------------------------------------------------------------------------
// Logging

// Session values and tokens never reach the logs, at Debug level, through a
// code-flow login, session reads and writes, hostile and expired cookies, an
// oversized session and an IdP logout.
func TestSessionNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	logs := &sessLogBuf{}
	app := newTestApp(t, withProvider(oidctest.Options{Subject: "carol"}), withConfig(func(c *Config) {
		c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
		c.IDPLogout = true
		c.Logger = sessLogger(logs)
	}))
	var secrets []string
	keep := func(resp *http.Response) {
		for _, c := range resp.Cookies() {
			if c.Value != "" && (strings.HasPrefix(c.Name, "appSession") || strings.Contains(c.Name, "auth_verification")) {
				secrets = append(secrets, c.Value)
				if u, err := url.QueryUnescape(c.Value); err == nil && u != c.Value {
					secrets = append(secrets, u)
				}
			}
		}
	}
	b := app.browser()
	resp, _ := b.get(app.url("/login"))
	keep(resp)
	cb, method, vals := b.authorize(resp)
	secrets = append(secrets, vals.Get("code"), vals.Get("state"))
	resp, _ = b.deliver(cb, method, vals)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	keep(resp)
	sc := setCookies(resp, "appSession")
	require.Len(t, sc, 1)
	sessionValue := sc[0].Value
	_, sess, err := sessDecrypt(t, sessionValue, harnessSecret)
	require.NoError(t, err)
	for _, k := range []string{"id_token", "access_token", "refresh_token"} {
		tok, _ := sess[k].(string)
		require.NotEmpty(t, tok, k)
		secrets = append(secrets, tok)
		if k == "id_token" {
			parts := strings.Split(tok, ".")
			secrets = append(secrets, parts[1], parts[2])
		}
	}

	for _, path := range []string{"/session", "/set?color=blue", "/", "/set?big=" + strings.Repeat("b", 14000)} {
		resp, _ = b.get(app.url(path))
		keep(resp)
	}
	// Hostile and expired cookies, outside the browser's jar.
	raw := func(cookie string) {
		req, err := http.NewRequest(http.MethodGet, app.url("/session"), nil)
		require.NoError(t, err)
		req.Header.Set("Cookie", cookie)
		resp, err := app.srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	raw("appSession=" + sessSegment(sessionValue, 3, func(s string) string { return sessFlip(s, 5) }))
	raw("appSession=" + sessionValue[:len(sessionValue)-3])
	resp, _ = b.get(app.url("/logout"))
	keep(resp)
	app.clk.Advance(25 * time.Hour)
	raw("appSession=" + sessionValue)

	out := logs.String()
	require.Contains(t, out, "session cookie rejected", "the debug log was written")
	require.Regexp(t, `session (cookie )?expired`, out)
	require.Contains(t, out, "session not saved")
	secrets = append(secrets, harnessSecret, app.op.ClientSecret())
	for _, s := range secrets {
		require.GreaterOrEqual(t, len(s), 8)
		assert.NotContains(t, out, s)
	}
	assert.NotContains(t, out, "carol", "no claims either")
	assert.NotContains(t, out, "blue", "nor session values")
}
