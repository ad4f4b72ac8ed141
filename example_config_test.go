package oidc_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// orgError refuses a login; its StatusCode is the status of the error page.
type orgError struct{ org string }

func (e orgError) Error() string   { return fmt.Sprintf("organization %q may not log in", e.org) }
func (e orgError) StatusCode() int { return http.StatusForbidden }

// AfterCallback runs after the ID token of a login has been verified and
// before the session is saved. It can validate claims and refuse the login
// (no session is created), or change the session, for example to keep a
// value from the provider's answer.
func ExampleConfig_afterCallback() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Interactive: true})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://" + app.Listener.Addr().String(),
		ClientID:      op.ClientID(),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AfterCallback: func(_ http.ResponseWriter, r *http.Request, s oidc.Session, _ map[string]any) (oidc.Session, error) {
			// FromRequest(r) already sees the new ID token.
			claims := oidc.FromRequest(r).IDTokenClaims()
			org := map[string]string{"alice": "org_123", "mallory": "org_999"}[claims.String("sub")]
			if org != "org_123" {
				return s, orgError{org: org}
			}
			if s.Values == nil {
				s.Values = map[string]any{}
			}
			s.Values["org"] = org
			return s, nil
		},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		org, _ := c.Get("org")
		fmt.Fprintf(w, "%s of %s", c.User().String("sub"), org)
	}))
	app.Start()

	for _, user := range []string{"alice", "mallory"} {
		// The provider shows a login page; the browser types the name.
		resp, err := oidctest.NewBrowser(nil).Login(app.URL+"/", user)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			body = []byte("refused")
		}
		fmt.Println(user, resp.StatusCode, string(body))
	}
	// Output:
	// alice 200 alice of org_123
	// mallory 403 refused
}
