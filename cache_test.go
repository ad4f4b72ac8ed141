package oidc

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/oidctest"
)

// TestSessionCache checks that serving a session from the decrypted-session
// cache behaves exactly like decrypting it: expiry still applies, changes
// made by one request never leak into another, and rotation still re-issues.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	clk := newClock()
	newMW := func(t *testing.T, secrets ...string) *Middleware {
		m, err := New(Config{
			Secret: Secrets(secrets), IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
			ClientID: "c", Now: clk.Now, AuthRequired: Bool(false), LookupEnv: func(string) (string, bool) { return "", false },
		})
		require.NoError(t, err)
		return m
	}
	mint := func(t *testing.T, secret string) *http.Cookie {
		cs, err := oidctest.SessionCookies(oidctest.SessionOptions{Secret: secret, Now: clk.Now(),
			Claims: map[string]any{"sub": "alice"}, Values: map[string]any{"n": "1"}})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		return cs[0]
	}
	serve := func(m *Middleware, ck *http.Cookie, h http.HandlerFunc) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
		req.AddCookie(ck)
		rec := httptest.NewRecorder()
		m.Handler(h).ServeHTTP(rec, req)
		return rec
	}
	who := func(w http.ResponseWriter, r *http.Request) {
		c := FromRequest(r)
		v, _ := c.Get("n")
		s, _ := v.(string)
		_, _ = w.Write([]byte(c.User().String("sub") + ":" + s))
	}

	t.Run("a request's changes do not leak into the next request with the same cookie", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, harnessSecret)
		ck := mint(t, harnessSecret)
		rec := serve(m, ck, func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, FromRequest(r).Set("n", "changed"))
			require.NoError(t, FromRequest(r).Delete("absent"))
		})
		require.Len(t, rec.Result().Cookies(), 1, "the change is written")
		for range 2 {
			assert.Equal(t, "alice:1", serve(m, ck, who).Body.String())
		}
	})
	t.Run("expiry still applies to a cached session", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, harnessSecret)
		ck := mint(t, harnessSecret)
		assert.Equal(t, "alice:1", serve(m, ck, who).Body.String())
		m.s.now = func() time.Time { return clk.Now().Add(25 * time.Hour) }
		assert.Equal(t, ":", serve(m, ck, who).Body.String())
	})
	t.Run("a cached session read with an old secret is still re-issued under the new one", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, "the-new-secret-value", harnessSecret)
		ck := mint(t, harnessSecret)
		for range 2 {
			rec := serve(m, ck, who)
			assert.Equal(t, "alice:1", rec.Body.String())
			require.Len(t, rec.Result().Cookies(), 1)
			_, _, idx, err := m.keys.DecryptKey(rec.Result().Cookies()[0].Value)
			require.NoError(t, err)
			assert.Equal(t, 0, idx)
		}
	})
	t.Run("a tampered cookie is never served from the cache", func(t *testing.T) {
		t.Parallel()
		m := newMW(t, harnessSecret)
		ck := mint(t, harnessSecret)
		assert.Equal(t, "alice:1", serve(m, ck, who).Body.String())
		bad := *ck
		bad.Value = oidctest.Tamper(ck.Value, 1)
		assert.Equal(t, ":", serve(m, &bad, who).Body.String())
	})
}

// Byte budgets of the decrypted-session and decoded-claims caches.

// bigSession is a decoded session of about n bytes of tokens and values.
func bigSession(n int) *Session {
	return &Session{
		IDToken: Secret(strings.Repeat("i", n/4)), AccessToken: Secret(strings.Repeat("a", n/4)),
		RefreshToken: Secret(strings.Repeat("r", n/8)), TokenType: "Bearer", SID: "sid",
		Values: map[string]any{"big": strings.Repeat("v", n*3/8), "list": []any{"x", 1.0, true, nil}},
	}
}

// cookieValue returns a distinct string of n bytes, like a session cookie.
func cookieValue(i, n int) string {
	p := strconv.Itoa(i) + "."
	return p + strings.Repeat("c", n-len(p))
}

// TestSessionCacheByteBudget: thousands of ~15 KB sessions (which pinned
// ~60 MB with a 4096-entry bound) keep the cache within its byte budget,
// by its own accounting and by the heap.
func TestSessionCacheByteBudget(t *testing.T) {
	var c sessionCache
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 3000
	for i := range n {
		c.put(cookieValue(i, 15<<10), decoded{sess: bigSession(11 << 10)}, false)
	}
	bytes, entries := c.c.size()
	assert.LessOrEqual(t, bytes, sessionCacheBytes)
	assert.Greater(t, entries, 50, "the cache still holds many sessions")
	_, ok := c.get(cookieValue(n-1, 15<<10))
	assert.True(t, ok, "the latest session is cached")

	// The accounting covers every key byte and matches the entries.
	keyBytes, sum := 0, 0
	c.c.mu.Lock()
	for k, e := range c.c.m {
		keyBytes += len(k)
		sum += e.size
	}
	c.c.mu.Unlock()
	assert.Equal(t, bytes, sum)
	assert.Less(t, keyBytes, bytes)

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d entries, %d bytes accounted, heap grew by %d bytes", entries, bytes, grown)
	assert.Less(t, grown, int64(2*sessionCacheBytes), "live memory stays near the budget")
	runtime.KeepAlive(&c)
}

// TestSessionCacheEntryLimit: sessions up to the largest this package
// writes (including 3-chunk, ~12 KB ones) are cached; a larger
// express-written session is read but not cached.
func TestSessionCacheEntryLimit(t *testing.T) {
	t.Parallel()
	e := sessNew(t, nil, nil)
	// cookieFor mints a session whose cookie value is about n bytes,
	// chunked as the middleware would.
	cookieFor := func(t *testing.T, n int) (string, int) {
		body := sessBody(t, "alice", map[string]any{"big": ""})
		pad := (n - len(e.mint(e.hdr(0, 0), body))) * 3 / 4
		value := e.mint(e.hdr(0, 0), sessBody(t, "alice", map[string]any{"big": strings.Repeat("b", pad)}))
		parts := chunk.Split(value, e.m.s.chunkSize(len(value)))
		var sb strings.Builder
		for i, p := range parts {
			if i > 0 {
				sb.WriteString("; ")
			}
			sb.WriteString(chunk.ChunkName(e.name(), i) + "=" + p)
		}
		return sb.String(), len(parts)
	}
	for _, tc := range []struct {
		name   string
		size   int
		chunks int
		cached bool
	}{
		{"3 chunks, 11.5 KB", 11500, 3, true},
		{"the largest session we write", maxSessionBytes - 200, 5, true},
		{"a 40 KB session written by express", 40 << 10, 11, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*e.m.cookieCache() = sessionCache{}
			cookie, chunks := cookieFor(t, tc.size)
			require.Equal(t, tc.chunks, chunks)
			for range 2 {
				v, _ := e.view(cookie)
				assert.True(t, v.Authenticated)
				assert.Equal(t, "alice", v.Sub)
			}
			bytes, entries := e.m.cookieCache().c.size()
			if tc.cached {
				assert.Equal(t, 1, entries)
				assert.LessOrEqual(t, bytes, 30<<10, "about twice the cookie")
			} else {
				assert.Zero(t, entries)
			}
		})
	}
}

// TestSessionCacheThroughMiddleware: serving hundreds of distinct ~15 KB
// sessions keeps the middleware's cache within its budget.
func TestSessionCacheThroughMiddleware(t *testing.T) {
	t.Parallel()
	e := sessNew(t, nil, nil)
	pad := strings.Repeat("b", 10<<10)
	for i := range 300 {
		value := e.mint(e.hdr(0, 0), sessBody(t, "user-"+strconv.Itoa(i), map[string]any{"big": pad}))
		parts := chunk.Split(value, e.m.s.chunkSize(len(value)))
		var sb strings.Builder
		for j, p := range parts {
			if j > 0 {
				sb.WriteString("; ")
			}
			sb.WriteString(chunk.ChunkName(e.name(), j) + "=" + p)
		}
		v, _ := e.view(sb.String())
		require.True(t, v.Authenticated)
	}
	bytes, entries := e.m.cookieCache().c.size()
	t.Logf("%d entries, %d bytes", entries, bytes)
	assert.LessOrEqual(t, bytes, sessionCacheBytes)
	assert.Greater(t, entries, 0)
	cbytes, _ := e.m.claims.c.size()
	assert.LessOrEqual(t, cbytes, claimsCacheBytes)
}

// TestClaimsCacheByteBudget: the claims cache stays within its budget, and
// a token too large to be worth caching is decoded but not kept.
func TestClaimsCacheByteBudget(t *testing.T) {
	t.Parallel()
	var c claimsCache
	for i := range 2000 {
		claims := sessClaims("user-" + strconv.Itoa(i))
		claims["groups"] = []any{strings.Repeat("g", 2000)}
		_, err := c.get(sessJWT(claims))
		require.NoError(t, err)
	}
	bytes, entries := c.c.size()
	assert.LessOrEqual(t, bytes, claimsCacheBytes)
	assert.Greater(t, entries, 50)

	c = claimsCache{}
	claims := sessClaims("big")
	claims["groups"] = []any{strings.Repeat("g", claimsCacheMaxEntry)}
	tok := sessJWT(claims)
	got, err := c.get(tok)
	require.NoError(t, err)
	assert.Equal(t, "big", got["sub"])
	_, entries = c.c.size()
	assert.Zero(t, entries, "not cached")
}

// TestBoundedCacheAccounting: replacing a key and evicting keep the
// accounted size exact; entries over the limit are refused.
func TestBoundedCacheAccounting(t *testing.T) {
	t.Parallel()
	var c boundedCache[int]
	assert.True(t, c.put("a", 1, 100, 1000, 500))
	assert.True(t, c.put("a", 2, 300, 1000, 500))
	bytes, entries := c.size()
	assert.Equal(t, 300, bytes)
	assert.Equal(t, 1, entries)
	assert.False(t, c.put("b", 3, 501, 1000, 500))
	for i := range 100 {
		require.True(t, c.put(strconv.Itoa(i), i, 100, 1000, 500))
		bytes, _ = c.size()
		require.LessOrEqual(t, bytes, 1000)
	}
	v, ok := c.get("99")
	assert.True(t, ok)
	assert.Equal(t, 99, v)
}
