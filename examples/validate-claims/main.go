// Command validate-claims refuses logins whose ID token lacks the expected
// organization, with Config.AfterCallback.
//
//	go run ./examples/validate-claims
//	ORG_ID=org_other go run ./examples/validate-claims   # every login is refused
//
// then open http://localhost:3000. The development provider puts
// org_id "org_123" in every ID token. AfterCallback runs after the ID token
// has been verified and before the session is created; returning an error
// refuses the login (no session), with the error's status.
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

// orgError refuses a login; StatusCode picks the answer's status.
type orgError struct{ got string }

func (e orgError) Error() string   { return fmt.Sprintf("organization %q is not allowed", e.got) }
func (e orgError) StatusCode() int { return http.StatusForbidden }

func main() {
	env, err := oidctest.Dev(os.Stdout, func(o *oidctest.Options) {
		o.Claims = map[string]any{"org_id": "org_123"}
	})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	want := os.Getenv("ORG_ID")
	if want == "" {
		want = "org_123"
	}

	cfg := oidc.Config{
		IssuerBaseURL: env.IssuerBaseURL,
		BaseURL:       env.BaseURL,
		ClientID:      env.ClientID,
		ClientSecret:  oidc.Secret(env.ClientSecret),
		Secret:        oidc.Secrets{env.Secret},
	}
	cfg.AfterCallback = func(_ http.ResponseWriter, r *http.Request, s oidc.Session, _ map[string]any) (oidc.Session, error) {
		// During AfterCallback, FromRequest(r) already sees the new tokens.
		got := oidc.FromRequest(r).IDTokenClaims().String("org_id")
		if got != want {
			return s, orgError{got: got}
		}
		return s, nil
	}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		claims := oidc.FromRequest(r).IDTokenClaims()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<p>%s of organization %s.</p><p><a href="/logout">Log out</a></p>`,
			html.EscapeString(claims.String("sub")), html.EscapeString(claims.String("org_id")))
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
