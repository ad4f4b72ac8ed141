package oidc

// Session cookie chunking (SESS-08), the size limits, and chunk reading
// (SESS-10). Helpers are in session_test.go.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/chunk"
)

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
	chunked := func(t *testing.T, n int) (*testApp, sessJar) {
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
