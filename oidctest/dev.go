package oidctest

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// DevEnv is the configuration of an application in development, found by
// [Dev]. Its fields are named after the oidc.Config fields they go into.
type DevEnv struct {
	// IssuerBaseURL is ISSUER_BASE_URL, or the URL of the development
	// provider.
	IssuerBaseURL string
	// BaseURL is BASE_URL, default "http://localhost:" + PORT.
	BaseURL string
	// ClientID is CLIENT_ID, or the development provider's client id.
	ClientID string
	// ClientSecret is CLIENT_SECRET, or the development provider's client
	// secret.
	ClientSecret string
	// Secret is SECRET, the key of the session cookies. With the
	// development provider and no SECRET it is a random value, so sessions
	// end when the process stops.
	Secret string
	// Addr is the address to listen on: ":" + PORT (default 3000).
	Addr string
	// Provider is the development provider, or nil when ISSUER_BASE_URL is
	// set. Close stops it.
	Provider *Provider
}

// Close stops the development provider, if one runs. It is safe to call on
// a nil *DevEnv.
func (e *DevEnv) Close() {
	if e != nil && e.Provider != nil {
		e.Provider.Close()
	}
}

// Dev reads an application's settings for local development and, when no
// provider is configured, starts a development provider, so that an
// application runs with no setup at all:
//
//	env, err := oidctest.Dev(os.Stdout)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer env.Close()
//	auth, err := oidc.Auth(oidc.Config{
//		IssuerBaseURL: env.IssuerBaseURL,
//		BaseURL:       env.BaseURL,
//		ClientID:      env.ClientID,
//		ClientSecret:  oidc.Secret(env.ClientSecret),
//		Secret:        oidc.Secrets{env.Secret},
//	})
//	...
//	log.Fatal(http.ListenAndServe(env.Addr, auth(mux)))
//
// The settings are the environment variables PORT (default 3000),
// ISSUER_BASE_URL, BASE_URL, CLIENT_ID, CLIENT_SECRET and SECRET, or the
// same keys in a .env file in the current directory (KEY=VALUE lines,
// optionally quoted or prefixed with "export"; # starts a comment line). A
// non-empty environment variable wins over the file.
//
// Without ISSUER_BASE_URL, Dev starts a [Provider] on 127.0.0.1 with a
// random port, prints a banner saying so to out, and fills in its issuer,
// client id and secret (CLIENT_ID, when set, becomes the provider's client
// id). The provider shows a login page that accepts any user name;
// DEV_PROVIDER_AUTOLOGIN=true logs every visitor in as "dev-user" without a
// page instead, for scripts and load tests. The adjust functions may change
// the provider's [Options], for example to add claims. With
// ISSUER_BASE_URL set, SECRET is required.
//
// Dev finally prints where to open the application. out may be nil. It is
// meant for examples and local development, never for production.
func Dev(out io.Writer, adjust ...func(*Options)) (*DevEnv, error) {
	return dev(out, os.LookupEnv, ".env", adjust)
}

// dev is Dev with the environment and the .env path given.
func dev(out io.Writer, lookup func(string) (string, bool), dotEnv string, adjust []func(*Options)) (*DevEnv, error) {
	if out == nil {
		out = io.Discard
	}
	vars := map[string]string{}
	if err := readDotEnv(dotEnv, vars); err != nil {
		return nil, fmt.Errorf("oidctest: reading %s: %w", dotEnv, err)
	}
	get := func(k, def string) string {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		if v := vars[k]; v != "" {
			return v
		}
		return def
	}
	port := get("PORT", "3000")
	env := &DevEnv{
		IssuerBaseURL: get("ISSUER_BASE_URL", ""),
		BaseURL:       get("BASE_URL", "http://localhost:"+port),
		ClientID:      get("CLIENT_ID", ""),
		ClientSecret:  get("CLIENT_SECRET", ""),
		Secret:        get("SECRET", ""),
		Addr:          ":" + port,
	}
	if env.IssuerBaseURL != "" {
		if env.Secret == "" {
			return nil, errors.New("oidctest: SECRET is required when ISSUER_BASE_URL is set")
		}
		fmt.Fprintf(out, "Open %s in your browser.\n", env.BaseURL)
		return env, nil
	}

	opts := Options{Interactive: get("DEV_PROVIDER_AUTOLOGIN", "") != "true", Subject: "dev-user", ClientID: env.ClientID}
	for _, fn := range adjust {
		if fn != nil {
			fn(&opts)
		}
	}
	p, err := NewServer("127.0.0.1:0", opts)
	if err != nil {
		return nil, fmt.Errorf("oidctest: starting the development provider: %w", err)
	}
	env.Provider = p
	env.IssuerBaseURL, env.ClientID, env.ClientSecret = p.URL(), p.ClientID(), p.ClientSecret()
	lines := []string{
		"Development provider — not for production",
		"No ISSUER_BASE_URL is set, so an embedded OpenID provider",
		"runs at " + p.URL(),
	}
	if opts.Interactive {
		lines = append(lines, "Sign in with any user name.")
	} else {
		lines = append(lines, "Every visitor is signed in as "+opts.Subject+".")
	}
	if env.Secret == "" {
		env.Secret = rand.Text() + rand.Text()
		lines = append(lines, "Sessions use a generated secret and end", "when the process stops.")
	}
	printBanner(out, lines)
	fmt.Fprintf(out, "Open %s in your browser.\n", env.BaseURL)
	return env, nil
}

// printBanner prints lines in a box.
func printBanner(out io.Writer, lines []string) {
	width := 0
	for _, l := range lines {
		width = max(width, utf8.RuneCountInString(l))
	}
	bar := strings.Repeat("─", width+4)
	fmt.Fprintf(out, "\n  ┌%s┐\n", bar)
	for _, l := range lines {
		fmt.Fprintf(out, "  │  %s%s  │\n", l, strings.Repeat(" ", width-utf8.RuneCountInString(l)))
	}
	fmt.Fprintf(out, "  └%s┘\n\n", bar)
}

// readDotEnv reads KEY=VALUE lines from path into vars; a missing file is
// fine. Blank lines and lines starting with # are skipped, a leading
// "export " is ignored, and values may be quoted with " or '. Lines without
// "=" are skipped.
func readDotEnv(path string, vars map[string]string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	return sc.Err()
}
