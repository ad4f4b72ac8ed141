package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// guardMiddleware is a Middleware for guard tests; it never contacts a
// provider (anonymous requests use Accept: application/json).
func guardMiddleware(t testing.TB, mutate func(*Config)) *Middleware {
	t.Helper()
	cfg := Config{
		Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
		ClientID: "test-client", AuthRequired: Bool(false),
		LookupEnv: func(string) (string, bool) { return "", false },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(cfg)
	require.NoError(t, err)
	return m
}

// guardRequest is a GET with a session holding claims (nil: anonymous).
func guardRequest(t testing.TB, claims map[string]any, accept string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://app.example/protected", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if claims != nil {
		cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{Secret: harnessSecret, Claims: claims})
		require.NoError(t, err)
		for _, c := range cookies {
			req.AddCookie(c)
		}
	}
	return req
}

const guardOK = "allowed"

// serveGuard serves req through m and guard and reports the status and body.
func serveGuard(m *Middleware, guard func(http.Handler) http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	m.Handler(guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(guardOK))
	}))).ServeHTTP(rec, req)
	return rec
}

// TestClaimGuards follows the claim parts of express's
// test/requiresAuth.tests.js. Express answers 401 (or a login) to a logged-in
// user who fails a check; we answer 403 (docs/decisions.md).
func TestClaimGuards(t *testing.T) {
	t.Parallel()
	m := guardMiddleware(t, func(c *Config) { c.ErrorOnRequiredAuth = true })
	user := map[string]any{"sub": "alice", "org_id": "org_123", "role": "admin", "level": 3,
		"scope": "read:users write:users", "groups": []any{"eng", "admin", 7}}
	cases := []struct {
		name   string
		guard  func() func(http.Handler) http.Handler
		claims map[string]any
		want   int
	}{
		{"should allow logged in users with the right claim",
			func() func(http.Handler) http.Handler { return ClaimEquals("org_id", "org_123") }, user, http.StatusOK},
		{"should return 401 when logged in user doesn't have the right value for claim (403 here)",
			func() func(http.Handler) http.Handler { return ClaimEquals("org_id", "org_456") }, user, http.StatusForbidden},
		{"should return 401 when logged in user doesn't have the claim (403 here)",
			func() func(http.Handler) http.Handler { return ClaimEquals("missing", "org_123") }, user, http.StatusForbidden},
		{"should return 401 when anonymous user doesn't have the right claim",
			func() func(http.Handler) http.Handler { return ClaimEquals("org_id", "org_123") }, nil, http.StatusUnauthorized},
		{"should allow logged in users with all of the requested claims",
			func() func(http.Handler) http.Handler { return ClaimIncludes("groups", "eng", "admin") }, user, http.StatusOK},
		{"should return 401 for logged with some of the requested claims (403 here)",
			func() func(http.Handler) http.Handler { return ClaimIncludes("groups", "eng", "finance") }, user, http.StatusForbidden},
		{"should accept claim values as a space separated list",
			func() func(http.Handler) http.Handler { return ClaimIncludes("scope", "read:users", "write:users") }, user, http.StatusOK},
		{"should not accept claim values that aren't a string or array (403 here)",
			func() func(http.Handler) http.Handler { return ClaimIncludes("level", 3) }, user, http.StatusForbidden},
		{"should return 401 when checking multiple claims and the user doesn't have the claim (403 here)",
			func() func(http.Handler) http.Handler { return ClaimIncludes("missing", "a") }, user, http.StatusForbidden},
		{"should return 401 when checking many claims with anonymous user",
			func() func(http.Handler) http.Handler { return ClaimIncludes("groups", "eng") }, nil, http.StatusUnauthorized},
		{"should allow user when custom claim check returns truthy",
			func() func(http.Handler) http.Handler {
				return ClaimCheck(func(*Context, Claims) bool { return true })
			}, user, http.StatusOK},
		{"should not allow user when custom claim check returns falsey (403 here)",
			func() func(http.Handler) http.Handler {
				return ClaimCheck(func(*Context, Claims) bool { return false })
			}, user, http.StatusForbidden},
		{"should not allow anonymous users to check custom claims",
			func() func(http.Handler) http.Handler {
				return ClaimCheck(func(*Context, Claims) bool { t.Error("called for an anonymous user"); return true })
			}, nil, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := serveGuard(m, tc.guard(), guardRequest(t, tc.claims, "text/html"))
			assert.Equal(t, tc.want, rec.Code, rec.Body.String())
			switch tc.want {
			case http.StatusOK:
				assert.Equal(t, guardOK, rec.Body.String())
			case http.StatusForbidden:
				assert.NotContains(t, rec.Body.String(), guardOK)
				assert.Contains(t, rec.Body.String(), "forbidden")
			case http.StatusUnauthorized:
				assert.Contains(t, rec.Body.String(), "Authentication is required")
			}
		})
	}

	t.Run("should make the token claims available to custom check", func(t *testing.T) {
		t.Parallel()
		var got Claims
		var ctx *Context
		guard := ClaimCheck(func(c *Context, claims Claims) bool {
			got, ctx = claims, c
			claims["sub"] = "mallory" // a copy: the session is not affected
			return true
		})
		rec := httptest.NewRecorder()
		m.Handler(guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(FromRequest(r).IDTokenClaims().String("sub")))
		}))).ServeHTTP(rec, guardRequest(t, map[string]any{"sub": "alice", "sid": "s-1", "org_id": "o"}, ""))
		assert.Equal(t, "alice", rec.Body.String())
		require.NotNil(t, got)
		assert.Equal(t, "o", got.String("org_id"))
		assert.Equal(t, "s-1", got.String("sid"))
		assert.Equal(t, "test-client", got["aud"])
		assert.NotNil(t, ctx)
	})
}

func TestClaimGuardConstruction(t *testing.T) {
	t.Parallel()
	type custom struct{ A int }
	panics := []struct {
		name string
		fn   func()
		msg  string
	}{
		{"should throw when claim is not a string (empty here)", func() { ClaimEquals("", "x") }, "oidc: ClaimEquals: claim must be a non-empty string"},
		{"should throw when claim value is a non primitive: map", func() { ClaimEquals("c", map[string]any{}) }, "oidc: ClaimEquals: value must be a string, number, boolean or nil"},
		{"should throw when claim value is a non primitive: slice", func() { ClaimEquals("c", []string{"a"}) }, "oidc: ClaimEquals: value must be a string, number, boolean or nil"},
		{"should throw when claim value is a non primitive: struct", func() { ClaimEquals("c", custom{}) }, "oidc: ClaimEquals: value must be a string, number, boolean or nil"},
		{"should throw when claim value is a non primitive: pointer", func() { s := "x"; ClaimEquals("c", &s) }, "oidc: ClaimEquals: value must be a string, number, boolean or nil"},
		{"should throw when claim value for checking many claims is a non primitive", func() { ClaimIncludes("c", "a", map[string]any{}) }, "oidc: ClaimIncludes: values must be strings, numbers, booleans or nil"},
		{"ClaimIncludes: empty claim", func() { ClaimIncludes("") }, "oidc: ClaimIncludes: claim must be a non-empty string"},
		{"should throw when custom claim check doesn't get a function", func() { ClaimCheck(nil) }, "oidc: ClaimCheck: fn must not be nil"},
	}
	for _, tc := range panics {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.PanicsWithValue(t, tc.msg, tc.fn)
		})
	}
	t.Run("primitives are accepted", func(t *testing.T) {
		t.Parallel()
		type role string
		for _, v := range []any{"s", role("admin"), true, nil, 1, int8(1), int64(1), uint(1), uint64(1), float32(1.5), 1.5, json.Number("2")} {
			assert.NotPanics(t, func() { ClaimEquals("c", v) }, "%T", v)
			assert.NotPanics(t, func() { ClaimIncludes("c", v, v) }, "%T", v)
		}
		assert.NotPanics(t, func() { ClaimIncludes("c") })
	})
}

// TestClaimSemantics pins express's strict comparison rules (catalog
// HDR-03).
func TestClaimSemantics(t *testing.T) {
	t.Parallel()
	m := guardMiddleware(t, nil)
	claims := map[string]any{
		"sub": "alice", "num": 1, "str1": "1", "flag": true, "null": nil, "float": 1.5,
		"arr": []any{"a", 1, true, nil}, "obj": map[string]any{"a": 1},
		"spaced": "a  b", "tabbed": "a\tb", "empty": "", "email": "a@evil.com@corp.com",
	}
	cases := []struct {
		name  string
		guard func(http.Handler) http.Handler
		pass  bool
	}{
		{"number equals int", ClaimEquals("num", 1), true},
		{"number equals int64", ClaimEquals("num", int64(1)), true},
		{"number equals uint8", ClaimEquals("num", uint8(1)), true},
		{"number equals float64", ClaimEquals("num", 1.0), true},
		{"number equals json.Number", ClaimEquals("num", json.Number("1")), true},
		{"number is not the string \"1\"", ClaimEquals("num", "1"), false},
		{"string \"1\" is not the number 1", ClaimEquals("str1", 1), false},
		{"string equals string", ClaimEquals("str1", "1"), true},
		{"float equals float32", ClaimEquals("float", float32(1.5)), true},
		{"bool equals bool", ClaimEquals("flag", true), true},
		{"bool is not \"true\"", ClaimEquals("flag", "true"), false},
		{"bool is not 1", ClaimEquals("flag", 1), false},
		{"null equals nil", ClaimEquals("null", nil), true},
		{"a missing claim is not nil", ClaimEquals("missing", nil), false},
		{"null is not \"\"", ClaimEquals("null", ""), false},
		{"an array never equals a string", ClaimEquals("arr", "a"), false},
		{"an object never equals anything", ClaimEquals("obj", nil), false},
		{"case matters", ClaimEquals("sub", "Alice"), false},
		{"includes: array with mixed types", ClaimIncludes("arr", "a", 1, true, nil), true},
		{"includes: array, strict types", ClaimIncludes("arr", "1"), false},
		{"includes: array, number as int", ClaimIncludes("arr", int32(1)), true},
		{"includes: zero values, array claim", ClaimIncludes("arr"), true},
		{"includes: zero values, string claim", ClaimIncludes("empty"), true},
		{"includes: zero values, number claim", ClaimIncludes("num"), false},
		{"includes: zero values, missing claim", ClaimIncludes("missing"), false},
		{"includes: object claim", ClaimIncludes("obj", "a"), false},
		{"includes: split on single spaces", ClaimIncludes("spaced", "a", "", "b"), true},
		{"includes: tabs do not separate", ClaimIncludes("tabbed", "a"), false},
		{"includes: a string claim holds strings only", ClaimIncludes("str1", 1), false},
		{"includes: substrings do not count", ClaimIncludes("sub", "ali"), false},
		{"HDR-03: exact email domain rule refuses a@evil.com@corp.com", ClaimCheck(func(_ *Context, c Claims) bool {
			local, domain, ok := strings.Cut(c.String("email"), "@")
			return ok && local != "" && domain == "corp.com"
		}), false},
		{"HDR-03: ClaimEquals on the email is exact", ClaimEquals("email", "a@corp.com"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := serveGuard(m, tc.guard, guardRequest(t, claims, "application/json"))
			if tc.pass {
				assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			} else {
				assert.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
			}
		})
	}
	t.Run("HDR-03: a naive suffix rule would pass, so do not write one", func(t *testing.T) {
		t.Parallel()
		assert.True(t, strings.HasSuffix(claims["email"].(string), "@corp.com"))
	})
}

func TestClaimGuardResponses(t *testing.T) {
	t.Parallel()
	t.Run("403 goes through the ErrorHandler with ErrForbidden", func(t *testing.T) {
		t.Parallel()
		var got error
		m := guardMiddleware(t, func(c *Config) {
			c.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
				got = err
				var e *Error
				if errors.As(err, &e) {
					w.WriteHeader(e.Status)
				}
			}
		})
		rec := serveGuard(m, ClaimEquals("role", "admin"), guardRequest(t, map[string]any{"role": "user"}, ""))
		assert.Equal(t, http.StatusForbidden, rec.Code)
		assert.ErrorIs(t, got, ErrForbidden)
		var e *Error
		require.ErrorAs(t, got, &e)
		assert.Equal(t, "forbidden", e.Code)
		assert.Equal(t, http.StatusForbidden, e.Status)
	})
	t.Run("403 as JSON for API clients, never a login redirect", func(t *testing.T) {
		t.Parallel()
		m := guardMiddleware(t, nil)
		for _, accept := range []string{"application/json", "text/html", ""} {
			rec := serveGuard(m, ClaimEquals("role", "admin"), guardRequest(t, map[string]any{"role": "user"}, accept))
			assert.Equal(t, http.StatusForbidden, rec.Code, accept)
			assert.Empty(t, rec.Header().Get("Location"))
			if accept == "application/json" {
				var body map[string]string
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				assert.Equal(t, "forbidden", body["error"])
			}
		}
	})
	t.Run("should throw when there's no auth middleware", func(t *testing.T) {
		t.Parallel()
		for _, guard := range []func(http.Handler) http.Handler{
			ClaimEquals("a", "b"), ClaimIncludes("a"), ClaimCheck(func(*Context, Claims) bool { return true }),
		} {
			rec := httptest.NewRecorder()
			guard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("must not run") })).
				ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			assert.Equal(t, http.StatusInternalServerError, rec.Code)
			assert.Contains(t, rec.Body.String(), "oidc.Auth")
		}
	})
	t.Run("anonymous users are handled as by RequiresAuth", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.Handle("/eq", ClaimEquals("sub", "bob")(appHandler()))
		mux.Handle("/inc", ClaimIncludes("sub")(appHandler()))
		mux.Handle("/check", ClaimCheck(func(*Context, Claims) bool { return true })(appHandler()))
		mux.Handle("/", appHandler())
		app := newTestApp(t, withProvider(oidctest.Options{Subject: "bob"}), withHandler(mux))
		for _, path := range []string{"/eq", "/inc", "/check"} {
			b := app.browser()
			resp, _ := b.get(app.url(path), "Accept", "text/html")
			require.Equal(t, http.StatusFound, resp.StatusCode, path)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), app.op.URL()), path)
			resp, _ = b.get(app.url(path), "Accept", "application/json")
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)

			// After the login the user comes back and passes.
			b.login(app, path)
			resp, body := b.get(app.url(path))
			assert.Equal(t, http.StatusOK, resp.StatusCode, path)
			assert.Equal(t, "hello bob", body)
		}
	})
}

// BenchmarkClaimEquals measures Auth + ClaimEquals serving an authenticated
// request that passes the check.
func BenchmarkClaimEquals(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) })
	m := benchMiddleware(b)
	h := m.Handler(ClaimEquals("email_verified", true)(hello))
	req := benchRequest(b, benchSessions()["tokens"])
	benchServeOK(b, h, req)
}
