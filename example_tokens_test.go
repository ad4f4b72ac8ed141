package oidc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// The token examples run an application with the authorization code flow
// against the embedded provider and log in with oidctest.Browser.

// AccessToken returns the session's access token; Refresh gets a new one
// with the refresh token when it has expired. Refresh before writing the
// response: the new tokens are saved with it.
func ExampleContext_AccessToken() {
	// A clock the example moves forward, shared by the provider and the
	// application (Config.Now).
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }

	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice", Now: now})
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
		ClientSecret:  oidc.Secret(op.ClientSecret()),
		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
		// The code flow gives the session an access token and, with
		// offline_access, a refresh token.
		AuthorizationParams: map[string]string{"response_type": "code", "scope": "openid profile offline_access"},
		Now:                 now,
		LookupEnv:           func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		at := c.AccessToken()
		if at == nil {
			// No access token (for example after the refresh token was
			// refused): only a new login gets one.
			c.Login(w, r, oidc.LoginOptions{})
			return
		}
		refreshed := false
		if at.IsExpired() {
			var err error
			if at, err = c.Refresh(r.Context(), oidc.RefreshOptions{}); err != nil || at == nil {
				var te *oidc.ProviderError
				if errors.As(err, &te) && te.Code == "invalid_grant" {
					c.Login(w, r, oidc.LoginOptions{}) // the session has ended
					return
				}
				http.Error(w, "cannot refresh the access token", http.StatusBadGateway)
				return
			}
			refreshed = true
		}
		// Send it with: req.Header.Set("Authorization", at.Type+" "+string(at.Token))
		fmt.Fprintf(w, "%s token, expires in %s, refreshed: %v", at.Type, at.ExpiresIn.Round(time.Minute), refreshed)
	}))
	app.Start()

	b := oidctest.NewBrowser(nil)
	show := func(resp *http.Response, err error) {
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	show(b.Login(app.URL+"/", "alice"))
	offset.Add(int64(2 * time.Hour)) // the provider's access tokens live 1 hour
	show(b.Get(app.URL + "/"))
	// Output:
	// Bearer token, expires in 1h0m0s, refreshed: false
	// Bearer token, expires in 1h0m0s, refreshed: true
}

// TokenSource hands the session's access token to code written for
// golang.org/x/oauth2. Token refreshes the token through the session when
// fewer than 10 seconds are left; the refresh token never leaves the
// session.
func ExampleContext_TokenSource() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL:       op.URL(),
		BaseURL:             "http://" + app.Listener.Addr().String(),
		ClientID:            op.ClientID(),
		ClientSecret:        oidc.Secret(op.ClientSecret()),
		Secret:              oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthorizationParams: map[string]string{"response_type": "code"},
		LookupEnv:           func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := oidc.FromRequest(r).TokenSource(r.Context()) // an oauth2.TokenSource
		tok, err := ts.Token()
		if errors.Is(err, oidc.ErrNoAccessToken) {
			http.Error(w, "log in with the code flow first", http.StatusUnauthorized)
			return
		} else if err != nil {
			http.Error(w, "cannot get an access token", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "type %s, valid %v, refresh token in the session only: %v",
			tok.Type(), tok.Valid(), tok.RefreshToken == "")
	}))
	app.Start()

	resp, err := oidctest.NewBrowser(nil).Login(app.URL+"/", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: type Bearer, valid true, refresh token in the session only: true
}

// Client returns an *http.Client that sends the session's access token with
// every request (and refreshes it first when it is about to expire). Here
// the API is the provider's userinfo endpoint, which accepts the token.
func ExampleContext_Client() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	apiURL := op.URL() + oidctest.PathUserinfo
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL:       op.URL(),
		BaseURL:             "http://" + app.Listener.Addr().String(),
		ClientID:            op.ClientID(),
		ClientSecret:        oidc.Secret(op.ClientSecret()),
		Secret:              oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthorizationParams: map[string]string{"response_type": "code"},
		LookupEnv:           func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Call the API before writing the response: a refreshed session is
		// saved with it.
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, apiURL, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := oidc.FromRequest(r).Client(r.Context()).Do(req)
		if err != nil {
			// Errors of the token source, such as oidc.ErrNoAccessToken or
			// a *oidc.ProviderError, can be told apart with errors.Is/As.
			http.Error(w, "calling the API failed", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var answer struct {
			Sub string `json:"sub"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		fmt.Fprintf(w, "the API answered %d for %s", resp.StatusCode, answer.Sub)
	}))
	app.Start()

	resp, err := oidctest.NewBrowser(nil).Login(app.URL+"/", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: the API answered 200 for alice
}

// FetchUserInfo asks the provider's userinfo endpoint about the logged-in
// user, with the session's access token. Nothing is stored in the session.
func ExampleContext_FetchUserInfo() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{
		Subject: "alice",
		Claims:  map[string]any{"email": "alice@example.com", "locale": "en-GB"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL:       op.URL(),
		BaseURL:             "http://" + app.Listener.Addr().String(),
		ClientID:            op.ClientID(),
		ClientSecret:        oidc.Secret(op.ClientSecret()),
		Secret:              oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthorizationParams: map[string]string{"response_type": "code", "scope": "openid profile email"},
		LookupEnv:           func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := oidc.FromRequest(r).FetchUserInfo(r.Context())
		if err != nil {
			// For example an expired access token (Refresh it), or
			// oidc.ErrUserInfoSubjectMismatch.
			http.Error(w, "userinfo failed", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "%s %s %s", info.String("sub"), info.String("email"), info.String("locale"))
	}))
	app.Start()

	resp, err := oidctest.NewBrowser(nil).Login(app.URL+"/", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: alice alice@example.com en-GB
}

// CustomTokenExchange exchanges the session's access token for a token for
// another API (RFC 8693). The result is not stored in the session.
func ExampleContext_CustomTokenExchange() {
	op, err := oidctest.NewServer("127.0.0.1:0", oidctest.Options{Subject: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()
	app := httptest.NewUnstartedServer(nil)
	defer app.Close()
	auth, err := oidc.Auth(oidc.Config{
		IssuerBaseURL:       op.URL(),
		BaseURL:             "http://" + app.Listener.Addr().String(),
		ClientID:            op.ClientID(),
		ClientSecret:        oidc.Secret(op.ClientSecret()),
		Secret:              oidc.Secrets{"a long, random string used to encrypt cookies"},
		AuthorizationParams: map[string]string{"response_type": "code"},
		LookupEnv:           func(string) (string, bool) { return "", false },
	})
	if err != nil {
		log.Fatal(err)
	}
	app.Config.Handler = auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := oidc.FromRequest(r).CustomTokenExchange(r.Context(), oidc.TokenExchangeOptions{
			Audience: "https://reports.example.com",
			Scope:    "read:reports",
			// SubjectToken defaults to the session's access token.
		})
		var pe *oidc.ProviderError
		if errors.As(err, &pe) {
			// pe.StatusCode is 401 for mfa_required, 400 for other refusals.
			http.Error(w, "token exchange refused: "+pe.Code, pe.StatusCode)
			return
		} else if err != nil {
			http.Error(w, "token exchange failed", http.StatusBadGateway)
			return
		}
		// Send res.AccessToken to https://reports.example.com.
		fmt.Fprintf(w, "%s, %s, scope %q, expires in %s", res.IssuedTokenType, res.TokenType, res.Scope, res.ExpiresIn)
	}))
	app.Start()

	resp, err := oidctest.NewBrowser(nil).Login(app.URL+"/", "alice")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: urn:ietf:params:oauth:token-type:access_token, bearer, scope "read:reports", expires in 1h0m0s
}
