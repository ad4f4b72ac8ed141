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
	"github.com/openidconnect-go/oidc/examples/internal/devenv"
)

func main() {
	env, err := devenv.Load(os.Stdout, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	auth, err := oidc.Auth(env.Config)
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
