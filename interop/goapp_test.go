package interop

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
)

// Shared by the Go and Node sides of the cookie tests.
const (
	cookieSecret       = "interop-cookie-secret-0123456789abcdefghij"
	cookieClientID     = "interop-cookie-client"
	cookieClientSecret = "interop-cookie-client-secret-0123456789abcdef"
	goBaseURL          = "https://go.interop.test"
)

// goApp is a Go application served in-process (no listener): the
// middleware with /whoami (the session in express's JSON shape) and /mint
// (replaces the session with the JSON body).
type goApp struct {
	t     testing.TB
	cfg   oidc.Config
	h     http.Handler
	store *oidc.MemoryStore
}

// newGoApp builds an application with the cookie tests' secret and client.
// issuer may be "" when no provider is contacted.
func newGoApp(t testing.TB, issuer string, mutate func(*oidc.Config)) *goApp {
	t.Helper()
	if issuer == "" {
		issuer = "http://127.0.0.1:9/op" // never contacted
	}
	g := &goApp{t: t, cfg: oidc.Config{
		Secret:        oidc.Secrets{cookieSecret},
		IssuerBaseURL: issuer,
		BaseURL:       goBaseURL,
		ClientID:      cookieClientID,
		ClientSecret:  cookieClientSecret,
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	}}
	if mutate != nil {
		mutate(&g.cfg)
	}
	if s, ok := g.cfg.Session.Store.(*oidc.MemoryStore); ok {
		g.store = s
	}
	m, err := oidc.New(g.cfg)
	require.NoError(t, err)
	g.h = m.Handler(goMux())
	return g
}

// whoami is the answer of GET /whoami, comparable with express's /__session.
type whoami struct {
	Session       map[string]any `json:"session"`
	Authenticated bool           `json:"authenticated"`
	User          map[string]any `json:"user"`
	Claims        map[string]any `json:"claims"`
}

func goMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		out := whoami{Session: map[string]any{}, Authenticated: c.IsAuthenticated(), User: c.User(), Claims: c.IDTokenClaims()}
		if s, ok := c.Session(); ok {
			out.Session = expressShape(s)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /mint", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := oidc.FromRequest(r).SetSession(goShape(m)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// expressShape returns a session as express-openid-connect's session
// object.
func expressShape(s oidc.Session) map[string]any {
	out := map[string]any{}
	for k, v := range s.Values {
		out[k] = v
	}
	str := map[string]string{
		"id_token": string(s.IDToken), "access_token": string(s.AccessToken),
		"refresh_token": string(s.RefreshToken), "token_type": s.TokenType, "sid": s.SID,
	}
	for k, v := range str {
		if v != "" {
			out[k] = v
		}
	}
	if s.ExpiresAt != 0 {
		out["expires_at"] = s.ExpiresAt
	}
	if s.SessionExpiresAt != 0 {
		out["sessionExpiresAt"] = s.SessionExpiresAt
	}
	if s.LoginStartedAt != 0 {
		out["loginStartedAt"] = s.LoginStartedAt
	}
	return normalizeJSON(out)
}

// goShape is the reverse of expressShape.
func goShape(m map[string]any) oidc.Session {
	var s oidc.Session
	str := func(k string) string { v, _ := m[k].(string); return v }
	num := func(k string) int64 { v, _ := m[k].(float64); return int64(v) }
	s.IDToken, s.AccessToken, s.RefreshToken = oidc.Secret(str("id_token")), oidc.Secret(str("access_token")), oidc.Secret(str("refresh_token"))
	s.TokenType, s.SID, s.ExpiresAt, s.SessionExpiresAt = str("token_type"), str("sid"), num("expires_at"), num("sessionExpiresAt")
	s.LoginStartedAt = num("loginStartedAt")
	for k, v := range m {
		switch k {
		case "id_token", "access_token", "refresh_token", "token_type", "sid", "expires_at", "sessionExpiresAt", "loginStartedAt":
		default:
			if s.Values == nil {
				s.Values = map[string]any{}
			}
			s.Values[k] = v
		}
	}
	return s
}

// normalizeJSON round-trips v through JSON, so that values compare equal
// whichever side produced them.
func normalizeJSON(v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// serve sends one request to the application with cookies.
func (g *goApp) serve(method, target, contentType string, body io.Reader, cookies []*http.Cookie) *http.Response {
	g.t.Helper()
	req := httptest.NewRequest(method, goBaseURL+target, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "text/html")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	g.h.ServeHTTP(rec, req)
	return rec.Result()
}

// whoami reads the session the cookies carry.
func (g *goApp) whoami(cookies []*http.Cookie) whoami {
	g.t.Helper()
	resp := g.serve(http.MethodGet, "/whoami", "", nil, cookies)
	require.Equal(g.t, http.StatusOK, resp.StatusCode)
	var out whoami
	require.NoError(g.t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// mint makes the application write session, and returns the cookies it
// set.
func (g *goApp) mint(session map[string]any) []*http.Cookie {
	g.t.Helper()
	resp := g.serve(http.MethodPost, "/mint", "application/json", strings.NewReader(jsonString(g.t, session)), nil)
	require.Equal(g.t, http.StatusNoContent, resp.StatusCode)
	return liveCookies(resp)
}

// liveCookies returns the cookies a response sets (not those it clears).
func liveCookies(resp *http.Response) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value != "" && (c.Expires.IsZero() || c.Expires.After(time.Unix(0, 0))) && c.MaxAge >= 0 {
			out = append(out, c)
		}
	}
	return out
}

// cookieNames lists the names of cookies.
func cookieNames(cookies []*http.Cookie) []string {
	var out []string
	for _, c := range cookies {
		out = append(out, c.Name)
	}
	return out
}

// cookieValue returns the value of the named cookie, or "".
func cookieValue(cookies []*http.Cookie, name string) string {
	for _, c := range cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
