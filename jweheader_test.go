package oidc

import (
	"encoding/base64"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// Work bounds for the unauthenticated JWE header of the session cookie.
// These tests measure allocations, so they do not run in parallel.

// allocsPerRun is testing.AllocsPerRun that also reports the bytes
// allocated per call. runtime.MemStats counts the whole process, so a
// goroutine left over from another test can add to a round; it measures
// five rounds of runs calls and keeps the smallest figures, which such
// noise can only increase.
func allocsPerRun(runs int, f func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // warm up
	allocs, bytes = math.Inf(1), math.Inf(1)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		allocs = min(allocs, float64(after.Mallocs-before.Mallocs)/float64(runs))
		bytes = min(bytes, float64(after.TotalAlloc-before.TotalAlloc)/float64(runs))
	}
	return allocs, bytes
}

// hostileHeaders returns session cookie values whose protected header is
// far larger than any legitimate one, in front of the IV, ciphertext and
// tag of a valid session (plus one genuinely sealed under the secret, so
// that only the header bound rejects it).
func hostileHeaders(t *testing.T, e *testApp) map[string]string {
	valid := e.mintUser("alice", nil)
	tail := valid[strings.IndexByte(valid, '.'):]
	b64 := base64.RawURLEncoding.EncodeToString
	var members strings.Builder
	members.WriteString(`{"alg":"dir","enc":"A256GCM","iat":1,"uat":1,"exp":9999999999`)
	for i := 0; members.Len() < 36<<10; i++ {
		members.WriteString(`,"m` + strconv.Itoa(i) + `":0`)
	}
	members.WriteString("}")
	big := `{"alg":"dir","enc":"A256GCM","iat":1,"uat":1,"exp":9999999999,"x":"` + strings.Repeat("a", 36<<10) + `"}`
	now := strconv.FormatInt(e.unix(), 10)
	sealed := `{"alg":"dir","enc":"A256GCM","iat":` + now + `,"uat":` + now + `,"exp":` + strconv.FormatInt(e.unix()+3600, 10) +
		`,"x":"` + strings.Repeat("a", cookiecrypto.MaxHeaderSegment) + `"}`
	return map[string]string{
		"48 KB string member":                b64([]byte(big)) + tail,
		"48 KB of members":                   b64([]byte(members.String())) + tail,
		"sealed header over the bound":       sessSeal(t, harnessSecret, sealed, []byte(sessBody(t, "mallory", nil))),
		"48 KB header of invalid base64 (~)": strings.Repeat("~", 48<<10) + tail,
	}
}

// TestHostileSessionHeaderBoundedWork: a session cookie with a huge
// protected header costs no more than a small junk cookie, whether or not
// the route reads the session, and never authenticates anyone.
func TestHostileSessionHeaderBoundedWork(t *testing.T) {
	e := sessNew(t, nil, nil)
	serve := func(path, value string) func() {
		cookie := e.cookie(value) // built once: only the middleware's work is measured
		return func() {
			rec := e.get(path, cookie)
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
		}
	}
	for _, path := range []string{"/untouched", "/"} {
		junkAllocs, junkBytes := allocsPerRun(20, serve(path, "junk"))
		for name, value := range hostileHeaders(t, e) {
			t.Run(path+"/"+name, func(t *testing.T) {
				v, rec := sessView{}, e.get(path, e.cookie(value))
				if path == "/" {
					v, _ = e.view(e.cookie(value))
				}
				assert.False(t, v.Authenticated)
				assert.Len(t, rec.Result().Cookies(), 1, "the cookie is cleared")

				allocs, bytes := allocsPerRun(20, serve(path, value))
				t.Logf("junk: %.0f allocs, %.0f B; hostile: %.0f allocs, %.0f B", junkAllocs, junkBytes, allocs, bytes)
				// Before the header bound this was hundreds of allocations and
				// about 600 KB per request.
				assert.LessOrEqual(t, allocs, junkAllocs+8, "allocations")
				assert.LessOrEqual(t, bytes, junkBytes+8<<10, "bytes allocated")
			})
		}
	}
}

// TestSessionHeaderParsedOnce: when a route that never reads the session
// peeks at the header and then has to load the session (a re-issue is
// due), the header parsed by the peek is reused rather than parsed again.
func TestSessionHeaderParsedOnce(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/untouched", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/read", func(_ http.ResponseWriter, r *http.Request) { FromRequest(r).IsAuthenticated() })
	e := sessNew(t, nil, mux)
	h := e.hdr(sessDue, sessDue)
	// A valid header that only the general JSON parser reads: member order
	// and an unknown member differ from the canonical form.
	header := `{"exp":` + strconv.FormatInt(h.EXP, 10) + `,"uat":` + strconv.FormatInt(h.UAT, 10) +
		`,"iat":` + strconv.FormatInt(h.IAT, 10) + `,"enc":"A256GCM","alg":"dir","note":"` + strings.Repeat("n", 600) + `"}`
	value := sessSeal(t, harnessSecret, header, []byte(sessBody(t, "alice", nil)))
	p, err := cookiecrypto.Peek(value)
	require.NoError(t, err)
	_, canonical := p.Header()
	require.True(t, canonical, "readable without go-jose")
	_, parseBytes := allocsPerRun(20, func() { _, _ = cookiecrypto.Peek(value) })
	require.Greater(t, parseBytes, 1000.0, "parsing this header allocates")

	cookie := e.cookie(value)
	serve := func(path string) func() {
		return func() {
			*e.m.cookieCache() = sessionCache{} // decrypt every time
			rec := e.get(path, cookie)
			if len(rec.Result().Cookies()) != 1 {
				t.Errorf("the session is re-issued: %v", rec.Result().Cookies())
			}
		}
	}
	_, loadOnly := allocsPerRun(20, serve("/read"))
	_, peekThenLoad := allocsPerRun(20, serve("/untouched"))
	t.Logf("one header parse: %.0f B; load only: %.0f B; peek then load: %.0f B", parseBytes, loadOnly, peekThenLoad)
	assert.Less(t, peekThenLoad, loadOnly+parseBytes/2, "the peeked header is reused")
}
