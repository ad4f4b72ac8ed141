package interop

// Fast checks against cookies minted by the real express-openid-connect
// (testdata/interop/express-openid-connect.json, regenerated with
// `make interop-fixtures`). No Node is needed.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
)

const fixtureFile = "../testdata/interop/express-openid-connect.json"

type fixtureCookie struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Header string `json:"header"`
}

type fixtures struct {
	Versions map[string]string `json:"versions"`
	Secret   string            `json:"secret"`
	ClientID string            `json:"client_id"`
	Now      int64             `json:"now"`
	Sessions []struct {
		Name    string          `json:"name"`
		Session map[string]any  `json:"session"`
		Cookies []fixtureCookie `json:"cookies"`
	} `json:"sessions"`
	Transactions []struct {
		Name         string          `json:"name"`
		ResponseType string          `json:"response_type"`
		Location     string          `json:"location"`
		Cookies      []fixtureCookie `json:"cookies"`
	} `json:"transactions"`
	Store struct {
		Session map[string]any  `json:"session"`
		Cookies []fixtureCookie `json:"cookies"`
		ID      string          `json:"id"`
		Entry   json.RawMessage `json:"entry"`
	} `json:"store"`
}

func loadFixtures(t *testing.T) *fixtures {
	t.Helper()
	raw, err := os.ReadFile(fixtureFile)
	require.NoError(t, err, "regenerate with: make interop-fixtures")
	var f fixtures
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Equal(t, "3.4.0", f.Versions["express-openid-connect"])
	require.NotEmpty(t, f.Sessions)
	require.NotEmpty(t, f.Transactions)
	return &f
}

func httpCookies(in []fixtureCookie) []*http.Cookie {
	out := make([]*http.Cookie, len(in))
	for i, c := range in {
		out[i] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
	return out
}

// fixtureApp is a Go application with the fixtures' secret and client, at
// the fixtures' time (plus a second) unless now is zero.
func fixtureApp(t *testing.T, f *fixtures, issuer string, now int64, mutate func(*oidc.Config)) *goApp {
	return newGoApp(t, issuer, func(c *oidc.Config) {
		c.Secret = oidc.Secrets{f.Secret}
		c.ClientID = f.ClientID
		if now != 0 {
			c.Now = func() time.Time { return time.Unix(now+1, 0) }
		}
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestFixtureSessionCookies(t *testing.T) {
	t.Parallel()
	f := loadFixtures(t)
	for _, fx := range f.Sessions {
		t.Run(fx.Name, func(t *testing.T) {
			t.Parallel()
			cookies := httpCookies(fx.Cookies)
			want := normalizeJSON(fx.Session)

			// The documented format, read with the standard library.
			h, plain, err := decryptSession(f.Secret, joinChunks(t, cookies))
			require.NoError(t, err)
			assert.Equal(t, jweHeader{Alg: "dir", Enc: "A256GCM", IAT: f.Now, UAT: f.Now, EXP: f.Now + 86400}, h)
			var got map[string]any
			require.NoError(t, json.Unmarshal(plain, &got))
			assert.Equal(t, want, got)

			// The middleware.
			who := fixtureApp(t, f, "", f.Now, nil).whoami(cookies)
			assert.True(t, who.Authenticated)
			assert.Equal(t, want, who.Session)
			assert.Equal(t, fx.Session["sid"], who.Claims["sid"])
			assert.Equal(t, strings.TrimPrefix(fx.Session["sid"].(string), "sid-"), who.User["sub"])

			// Expired by the middleware's idle timeout a day later.
			late := fixtureApp(t, f, "", f.Now+86400, nil).whoami(cookies)
			assert.False(t, late.Authenticated)
		})
	}
}

func TestFixtureTransactionCookies(t *testing.T) {
	t.Parallel()
	f := loadFixtures(t)
	op, err := newStubOP()
	require.NoError(t, err)
	t.Cleanup(op.close)
	for _, fx := range f.Transactions {
		t.Run(fx.Name, func(t *testing.T) {
			t.Parallel()
			ar := parseAuthRequest(t, fx.Location)
			cookies := httpCookies(fx.Cookies)
			var tx map[string]any
			for _, c := range cookies {
				value, ok := verifySigned(f.Secret, c.Name, c.Value)
				require.True(t, ok, "%s is signed under its own name", c.Name)
				require.NoError(t, json.Unmarshal([]byte(value), &tx))
			}
			assert.Equal(t, ar.query.Get("nonce"), tx["nonce"])
			assert.Equal(t, ar.query.Get("state"), tx["state"])
			assert.Equal(t, fx.ResponseType, ar.query.Get("response_type"))
			for _, c := range fx.Cookies {
				assert.Contains(t, c.Header, "HttpOnly")
				assert.NotContains(t, c.Header, "Expires=", "a browser-session cookie")
			}

			// The Go middleware completes the login that express started,
			// against a provider that knows nothing of the fixture.
			issue := map[string]any{"sub": "fixture-" + fx.Name, "nonce": tx["nonce"]}
			var resp *http.Response
			switch fx.ResponseType {
			case "id_token":
				g := fixtureApp(t, f, op.issuer, 0, nil)
				form := url.Values{"id_token": {op.idToken(t, f.ClientID, issue)}, "state": {ar.query.Get("state")}}
				for _, c := range cookies { // main cookie, then the SameSite fallback alone
					resp = g.serve(http.MethodPost, "/callback", "application/x-www-form-urlencoded",
						strings.NewReader(form.Encode()), []*http.Cookie{c})
					require.Equal(t, http.StatusSeeOther, resp.StatusCode, "with %s", c.Name)
				}
			case "code":
				require.NotEmpty(t, tx["code_verifier"])
				code := "code-" + rand.Text()
				op.addCode(code, issue, ar.query.Get("code_challenge"))
				g := fixtureApp(t, f, op.issuer, 0, func(c *oidc.Config) {
					c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
				})
				q := url.Values{"code": {code}, "state": {ar.query.Get("state")}}
				resp = g.serve(http.MethodGet, "/callback?"+q.Encode(), "", nil, cookies)
				require.Equal(t, http.StatusFound, resp.StatusCode)
			default:
				t.Fatalf("unknown response type %q", fx.ResponseType)
			}
			var sessionCookie bool
			for _, c := range liveCookies(resp) {
				sessionCookie = sessionCookie || c.Name == "appSession"
			}
			assert.True(t, sessionCookie, "a session was created")
		})
	}
}

func TestFixtureStoreCookie(t *testing.T) {
	t.Parallel()
	f := loadFixtures(t)
	require.Len(t, f.Store.Cookies, 1)
	require.NotEmpty(t, f.Store.Entry)
	id, ok := verifySigned(f.Secret, "appSession", f.Store.Cookies[0].Value)
	require.True(t, ok)
	assert.Equal(t, f.Store.ID, id)
	var entry expressEntry
	require.NoError(t, json.Unmarshal(f.Store.Entry, &entry))
	assert.Equal(t, [3]int64{f.Now, f.Now, f.Now + 86400}, [3]int64{entry.Header.IAT, entry.Header.UAT, entry.Header.EXP})

	g := fixtureApp(t, f, "", f.Now, func(c *oidc.Config) {
		c.Session.Store = oidc.NewMemoryStore() // signed id cookie: the default
	})
	// The entry express wrote, as its JSON (indented in the fixture file).
	require.NoError(t, g.store.Set(t.Context(), id, f.Store.Entry, time.Now().Add(time.Hour)))
	who := g.whoami(httpCookies(f.Store.Cookies))
	assert.True(t, who.Authenticated)
	assert.Equal(t, normalizeJSON(f.Store.Session), who.Session)

	unsigned := []*http.Cookie{{Name: "appSession", Value: id}}
	assert.False(t, g.whoami(unsigned).Authenticated, "signed cookies are required")
}

// TestExpressFormatVectors checks this package's standard-library reading of
// the formats against express-openid-connect's known cookie vectors (catalog
// SESS-12 in docs/security.md), so that the checks above are not vacuous.
func TestExpressFormatVectors(t *testing.T) {
	const secret = "__test_secret__"
	assert.Equal(t, "47c4e100b0cc03c7a093b3e2964bbf3fb9f0ebee1d8ae92e580c77587037788b", hex.EncodeToString(expressKey(secret, "JWE CEK")))
	assert.Equal(t, "472a865b55bdfff0b0b548394b8603229bbe2e7b1cd17d025f80fa511f38ec98", hex.EncodeToString(expressKey(secret, "JWS Cookie Signing")))

	h, plain, err := decryptSession(secret, "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaWF0IjoxNzAwMDAwMDAwLCJ1YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDA4NjQwMH0..AAECAwQFBgcICQoL.EaIvxDfrG0-187jApFps260K0bauWiBFRVMS3g5stOQ.TBsL0nK9kTRT31IdzQFHNw")
	require.NoError(t, err)
	assert.Equal(t, jweHeader{Alg: "dir", Enc: "A256GCM", IAT: 1700000000, UAT: 1700000000, EXP: 1700086400}, h)
	assert.Equal(t, `{"id_token":"x.y.z","sid":"abc"}`, string(plain))

	assert.Equal(t, "Dwuz-2ltoiBuaxyHi8urRIjcMCRiAiUPrywavWkNfms", cookieSignature(secret, "appSession", "0123abcd"))

	tx := `{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}`
	v, ok := verifySigned(secret, "auth_verification",
		"%7B%22nonce%22%3A%22N0NCE%22%2C%22state%22%3A%22eyJyZXR1cm5UbyI6Ii8ifQ%22%7D.sn6A15Bk8a7uNH7IoAEnCGsiCu_9ZjzR37TEUoiUv9k")
	assert.True(t, ok)
	assert.Equal(t, tx, v)
	_, ok = verifySigned(secret, "_auth_verification", tx+".ckTBvK31758EZmrigVWyxHa7XJIokpWOF73hLT2yufM")
	assert.True(t, ok)
	_, ok = verifySigned(secret, "auth_verification", tx+".ckTBvK31758EZmrigVWyxHa7XJIokpWOF73hLT2yufM")
	assert.False(t, ok, "a signature is bound to its cookie name")
}
