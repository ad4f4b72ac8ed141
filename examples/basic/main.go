// Command basic is the smallest application: every route requires a login.
//
//	go run ./examples/basic
//
// then open http://localhost:3000. Without ISSUER_BASE_URL it uses the
// embedded development provider.
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
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		user := oidc.FromRequest(r).User()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>hello %s</p><p><a href=\"/logout\">Log out</a></p>", html.EscapeString(user.String("sub")))
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
