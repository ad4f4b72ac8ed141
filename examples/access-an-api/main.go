// Command access-an-api logs the user in with the authorization code flow,
// calls a small API with the access token through Context.Client, which
// refreshes the token when it is about to expire.
//
//	go run ./examples/access-an-api
//
// then open http://localhost:3000. The API runs on its own port in the same
// process; it accepts a request only with a valid bearer token, which it
// checks by calling the provider's userinfo endpoint. The embedded
// development provider issues access tokens that live one minute, so a
// reload after a minute shows a refresh.
package main

import (
	"context"
	"encoding/json"
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
		o.AccessTokenLifetime = time.Minute
	})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()

	// The API, on a port of its own.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	apiURL := "http://" + ln.Addr().String() + "/api/greeting"
	api := &api{issuer: env.IssuerBaseURL, client: &http.Client{Timeout: 5 * time.Second}}
	go func() { log.Fatal(http.Serve(ln, api)) }()
	fmt.Printf("The API listens at %s.\n", apiURL)

	cfg := oidc.Config{
		IssuerBaseURL: env.IssuerBaseURL,
		BaseURL:       env.BaseURL,
		ClientID:      env.ClientID,
		ClientSecret:  oidc.Secret(env.ClientSecret),
		Secret:        oidc.Secrets{env.Secret},
	}
	cfg.AuthorizationParams = map[string]string{
		"response_type": "code", // the code flow returns access and refresh tokens
		"scope":         "openid profile email offline_access",
	}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		before := c.AccessToken()
		if r.URL.Query().Has("refresh") {
			// Refresh now, whatever the token's expiry.
			if _, err := c.Refresh(ctx, oidc.RefreshOptions{}); err != nil {
				tokenFailed(w, r, c, err)
				return
			}
		}
		// c.Client sends "Authorization: Bearer <token>" and refreshes the
		// token first when it expires within 10 seconds. Call the API before
		// writing the response: a refreshed session is saved with it.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := c.Client(ctx).Do(req)
		if err != nil {
			tokenFailed(w, r, c, err)
			return
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		after := c.AccessToken()

		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<h1>Hello %s</h1>", html.EscapeString(c.User().String("name")))
		if before != nil && after != nil && before.Token != after.Token {
			fmt.Fprint(w, "<p><strong>The access token was refreshed for this request.</strong></p>")
		}
		if after != nil {
			fmt.Fprintf(w, "<p>Access token type %s, expires in %s.</p>", html.EscapeString(after.Type), after.ExpiresIn)
		}
		fmt.Fprintf(w, "<p>The API answered %d: <code>%s</code></p>", resp.StatusCode, html.EscapeString(strings.TrimSpace(string(answer))))
		fmt.Fprint(w, `<p><a href="/">Reload</a> · <a href="/?refresh">Refresh the token now</a> · <a href="/logout">Log out</a></p>`)
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}

// tokenFailed answers a request whose access token could not be obtained.
func tokenFailed(w http.ResponseWriter, r *http.Request, c *oidc.Context, err error) {
	var pe *oidc.ProviderError
	switch {
	case errors.As(err, &pe) && pe.Code == "invalid_grant",
		errors.Is(err, oidc.ErrNoAccessToken), errors.Is(err, oidc.ErrNoRefreshToken),
		errors.Is(err, oidc.ErrSessionExpired):
		// The tokens are gone (an invalid_grant answer also ended the
		// session): a new login gets new ones.
		c.Login(w, r, oidc.LoginOptions{ReturnTo: "/"})
	default:
		// For example the provider or the API cannot be reached. The
		// error never contains a token.
		http.Error(w, "calling the API failed: "+err.Error(), http.StatusBadGateway)
	}
}

// api is the protected API. It validates bearer tokens by calling the
// provider's userinfo endpoint; a real API would rather verify JWT access
// tokens locally or use token introspection (RFC 7662).
type api struct {
	issuer string
	client *http.Client
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/api/greeting" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not_found"}`)
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"missing_token"}`)
		return
	}
	user, err := a.userinfo(r.Context(), token)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_token"}`)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{
		"message": "Hello " + user["sub"].(string) + ", from the API",
		"time":    time.Now().Format(time.TimeOnly),
	})
}

// userinfo asks the provider who the token belongs to.
func (a *api) userinfo(ctx context.Context, token string) (map[string]any, error) {
	var md struct {
		UserinfoEndpoint string `json:"userinfo_endpoint"`
	}
	if err := a.getJSON(ctx, strings.TrimRight(a.issuer, "/")+"/.well-known/openid-configuration", "", &md); err != nil {
		return nil, err
	}
	var user map[string]any
	if err := a.getJSON(ctx, md.UserinfoEndpoint, token, &user); err != nil {
		return nil, err
	}
	if sub, _ := user["sub"].(string); sub == "" {
		return nil, errors.New("no sub")
	}
	return user, nil
}

func (a *api) getJSON(ctx context.Context, url, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}
