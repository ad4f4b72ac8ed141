// Command idp-logout logs the user out at the provider too (RP-initiated
// logout), not only in the application.
//
//	go run ./examples/idp-logout
//
// then open http://localhost:3000. With IDPLogout, /logout clears the local
// session and then redirects to the provider's end_session_endpoint with an
// id_token_hint; the provider ends its own session and sends the browser back
// to Routes.PostLogoutRedirect. The next login asks for the user name again.
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
	cfg.IDPLogout = true
	cfg.Routes.PostLogoutRedirect = "/logged-out"
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", oidc.RequiresAuth()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<p>Logged in as %s.</p><p><a href="/logout">Log out here and at the provider</a></p>`,
			html.EscapeString(oidc.FromRequest(r).User().String("sub")))
	})))
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<p>You are logged out, here and at the provider.</p><p><a href="/">Log in again</a></p>`)
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
