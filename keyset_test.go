package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// Tests for the JWKS cache (internal/provider/keyset.go): maximum age, removed keys, rotation
// without a new kid, stale-if-error and the flood protection. JWKS requests
// are counted at the provider; time only moves with the fake clock.

// jwksCalls returns how often the app's provider served its JWKS.
func jwksCalls(app *testApp) int { return app.op.Calls(oidctest.EndpointJWKS) }

// loginStatus runs a complete login in a new browser and returns the
// callback's status: 303 for a login that succeeded, 400 for a rejected ID
// token.
func loginStatus(t *testing.T, app *testApp) int {
	t.Helper()
	resp, _ := app.browser().login(app, "/login")
	return resp.StatusCode
}

// setJWKSKids rewrites (or, for "", deletes) the kid of every JWKS key.
func setJWKSKids(kid string) func(doc map[string]any) {
	return func(doc map[string]any) {
		for _, k := range doc["keys"].([]any) {
			if kid == "" {
				delete(k.(map[string]any), "kid")
			} else {
				k.(map[string]any)["kid"] = kid
			}
		}
	}
}

// rotationsWithoutNewKid make the provider name every key it publishes, and
// every ID token, with one fixed kid, or with none; RotateKeys then replaces
// the key without a new kid. Each returns the header edit that logout
// tokens need.
var rotationsWithoutNewKid = []struct {
	name  string
	setup func(op *oidctest.Provider) func(header map[string]any)
}{
	{"reused kid", func(op *oidctest.Provider) func(map[string]any) {
		kid := op.KeyID()
		edit := func(h map[string]any) { h["kid"] = kid }
		op.SetOptions(func(o *oidctest.Options) {
			o.MutateJWKS = setJWKSKids(kid)
			o.MutateIDToken = func(h, _ map[string]any) { edit(h) }
		})
		return edit
	}},
	{"no kid", func(op *oidctest.Provider) func(map[string]any) {
		edit := func(h map[string]any) { delete(h, "kid") }
		op.SetOptions(func(o *oidctest.Options) {
			o.MutateJWKS = setJWKSKids("")
			o.MutateIDToken = func(h, _ map[string]any) { edit(h) }
		})
		return edit
	}},
}

// TestJWKSRotationWithoutNewKid: a provider that replaces its key under the
// same kid, or without kids, is picked up by one re-fetch, for ID tokens
// and logout tokens, without waiting for the cache to age out.
func TestJWKSRotationWithoutNewKid(t *testing.T) {
	t.Parallel()
	for _, rot := range rotationsWithoutNewKid {
		t.Run("ID token/"+rot.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t)
			rot.setup(app.op)
			require.Equal(t, http.StatusSeeOther, loginStatus(t, app))
			require.Equal(t, 1, jwksCalls(app))

			app.op.RotateKeys()
			assert.Equal(t, http.StatusSeeOther, loginStatus(t, app), "the rotated key is fetched")
			assert.Equal(t, 2, jwksCalls(app), "one re-fetch")
			assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
			assert.Equal(t, 2, jwksCalls(app), "the new key is cached")

			// A second rotation inside the cooldown waits for it.
			app.op.RotateKeys()
			assert.Equal(t, http.StatusBadRequest, loginStatus(t, app))
			assert.Equal(t, 2, jwksCalls(app), "no re-fetch within the cooldown")
			app.clk.Advance(jwksCooldown)
			assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
			assert.Equal(t, 3, jwksCalls(app))
		})
		t.Run("logout token/"+rot.name, func(t *testing.T) {
			t.Parallel()
			app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
			edit := rot.setup(app.op)
			b, sid, sub := app.loggedIn(t)
			require.Equal(t, 1, jwksCalls(app))

			app.op.RotateKeys()
			resp, body := app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sid,
				Mutate: func(h, _ map[string]any) { edit(h) }})
			assert.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.False(t, app.authenticated(t, b), "the logout token was accepted")
			assert.Equal(t, 2, jwksCalls(app), "one re-fetch")
		})
	}
}

// TestJWKSRotationRightAfterFetch: the cooldown counts from the last
// failure-triggered fetch, so a new kid that shows up just after a routine
// fetch is fetched at once.
func TestJWKSRotationRightAfterFetch(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	require.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	require.Equal(t, 1, jwksCalls(app))
	app.op.RotateKeys()
	assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	assert.Equal(t, 2, jwksCalls(app))
}

// otherJWKS returns a JWKS edit that replaces the provider's keys with an
// unrelated RSA key, as when the provider withdraws a compromised key.
func otherJWKS(t *testing.T) func(doc map[string]any) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	raw, err := jose.JSONWebKey{Key: priv.Public(), KeyID: "replacement", Use: "sig", Algorithm: "RS256"}.MarshalJSON()
	require.NoError(t, err)
	var jwk map[string]any
	require.NoError(t, json.Unmarshal(raw, &jwk))
	return func(doc map[string]any) { doc["keys"] = []any{jwk} }
}

// TestJWKSRemovedKey: a key that disappears from the provider's JWKS stops
// verifying tokens once the cached keys reach JWKSCacheMaxAge.
func TestJWKSRemovedKey(t *testing.T) {
	t.Parallel()
	t.Run("ID token", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t)
		require.Equal(t, http.StatusSeeOther, loginStatus(t, app))
		drop := otherJWKS(t)
		app.op.SetOptions(func(o *oidctest.Options) { o.MutateJWKS = drop })

		app.clk.Advance(defaultJWKSMaxAge - time.Second)
		assert.Equal(t, http.StatusSeeOther, loginStatus(t, app), "cached keys are used up to the maximum age")
		assert.Equal(t, 1, jwksCalls(app))

		app.clk.Advance(time.Second)
		assert.Equal(t, http.StatusBadRequest, loginStatus(t, app), "the removed key is no longer trusted")
		assert.Equal(t, 2, jwksCalls(app), "one refresh, no extra failure-triggered fetch")
	})
	t.Run("logout token", func(t *testing.T) {
		t.Parallel()
		app := newBCLApp(t, "cookie", oidctest.Options{}, func(c *Config) { c.JWKSCacheMaxAge = time.Minute })
		b, sid, sub := app.loggedIn(t)
		drop := otherJWKS(t)
		app.op.SetOptions(func(o *oidctest.Options) { o.MutateJWKS = drop })

		app.clk.Advance(time.Minute - time.Second)
		resp, body := app.send(t, oidctest.BackchannelLogoutOptions{Sub: "someone-else"})
		assert.Equal(t, http.StatusOK, resp.StatusCode, body)
		assert.Equal(t, 1, jwksCalls(app))

		app.clk.Advance(time.Second)
		resp, body = app.send(t, oidctest.BackchannelLogoutOptions{Sub: sub, Sid: sid})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, "the logout token signature is invalid", body["error_description"])
		assert.True(t, app.authenticated(t, b))
		assert.Equal(t, 2, jwksCalls(app))
	})
}

// TestJWKSStaleIfError: when the refresh of aged keys fails, the cached keys
// keep working, the failure is logged at Warn, and the outage costs one
// attempt per back-off window.
func TestJWKSStaleIfError(t *testing.T) {
	t.Parallel()
	var logs sessLogBuf
	app := newTestApp(t, withConfig(func(c *Config) { c.Logger = sessLogger(&logs) }))
	require.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	require.Equal(t, 1, jwksCalls(app))

	app.op.SetOptions(func(o *oidctest.Options) {
		o.Intercept = func(ep string, w http.ResponseWriter, _ *http.Request) bool {
			if ep != oidctest.EndpointJWKS {
				return false
			}
			http.Error(w, "down", http.StatusInternalServerError)
			return true
		}
	})
	app.clk.Advance(defaultJWKSMaxAge)
	assert.Equal(t, http.StatusSeeOther, loginStatus(t, app), "stale keys are used while the refresh fails")
	assert.Equal(t, 2, jwksCalls(app))
	assert.Contains(t, logs.String(), `"level":"WARN","msg":"oidc: JWKS refresh failed; keeping the cached keys"`)

	assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	assert.Equal(t, 2, jwksCalls(app), "no new attempt during the back-off")
	app.clk.Advance(jwksBackoffMin)
	assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	assert.Equal(t, 3, jwksCalls(app), "one attempt once the back-off ended")

	app.op.SetOptions(func(o *oidctest.Options) { o.Intercept = nil })
	app.clk.Advance(2 * jwksBackoffMin)
	assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	assert.Equal(t, 4, jwksCalls(app))
	assert.Equal(t, http.StatusSeeOther, loginStatus(t, app))
	assert.Equal(t, 4, jwksCalls(app), "fresh keys again")
}

// replaceKid returns tok with its JOSE header replaced by one naming kid;
// the signature no longer matches, but the kid lookup fails first.
func replaceKid(t *testing.T, tok, kid string) string {
	t.Helper()
	h, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	require.NoError(t, err)
	_, rest, ok := strings.Cut(tok, ".")
	require.True(t, ok)
	return base64.RawURLEncoding.EncodeToString(h) + "." + rest
}

// badSignature changes one character in the middle of tok's signature, so
// at least one signature byte differs.
func badSignature(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.') + 10
	require.Less(t, i, len(tok)-2)
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// TestJWKSFlood: 200 tokens with random kids and 200 with a known kid and a
// bad signature, half ID tokens and half logout tokens, sent concurrently,
// cost at most two JWKS fetches in total (the first one included).
func TestJWKSFlood(t *testing.T) {
	t.Parallel()
	app := newBCLApp(t, "cookie", oidctest.Options{}, nil)
	b, sid, sub := app.loggedIn(t)
	require.Equal(t, 1, jwksCalls(app))
	md, err := app.m.provider.Discover(context.Background())
	require.NoError(t, err)

	type attempt struct {
		logout bool
		token  string
	}
	var attempts []attempt
	for i := range 200 {
		kid := rand.Text()
		logout := i%2 == 0
		if logout {
			tok, err := app.op.MutatedLogoutToken(sub, sid, nil, func(h, _ map[string]any) { h["kid"] = kid })
			require.NoError(t, err)
			attempts = append(attempts, attempt{true, tok},
				attempt{true, badSignature(t, app.op.LogoutToken(sub, sid, nil))})
		} else {
			tok := app.op.IDToken(sub, "", nil)
			attempts = append(attempts, attempt{false, replaceKid(t, tok, kid)}, attempt{false, badSignature(t, tok)})
		}
	}
	work := make(chan attempt)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				ok := false
				if a.logout {
					req := httptest.NewRequest(http.MethodPost, app.url("/backchannel-logout"),
						strings.NewReader(url.Values{"logout_token": {a.token}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					ok = app.direct(req).Code != http.StatusBadRequest
				} else {
					_, err := app.m.verifyIDToken(context.Background(), md, a.token, idTokenChecks{})
					ok = err == nil
				}
				if ok {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range attempts {
		work <- a
	}
	close(work)
	wg.Wait()
	assert.Zero(t, accepted, "every token is rejected")
	assert.LessOrEqual(t, jwksCalls(app), 2)
	assert.True(t, app.authenticated(t, b))
}

// TestJWKSCacheMaxAgeConfig: the default, a custom value, and negative
// values.
func TestJWKSCacheMaxAgeConfig(t *testing.T) {
	t.Parallel()
	base := func() Config {
		return Config{Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example.com", BaseURL: "https://app.example",
			ClientID: "c", LookupEnv: func(string) (string, bool) { return "", false }}
	}
	for _, tc := range []struct {
		name string
		in   time.Duration
		want time.Duration
	}{
		{"default", 0, 10 * time.Minute},
		{"custom", time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			cfg.JWKSCacheMaxAge = tc.in
			m, err := New(cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.s.jwksMaxAge)
		})
	}
	t.Run("negative", func(t *testing.T) {
		cfg := base()
		cfg.JWKSCacheMaxAge = -time.Second
		_, err := New(cfg)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "JWKSCacheMaxAge", ce.Option)
	})
}

// TestJWKSRefreshCoalesced: concurrent verifications that find the keys
// aged share one refresh.
func TestJWKSRefreshCoalesced(t *testing.T) {
	t.Parallel()
	// The latency only makes the verifications overlap; the count below
	// holds however they are scheduled.
	app := newTestApp(t, withProvider(oidctest.Options{Latency: 50 * time.Millisecond}))
	md, err := app.m.provider.Discover(context.Background())
	require.NoError(t, err)
	tok := app.op.IDToken("alice", "", nil)
	_, err = app.m.verifyIDToken(context.Background(), md, tok, idTokenChecks{})
	require.NoError(t, err)
	require.Equal(t, 1, jwksCalls(app))

	app.clk.Advance(defaultJWKSMaxAge)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := app.m.verifyIDToken(context.Background(), md, tok, idTokenChecks{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, 2, jwksCalls(app))
}
