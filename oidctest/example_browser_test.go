package oidctest_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// A complete login in a test: the Browser opens a protected page, is sent to
// the provider's login page, signs in as "alice", goes through the
// callback, and comes back to the page. In a test, start the provider with
// NewProvider(t, ...) and report errors with t.Fatal.
func ExampleBrowser_Login() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Interactive: true})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	// The application under test, with its protected handler.
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://" + app.Listener.Addr().String(),
		ClientID:      op.ClientID(),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "profile of %s", oidc.FromRequest(r).User().String("name"))
	})
	app.Config.Handler = auth(mux)
	app.Start()

	b := oidctest.NewBrowser(app.Client())
	resp, err := b.Login(app.URL+"/profile", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Request.URL.Path, string(body))

	// The Browser keeps the session cookie: the next visit needs no login.
	resp, err = b.Get(app.URL + "/profile")
	if err != nil {
		log.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	fmt.Println(string(body), "- authorize requests:", op.Calls(oidctest.EndpointAuthorize))
	// Output:
	// 200 /profile profile of alice
	// profile of alice - authorize requests: 2
}

// SessionCookies mints the session cookie of a logged-in user, so that a
// test reaches protected handlers without any provider or login.
func ExampleSessionCookies() {
	const secret = "a long, random string used to encrypt cookies"
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com", // never contacted here
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{secret},
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		cart, _ := c.Get("cart")
		fmt.Fprintf(w, "%s (%s), cart: %v", c.User().String("sub"), c.User().String("email"), cart)
	}))

	cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{
		Secret: secret,
		Claims: map[string]any{"sub": "alice", "email": "alice@example.com"},
		Values: map[string]any{"cart": "3 items"},
	})
	if err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://localhost:3000/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 alice (alice@example.com), cart: 3 items
}

// Dev bootstraps an example or a local development setup: it reads PORT,
// ISSUER_BASE_URL, BASE_URL, CLIENT_ID, CLIENT_SECRET and SECRET from the
// environment or a .env file and, without ISSUER_BASE_URL, starts a
// provider with a login page. The result goes into oidc.Config.
func ExampleDev() {
	env, err := oidctest.Dev(os.Stdout, func(o *oidctest.Options) {
		o.Claims = map[string]any{"role": "editor"} // for every user of the development provider
	})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: env.IssuerBaseURL,
		BaseURL:       env.BaseURL,
		ClientID:      env.ClientID,
		ClientSecret:  oidc.Secret(env.ClientSecret),
		Secret:        oidc.Secrets{env.Secret},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
