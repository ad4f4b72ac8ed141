// Command token-exchange exchanges the session's access token for a token
// for another API (RFC 8693 token exchange) with CustomTokenExchange.
//
//	go run ./examples/token-exchange
//
// then open http://localhost:3000 and follow "Exchange". The exchanged token
// is not stored in the session; this page shows what came back, never the
// token itself.
package main

import (
	"errors"
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
	cfg.AuthorizationParams = map[string]string{
		"response_type": "code", // the subject token is the session's access token
		"scope":         "openid profile email",
	}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<p>Logged in as %s.</p><p><a href="/exchange">Exchange the access token for one for https://reports.example.com</a> · <a href="/logout">Log out</a></p>`,
			html.EscapeString(oidc.FromRequest(r).User().String("sub")))
	})
	mux.HandleFunc("GET /exchange", func(w http.ResponseWriter, r *http.Request) {
		res, err := oidc.FromRequest(r).CustomTokenExchange(r.Context(), oidc.TokenExchangeOptions{
			Audience: "https://reports.example.com",
			Scope:    "read:reports",
			// SubjectToken defaults to the session's access token.
			// Extra: map[string]string{"connection": "..."} for provider-specific parameters.
		})
		var pe *oidc.ProviderError
		if errors.As(err, &pe) {
			// pe.StatusCode is 401 for mfa_required, 400 for other refusals.
			http.Error(w, "token exchange refused: "+pe.Code+": "+pe.Description, pe.StatusCode)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p>Issued token type: %s<br>Token type: %s<br>Expires in: %s<br>Scope: %s</p><p><a href=\"/\">Back</a></p>",
			html.EscapeString(res.IssuedTokenType), html.EscapeString(res.TokenType), res.ExpiresIn, html.EscapeString(res.Scope))
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}
