package oidc

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writers and readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log lines that contain msg.
func (b *lockedBuffer) records(msg string) []string {
	var out []string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, msg) {
			out = append(out, line)
		}
	}
	return out
}

// TestDefaultLoggerWarns: without Config.Logger, operational problems reach
// slog.Default() at Warn, and detail (Debug) does not. The default logger
// is looked up per record: the middlewares are built before slog.SetDefault
// points it at the buffer. Not parallel: it changes slog.Default().
func TestDefaultLoggerWarns(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })

	// Built before slog.SetDefault, with no Logger.
	down := newTestApp(t)
	down.op.SetDown(true)
	mismatch := newTestApp(t, withProvider(oidctest.Options{MutateDiscovery: func(doc map[string]any) {
		doc["issuer"] = "https://other-tenant.example/"
	}}))
	refused := newTestApp(t, withConfig(func(c *Config) {
		c.AfterCallback = func(_ http.ResponseWriter, _ *http.Request, s Session, _ map[string]any) (Session, error) {
			return s, errors.New("user is not in the beta group")
		}
	}))
	require.Nil(t, down.cfg.Logger)

	var buf lockedBuffer
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	t.Run("unreachable issuer", func(t *testing.T) {
		resp, _ := down.browser().get(down.url("/login"))
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		recs := buf.records("oidc: discovery failed")
		require.Len(t, recs, 1, buf.String())
		assert.Contains(t, recs[0], "level=WARN")
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		resp, _ := mismatch.browser().get(mismatch.url("/login"))
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		recs := buf.records("differs from IssuerBaseURL")
		require.Len(t, recs, 1, buf.String())
		assert.Contains(t, recs[0], "level=WARN")
		assert.Contains(t, recs[0], "IssuerBaseURL="+mismatch.op.URL())
		assert.Contains(t, recs[0], "issuer=https://other-tenant.example/")
	})
	t.Run("http BaseURL", func(t *testing.T) {
		_, err := resolveWith(func(c *Config) { c.BaseURL = "http://app.example.org" })
		require.NoError(t, err)
		recs := buf.records("BaseURL is http")
		require.Len(t, recs, 1, buf.String())
		assert.Contains(t, recs[0], "level=WARN")
		recs = buf.records("form_post over an http BaseURL")
		require.Len(t, recs, 1, buf.String())
		assert.Contains(t, recs[0], "level=WARN")
	})
	t.Run("AfterCallback refusal", func(t *testing.T) {
		resp, _ := refused.browser().login(refused, "/login")
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		recs := buf.records("oidc: login failed")
		require.Len(t, recs, 1, buf.String())
		assert.Contains(t, recs[0], "level=WARN")
		assert.Contains(t, recs[0], "code=login_rejected")
		assert.Contains(t, recs[0], `reason="user is not in the beta group"`)
		assert.NotContains(t, recs[0], "eyJ", "no token")
	})
	t.Run("debug records are left out", func(t *testing.T) {
		// A junk session cookie is logged at Debug only.
		b := refused.browser()
		resp, _ := b.get(refused.url("/"), "Cookie", "appSession=junk")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotContains(t, buf.String(), "level=DEBUG")
		assert.NotContains(t, buf.String(), "level=INFO")
		assert.NotContains(t, buf.String(), "session cookie rejected")

		// The control: the same request logs at Debug to a Debug logger.
		var own lockedBuffer
		debug := newTestApp(t, withConfig(func(c *Config) {
			c.Logger = slog.New(slog.NewTextHandler(&own, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}))
		debug.browser().get(debug.url("/"), "Cookie", "appSession=junk")
		recs := own.records("session cookie rejected")
		require.Len(t, recs, 1, own.String())
		assert.Contains(t, recs[0], "level=DEBUG")
	})
	t.Run("an explicit Logger replaces the default", func(t *testing.T) {
		var own lockedBuffer
		_, err := resolveWith(func(c *Config) {
			c.BaseURL = "http://other.example.org"
			c.Logger = slog.New(slog.NewTextHandler(&own, nil))
		})
		require.NoError(t, err)
		assert.Empty(t, buf.records("other.example.org"))
		assert.Len(t, own.records("other.example.org"), 1)
	})
}

// TestDefaultLogHandlerAttrs: attributes and groups added to the default
// logger apply to the records forwarded to slog.Default(). Not parallel: it
// changes slog.Default().
func TestDefaultLogHandlerAttrs(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	var buf lockedBuffer
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	l := defaultLogger().With("app", "shop").WithGroup("oidc")
	l.Debug("detail")
	l.Info("info")
	l.Warn("problem", "k", "v")
	assert.NotContains(t, buf.String(), "detail")
	assert.NotContains(t, buf.String(), "info")
	assert.Contains(t, buf.String(), "msg=problem app=shop oidc.k=v")
	assert.False(t, defaultLogger().Enabled(t.Context(), slog.LevelInfo))
	assert.True(t, defaultLogger().Enabled(t.Context(), slog.LevelWarn))
}
