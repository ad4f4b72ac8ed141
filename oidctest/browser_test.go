package oidctest_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

const browserTestSecret = "a long, random string used to encrypt cookies"

// browserApp starts an application protected by the middleware against op.
// "/" greets the user, "/profile" requires a login.
func browserApp(t *testing.T, op *oidctest.Provider, tls bool, mutate func(*oidc.Config)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	cfg := oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       srv.URL,
		ClientID:      op.ClientID(),
		ClientSecret:  oidc.Secret(op.ClientSecret()),
		Secret:        oidc.Secrets{browserTestSecret},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	auth, err := oidc.Auth(cfg)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	})
	mux.Handle("GET /profile", oidc.RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "profile of %s", oidc.FromRequest(r).User().String("name"))
	})))
	srv.Config.Handler = auth(mux)
	return srv
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	flows := map[string]map[string]string{
		"implicit form_post (default)": nil,
		"code, query":                  {"response_type": "code", "response_mode": "query"},
		"code, form_post":              {"response_type": "code", "response_mode": "form_post"},
		"hybrid, form_post":            {"response_type": "code id_token", "response_mode": "form_post"},
	}
	for name, params := range flows {
		for _, tls := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, tls=%v", name, tls), func(t *testing.T) {
				t.Parallel()
				op := newProvider(t, oidctest.Options{Interactive: true})
				srv := browserApp(t, op, tls, func(c *oidc.Config) { c.AuthorizationParams = params })
				b := oidctest.NewBrowser(srv.Client())

				resp, err := b.Login(srv.URL+"/profile", "alice")
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "profile of alice", readBody(t, resp))
				assert.Equal(t, srv.URL+"/profile", resp.Request.URL.String())
				assert.NotEmpty(t, b.Cookies(srv.URL+"/"), "the session cookie is kept")

				// Logged in now: Get goes straight to the page.
				calls := op.Calls(oidctest.EndpointAuthorize)
				resp, err = b.Get(srv.URL + "/")
				require.NoError(t, err)
				assert.Equal(t, "hello alice", readBody(t, resp))
				assert.Equal(t, calls, op.Calls(oidctest.EndpointAuthorize))
			})
		}
	}
}

func TestBrowserGetStopsAtTheLoginPage(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Options{Interactive: true})
	srv := browserApp(t, op, true, nil)
	b := oidctest.NewBrowser(srv.Client())

	resp, err := b.Get(srv.URL + "/profile")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Request.URL.String(), op.URL()+oidctest.PathAuthorize))
	assert.Contains(t, readBody(t, resp), `name="username"`)

	// The same Browser can then log in.
	resp, err = b.Login(srv.URL+"/profile", "bob")
	require.NoError(t, err)
	assert.Equal(t, "profile of bob", readBody(t, resp))
}

func TestBrowserLoginWithoutLoginPage(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Options{Subject: "auto-user", Claims: map[string]any{"name": "Auto"}})
	srv := browserApp(t, op, true, nil)
	b := oidctest.NewBrowser(srv.Client())

	resp, err := b.Login(srv.URL+"/profile", "")
	require.NoError(t, err, "auto-login mode shows no page, so no user name is needed")
	assert.Equal(t, "profile of Auto", readBody(t, resp))
}

func TestBrowserRefusedLogin(t *testing.T) {
	t.Parallel()
	op := newProvider(t, oidctest.Options{Interactive: true})
	srv := browserApp(t, op, true, func(c *oidc.Config) {
		c.AfterCallback = func(_ http.ResponseWriter, _ *http.Request, s oidc.Session, _ map[string]any) (oidc.Session, error) {
			return s, errors.New("not today")
		}
	})
	b := oidctest.NewBrowser(srv.Client())
	resp, err := b.Login(srv.URL+"/profile", "mallory")
	require.NoError(t, err, "an error page is a page")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestBrowserErrors(t *testing.T) {
	t.Parallel()

	t.Run("empty user name at the login page", func(t *testing.T) {
		t.Parallel()
		op := newProvider(t, oidctest.Options{Interactive: true})
		srv := browserApp(t, op, true, nil)
		_, err := oidctest.NewBrowser(srv.Client()).Login(srv.URL+"/profile", "")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "user name is empty")
	})

	// fake serves canned pages.
	fake := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	html := func(w http.ResponseWriter, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, body)
	}

	t.Run("login page shown again", func(t *testing.T) {
		t.Parallel()
		u := fake(t, func(w http.ResponseWriter, r *http.Request) {
			html(w, `<p class="error" role="alert">Wrong &amp; odd</p><form method="post" action="/authorize">`+
				`<input type="hidden" name="state" value="s"><input type="text" name="username"></form>`)
		})
		_, err := oidctest.NewBrowser(nil).Login(u+"/authorize?code=SECRET-CODE", "alice")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "login page again: Wrong & odd")
	})

	t.Run("endless auto-submitting pages", func(t *testing.T) {
		t.Parallel()
		var hits atomic.Int32
		u := fake(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			html(w, `<form method="post" action="/again"><input type="hidden" name="k" value="v"></form>`+
				`<script>document.forms[0].submit();</script>`)
		})
		_, err := oidctest.NewBrowser(nil).Get(u + "/start")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "after 10 pages")
		assert.Equal(t, int32(10), hits.Load())
	})

	t.Run("page too large", func(t *testing.T) {
		t.Parallel()
		u := fake(t, func(w http.ResponseWriter, r *http.Request) {
			html(w, strings.Repeat("x", 1<<20+1))
		})
		_, err := oidctest.NewBrowser(nil).Get(u + "/?code=SECRET-CODE")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "larger than")
		assert.NotContains(t, err.Error(), "SECRET-CODE")
	})

	t.Run("unreachable: no query in the error", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		_, err := oidctest.NewBrowser(nil).Get(u + "/callback?code=SECRET-CODE&state=S")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "SECRET-CODE")
		assert.Contains(t, err.Error(), u+"/callback")
	})

	t.Run("invalid URL", func(t *testing.T) {
		t.Parallel()
		_, err := oidctest.NewBrowser(nil).Get("::not a url?code=SECRET-CODE")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "SECRET-CODE")
	})
}

// TestBrowserForms checks which pages the Browser submits on its own.
func TestBrowserForms(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		page      string
		submitted bool
	}{
		{"auto-submit page", `<form method="post" action="/next"><input type="hidden" name="a" value="1"></form><script>document.forms[0].submit()</script>`, true},
		{"single quotes, upper case", `<FORM METHOD='POST' ACTION='/next'><INPUT TYPE='hidden' NAME='a' VALUE='1'></FORM><script>f.submit()</script>`, true},
		{"no script", `<form method="post" action="/next"><input type="hidden" name="a" value="1"></form>`, false},
		{"GET form", `<form method="get" action="/next"><input type="hidden" name="a" value="1"></form><script>x.submit()</script>`, false},
		{"visible field", `<form method="post" action="/next"><input type="hidden" name="a" value="1"><input name="q"></form><script>x.submit()</script>`, false},
		{"no fields", `<form method="post" action="/next"><button>Go</button></form><script>x.submit()</script>`, false},
		{"unterminated form", `<form method="post" action="/next"><input type="hidden" name="a" value="1"><script>x.submit()</script>`, false},
		{"garbage", "<form<<input=\"\x00><script>.submit()</script></form>", false},
		{"empty", ``, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var next atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, tc.page)
			})
			mux.HandleFunc("/next", func(w http.ResponseWriter, r *http.Request) {
				next.Add(1)
				_, _ = io.WriteString(w, "next "+r.PostFormValue("a"))
			})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			var resp *http.Response
			var err error
			require.NotPanics(t, func() { resp, err = oidctest.NewBrowser(nil).Get(srv.URL + "/start") })
			require.NoError(t, err)
			if tc.submitted {
				assert.Equal(t, int32(1), next.Load())
				assert.Equal(t, "next 1", readBody(t, resp))
			} else {
				assert.Equal(t, int32(0), next.Load())
				assert.Equal(t, tc.page, readBody(t, resp))
			}
		})
	}
}
