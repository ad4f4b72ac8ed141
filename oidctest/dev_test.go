package oidctest

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envMap is a fake environment.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeDotEnv(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestDevWithProvider(t *testing.T) {
	t.Parallel()
	t.Run("defaults: interactive provider, generated secret, banner", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		env, err := dev(&out, envMap(nil), filepath.Join(t.TempDir(), "missing.env"), nil)
		require.NoError(t, err)
		defer env.Close()
		require.NotNil(t, env.Provider)
		assert.Equal(t, env.Provider.URL(), env.IssuerBaseURL)
		assert.Equal(t, "http://localhost:3000", env.BaseURL)
		assert.Equal(t, ":3000", env.Addr)
		assert.Equal(t, env.Provider.ClientID(), env.ClientID)
		assert.Equal(t, env.Provider.ClientSecret(), env.ClientSecret)
		assert.GreaterOrEqual(t, len(env.Secret), 32)
		assert.True(t, env.Provider.snapshot().Interactive)
		assert.Equal(t, "dev-user", env.Provider.snapshot().Subject)

		text := out.String()
		assert.Contains(t, text, "Development provider — not for production")
		assert.Contains(t, text, "runs at "+env.Provider.URL())
		assert.Contains(t, text, "Sign in with any user name.")
		assert.Contains(t, text, "generated secret")
		assert.Contains(t, text, "Open http://localhost:3000 in your browser.")
		assert.NotContains(t, text, env.Secret, "the secret is never printed")
		assert.NotContains(t, text, env.ClientSecret)

		resp, err := http.Get(env.IssuerBaseURL + PathDiscovery)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	t.Run("settings from the environment and .env; environment wins", func(t *testing.T) {
		t.Parallel()
		path := writeDotEnv(t, strings.Join([]string{
			"# a comment",
			"",
			"export PORT=4000",
			`CLIENT_ID="from-file"`,
			"SECRET='file secret that is long enough'",
			"BASE_URL=http://file.example",
			"not a setting",
			"=no key",
			"DEV_PROVIDER_AUTOLOGIN=true",
		}, "\n"))
		var out bytes.Buffer
		env, err := dev(&out, envMap(map[string]string{"BASE_URL": "http://env.example:4000", "CLIENT_ID": "  "}), path,
			[]func(*Options){nil, func(o *Options) { o.Claims = map[string]any{"role": "editor"} }})
		require.NoError(t, err)
		defer env.Close()
		assert.Equal(t, ":4000", env.Addr)
		assert.Equal(t, "http://env.example:4000", env.BaseURL, "the environment wins")
		assert.Equal(t, "from-file", env.ClientID, "a blank variable does not hide the file")
		assert.Equal(t, "from-file", env.Provider.ClientID())
		assert.Equal(t, "file secret that is long enough", env.Secret)
		o := env.Provider.snapshot()
		assert.False(t, o.Interactive, "DEV_PROVIDER_AUTOLOGIN=true")
		assert.Equal(t, "editor", o.Claims["role"], "adjust functions run")
		assert.Contains(t, out.String(), "Every visitor is signed in as dev-user.")
		assert.NotContains(t, out.String(), "generated secret")
	})
}

func TestDevWithIssuer(t *testing.T) {
	t.Parallel()
	t.Run("no provider is started", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		adjusted := false
		env, err := dev(&out, envMap(map[string]string{
			"ISSUER_BASE_URL": "https://issuer.example", "CLIENT_ID": "cid", "CLIENT_SECRET": "csecret",
			"SECRET": "a long, random string", "PORT": "8080",
		}), filepath.Join(t.TempDir(), ".env"), []func(*Options){func(*Options) { adjusted = true }})
		require.NoError(t, err)
		defer env.Close()
		assert.Equal(t, &DevEnv{
			IssuerBaseURL: "https://issuer.example", BaseURL: "http://localhost:8080", ClientID: "cid",
			ClientSecret: "csecret", Secret: "a long, random string", Addr: ":8080",
		}, env)
		assert.False(t, adjusted)
		assert.Equal(t, "Open http://localhost:8080 in your browser.\n", out.String())
	})
	t.Run("SECRET is required", func(t *testing.T) {
		t.Parallel()
		_, err := dev(nil, envMap(map[string]string{"ISSUER_BASE_URL": "https://issuer.example"}),
			filepath.Join(t.TempDir(), ".env"), nil)
		assert.ErrorContains(t, err, "SECRET is required")
	})
	t.Run("unreadable .env", func(t *testing.T) {
		t.Parallel()
		_, err := dev(nil, envMap(nil), t.TempDir(), nil) // a directory
		assert.Error(t, err)
	})
}

// TestDev runs Dev itself, with the process environment and a .env file in
// the current directory.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte("SECRET=from the dot env file\n"), 0o600))
	t.Chdir(dir)
	for _, k := range []string{"ISSUER_BASE_URL", "BASE_URL", "CLIENT_ID", "CLIENT_SECRET", "SECRET", "DEV_PROVIDER_AUTOLOGIN"} {
		t.Setenv(k, "")
	}
	t.Setenv("PORT", "3999")
	env, err := Dev(nil)
	require.NoError(t, err)
	defer env.Close()
	assert.Equal(t, ":3999", env.Addr)
	assert.Equal(t, "from the dot env file", env.Secret)
	assert.NotNil(t, env.Provider)

	var nilEnv *DevEnv
	nilEnv.Close()
}
