package oidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// AccessTokenFor gets a token for each API that the login asked for
// (AuthorizationParams "resource", RFC 8707), from the session while it is
// fresh, else with the refresh token. Each API accepts only tokens issued
// for it.
func ExampleContext_AccessTokenFor() {
	const orders, billing = "https://orders.example/", "https://billing.example/"
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice", Resources: []string{orders, billing}})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	ordersAPI := httptest.NewServer(op.Resource(orders)) // a fake API for tests
	defer ordersAPI.Close()

	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL: op.URL(),
		BaseURL:       "http://" + app.Listener.Addr().String(),
		ClientID:      op.ClientID(),
		ClientSecret:  oidc.Secret(op.ClientSecret()),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthorizationParams: map[string]string{
			"response_type": "code",
			"resource":      orders + " " + billing, // each is sent as its own parameter
		},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := oidc.FromRequest(r).AccessTokenFor(r.Context(), orders)
		if errors.Is(err, oidc.ErrInvalidTarget) {
			http.Error(w, "the provider does not know the API", http.StatusBadGateway)
			return
		} else if err != nil {
			http.Error(w, "cannot get a token for the API", http.StatusBadGateway)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, ordersAPI.URL+"/orders", nil)
		req.Header.Set("Authorization", tok.Type+" "+string(tok.Token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, "the API cannot be reached", http.StatusBadGateway)
			return
		}
		_ = resp.Body.Close()
		fmt.Fprintf(w, "%s token for the orders API: %s", tok.Type, resp.Status)
	}))
	app.Start()

	b := oidctest.NewBrowser(nil)
	for range 2 { // the second request uses the token kept in the session
		resp, err := b.Login(app.URL+"/", "alice")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	fmt.Println("token requests:", op.Calls(oidctest.EndpointToken)-1) // less the login's
	// Output:
	// Bearer token for the orders API: 200 OK
	// Bearer token for the orders API: 200 OK
	// token requests: 1
}

// ProfileFAPI2 checks the client against the FAPI 2.0 Security Profile
// when it is built: every violation is a *ConfigError naming the option.
// Unset options get the profile's defaults (the code flow, PAR, PS256 ID
// tokens, the iss parameter required).
func ExampleProfile() {
	cfg := oidc.Config{
		Profile:           oidc.ProfileFAPI2,
		IssuerBaseURL:     "https://op.example",
		BaseURL:           "https://app.example",
		ClientID:          "app",
		ClientSecret:      "a client secret is not enough under FAPI 2.0",
		IDTokenSigningAlg: "RS256",
		Secret:            oidc.Secrets{"a long, random string used to encrypt cookies"},
		LookupEnv:         func(string) (string, bool) { return "", false },
	}
	_, err := oidc.New(cfg)
	var list interface{ Unwrap() []error }
	if errors.As(err, &list) {
		for _, e := range list.Unwrap() {
			var ce *oidc.ConfigError
			if errors.As(e, &ce) {
				fmt.Println(ce.Option)
			}
		}
	}

	// private_key_jwt and DPoP, each with its own P-256 key (ES256), and the
	// default ID-token algorithm (PS256 under the profile). Real keys come
	// from files or a KMS (see ParsePrivateKeyPEM).
	assertionKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	cfg.ClientSecret, cfg.IDTokenSigningAlg = "", ""
	cfg.ClientAssertionSigningKey = assertionKey
	cfg.DPoP = &oidc.DPoPConfig{Key: dpopKey}
	_, err = oidc.New(cfg)
	fmt.Println("FAPI 2.0 configuration accepted:", err == nil)
	// Output:
	// ClientAuthMethod
	// DPoP
	// IDTokenSigningAlg
	// FAPI 2.0 configuration accepted: true
}
