// Command custom-session-store keeps sessions in Redis when REDIS_URL is set
// (for example redis://127.0.0.1:6379/0), and otherwise says so and uses
// oidc.MemoryStore. Run it from the redisstore module:
//
//	cd redisstore && REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/custom-session-store
//
// Without ISSUER_BASE_URL it starts the embedded development provider (see
// oidctest.Dev for the other settings).
package main

import (
	"fmt"
	"html"
	"log"
	"net/http"
	"os"

	goredis "github.com/redis/go-redis/v9"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
	"github.com/openidconnect-go/oidc/redisstore"
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

	if u := os.Getenv("REDIS_URL"); u != "" {
		opts, err := goredis.ParseURL(u)
		if err != nil {
			log.Fatalf("REDIS_URL: %v", err)
		}
		opts.ContextTimeoutEnabled = true
		rdb := goredis.NewClient(opts)
		defer rdb.Close()
		cfg.Session.Store = redisstore.New(rdb, redisstore.Options{})
		fmt.Println("Sessions are stored in Redis at", opts.Addr)
	} else {
		cfg.Session.Store = oidc.NewMemoryStore()
		fmt.Println("REDIS_URL is not set: sessions are kept in memory (oidc.MemoryStore) and end with the process")
	}
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
