// Command custom-routes turns the built-in routes off and mounts its own,
// calling Context.Login, Context.Logout and Context.Callback.
//
//	go run ./examples/custom-routes
package main

import (
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
	cfg.Routes = oidc.Routes{Login: oidc.RouteDisabled, Logout: oidc.RouteDisabled, Callback: oidc.RouteDisabled}
	cfg.AuthorizationParams = map[string]string{"redirect_uri": cfg.BaseURL + "/auth/callback"}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /sign-in", func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Login(w, r, oidc.LoginOptions{ReturnTo: "/account"})
	})
	mux.HandleFunc("GET /sign-out", func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Logout(w, r, oidc.LogoutOptions{ReturnTo: "/"})
	})
	callback := func(w http.ResponseWriter, r *http.Request) {
		oidc.FromRequest(r).Callback(w, r, oidc.CallbackOptions{RedirectURI: cfg.BaseURL + "/auth/callback"})
	}
	mux.HandleFunc("GET /auth/callback", callback)
	mux.HandleFunc("POST /auth/callback", callback)
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		if !c.IsAuthenticated() {
			http.Redirect(w, r, "/sign-in", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<p>Account of %s. <a href="/sign-out">Sign out</a></p>`, html.EscapeString(c.User().String("sub")))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<p><a href="/sign-in">Sign in</a></p>`)
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
