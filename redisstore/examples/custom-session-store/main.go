// Command custom-session-store keeps sessions in Redis when REDIS_URL is set
// (for example redis://127.0.0.1:6379/0), and otherwise says so and uses
// oidc.MemoryStore. Run it from the redisstore module:
//
//	cd redisstore && REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/custom-session-store
//
// Without ISSUER_BASE_URL it starts the embedded development provider.
package main

import (
	"crypto/rand"
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
	port := envOr("PORT", "3000")
	cfg := oidc.Config{BaseURL: envOr("BASE_URL", "http://localhost:"+port)}
	if os.Getenv("ISSUER_BASE_URL") == "" {
		op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Interactive: true})
		if err != nil {
			log.Fatal(err)
		}
		defer op.Close()
		fmt.Printf("Development provider — not for production — at %s\n", op.URL())
		cfg.IssuerBaseURL, cfg.ClientID, cfg.ClientSecret = op.URL(), op.ClientID(), oidc.Secret(op.ClientSecret())
		cfg.Secret = oidc.Secrets{rand.Text() + rand.Text()}
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
	fmt.Printf("Open %s in your browser.\n", cfg.BaseURL)
	log.Fatal(http.ListenAndServe(":"+port, auth(mux)))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
