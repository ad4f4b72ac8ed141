// Command access-an-api logs the user in with the authorization code flow,
// calls a small API with the access token, and refreshes the token when it
// has expired.
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
	"github.com/openidconnect-go/oidc/examples/internal/devenv"
	"github.com/openidconnect-go/oidc/oidctest"
)

func main() {
	env, err := devenv.Load(os.Stdout, func(o *oidctest.Options) {
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
	api := &api{issuer: env.Config.IssuerBaseURL, client: &http.Client{Timeout: 5 * time.Second}}
	go func() { log.Fatal(http.Serve(ln, api)) }()
	fmt.Printf("The API listens at %s.\n", apiURL)

	cfg := env.Config
	cfg.AuthorizationParams = map[string]string{
		"response_type": "code", // the code flow returns access and refresh tokens
		"scope":         "openid profile email offline_access",
	}
	auth, err := oidc.Auth(cfg)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		c := oidc.FromRequest(r)
		at, refreshed, err := accessToken(r.Context(), c, r.URL.Query().Has("refresh"))
		var te *oidc.TokenError
		switch {
		case errors.As(err, &te) && te.ErrorCode == "invalid_grant",
			errors.Is(err, oidc.ErrNoAccessToken), errors.Is(err, oidc.ErrNoRefreshToken):
			// The tokens are gone: a new login gets new ones.
			c.Login(w, r, oidc.LoginOptions{ReturnTo: "/"})
			return
		case err != nil:
			http.Error(w, "cannot get an access token: "+err.Error(), http.StatusBadGateway)
			return
		}
		// The session is saved with the response: refresh before writing.
		answer, status := callAPI(r.Context(), client, apiURL, at)

		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<h1>Hello %s</h1>", html.EscapeString(c.User().String("name")))
		if refreshed {
			fmt.Fprint(w, "<p><strong>The access token was refreshed for this request.</strong></p>")
		}
		fmt.Fprintf(w, "<p>Access token type %s, expires in %s.</p>", html.EscapeString(at.Type), at.ExpiresIn)
		fmt.Fprintf(w, "<p>The API answered %d: <code>%s</code></p>", status, html.EscapeString(answer))
		fmt.Fprint(w, `<p><a href="/">Reload</a> · <a href="/?refresh">Refresh the token now</a> · <a href="/logout">Log out</a></p>`)
	})
	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
}

// accessToken returns the session's access token, refreshed when it has
// expired (or when force is set).
func accessToken(ctx context.Context, c *oidc.Context, force bool) (*oidc.AccessToken, bool, error) {
	at := c.AccessToken()
	if at == nil {
		// No access token in the session (for example after an
		// invalid_grant ended the session): only a new login gets one.
		return nil, false, oidc.ErrNoAccessToken
	}
	// Refresh a little early, so the token does not expire on its way.
	if !force && time.Until(at.ExpiresAt) > 5*time.Second {
		return at, false, nil
	}
	at, err := c.Refresh(ctx, oidc.RefreshOptions{})
	if err == nil && at == nil {
		err = errors.New("the provider sent no expires_in")
	}
	return at, true, err
}

// callAPI calls the API with the access token.
func callAPI(ctx context.Context, client *http.Client, url string, at *oidc.AccessToken) (string, int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error(), 0
	}
	req.Header.Set("Authorization", "Bearer "+string(at.Token))
	resp, err := client.Do(req)
	if err != nil {
		return err.Error(), 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return strings.TrimSpace(string(body)), resp.StatusCode
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
