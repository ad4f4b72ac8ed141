package oidc

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// idTokenCase mutates the ID token the provider issues and says whether the
// login must succeed.
type idTokenCase struct {
	name   string
	mutate func(h, c map[string]any)
	ok     bool
}

func idTokenCases(now func() time.Time) []idTokenCase {
	at := func(d time.Duration) float64 { return float64(now().Add(d).Unix()) }
	return []idTokenCase{
		{"valid", func(h, c map[string]any) {}, true},
		// IDT-01
		{"iss with extra character", func(h, c map[string]any) { c["iss"] = c["iss"].(string) + "1" }, false},
		{"iss without trailing slash", func(h, c map[string]any) { s := c["iss"].(string); c["iss"] = s[:len(s)-1] }, false},
		// IDT-02
		{"nonce mismatch", func(h, c map[string]any) { c["nonce"] = c["nonce"].(string) + "1" }, false},
		{"nonce absent", func(h, c map[string]any) { delete(c, "nonce") }, false},
		// IDT-03
		{"sub absent", func(h, c map[string]any) { delete(c, "sub") }, false},
		{"sub empty", func(h, c map[string]any) { c["sub"] = "" }, false},
		{"sub not a string", func(h, c map[string]any) { c["sub"] = 123 }, false},
		// IDT-04
		{"aud other client", func(h, c map[string]any) { c["aud"] = "test-client1" }, false},
		{"aud absent", func(h, c map[string]any) { delete(c, "aud") }, false},
		{"aud list without client", func(h, c map[string]any) { c["aud"] = []string{"other"} }, false},
		{"several audiences without azp", func(h, c map[string]any) { c["aud"] = []string{"test-client", "x"} }, false},
		{"several audiences with foreign azp", func(h, c map[string]any) {
			c["aud"] = []string{"test-client", "x"}
			c["azp"] = "x"
		}, false},
		{"single-element audience list with azp", func(h, c map[string]any) {
			c["aud"] = []string{"test-client"}
			c["azp"] = "test-client"
		}, true},
		// IDT-05
		{"iat absent", func(h, c map[string]any) { delete(c, "iat") }, false},
		{"iat in the future beyond tolerance", func(h, c map[string]any) { c["iat"] = at(120 * time.Second) }, false},
		{"iat as string", func(h, c map[string]any) { c["iat"] = "1700000000" }, false},
		// IDT-06 and CK-01
		{"exp absent", func(h, c map[string]any) { delete(c, "exp") }, false},
		{"exp 61s ago", func(h, c map[string]any) { c["exp"] = at(-61 * time.Second) }, false},
		{"exp 59s ago within tolerance", func(h, c map[string]any) { c["exp"] = at(-59 * time.Second) }, true},
		{"iat 59s ahead within tolerance", func(h, c map[string]any) { c["iat"] = at(59 * time.Second) }, true},
		{"iat 61s ahead", func(h, c map[string]any) { c["iat"] = at(61 * time.Second) }, false},
		{"nbf in the future", func(h, c map[string]any) { c["nbf"] = at(5 * time.Minute) }, false},
		// IDT-07
		{"alg none", func(h, c map[string]any) { h["alg"] = "none" }, false},
		// IDT-08
		{"signature from an unknown key", func(h, c map[string]any) { h["kid"] = "unknown-kid"; h["alg"] = "RS384" }, false},
		// IDT-09
		{"HS256 MACed with the client secret while RS256 is configured", func(h, c map[string]any) { h["alg"] = "HS256" }, false},
		// IDT-16
		{"unknown claims and typ JWT are fine", func(h, c map[string]any) { c["ignored_claim"] = "x"; h["typ"] = "JWT" }, true},
	}
}

// TestIDTokenValidation covers catalog IDT-01..09 and CK-01 in the three
// flows: the ID token from the token endpoint is verified as strictly as the
// front-channel one.
func TestIDTokenValidation(t *testing.T) {
	t.Parallel()
	flows := map[string]map[string]string{
		"implicit": nil,
		"code":     {"response_type": "code", "response_mode": "query"},
		"hybrid":   {"response_type": "code id_token"},
	}
	for flow, params := range flows {
		clk := newClock()
		for _, tc := range idTokenCases(clk.Now) {
			t.Run(flow+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				mutate := tc.mutate
				app := newTestApp(t, withProvider(oidctest.Options{Now: clk.Now, MutateIDToken: mutate}), withConfig(func(c *Config) {
					c.Now = clk.Now
					c.AuthorizationParams = params
				}))
				b := app.browser()
				resp, body := b.login(app, "/login")
				s := b.session(app)
				if tc.ok {
					require.Contains(t, []int{302, 303}, resp.StatusCode, body)
					assert.Equal(t, true, s["authenticated"])
					return
				}
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
				assert.Equal(t, false, s["authenticated"])
				assert.Empty(t, setCookies(resp, "appSession"))
				if flow == "hybrid" {
					assert.Equal(t, 0, app.op.Calls("token"), "hybrid: the code is not redeemed when the front-channel ID token is bad")
				}
			})
		}
	}
}

// TestHybridCHash covers IDT-14.
func TestHybridCHash(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(h, c map[string]any){
		"wrong c_hash":   func(h, c map[string]any) { c["c_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" },
		"missing c_hash": func(h, c map[string]any) { delete(c, "c_hash") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{MutateIDToken: func(h, c map[string]any) {
				if _, front := c["c_hash"]; front { // only the front-channel token
					mutate(h, c)
				}
			}}), withConfig(func(c *Config) { c.AuthorizationParams = map[string]string{"response_type": "code id_token"} }))
			b := app.browser()
			resp, _ := b.login(app, "/login")
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, 0, app.op.Calls("token"))
		})
	}
}

// TestMaxAge covers IDT-13: a requested max_age requires a recent auth_time.
func TestMaxAge(t *testing.T) {
	t.Parallel()
	clk := newClock()
	for name, tc := range map[string]struct {
		authTime any
		ok       bool
	}{
		"auth_time 600s ago": {float64(clk.Now().Add(-600 * time.Second).Unix()), false},
		"auth_time absent":   {nil, false},
		"auth_time 30s ago":  {float64(clk.Now().Add(-30 * time.Second).Unix()), true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withProvider(oidctest.Options{Now: clk.Now, MutateIDToken: func(h, c map[string]any) {
				if tc.authTime == nil {
					delete(c, "auth_time")
				} else {
					c["auth_time"] = tc.authTime
				}
			}}), withConfig(func(c *Config) {
				c.Now = clk.Now
				c.AuthorizationParams = map[string]string{"max_age": "60"}
			}))
			b := app.browser()
			resp, _ := b.login(app, "/login")
			if tc.ok {
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
			} else {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			}
		})
	}
}

// TestKeyRotation covers IDT-11: after the provider rotates its key, the next
// login succeeds with one extra JWKS fetch.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	b := app.browser()
	resp, _ := b.login(app, "/login")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, 1, app.op.Calls("jwks"))
	app.op.RotateKeys()
	app.clk.Advance(31 * time.Second) // past the JWKS refetch cooldown
	b2 := app.browser()
	resp, _ = b2.login(app, "/login")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, 2, app.op.Calls("jwks"))
}

// TestUnknownKidFlood covers JWKS-01: tokens with unknown kids do not turn
// into a flood of JWKS requests.
func TestUnknownKidFlood(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withProvider(oidctest.Options{MutateIDToken: func(h, c map[string]any) { h["kid"] = "nope" }}))
	for range 5 {
		resp, _ := app.browser().login(app, "/login")
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	}
	assert.LessOrEqual(t, app.op.Calls("jwks"), 2)
}

// TestHS256IDTokens covers IDT-09's positive half: with HS256 configured, a
// token MACed with the client secret is accepted.
func TestHS256IDTokens(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withProvider(oidctest.Options{Alg: "HS256"}), withConfig(func(c *Config) {
		c.IDTokenSigningAlg = "HS256"
		c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
	}))
	b := app.browser()
	resp, _ := b.login(app, "/login")
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, true, b.session(app)["authenticated"])
}
