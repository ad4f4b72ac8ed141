// Command custom-session-store keeps sessions server-side: the cookie then
// carries only a signed session id. This version uses oidc.MemoryStore; the
// Redis-backed version, which uses Redis when REDIS_URL is set, lives in the
// redisstore module (so that the core module does not depend on a Redis
// client):
//
//	go run ./examples/custom-session-store
//	cd redisstore && REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/custom-session-store
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
	if os.Getenv("REDIS_URL") != "" {
		fmt.Println("REDIS_URL is set, but this example uses memory; for Redis run: cd redisstore && go run ./examples/custom-session-store")
	} else {
		fmt.Println("Sessions are kept in memory (oidc.MemoryStore) and end with the process")
	}
	cfg.Session.Store = oidc.NewMemoryStore()
	// The session-id cookie is signed by default. An application that shares
	// the store and the cookie with express-openid-connect (unsigned by
	// default) sets cfg.Session.SignSessionStoreCookie = oidc.Bool(false).
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		visits, _ := c.Get("visits")
		n, _ := visits.(float64)
		_ = c.Set("visits", n+1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>hello %s — visit %d, counted in the session store</p><p><a href=\"/logout\">Log out</a></p>",
			html.EscapeString(c.User().String("sub")), int(n+1))
	})
	// A page that only reads the session: one store read per request, and
	// no write until Session.TouchInterval is due.
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>signed in as %s</p>", html.EscapeString(oidc.FromRequest(r).User().String("sub")))
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
