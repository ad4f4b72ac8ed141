// Command routes protects some routes and leaves others public.
//
//	go run ./examples/routes
//
// "/" is public and shows whether you are logged in, "/profile" requires a
// login, and "/login" and "/logout" are the built-in routes.
package main

import (
	"encoding/json"
	"fmt"
	"html"
	"log"
	"net/http"
	"os"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

func main() {
	env, err := oidctest.Dev(os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	cfg := oidc.Config{
		IssuerBaseURL: env.IssuerBaseURL,
		BaseURL:       env.BaseURL,
		ClientID:      env.ClientID,
		ClientSecret:  oidc.Secret(env.ClientSecret),
		Secret:        oidc.Secrets{env.Secret},
	}
	cfg.AuthRequired = oidc.Bool(false)
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}
	requiresAuth := oidc.RequiresAuth()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if c := oidc.FromRequest(r); c.IsAuthenticated() {
			fmt.Fprintf(w, `<p>Logged in as %s. <a href="/profile">Profile</a> · <a href="/logout">Log out</a></p>`,
				html.EscapeString(c.User().String("sub")))
			return
		}
		fmt.Fprint(w, `<p>Logged out. <a href="/login">Log in</a> or visit <a href="/profile">your profile</a>.</p>`)
	})
	mux.Handle("GET /profile", requiresAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(oidc.FromRequest(r).User())
	})))
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
