// Command claims protects routes with the claim guards ClaimEquals,
// ClaimIncludes and ClaimCheck.
//
//	go run ./examples/claims
//
// then open http://localhost:3000. The development provider gives every user
// role "editor" and groups ["staff", "editors"]. A logged-in user who fails a
// check gets 403 Forbidden; an anonymous visitor is sent to the login page,
// as with RequiresAuth.
package main

import (
	"fmt"
	"html"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

func main() {
	env, err := oidctest.Dev(os.Stdout, func(o *oidctest.Options) {
		o.Claims = map[string]any{
			"role":           "editor",
			"groups":         []string{"staff", "editors"},
			"email":          "user@corp.example",
			"email_verified": true,
		}
	})
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

	page := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<p>Welcome to the %s page, %s.</p><p><a href="/">Back</a></p>`,
				html.EscapeString(name), html.EscapeString(oidc.FromRequest(r).User().String("sub")))
		})
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<ul>
<li><a href="/editor">/editor</a>: ClaimEquals("role", "editor"), passes</li>
<li><a href="/admin">/admin</a>: ClaimEquals("role", "admin"), 403</li>
<li><a href="/staff">/staff</a>: ClaimIncludes("groups", "staff", "editors"), passes</li>
<li><a href="/finance">/finance</a>: ClaimIncludes("groups", "finance"), 403</li>
<li><a href="/corp">/corp</a>: ClaimCheck on a verified corp.example email, passes</li>
</ul><p><a href="/login">Log in</a> · <a href="/logout">Log out</a></p>`)
	})
	mux.Handle("GET /editor", oidc.ClaimEquals("role", "editor")(page("editor")))
	mux.Handle("GET /admin", oidc.ClaimEquals("role", "admin")(page("admin")))
	mux.Handle("GET /staff", oidc.ClaimIncludes("groups", "staff", "editors")(page("staff")))
	mux.Handle("GET /finance", oidc.ClaimIncludes("groups", "finance")(page("finance")))
	mux.Handle("GET /corp", oidc.ClaimCheck(func(_ *oidc.Context, claims oidc.Claims) bool {
		// Compare the whole domain: strings.HasSuffix(email, "@corp.example")
		// would also accept "a@evil.example@corp.example".
		local, domain, ok := strings.Cut(claims.String("email"), "@")
		verified, _ := claims["email_verified"].(bool)
		return ok && local != "" && domain == "corp.example" && verified
	})(page("corp")))
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
