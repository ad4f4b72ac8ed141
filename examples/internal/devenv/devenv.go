// Package devenv reads the examples' settings from the environment or a .env
// file and, when no provider is configured, starts the embedded development
// provider from oidctest.
package devenv

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/oidctest"
)

// Env holds what an example needs to start.
type Env struct {
	// Config has IssuerBaseURL, BaseURL, ClientID, ClientSecret and Secret
	// filled in.
	Config oidc.Config
	// Addr is the address to listen on (":" + PORT).
	Addr string
	// Provider is the embedded development provider, or nil when
	// ISSUER_BASE_URL is set. Close it when done.
	Provider *oidctest.Provider
}

// Load reads PORT (default 3000), ISSUER_BASE_URL, BASE_URL, CLIENT_ID,
// CLIENT_SECRET and SECRET from the environment, or from a .env file in the
// current directory (the environment wins). Without ISSUER_BASE_URL it
// starts the development provider on 127.0.0.1 and prints a banner to out.
// providerOpts adjusts the development provider.
func Load(out io.Writer, providerOpts func(*oidctest.Options)) (*Env, error) {
	vars := map[string]string{}
	if err := readDotEnv(".env", vars); err != nil {
		return nil, err
	}
	get := func(k, def string) string {
		if v, ok := os.LookupEnv(k); ok && v != "" {
			return v
		}
		if v := vars[k]; v != "" {
			return v
		}
		return def
	}
	port := get("PORT", "3000")
	env := &Env{Addr: ":" + port}
	baseURL := get("BASE_URL", "http://localhost:"+port)
	cfg := oidc.Config{
		IssuerBaseURL: get("ISSUER_BASE_URL", ""),
		BaseURL:       baseURL,
		ClientID:      get("CLIENT_ID", ""),
		ClientSecret:  oidc.Secret(get("CLIENT_SECRET", "")),
	}
	if s := get("SECRET", ""); s != "" {
		cfg.Secret = oidc.Secrets{s}
	}
	if cfg.IssuerBaseURL == "" {
		// DEV_PROVIDER_AUTOLOGIN=true logs every visitor in as "dev-user"
		// without a page (for load tests and scripts).
		opts := oidctest.Options{Interactive: get("DEV_PROVIDER_AUTOLOGIN", "") != "true", Subject: "dev-user"}
		if cfg.ClientID != "" {
			opts.ClientID = cfg.ClientID
		}
		if providerOpts != nil {
			providerOpts(&opts)
		}
		p, err := oidctest.NewServer("127.0.0.1:0", opts)
		if err != nil {
			return nil, fmt.Errorf("starting the development provider: %w", err)
		}
		env.Provider = p
		cfg.IssuerBaseURL = p.URL()
		cfg.ClientID = p.ClientID()
		cfg.ClientSecret = oidc.Secret(p.ClientSecret())
		if len(cfg.Secret) == 0 {
			cfg.Secret = oidc.Secrets{rand.Text() + rand.Text()}
		}
		printBanner(out, []string{
			"Development provider — not for production",
			"No ISSUER_BASE_URL is set, so an embedded OpenID provider",
			"runs at " + p.URL(),
			"Sign in with any user name. Sessions use a generated secret",
			"and end when the process stops.",
		})
	}
	cfg.LookupEnv = func(string) (string, bool) { return "", false } // everything is read above
	env.Config = cfg
	fmt.Fprintf(out, "Open %s in your browser.\n", baseURL)
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

// Close stops the development provider, if one runs.
func (e *Env) Close() {
	if e.Provider != nil {
		e.Provider.Close()
	}
}

// readDotEnv reads KEY=VALUE lines from path into vars; a missing file is
// fine. Lines starting with # and blank lines are skipped; values may be
// quoted.
func readDotEnv(path string, vars map[string]string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
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
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[strings.TrimSpace(k)] = v
	}
	return sc.Err()
}
