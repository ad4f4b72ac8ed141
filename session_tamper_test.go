package oidc

// Hostile session cookies: tampering (SESS-03), caching (SESS-09), the size
// cap (SESS-11) and hostile JWEs (JOSE-01, JOSE-02, JOSE-06). Helpers are in
// session_test.go.

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/oidctest"
)

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
