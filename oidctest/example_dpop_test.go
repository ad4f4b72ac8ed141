package oidctest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/openidconnect-go/oidc/oidctest"
)

// A DPoP-bound token for one of two APIs, refused by the other one and
// refused as a Bearer token: what the provider, its resources and the
// proof helpers do for a client's tests.
func ExampleProvider_Resource() {
	p, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{
		DPoP:      true,
		Resources: []string{"https://api-a.example", "https://api-b.example"},
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	apiA := httptest.NewServer(p.Resource("https://api-a.example"))
	defer apiA.Close()
	apiB := httptest.NewServer(p.Resource("https://api-b.example"))
	defer apiB.Close()
	key, err := oidctest.NewDPoPKey("ES256")
	if err != nil {
		panic(err)
	}

	// Log in (auto-login) for both APIs, and redeem the code for api-a.
	verifier := strings.Repeat("v", 43)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(p.URL() + oidctest.PathAuthorize + "?" + url.Values{
		"client_id": {p.ClientID()}, "redirect_uri": {"http://app.example/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "resource": {"https://api-a.example", "https://api-b.example"},
		// S256 is the same base64url(SHA-256) as a proof's ath.
		"code_challenge": {oidctest.AccessTokenHash(verifier)}, "code_challenge_method": {"S256"},
	}.Encode())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"http://app.example/cb"},
		"code_verifier": {verifier}, "resource": {"https://api-a.example"},
	}
	req, _ := http.NewRequest(http.MethodPost, p.URL()+oidctest.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID(), p.ClientSecret())
	proof, _ := oidctest.DPoPProof(key, http.MethodPost, p.URL()+oidctest.PathToken, "", "")
	req.Header.Set("DPoP", proof)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println("token type:", tok.TokenType)

	call := func(api, scheme string) int {
		req, _ := http.NewRequest(http.MethodGet, api+"/items", nil)
		req.Header.Set("Authorization", scheme+" "+tok.AccessToken)
		if scheme == "DPoP" {
			proof, _ := oidctest.DPoPProof(key, http.MethodGet, api+"/items", "", tok.AccessToken)
			req.Header.Set("DPoP", proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("api-a with DPoP:", call(apiA.URL, "DPoP"))
	fmt.Println("api-a as Bearer:", call(apiA.URL, "Bearer"))
	fmt.Println("api-b with DPoP:", call(apiB.URL, "DPoP"))
	// Output:
	// token type: DPoP
	// api-a with DPoP: 200
	// api-a as Bearer: 401
	// api-b with DPoP: 401
}
