package oidc

// New reports every invalid option at once (errors.Join of *ConfigError),
// names the environment variable where one applies, and leaves out the
// follow-on errors of an option that is itself invalid.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configErrors returns every *ConfigError in err.
func configErrors(t *testing.T, err error) []*ConfigError {
	t.Helper()
	require.Error(t, err)
	var out []*ConfigError
	var walk func(error)
	walk = func(e error) {
		switch e := e.(type) {
		case *ConfigError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			t.Fatalf("unexpected error %T in %v", e, err)
		}
	}
	walk(err)
	return out
}

// options returns the Option of each error, in order.
func options(errs []*ConfigError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Option
	}
	return out
}

func TestResolveReportsEveryProblem(t *testing.T) {
	t.Parallel()
	cfg := Config{
		// The README's form, with SECRET unset.
		Secret:        Secrets{""},
		IssuerBaseURL: testIssuer,
		BaseURL:       testBaseURL,
		// No ClientID and no CLIENT_ID.
		AuthorizationParams: map[string]string{"response_type": "code"}, // and no ClientSecret
		HTTPTimeout:         time.Millisecond,
		Session:             SessionConfig{Name: "my session"},
		LookupEnv:           noEnv,
	}
	for _, build := range []struct {
		name string
		fn   func(Config) error
	}{
		{"resolve", func(c Config) error { _, err := resolve(c); return err }},
		{"New", func(c Config) error { _, err := New(c); return err }},
	} {
		t.Run(build.name, func(t *testing.T) {
			t.Parallel()
			err := build.fn(cfg)
			errs := configErrors(t, err)
			assert.Equal(t, []string{"Secret[0]", "ClientID", "ClientSecret", "Session.Name", "HTTPTimeout"}, options(errs), "%v", err)

			// Each names its option, and the environment variable where
			// one applies.
			want := map[string]string{
				"Secret[0]":    "the SECRET environment variable may be unset",
				"ClientID":     "set Config.ClientID or the CLIENT_ID environment variable",
				"ClientSecret": `is required for response_type "code" with client_secret_basic; set Config.ClientSecret or the CLIENT_SECRET environment variable`,
				"Session.Name": "may contain only",
				"HTTPTimeout":  "at least 500ms",
			}
			for _, e := range errs {
				assert.Contains(t, e.Reason, want[e.Option], e.Option)
				assert.Contains(t, err.Error(), e.Error(), "one line per problem")
			}
			assert.Equal(t, len(errs), strings.Count(err.Error(), "oidc: invalid config: "))

			// The usual checks keep working.
			assert.ErrorIs(t, err, ErrInvalidConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "Secret[0]", ce.Option, "errors.As finds the first problem")
		})
	}
}

// TestResolveOneProblemOneError: a single mistake is reported once, as a
// plain *ConfigError, even when other checks depend on the option; the
// checks that do not depend on it still run.
func TestResolveOneProblemOneError(t *testing.T) {
	t.Parallel()
	code := func(c *Config) { c.AuthorizationParams = map[string]string{"response_type": "code"} }
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"an invalid BaseURL hides the cookie and redirect checks that need it",
			func(c *Config) {
				c.BaseURL = "example.org"
				c.Session.Cookie.Secure = Bool(true)
				c.Session.Name = "__Host-appSession"
				c.Routes.PostLogoutRedirect = "https://evil.example/"
			},
			[]string{"BaseURL"}},
		{"an invalid response_type hides the client-authentication checks that need it",
			func(c *Config) { c.AuthorizationParams = map[string]string{"response_type": "token"} },
			[]string{`AuthorizationParams["response_type"]`}},
		{"a missing ClientSecret is reported once for the HS256 ID token and the code flow",
			func(c *Config) {
				code(c)
				c.IDTokenSigningAlg = "HS256"
			},
			[]string{"ClientSecret"}},
		{"an invalid login route hides the back-channel route comparison",
			func(c *Config) {
				c.Routes.Login = "//evil"
				c.BackchannelLogout = &BackchannelLogoutConfig{Store: NewMemoryStore()}
			},
			[]string{"Routes.Login"}},
		{"rolling false with a sub-second RollingDuration is one problem",
			func(c *Config) {
				c.Session.Rolling = Bool(false)
				c.Session.RollingDuration = time.Millisecond
			},
			[]string{"Session.RollingDuration"}},
		{"an invalid session SameSite hides the transaction cookie checks, not its own",
			func(c *Config) {
				c.Session.Cookie.SameSite = 42
				c.TransactionCookie.MaxAge = time.Second
			},
			[]string{"Session.Cookie.SameSite", "TransactionCookie.MaxAge"}},
		{"independent problems of the client authentication are all reported",
			func(c *Config) {
				code(c)
				c.UseMTLS = true
				c.ClientSecret = "s"
				c.ClientAssertionSigningAlg = "RS256"
			},
			[]string{"HTTPClient", "ClientSecret", "ClientAssertionSigningAlg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := resolveWith(tt.mod)
			assert.Equal(t, tt.want, options(configErrors(t, err)), "%v", err)
			if len(tt.want) == 1 {
				var ce *ConfigError
				assert.True(t, errors.As(err, &ce))
				_, plain := err.(*ConfigError)
				assert.True(t, plain, "a single problem is a plain *ConfigError")
			}
		})
	}
}

// TestResolveNamesEnvironmentVariables: every option with an environment
// fallback names the variable when it is missing, and says where an invalid
// value came from (without echoing it).
func TestResolveNamesEnvironmentVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    Config
		option string
		reason string
	}{
		{"missing secret", Config{}, "Secret", "SECRET environment variable"},
		{"missing issuer", Config{}, "IssuerBaseURL", "ISSUER_BASE_URL environment variable"},
		{"missing base URL", Config{}, "BaseURL", "BASE_URL environment variable"},
		{"missing client id", Config{}, "ClientID", "CLIENT_ID environment variable"},
		{"empty Secret[0]", Config{Secret: Secrets{""}}, "Secret[0]", `os.Getenv("SECRET"), the SECRET environment variable may be unset`},
		{"short SECRET", Config{LookupEnv: fakeEnv(map[string]string{"SECRET": "short"})}, "Secret[0]",
			"read from the SECRET environment variable"},
		{"invalid ISSUER_BASE_URL", Config{LookupEnv: fakeEnv(map[string]string{"ISSUER_BASE_URL": "op.example"})}, "IssuerBaseURL",
			"read from the ISSUER_BASE_URL environment variable"},
		{"invalid BASE_URL", Config{LookupEnv: fakeEnv(map[string]string{"BASE_URL": "example.org"})}, "BaseURL",
			"read from the BASE_URL environment variable"},
		{"HS256 without a client secret", Config{IDTokenSigningAlg: "HS256"}, "ClientSecret", "CLIENT_SECRET environment variable"},
		{"client_secret_post without a client secret", Config{ClientAuthMethod: "client_secret_post"}, "ClientSecret",
			`for the ClientAuthMethod "client_secret_post"; set Config.ClientSecret or the CLIENT_SECRET environment variable`},
		{"PAR without a client secret", Config{PushedAuthorizationRequests: true}, "ClientSecret",
			"PushedAuthorizationRequests and client_secret_basic; set Config.ClientSecret or the CLIENT_SECRET"},
		{"a short CLIENT_SECRET for client_secret_jwt", Config{
			ClientAuthMethod: "client_secret_jwt", LookupEnv: fakeEnv(map[string]string{"CLIENT_SECRET": "short-env-secret"}),
		}, "ClientSecret", "read from the CLIENT_SECRET environment variable"},
		{"AUTH0_MTLS without an HTTPClient", Config{LookupEnv: fakeEnv(map[string]string{"AUTH0_MTLS": "true"})}, "HTTPClient",
			"AUTH0_MTLS environment variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.cfg.LookupEnv == nil {
				tt.cfg.LookupEnv = noEnv
			}
			_, err := resolve(tt.cfg)
			var found *ConfigError
			for _, e := range configErrors(t, err) {
				if e.Option == tt.option {
					found = e
				}
			}
			require.NotNil(t, found, "no %s error in %v", tt.option, err)
			assert.Contains(t, found.Reason, tt.reason)
			for _, v := range []string{"short-env-secret", "op.example", "example.org"} {
				assert.NotContains(t, found.Reason, v, "values are not echoed")
			}
		})
	}
}

// TestResolveTokenEndpointParamsReserved: Config.TokenEndpointParams keys
// that the code or refresh request sets itself were skipped silently; now
// New refuses each of them.
func TestResolveTokenEndpointParamsReserved(t *testing.T) {
	t.Parallel()
	keys := make([]string, 0, len(tokenParamsReserved))
	for k := range tokenParamsReserved {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			t.Parallel()
			_, err := resolveWith(func(c *Config) {
				c.ClientSecret = "__test_client_secret__"
				c.AuthorizationParams = map[string]string{"response_type": "code"}
				c.TokenEndpointParams = map[string]string{k: "x", "audience": "https://api.example"}
			})
			requireConfigError(t, err, fmt.Sprintf("TokenEndpointParams[%q]", k))
		})
	}
	t.Run("other keys are accepted", func(t *testing.T) {
		t.Parallel()
		s, err := resolveWith(func(c *Config) {
			c.ClientSecret = "__test_client_secret__"
			c.AuthorizationParams = map[string]string{"response_type": "code"}
			c.TokenEndpointParams = map[string]string{"audience": "https://api.example", "resource": "https://r.example"}
		})
		require.NoError(t, err)
		assert.Equal(t, "https://api.example", s.tokenParams["audience"])
	})
	t.Run("AuthorizationParams client_id", func(t *testing.T) {
		t.Parallel()
		_, err := resolveWith(func(c *Config) { c.AuthorizationParams = map[string]string{"client_id": "other"} })
		requireConfigError(t, err, `AuthorizationParams["client_id"]`)
	})
}
