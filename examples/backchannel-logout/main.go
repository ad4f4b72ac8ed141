// Command backchannel-logout shows OpenID Connect Back-Channel Logout: the
// provider POSTs a logout token to /backchannel-logout, and the user's
// session ends at their next request, although the session lives in a
// cookie that the provider never sees.
//
//	go run ./examples/backchannel-logout
//
// then open http://localhost:3000 and sign in with any name. With the
// embedded development provider (no ISSUER_BASE_URL), the home page has
// buttons that make the provider send a logout token for this session (sid)
// or for every session of the user (sub); sign in from a second browser to
// see the difference. With a real provider, register
// BASE_URL + "/backchannel-logout" as the client's backchannel_logout_uri
// (the provider must be able to reach it) and log out at the provider.
//
// The logout markers live in an oidc.MemoryStore, which suits one instance;
// several instances need a shared store such as redisstore.
package main

import (
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

const page = `<!doctype html><meta charset="utf-8"><title>Back-channel logout</title>
<p>Signed in as <b>%s</b>, provider session (sid) <code>%s</code>.</p>
%s
<p><a href="/logout">Log out</a></p>`

const devButtons = `<form method="post" action="/simulate">
<button name="by" value="sid">Provider: log out this session (sid)</button>
<button name="by" value="sub">Provider: log out all my sessions (sub)</button>
</form>
<p>The provider sends a logout token to /backchannel-logout; this page then
sends you to the login page.</p>`

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
	cfg.BackchannelLogout = &oidc.BackchannelLogoutConfig{Store: oidc.NewMemoryStore()}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		claims := oidc.FromRequest(r).IDTokenClaims()
		buttons := ""
		if env.Provider != nil {
			buttons = devButtons
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, page, html.EscapeString(claims.String("sub")), html.EscapeString(claims.String("sid")), buttons)
	})
	if env.Provider != nil {
		// Stands in for a logout at the provider: the development provider
		// sends a logout token to this application's back-channel route.
		mux.HandleFunc("POST /simulate", func(w http.ResponseWriter, r *http.Request) {
			claims := oidc.FromRequest(r).IDTokenClaims()
			sub, sid := claims.String("sub"), claims.String("sid")
			if r.FormValue("by") == "sub" {
				sid = ""
			}
			resp, err := env.Provider.SendBackchannelLogout(r.Context(), cfg.BaseURL+"/backchannel-logout", sub, sid)
			if err != nil {
				http.Error(w, "sending the logout token failed: "+err.Error(), http.StatusBadGateway)
				return
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				http.Error(w, fmt.Sprintf("the back-channel route answered %d: %s", resp.StatusCode, body), http.StatusBadGateway)
				return
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		})
	}

	// The provider's POST carries no Origin or Sec-Fetch-Site header, so
	// cross-origin protection lets it through; browsers' cross-site POSTs
	// to /simulate are refused.
	handler := http.NewCrossOriginProtection().Handler(auth(mux))
	log.Fatal(http.ListenAndServe(env.Addr, handler))
}
