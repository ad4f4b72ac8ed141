package oidc

// Session values and tokens never reach the logs. Helpers are in
// session_test.go.

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// Logging

// Session values and tokens never reach the logs, at Debug level, through a
// code-flow login, session reads and writes, hostile and expired cookies, an
// oversized session and an IdP logout.
func TestSessionNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	logs := &sessLogBuf{}
	app := newTestApp(t, withProvider(oidctest.Options{Subject: "carol"}), withConfig(func(c *Config) {
		c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
		c.IDPLogout = true
		c.Logger = sessLogger(logs)
	}))
	var secrets []string
	keep := func(resp *http.Response) {
		for _, c := range resp.Cookies() {
			if c.Value != "" && (strings.HasPrefix(c.Name, "appSession") || strings.Contains(c.Name, "auth_verification")) {
				secrets = append(secrets, c.Value)
				if u, err := url.QueryUnescape(c.Value); err == nil && u != c.Value {
					secrets = append(secrets, u)
				}
			}
		}
	}
	b := app.browser()
	resp, _ := b.get(app.url("/login"))
	keep(resp)
	cb, method, vals := b.authorize(resp)
	secrets = append(secrets, vals.Get("code"), vals.Get("state"))
	resp, _ = b.deliver(cb, method, vals)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	keep(resp)
	sc := setCookies(resp, "appSession")
	require.Len(t, sc, 1)
	sessionValue := sc[0].Value
	_, sess, err := sessDecrypt(t, sessionValue, harnessSecret)
	require.NoError(t, err)
	for _, k := range []string{"id_token", "access_token", "refresh_token"} {
		tok, _ := sess[k].(string)
		require.NotEmpty(t, tok, k)
		secrets = append(secrets, tok)
		if k == "id_token" {
			parts := strings.Split(tok, ".")
			secrets = append(secrets, parts[1], parts[2])
		}
	}

	for _, path := range []string{"/session", "/set?color=blue", "/", "/set?big=" + strings.Repeat("b", 14000)} {
		resp, _ = b.get(app.url(path))
		keep(resp)
	}
	// Hostile and expired cookies, outside the browser's jar.
	raw := func(cookie string) {
		req, err := http.NewRequest(http.MethodGet, app.url("/session"), nil)
		require.NoError(t, err)
		req.Header.Set("Cookie", cookie)
		resp, err := app.srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	raw("appSession=" + sessSegment(sessionValue, 3, func(s string) string { return sessFlip(s, 5) }))
	raw("appSession=" + sessionValue[:len(sessionValue)-3])
	resp, _ = b.get(app.url("/logout"))
	keep(resp)
	app.clk.Advance(25 * time.Hour)
	raw("appSession=" + sessionValue)

	out := logs.String()
	require.Contains(t, out, "session cookie rejected", "the debug log was written")
	require.Regexp(t, `session (cookie )?expired`, out)
	require.Contains(t, out, "session not saved")
	secrets = append(secrets, harnessSecret, app.op.ClientSecret())
	for _, s := range secrets {
		require.GreaterOrEqual(t, len(s), 8)
		assert.NotContains(t, out, s)
	}
	assert.NotContains(t, out, "carol", "no claims either")
	assert.NotContains(t, out, "blue", "nor session values")
}
