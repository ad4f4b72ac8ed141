package oidc

// The application opened under another host name than BaseURL's: a login
// started on another name of BaseURL's loopback host is sent to BaseURL
// first, and a callback that arrives without its transaction cookie at
// another host says so.

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostApp builds a middleware for baseURL whose provider is unreachable, and
// counts the requests sent to it.
func hostApp(t *testing.T, baseURL string, mod func(*Config)) (*Middleware, *atomic.Int32, *lockedBuffer) {
	t.Helper()
	var calls atomic.Int32
	var logs lockedBuffer
	cfg := validConfig()
	cfg.BaseURL = baseURL
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, errors.New("provider down")
	})}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	require.NoError(t, err)
	return m, &calls, &logs
}

func TestLoopbackAliasLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		baseURL      string
		authRequired bool
		method       string
		target       string // the request URL, whose host is the Host header
		want         string // the redirect to BaseURL; "" when the login goes on here
	}{
		{name: "127.0.0.1 for localhost", baseURL: "http://localhost:3000",
			target: "http://127.0.0.1:3000/login?x=1&y=%2F", want: "http://localhost:3000/login?x=1&y=%2F"},
		{name: "[::1] for localhost", baseURL: "http://localhost:3000",
			target: "http://[::1]:3000/login", want: "http://localhost:3000/login"},
		{name: "localhost for 127.0.0.1", baseURL: "http://127.0.0.1:3000",
			target: "http://localhost:3000/login", want: "http://127.0.0.1:3000/login"},
		{name: "upper-case LOCALHOST is BaseURL's host", baseURL: "http://localhost:3000",
			target: "http://LOCALHOST:3000/login"},
		{name: "under a BaseURL path", baseURL: "http://localhost:3000/app",
			target: "http://127.0.0.1:3000/app/login", want: "http://localhost:3000/app/login"},
		{name: "https and the default port", baseURL: "https://localhost",
			target: "https://127.0.0.1/login", want: "https://localhost/login"},
		{name: "AuthRequired on a protected page", baseURL: "http://localhost:3000", authRequired: true,
			target: "http://127.0.0.1:3000/profile?tab=2", want: "http://localhost:3000/profile?tab=2"},
		{name: "the same host", baseURL: "http://localhost:3000", target: "http://localhost:3000/login"},
		{name: "another port", baseURL: "http://localhost:3000", target: "http://127.0.0.1:4000/login"},
		{name: "a proxy's internal host is not a loopback alias", baseURL: "https://app.example.com",
			target: "http://internal:8080/login"},
		{name: "a loopback request for a public BaseURL", baseURL: "https://app.example.com",
			target: "https://127.0.0.1/login"},
		{name: "not for a POST", baseURL: "http://localhost:3000", authRequired: true, method: http.MethodPost,
			target: "http://127.0.0.1:3000/profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, calls, _ := hostApp(t, tt.baseURL, func(c *Config) { c.AuthRequired = Bool(tt.authRequired) })
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tt.target, nil)
			req.Header.Set("Accept", "text/html")
			w := httptest.NewRecorder()
			m.Handler(http.NotFoundHandler()).ServeHTTP(w, req)
			if tt.want == "" {
				// The login goes on here and finds the provider down.
				assert.Equal(t, http.StatusServiceUnavailable, w.Code)
				assert.NotZero(t, calls.Load())
				return
			}
			assert.Equal(t, http.StatusFound, w.Code)
			assert.Equal(t, tt.want, w.Header().Get("Location"))
			assert.Empty(t, w.Header().Values("Set-Cookie"), "no transaction is written on the other host")
			assert.Zero(t, calls.Load(), "the provider is not asked")
		})
	}
}

func TestCallbackOtherHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, baseURL, target string
		hint                  string // "" when the hosts agree
	}{
		{"127.0.0.1 for localhost", "http://localhost:3000", "http://127.0.0.1:3000/callback",
			"The callback arrived at host 127.0.0.1:3000 but BaseURL is http://localhost:3000/; open the application at http://localhost:3000/"},
		{"another public host", "https://app.example.com", "https://www.example.com/callback",
			"The callback arrived at host www.example.com but BaseURL is https://app.example.com/"},
		{"the same host, with the default port spelled out", "https://app.example.com", "https://app.example.com:443/callback", ""},
		{"the same host", "http://localhost:3000", "http://localhost:3000/callback", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got error
			m, _, logs := hostApp(t, tt.baseURL, func(c *Config) {
				c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					defaultErrorHandler(w, r, err)
				}
			})
			w := httptest.NewRecorder()
			m.Handler(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.target+"?state=x&code=y", nil))
			require.Equal(t, http.StatusBadRequest, w.Code)
			var e *Error
			require.ErrorAs(t, got, &e)
			assert.Equal(t, "missing_transaction", e.Code)
			assert.ErrorIs(t, got, ErrMissingTransaction)
			recs := logs.records("oidc: login failed")
			require.Len(t, recs, 1, logs.String())
			assert.Contains(t, recs[0], "level=WARN")
			assert.Contains(t, recs[0], "code=missing_transaction")
			if tt.hint == "" {
				assert.NotContains(t, e.Description, "arrived at host")
				assert.Contains(t, e.Description, "Ensure the login flow is initiated through the login route")
				return
			}
			assert.Contains(t, e.Description, tt.hint)
			assert.Contains(t, recs[0], tt.hint)
			assert.Contains(t, w.Body.String(), "arrived at host")
		})
	}
}
