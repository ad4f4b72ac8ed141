package oidc

// Helpers for the tests of the encrypted cookie session (session.go, requestsession.go,
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
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
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

// sessNew is an offline app (withOffline) serving handler (default
// sessHandler), driven through httptest.ResponseRecorder.
func sessNew(t *testing.T, mutate func(*Config), handler http.Handler) *testApp {
	t.Helper()
	return newTestApp(t, withOffline(), withConfig(mutate), withHandler(handler))
}

func (e *testApp) name() string { return e.m.s.sessionName }
func (e *testApp) unix() int64  { return e.clk.Now().Unix() }

// cookie returns "name=value" for the session cookie.
func (e *testApp) cookie(value string) string { return e.name() + "=" + value }

// hdr is the JWE header of a session created iatAgo and last written uatAgo,
// with the exp the middleware itself would compute.
func (e *testApp) hdr(iatAgo, uatAgo time.Duration) cookiecrypto.Header {
	now := e.unix()
	iat, uat := now-int64(iatAgo/time.Second), now-int64(uatAgo/time.Second)
	return cookiecrypto.Header{IAT: iat, UAT: uat, EXP: e.m.s.expiry(iat, uat, &Session{})}
}

// mint encrypts body (a JSON object) under the middleware's current key.
func (e *testApp) mint(h cookiecrypto.Header, body string) string {
	e.t.Helper()
	v, err := e.m.keys.Encrypt(h, []byte(body))
	require.NoError(e.t, err)
	return v
}

// mintUser mints a fresh session for sub, with extra session keys.
func (e *testApp) mintUser(sub string, extra map[string]any) string {
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
func (e *testApp) mintDue(sub string, extra map[string]any) string {
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
func (e *testApp) do(method, path, cookie string, headers ...string) *httptest.ResponseRecorder {
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

func (e *testApp) get(path, cookie string) *httptest.ResponseRecorder {
	return e.do(http.MethodGet, path, cookie)
}

// view fetches "/" with cookie and decodes the sessView.
func (e *testApp) view(cookie string) (sessView, *httptest.ResponseRecorder) {
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
func (e *testApp) bigFor(chunks int) int {
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
