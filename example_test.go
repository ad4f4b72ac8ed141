package oidc_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// The examples set LookupEnv so that they never read ISSUER_BASE_URL,
// SECRET and friends from the environment.

// Auth wraps a whole application. By default every route requires a login,
// so an anonymous visitor is redirected to the provider.
func ExampleAuth() {
	// A development provider; in production IssuerBaseURL is your
	// provider's URL.
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://localhost:3000",
		ClientID:      op.ClientID(),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	})
	handler := auth(mux) // http.ListenAndServe(":3000", handler)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost:3000/", nil))
	fmt.Println(rec.Code, strings.HasPrefix(rec.Header().Get("Location"), op.URL()))
	// Output: 302 true
}

// New validates the configuration once, without contacting the provider;
// Handler then wraps the application. Invalid options are reported as a
// *ConfigError naming the option.
func ExampleNew() {
	cfg := oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		LookupEnv:     func(string) (string, bool) { return "", false },
	}
	m, err := oidc.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	handler := m.Handler(http.NotFoundHandler())
	_ = handler // http.ListenAndServe(":3000", handler)

	cfg.Secret = oidc.Secrets{"short"}
	_, err = oidc.New(cfg)
	var ce *oidc.ConfigError
	if errors.As(err, &ce) {
		fmt.Printf("%s: %s\n", ce.Option, ce.Reason)
	}
	fmt.Println(errors.Is(err, oidc.ErrInvalidConfig))
	// Output:
	// Secret[0]: must be at least 8 bytes
	// true
}

// RequiresAuth protects single routes when AuthRequired is off. Clients that
// do not accept HTML, such as API clients, get 401 instead of a redirect.
func ExampleRequiresAuth() {
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/profile", oidc.RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "profile of %s", oidc.FromRequest(r).User().String("sub"))
	})))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "public")
	})
	handler := auth(mux)

	req := httptest.NewRequest(http.MethodGet, "http://localhost:3000/profile", nil)
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	fmt.Print(rec.Body.String())
	// Output:
	// 401
	// {"error":"unauthorized","error_description":"Authentication is required for this route."}
}

// FromRequest returns the login session of a request that went through
// Auth, and nil otherwise.
func ExampleFromRequest() {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		switch {
		case c == nil:
			fmt.Fprintln(w, "not behind oidc.Auth")
		case !c.IsAuthenticated():
			fmt.Fprintln(w, "hello, guest")
		default:
			fmt.Fprintf(w, "hello, %s\n", c.User().String("name"))
		}
	})
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range []http.Handler{hello, auth(hello)} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost:3000/", nil))
		fmt.Print(rec.Body.String())
	}
	// Output:
	// not behind oidc.Auth
	// hello, guest
}

// Context.Login starts a login from an application route, with its own
// return address and extra authorization parameters.
func ExampleContext_Login() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://localhost:3000",
		ClientID:      op.ClientID(),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sign-up", func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Login(w, r, oidc.LoginOptions{
			ReturnTo:            "/welcome",
			AuthorizationParams: map[string]string{"prompt": "login", "ui_locales": "de"},
		})
	})
	handler := auth(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost:3000/sign-up", nil))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	fmt.Println(rec.Code, loc.Query().Get("prompt"), loc.Query().Get("ui_locales"))
	// Output: 302 login de
}

// Context.Logout ends the session from an application route. Without
// Config.IDPLogout the user stays logged in at the provider.
func ExampleContext_Logout() {
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:  oidc.Bool(false),
		Routes:        oidc.Routes{Logout: oidc.RouteDisabled},
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sign-out", func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Logout(w, r, oidc.LogoutOptions{ReturnTo: "/goodbye"})
	})
	handler := auth(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost:3000/sign-out", nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 302 http://localhost:3000/goodbye
}

// Context.Callback completes logins on an application route, here with the
// built-in routes turned off. The callback route must match the redirect_uri
// the login sent.
func ExampleContext_Callback() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	const baseURL = "http://localhost:3000"
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       baseURL,
		ClientID:      op.ClientID(),
		ClientSecret:  oidc.Secret(op.ClientSecret()),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:  oidc.Bool(false),
		Routes:        oidc.Routes{Login: oidc.RouteDisabled, Callback: oidc.RouteDisabled},
		AuthorizationParams: map[string]string{
			"response_type": "code",
			"response_mode": "query",
			"redirect_uri":  baseURL + "/auth/callback",
		},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sign-in", func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Login(w, r, oidc.LoginOptions{ReturnTo: "/account"})
	})
	mux.HandleFunc("GET /auth/callback", func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Callback(w, r, oidc.CallbackOptions{RedirectURI: baseURL + "/auth/callback"})
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "account of %s", oidc.FromRequest(r).User().String("sub"))
	})
	app := auth(mux)

	// A browser, in short: it keeps cookies and does not follow redirects.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	visitApp := func(target string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for _, c := range jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		jar.SetCookies(req.URL, rec.Result().Cookies())
		return rec
	}

	rec := visitApp(baseURL + "/sign-in")
	resp, err := client.Get(rec.Header().Get("Location")) // the provider logs alice in
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	rec = visitApp(resp.Header.Get("Location")) // back at /auth/callback
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	fmt.Println(visitApp(baseURL + "/account").Body.String())
	// Output:
	// 302 http://localhost:3000/account
	// account of alice
}

// An environment-free configuration of the code flow. Secret and
// ClientSecret redact themselves when printed or logged.
func ExampleConfig() {
	cfg := oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "https://app.example.com",
		ClientID:      "my-client",
		ClientSecret:  oidc.Secret("client-secret-from-your-vault"),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthRequired:  oidc.Bool(false),
		AuthorizationParams: map[string]string{
			"response_type": "code",
			"scope":         "openid profile email offline_access",
			"audience":      "https://api.example.com/",
		},
		Session: oidc.SessionConfig{
			RollingDuration:  time.Hour,
			AbsoluteDuration: 24 * time.Hour,
		},
		// Ignore ISSUER_BASE_URL, BASE_URL, CLIENT_ID, CLIENT_SECRET and
		// SECRET in the environment.
		LookupEnv: func(string) (string, bool) { return "", false },
	}
	_, err := oidc.New(cfg)
	fmt.Println(err)
	fmt.Println(cfg.ClientSecret, cfg.Secret)
	// Output:
	// <nil>
	// [REDACTED] [REDACTED]
}
