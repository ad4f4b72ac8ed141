package oidc_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// The guard examples log users in with cookies minted by
// oidctest.SessionCookies, so no provider is needed.
const guardSecret = "a long, random string used to encrypt cookies"

// ClaimEquals lets a logged-in user through when a claim of the ID token has
// one value. A logged-in user with another value gets 403; an anonymous
// visitor is sent to the login page, or gets 401 when the request does not
// accept HTML, as with RequiresAuth.
func ExampleClaimEquals() {
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{guardSecret},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /admin", oidc.ClaimEquals("role", "admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "admin area")
	})))
	handler := auth(mux)

	for _, claims := range []map[string]any{
		{"sub": "alice", "role": "admin"},
		{"sub": "bob", "role": "viewer"},
		nil, // anonymous
	} {
		req := httptest.NewRequest(http.MethodGet, "http://localhost:3000/admin", nil)
		req.Header.Set("Accept", "application/json")
		if claims != nil {
			cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{Secret: guardSecret, Claims: claims})
			if err != nil {
				log.Fatal(err)
			}
			for _, c := range cookies {
				req.AddCookie(c)
			}
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(claims["sub"], rec.Code)
	}
	// Output:
	// alice 200
	// bob 403
	// <nil> 401
}

// ClaimIncludes checks a claim that holds a list (or a space-separated
// string, like scope): every listed value must be in it.
func ExampleClaimIncludes() {
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{guardSecret},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /reports", oidc.ClaimIncludes("permissions", "read:reports", "export:reports")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "reports") })))
	handler := auth(mux)

	for _, perms := range [][]string{
		{"read:reports", "export:reports", "delete:reports"},
		{"read:reports"},
	} {
		cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{
			Secret: guardSecret,
			Claims: map[string]any{"sub": "alice", "permissions": perms},
		})
		if err != nil {
			log.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "http://localhost:3000/reports", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(strings.Join(perms, " "), "->", rec.Code)
	}
	// Output:
	// read:reports export:reports delete:reports -> 200
	// read:reports -> 403
}

// ClaimCheck runs any check on the claims. Compare e-mail domains in full:
// strings.HasSuffix(email, "@corp.example") would also accept
// "a@evil.example@corp.example".
func ExampleClaimCheck() {
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: "https://issuer.example.com",
		BaseURL:       "http://localhost:3000",
		ClientID:      "my-client",
		Secret:        oidc.Secrets{guardSecret},
		AuthRequired:  oidc.Bool(false),
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	corpOnly := oidc.ClaimCheck(func(_ *oidc.Context, claims oidc.Claims) bool {
		local, domain, ok := strings.Cut(claims.String("email"), "@")
		verified, _ := claims["email_verified"].(bool)
		return ok && local != "" && domain == "corp.example" && verified
	})
	mux := http.NewServeMux()
	mux.Handle("GET /corp", corpOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "corp area")
	})))
	handler := auth(mux)

	for _, user := range []struct {
		email    string
		verified bool
	}{
		{"alice@corp.example", true},
		{"bob@corp.example", false},
		{"eve@evil.example@corp.example", true},
	} {
		cookies, err := oidctest.SessionCookies(oidctest.SessionOptions{
			Secret: guardSecret,
			Claims: map[string]any{"sub": "u", "email": user.email, "email_verified": user.verified},
		})
		if err != nil {
			log.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "http://localhost:3000/corp", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(user.email, user.verified, rec.Code)
	}
	// Output:
	// alice@corp.example true 200
	// bob@corp.example false 403
	// eve@evil.example@corp.example true 403
}

// Decode turns the claims into a struct, instead of type assertions such as
// claims["roles"].([]any).
func ExampleClaims_Decode() {
	claims := oidc.Claims{ // as from Context.User or Context.IDTokenClaims
		"sub":            "alice",
		"roles":          []any{"admin", "editor"},
		"email_verified": true,
		"updated_at":     float64(1735689600),
	}
	var user struct {
		Sub           string   `json:"sub"`
		Roles         []string `json:"roles"`
		EmailVerified bool     `json:"email_verified"`
		UpdatedAt     int64    `json:"updated_at"`
	}
	if err := claims.Decode(&user); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", user)

	var wrong struct {
		Roles string `json:"roles"`
	}
	fmt.Println(claims.Decode(&wrong) != nil)
	// Output:
	// {Sub:alice Roles:[admin editor] EmailVerified:true UpdatedAt:1735689600}
	// true
}
