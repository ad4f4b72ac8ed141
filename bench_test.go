package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openidconnect-go/oidc/oidctest"
)

// benchSessions are the three payload sizes that docs/performance.md
// reports: claims only, tokens (~3 KB cookie) and large (chunked).
func benchSessions() map[string]oidctest.SessionOptions {
	claims := map[string]any{"sub": "auth0|5f7c8ec7c33c6c004bbafe82", "name": "Jane Doe", "email": "jane@example.com",
		"email_verified": true, "sid": "7b1a0f4e-2b6c-4c86-9d4c-1c1f3f3c3a11", "nickname": "jane"}
	tokens := oidctest.SessionOptions{Claims: claims, AccessToken: strings.Repeat("a", 900),
		RefreshToken: strings.Repeat("r", 300), ExpiresIn: time.Hour}
	groups := make([]string, 80)
	for i := range groups {
		groups[i] = "group-" + strings.Repeat("x", 40)
	}
	large := tokens
	large.Claims = map[string]any{"sub": "alice", "groups": groups}
	large.AccessToken = strings.Repeat("a", 2500)
	return map[string]oidctest.SessionOptions{
		"claims": {Claims: claims},
		"tokens": tokens,
		"large":  large,
	}
}

func benchMiddleware(b *testing.B) *Middleware {
	m, err := New(Config{
		Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
		ClientID: "test-client", LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchRequest(b *testing.B, opts oidctest.SessionOptions) *http.Request {
	opts.Secret = harnessSecret
	cookies, err := oidctest.SessionCookies(opts)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return req
}

// benchContext is the Context of req outside Handler (no request copy, no
// response writer): what the session benchmarks measure.
func benchContext(m *Middleware, req *http.Request) *Context {
	return &Context{m: m, req: req, sess: requestSession{m: m, req: req}}
}

// BenchmarkSessionRead measures reading and decrypting the session cookie
// and decoding the user's claims.
func BenchmarkSessionRead(b *testing.B) {
	for name, opts := range benchSessions() {
		b.Run(name, func(b *testing.B) {
			m := benchMiddleware(b)
			req := benchRequest(b, opts)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c := benchContext(m, req)
				if !c.IsAuthenticated() {
					b.Fatal("not authenticated")
				}
			}
		})
	}
}

// BenchmarkSessionReadCold measures a session read that misses the
// decrypted-session cache (the first request with a new cookie value).
func BenchmarkSessionReadCold(b *testing.B) {
	for name, opts := range benchSessions() {
		b.Run(name, func(b *testing.B) {
			m := benchMiddleware(b)
			req := benchRequest(b, opts)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				*m.cookieCache() = sessionCache{}
				m.claims = claimsCache{}
				c := benchContext(m, req)
				if !c.IsAuthenticated() {
					b.Fatal("not authenticated")
				}
			}
		})
	}
}

// BenchmarkSessionWrite measures encrypting and writing the session cookie.
func BenchmarkSessionWrite(b *testing.B) {
	for name, opts := range benchSessions() {
		b.Run(name, func(b *testing.B) {
			m := benchMiddleware(b)
			m.s.touch = -1 // re-issue on every response: measure the write
			req := benchRequest(b, opts)
			c := benchContext(m, req)
			c.IsAuthenticated()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.sess.w, c.sess.committed = httptest.NewRecorder(), false
				c.sess.commit()
			}
		})
	}
}

// BenchmarkAuthenticatedRequest measures Auth + RequiresAuth serving a
// request with a valid "tokens" session, against the bare handler.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	b.Run("bare", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
		b.ReportAllocs()
		for range b.N {
			hello.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("auth", func(b *testing.B) {
		m := benchMiddleware(b)
		h := m.Handler(RequiresAuth()(hello))
		req := benchRequest(b, benchSessions()["tokens"])
		benchServeOK(b, h, req)
	})
	b.Run("auth-dpop", func(b *testing.B) {
		// DPoP adds nothing to a request that makes no outgoing call. The key
		// is a fresh P-256 key, not the test key set (ckKeys): generating its
		// P-384 and P-521 keys leaves ~900 KB of the standard library's
		// generator tables on the heap, which slows every later benchmark
		// through garbage collection.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		m, err := New(Config{
			Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
			ClientID: "test-client", ClientSecret: "s", AuthorizationParams: map[string]string{"response_type": "code"},
			DPoP: &DPoPConfig{Key: key}, LookupEnv: func(string) (string, bool) { return "", false },
		})
		if err != nil {
			b.Fatal(err)
		}
		h := m.Handler(RequiresAuth()(hello))
		req := benchRequest(b, benchSessions()["tokens"])
		benchServeOK(b, h, req)
	})
	b.Run("public", func(b *testing.B) {
		m := benchMiddleware(b)
		m.s.authRequired = false
		h := m.Handler(hello)
		req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("public-with-hostile-header", func(b *testing.B) {
		// A session cookie whose unauthenticated JWE header is 48 KB, on a
		// route that never reads the session.
		m := benchMiddleware(b)
		m.s.authRequired = false
		h := m.Handler(hello)
		req := benchRequest(b, benchSessions()["tokens"])
		valid, err := req.Cookie("appSession")
		if err != nil {
			b.Fatal(err)
		}
		header := `{"alg":"dir","enc":"A256GCM","iat":1,"uat":1,"exp":9999999999,"x":"` + strings.Repeat("a", 36<<10) + `"}`
		hostile := base64.RawURLEncoding.EncodeToString([]byte(header)) + valid.Value[strings.IndexByte(valid.Value, '.'):]
		req.Header.Set("Cookie", "appSession="+hostile)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("public-with-session-cookie", func(b *testing.B) {
		m := benchMiddleware(b)
		m.s.authRequired = false
		h := m.Handler(hello)
		req := benchRequest(b, benchSessions()["tokens"])
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if len(rec.Header().Values("Set-Cookie")) != 0 {
				b.Fatal("a fresh, unread session must not be re-issued")
			}
		}
	})
}

// BenchmarkBasicExample mirrors examples/basic: Auth with AuthRequired and
// a handler that greets the user by sub.
func BenchmarkBasicExample(b *testing.B) {
	m := benchMiddleware(b)
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := FromRequest(r).User()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<p>hello " + user.String("sub") + "</p>"))
	}))
	req := benchRequest(b, oidctest.SessionOptions{Claims: map[string]any{
		"sub": "dev-user", "name": "dev-user", "sid": "Jd8FJQmOe9dKqXk3Zm2l", "auth_time": 1795852617,
	}})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// countingStore counts the calls that reach a Store.
type countingStore struct {
	Store
	gets, sets, destroys atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, id string) ([]byte, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, id)
}

func (s *countingStore) Set(ctx context.Context, id string, e []byte, expiry time.Time) error {
	s.sets.Add(1)
	return s.Store.Set(ctx, id, e, expiry)
}

func (s *countingStore) Destroy(ctx context.Context, id string) error {
	s.destroys.Add(1)
	return s.Store.Destroy(ctx, id)
}

// BenchmarkStoreAuthenticatedRequest measures Auth + RequiresAuth serving a
// request with a valid "tokens" session held in a MemoryStore, where the
// session does not change: one store Get, no Set.
func BenchmarkStoreAuthenticatedRequest(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) })
	// The session of a cookie-mode request, moved into the store.
	c := benchContext(benchMiddleware(b), benchRequest(b, benchSessions()["tokens"]))
	sess, ok := c.Session()
	if !ok {
		b.Fatal("no session")
	}
	store := &countingStore{Store: NewMemoryStore()}
	m, err := New(Config{
		Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
		ClientID: "test-client", LookupEnv: func(string) (string, bool) { return "", false },
		Session: SessionConfig{Store: store}, AuthRequired: Bool(false),
	})
	if err != nil {
		b.Fatal(err)
	}
	seed := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := FromRequest(r).SetSession(sess); err != nil {
			b.Fatal(err)
		}
	})).ServeHTTP(seed, httptest.NewRequest(http.MethodGet, "https://app.example/public", nil))
	req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	for _, ck := range seed.Result().Cookies() {
		req.AddCookie(ck)
	}
	h := m.Handler(RequiresAuth()(hello))
	store.gets.Store(0)
	store.sets.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String(), seed.Header())
		}
	}
	b.StopTimer()
	if g, s, d := store.gets.Load(), store.sets.Load(), store.destroys.Load(); g != int64(b.N) || s != 0 || d != 0 {
		b.Fatalf("%d requests: %d Get, %d Set, %d Destroy; want one Get each and nothing else", b.N, g, s, d)
	}
}

// benchServeOK measures h serving req, which must answer 200.
func benchServeOK(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
