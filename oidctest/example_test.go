package oidctest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/openidconnect-go/oidc/oidctest"
)

// A complete authorization code flow with PKCE against the provider, using
// golang.org/x/oauth2 and go-oidc as the relying party.
func Example() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{
		Claims: map[string]any{"email": "user@example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, op.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	cfg := oauth2.Config{
		ClientID:     op.ClientID(),
		ClientSecret: op.ClientSecret(),
		Endpoint:     provider.Endpoint(),
		RedirectURL:  "http://127.0.0.1:8080/callback",
		Scopes:       []string{oidc.ScopeOpenID, "email"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-0S6_WzA2Mj"))

	// The provider logs in Options.Subject at once and redirects back.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))

	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: op.ClientID()}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
	}
	_ = idToken.Claims(&claims)
	fmt.Println(idToken.Subject, idToken.Nonce, claims.Email)
	fmt.Println("token requests:", op.Calls(oidctest.EndpointToken))
	// Output:
	// user-1 n-0S6_WzA2Mj user@example.com
	// token requests: 1
}

// NewServer runs the provider outside tests, for example as the development
// identity provider of an example application. With Interactive set,
// /authorize shows a login page that accepts any user name.
func ExampleNewServer() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{
		Interactive:            true,
		RedirectURIs:           []string{"http://localhost:3000/callback"},
		PostLogoutRedirectURIs: []string{"http://localhost:3000/"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	// Point the application at op.URL() (issuerBaseURL), op.ClientID() and
	// op.ClientSecret().
	resp, err := http.Get(op.URL() + oidctest.PathDiscovery)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
		EndSession    string `json:"end_session_endpoint"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	fmt.Println(doc.Issuer == op.Issuer(), doc.Authorization == op.URL()+"/authorize", doc.EndSession == op.URL()+"/session/end")
	// Output: true true true
}

// IDToken mints a valid ID token directly, for tests that bypass the login
// flow (for example to seed a session).
func ExampleProvider_IDToken() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	raw := op.IDToken("alice", "nonce-1", map[string]any{"name": "Alice"})

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, op.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	tok, err := provider.Verifier(&oidc.Config{ClientID: op.ClientID()}).Verify(ctx, raw)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Subject, tok.Nonce)
	// Output: alice nonce-1
}

// MutateIDToken lets a test hand the relying party a broken token; here the
// audience is wrong, which a correct relying party must reject.
func ExampleOptions_mutateIDToken() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{
		MutateIDToken: func(header, claims map[string]any) {
			claims["aud"] = "someone-else"
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	// Obtain an ID token through the implicit flow.
	q := url.Values{
		"client_id":     {op.ClientID()},
		"redirect_uri":  {"http://127.0.0.1:8080/callback"},
		"response_type": {"id_token"},
		"scope":         {"openid"},
		"nonce":         {"n"},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(op.URL() + oidctest.PathAuthorize + "?" + q.Encode())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	frag, _ := url.ParseQuery(loc.Fragment)

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, op.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	_, err = provider.Verifier(&oidc.Config{ClientID: op.ClientID()}).Verify(ctx, frag.Get("id_token"))
	fmt.Println(err)
	// Output: oidc: expected audience "test-client" got ["someone-else"]
}

// SetDown simulates an identity-provider outage.
func ExampleProvider_SetDown() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	op.SetDown(true)
	resp, err := http.Get(op.URL() + oidctest.PathDiscovery)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, op.Calls(oidctest.EndpointDiscovery))
	// Output: 503 1
}

// RotateKeys replaces the signing key; the JWKS then lists only the new kid.
func ExampleProvider_RotateKeys() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	before := op.KeyID()
	op.RotateKeys()
	fmt.Println(before != op.KeyID())
	// Output: true
}
