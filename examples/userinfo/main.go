// Command userinfo logs the user in with the authorization code flow and
// shows the claims of the provider's userinfo endpoint next to those of the
// ID token.
//
//	go run ./examples/userinfo
//
// then open http://localhost:3000. FetchUserInfo sends the session's access
// token and checks that the answer is about the logged-in user (same sub);
// nothing is stored in the session.
package main

import (
	"encoding/json"
	"fmt"
	"html"
	"log"
	"net/http"
	"os"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

func main() {
	env, err := oidctest.Dev(os.Stdout, func(o *oidctest.Options) {
		o.Claims = map[string]any{"email": "user@example.com", "email_verified": true, "locale": "en-GB"}
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
	cfg.AuthorizationParams = map[string]string{
		"response_type": "code", // userinfo needs an access token
		"scope":         "openid profile email",
	}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		info, err := c.FetchUserInfo(r.Context())
		if err != nil {
			// For example oidc.ErrUserInfoSubjectMismatch, or an expired
			// access token (see the access-an-api example for Refresh).
			http.Error(w, "userinfo failed: "+err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<h1>Userinfo</h1><pre>"+pretty(info)+"</pre>")
		fmt.Fprint(w, "<h1>ID token (User)</h1><pre>"+pretty(c.User())+"</pre>")
		fmt.Fprint(w, `<p><a href="/logout">Log out</a></p>`)
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return html.EscapeString(string(b))
}
