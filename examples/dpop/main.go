// Command dpop logs the user in with DPoP-bound tokens (RFC 9449) and
// calls a DPoP-protected API through Context.Client.
//
//	go run ./examples/dpop
//
// then open http://localhost:3000. The embedded development provider runs
// with DPoP on and asks for server nonces; the API is its protected
// resource, served on a port of its own, and accepts the access token only
// with a proof of the application's key. The page also sends the same
// token without a proof, as a thief would, and shows the refusal.
//
// Without DPOP_KEY_FILE the key is generated at start (development only:
// BaseURL is http on localhost), so DPoP-bound sessions end with the
// process. DPOP_KEY_FILE names a PEM private key (P-256, Ed25519 or RSA)
// to use instead, as every instance of a real deployment must share one:
//
//	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dpop.pem
package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

func main() {
	env, err := oidctest.Dev(os.Stdout, func(o *oidctest.Options) {
		o.DPoP = true
		o.DPoPNonce = true         // the token endpoint asks for nonces
		o.ResourceDPoPNonce = true // and so do userinfo and the API
	})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	var apiURL string
	if env.Provider != nil {
		// The API: the development provider's protected resource for the
		// tokens it issues without a resource indicator.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		apiURL = "http://" + ln.Addr().String() + "/api/greeting"
		api := env.Provider.Resource(env.Provider.UserinfoAudience())
		go func() { log.Fatal(http.Serve(ln, api)) }()
		fmt.Printf("The DPoP-protected API listens at %s.\n", apiURL)
	}

	dpop := &oidc.DPoPConfig{} // no key: generated, with a warning, in development
	if file := os.Getenv("DPOP_KEY_FILE"); file != "" {
		pem, err := os.ReadFile(file)
		if err != nil {
			log.Fatal(err)
		}
		var key crypto.Signer
		if key, err = oidc.ParsePrivateKeyPEM(pem); err != nil {
			log.Fatal(err)
		}
		dpop.Key = key
	}
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: env.IssuerBaseURL,
		BaseURL:       env.BaseURL,
		ClientID:      env.ClientID,
		ClientSecret:  oidc.Secret(env.ClientSecret),
		Secret:        oidc.Secrets{env.Secret},
		AuthorizationParams: map[string]string{
			"response_type": "code", // DPoP binds the tokens of the code flow
			"scope":         "openid profile email offline_access",
		},
		DPoP: dpop,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var b strings.Builder
		name := c.User().String("name")
		if name == "" {
			name = c.User().String("sub")
		}
		fmt.Fprintf(&b, "<h1>Hello %s</h1>", html.EscapeString(name))
		at := c.AccessToken()
		if at != nil {
			fmt.Fprintf(&b, "<p>Access token type <code>%s</code>, expires in %s.</p>", html.EscapeString(at.Type), at.ExpiresIn)
		}

		// Userinfo is DPoP-protected too: FetchUserInfo sends the proof.
		if claims, err := c.FetchUserInfo(ctx); err != nil {
			fmt.Fprintf(&b, "<p>Userinfo failed: %s</p>", html.EscapeString(err.Error()))
		} else {
			fmt.Fprintf(&b, "<p>Userinfo says you are <code>%s</code>.</p>", html.EscapeString(claims.String("sub")))
		}

		if apiURL != "" {
			// c.Client sends "Authorization: DPoP <token>" with a fresh
			// proof, answers the API's nonce challenge and refreshes the
			// token when it is about to expire. Call it before writing the
			// response: a refreshed session is saved with it.
			status, body, err := call(c.Client(ctx), apiURL, "", "")
			if err != nil {
				fmt.Fprintf(&b, "<p>The API call failed: %s</p>", html.EscapeString(err.Error()))
			} else {
				fmt.Fprintf(&b, "<p>With the proof, the API answered %d: <code>%s</code></p>", status, html.EscapeString(body))
			}
			// A thief who has the token but not the key.
			if at := c.AccessToken(); at != nil {
				status, body, err = call(http.DefaultClient, apiURL, "DPoP", string(at.Token))
				if err == nil {
					fmt.Fprintf(&b, "<p>The same token without a proof: %d <code>%s</code></p>", status, html.EscapeString(body))
				}
			}
		}
		fmt.Fprint(&b, `<p><a href="/">Reload</a> · <a href="/logout">Log out</a></p>`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, b.String())
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}

// call GETs target with client and, when scheme is set, an Authorization
// header of its own, and returns the status and the start of the body.
func call(client *http.Client, target, scheme, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, "", err
	}
	if scheme != "" {
		req.Header.Set("Authorization", scheme+" "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		var pe *oidc.ProviderError
		if errors.As(err, &pe) && pe.Code == "invalid_grant" {
			return 0, "", errors.New("the session's tokens are gone; log in again")
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}
