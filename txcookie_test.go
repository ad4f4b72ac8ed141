package oidc

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
	"github.com/openidconnect-go/oidc/internal/transaction"
	"github.com/openidconnect-go/oidc/internal/uricomp"
	"github.com/openidconnect-go/oidc/oidctest"
)

// txSetCookie is one parsed Set-Cookie line.
type txSetCookie struct {
	name, line string
	attrs      map[string]string // lower-case attribute name -> value
}

// txParseSetCookies parses the Set-Cookie lines of resp.
func txParseSetCookies(resp *http.Response) []txSetCookie {
	var out []txSetCookie
	for _, line := range resp.Header.Values("Set-Cookie") {
		parts := strings.Split(line, ";")
		name, _, _ := strings.Cut(parts[0], "=")
		c := txSetCookie{name: strings.TrimSpace(name), line: line, attrs: map[string]string{}}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			c.attrs[strings.ToLower(k)] = v
		}
		out = append(out, c)
	}
	return out
}

// txAssertPrefixRules checks every Set-Cookie line of resp against the
// cookie-prefix rules browsers enforce: a __Secure- cookie needs Secure, a
// __Host- cookie also Path=/ and no Domain. A line that breaks them is
// dropped by the browser, and a clear that breaks them does not clear.
func txAssertPrefixRules(t *testing.T, resp *http.Response) {
	t.Helper()
	for _, c := range txParseSetCookies(resp) {
		lower := strings.ToLower(c.name)
		if strings.HasPrefix(lower, "__secure-") || strings.HasPrefix(lower, "__host-") {
			_, secure := c.attrs["secure"]
			assert.True(t, secure, "%s needs Secure: %s", c.name, c.line)
		}
		if strings.HasPrefix(lower, "__host-") {
			assert.Equal(t, "/", c.attrs["path"], "%s needs Path=/: %s", c.name, c.line)
			_, domain := c.attrs["domain"]
			assert.False(t, domain, "%s must not have a Domain: %s", c.name, c.line)
		}
	}
}

// TestTxPrefixedFallback: with a __Host- or __Secure- transaction cookie
// name, the SameSite fallback keeps the prefix (and the attributes it
// requires), so that a sibling subdomain cannot plant it. Unprefixed names
// keep express's "_" + name.
func TestTxPrefixedFallback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, txName, fallback string
		mutate                 func(*Config)
	}{
		{name: "__Host-", txName: "__Host-auth_verification", fallback: "__Host-_auth_verification"},
		{name: "__host- in another case", txName: "__host-tx", fallback: "__host-_tx"},
		{name: "__Secure- with an insecure session cookie", txName: "__Secure-tx", fallback: "__Secure-_tx",
			mutate: func(c *Config) { c.Session.Cookie.Secure = Bool(false) }},
		{name: "__Secure- with a Domain", txName: "__Secure-tx", fallback: "__Secure-_tx",
			mutate: func(c *Config) { c.Session.Cookie.Domain = "127.0.0.1" }},
		{name: "unprefixed", txName: "my_txn", fallback: "_my_txn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withConfig(func(c *Config) {
				c.TransactionCookie.Name = tc.txName
				if tc.mutate != nil {
					tc.mutate(c)
				}
			}))
			b := app.browser()
			login, _ := b.get(app.url("/login"))
			var names []string
			for _, c := range txParseSetCookies(login) {
				names = append(names, c.name)
			}
			assert.ElementsMatch(t, []string{tc.txName, tc.fallback}, names)
			txAssertPrefixRules(t, login)
			fb := liCookieLines(login)[tc.fallback]
			assert.NotContains(t, fb, "SameSite", "the fallback is for browsers that mishandle SameSite=None")
			assert.Contains(t, fb, "; HttpOnly")
			if tc.txName != "my_txn" {
				assert.Contains(t, fb, "; Secure", "a prefixed name requires Secure")
			}

			// The fallback alone completes the login.
			u, _ := url.Parse(app.url("/"))
			b.jar.SetCookies(u, []*http.Cookie{{Name: tc.txName, Path: "/", MaxAge: -1}})
			cb, method, vals := b.authorize(login)
			resp, body := b.deliver(cb, method, vals)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
			assert.Equal(t, true, b.session(app)["authenticated"])
			lines := liCookieLines(resp)
			assert.True(t, liCleared(lines[tc.txName]), lines[tc.txName])
			assert.True(t, liCleared(lines[tc.fallback]), lines[tc.fallback])
			txAssertPrefixRules(t, resp)
		})
	}
}

// TestTxPlantedFallbackLoginCSRF: with a __Host- transaction cookie, a
// fallback cookie under any other name (which a sibling subdomain could
// plant, holding a transaction of the attacker's own login) never
// completes a login.
func TestTxPlantedFallbackLoginCSRF(t *testing.T) {
	t.Parallel()
	const txName = "__Host-auth_verification"
	for _, express := range []bool{false, true} {
		app := newTestApp(t, withConfig(func(c *Config) {
			c.TransactionCookie.Name = txName
			c.TransactionCookie.ExpressFormat = express
		}))
		attacker := app.browser()
		login, _ := attacker.get(app.url("/login"))
		attackerTx := liTxValue(t, app, login, txName)
		var mainValue, fallbackValue string
		for _, c := range login.Cookies() {
			if c.Name == txName {
				mainValue = c.Value
			} else {
				fallbackValue = c.Value
			}
		}
		require.NotEmpty(t, mainValue)
		require.NotEmpty(t, fallbackValue)
		cb, method, vals := attacker.authorize(login)

		signed := func(name string) string { return uricomp.Encode(app.m.keys.Sign(name, attackerTx)) }
		plants := []struct{ name, cookie, value string }{
			{"express's fallback name, signed for it", "___Host-auth_verification", signed("___Host-auth_verification")},
			{"the fallback moved to express's fallback name", "___Host-auth_verification", fallbackValue},
			{"the main cookie moved to express's fallback name", "___Host-auth_verification", mainValue},
			{"unprefixed fallback name, signed for it", "_auth_verification", signed("_auth_verification")},
			{"unprefixed main name, signed for it", "auth_verification", signed("auth_verification")},
		}
		for _, p := range plants {
			t.Run(fmt.Sprintf("ExpressFormat=%v/%s", express, p.name), func(t *testing.T) {
				t.Parallel()
				victim := app.browser()
				u, _ := url.Parse(app.url("/"))
				victim.jar.SetCookies(u, []*http.Cookie{{Name: p.cookie, Value: p.value, Path: "/"}})
				resp, body := victim.deliver(cb, method, vals)
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
				assert.Contains(t, body, "missing_transaction")
				assert.Equal(t, false, victim.session(app)["authenticated"], "no login CSRF")
			})
		}
	}
}

// TestTxPrefixConfigCheck: the construction-time check covers the cookies
// the middleware writes with the attributes it writes them with.
func TestTxPrefixConfigCheck(t *testing.T) {
	t.Parallel()
	base := func(c *Config) {
		c.Secret = Secrets{harnessSecret}
		c.IssuerBaseURL = "https://op.example"
		c.BaseURL = "https://app.example"
		c.ClientID = "client"
		c.ClientSecret = "client-secret-client-secret"
		c.LookupEnv = func(string) (string, bool) { return "", false }
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		option string // "" when valid
		check  func(t *testing.T, s *settings)
	}{
		{"__Host- name with form_post: the fallback keeps the prefix", func(c *Config) {
			c.TransactionCookie.Name = "__Host-tx"
		}, "", func(t *testing.T, s *settings) {
			assert.Equal(t, "__Host-_tx", s.txFallback)
			for _, w := range s.txCookiesWritten() {
				assert.True(t, strings.HasPrefix(w.line.name, "__Host-"), w.line.String())
				assert.True(t, w.line.secure, w.line.String())
			}
		}},
		{"__Host- name over http://localhost with form_post: Secure cookies", func(c *Config) {
			c.BaseURL = "http://localhost:3000"
			c.TransactionCookie.Name = "__Host-tx"
		}, "", func(t *testing.T, s *settings) {
			assert.Len(t, s.txCookiesWritten(), 4, "main, fallback and both clears are checked")
			assert.True(t, s.txFallbackCookie("v", time.Time{}).secure)
		}},
		{"__Host- name with a Domain", func(c *Config) {
			c.TransactionCookie.Name = "__Host-tx"
			c.Session.Cookie.Domain = "app.example"
		}, "TransactionCookie.Name", nil},
		{"__Secure- name in the query mode with an insecure session cookie", func(c *Config) {
			c.AuthorizationParams = map[string]string{"response_type": "code", "response_mode": "query"}
			c.TransactionCookie.Name = "__Secure-tx"
			c.Session.Cookie.Secure = Bool(false)
		}, "TransactionCookie.Name", nil},
		{"__Host- session name: chunk names checked too", func(c *Config) {
			c.Session.Name = "__Host-s"
		}, "", func(t *testing.T, s *settings) {
			var names []string
			for _, w := range s.sessionCookiesWritten() {
				names = append(names, w.line.name)
			}
			assert.Equal(t, []string{"__Host-s", "__Host-s.0", "skipSilentLogin"}, names)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			base(&cfg)
			tc.mutate(&cfg)
			s, err := resolve(cfg)
			if tc.option != "" {
				var ce *ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tc.option, ce.Option)
				return
			}
			require.NoError(t, err)
			tc.check(t, s)
		})
	}
}

// TestCallbackResponseMode: a response must arrive the way the login asked
// for (form_post: a POST without response parameters in the query; query:
// a GET). Otherwise it is refused with 400 and the transaction stays, so
// the genuine response still completes.
func TestCallbackResponseMode(t *testing.T) {
	t.Parallel()
	asGet := func(b *browser, cb string, vals url.Values) (*http.Response, string) {
		return b.get(cb + "?" + vals.Encode())
	}
	asPost := func(b *browser, cb string, vals url.Values) (*http.Response, string) {
		return b.postForm(cb, vals)
	}
	asPostWithQuery := func(b *browser, cb string, vals url.Values) (*http.Response, string) {
		return b.postForm(cb+"?"+vals.Encode(), vals)
	}
	asPostWithState := func(b *browser, cb string, vals url.Values) (*http.Response, string) {
		return b.postForm(cb+"?state="+url.QueryEscape(vals.Get("state")), vals)
	}
	expressTx := func(t *testing.T, app *testApp, b *browser, login *http.Response) {
		tx, err := transaction.Parse(liTxValue(t, app, login, "auth_verification"))
		require.NoError(t, err)
		express := fmt.Sprintf(`{"nonce":%q,"state":%q}`, tx.Nonce, tx.State)
		u, _ := url.Parse(app.url("/"))
		b.jar.SetCookies(u, []*http.Cookie{
			{Name: "auth_verification", Value: uricomp.Encode(app.m.keys.Sign("auth_verification", express)), Path: "/"},
			{Name: "_auth_verification", Path: "/", MaxAge: -1},
		})
	}
	hybrid := map[string]string{"response_type": "code id_token"}
	codeFormPost := map[string]string{"response_type": "code", "response_mode": "form_post"}
	cases := []struct {
		name    string
		params  map[string]string
		edit    func(t *testing.T, app *testApp, b *browser, login *http.Response)
		wrong   func(b *browser, cb string, vals url.Values) (*http.Response, string)
		genuine int
	}{
		{"form_post id_token answered by GET", nil, nil, asGet, http.StatusSeeOther},
		{"form_post id_token with the response in the query too", nil, nil, asPostWithQuery, http.StatusSeeOther},
		{"form_post id_token with state in the query", nil, nil, asPostWithState, http.StatusSeeOther},
		{"form_post code answered by GET", codeFormPost, nil, asGet, http.StatusSeeOther},
		{"form_post hybrid answered by GET", hybrid, nil, asGet, http.StatusSeeOther},
		{"query code answered by POST", codeQuery, nil, asPost, http.StatusFound},
		{"express-written transaction: the configured form_post", nil, expressTx, asGet, http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &acRecorder{}
			app := newTestApp(t, withConfig(func(c *Config) {
				c.AuthorizationParams = tc.params
				c.ErrorHandler = rec.handle
			}))
			b := app.browser()
			login, _ := b.get(app.url("/login"))
			if tc.edit != nil {
				tc.edit(t, app, b, login)
			}
			cb, method, vals := b.authorize(login)
			resp, body := tc.wrong(b, cb, vals)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			var e *Error
			require.ErrorAs(t, rec.last(), &e)
			assert.Equal(t, "invalid_request", e.Code)
			assert.ErrorIs(t, e, ErrBadRequest)
			assert.Empty(t, setCookies(resp, "auth_verification"), "the transaction is not used up")
			assert.Equal(t, 0, app.op.Calls("token"))
			assert.Equal(t, false, b.session(app)["authenticated"])

			resp, body = b.deliver(cb, method, vals)
			require.Equal(t, tc.genuine, resp.StatusCode, body)
			assert.Equal(t, true, b.session(app)["authenticated"])
		})
	}
}

// TestIssParameterByFlow: whether a response may leave out iss (RFC 9207)
// depends on the flow the transaction asked for, never on the parameters
// the response carries.
func TestIssParameterByFlow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		params map[string]string
		mutate func(v url.Values)
		ok     bool
	}{
		{"code flow: id_token=x does not switch the check off", codeQuery,
			func(v url.Values) { v.Del("iss"); v.Set("id_token", "x") }, false},
		{"code flow with form_post: id_token=x does not switch the check off",
			map[string]string{"response_type": "code", "response_mode": "form_post"},
			func(v url.Values) { v.Del("iss"); v.Set("id_token", "x") }, false},
		{"code flow: an error without iss", codeQuery,
			func(v url.Values) {
				v.Del("iss")
				v.Del("code")
				v.Set("error", "access_denied")
				v.Set("id_token", "x")
			}, false},
		{"implicit flow: the ID token binds the issuer", nil, func(v url.Values) { v.Del("iss") }, true},
		{"hybrid flow: the ID token binds the issuer", map[string]string{"response_type": "code id_token"},
			func(v url.Values) { v.Del("iss") }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &acRecorder{}
			app := newTestApp(t, withProvider(oidctest.Options{AuthorizationResponseIssParameter: true}), withConfig(func(c *Config) {
				c.AuthorizationParams = tc.params
				c.ErrorHandler = rec.handle
			}))
			b := app.browser()
			login, _ := b.get(app.url("/login"))
			cb, method, vals := b.authorize(login)
			tc.mutate(vals)
			resp, body := b.deliver(cb, method, vals)
			if tc.ok {
				assert.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
				assert.Equal(t, true, b.session(app)["authenticated"])
				return
			}
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			assert.ErrorIs(t, rec.last(), ErrIssuerParameter)
			assert.Equal(t, 0, app.op.Calls("token"))
			assert.Equal(t, false, b.session(app)["authenticated"])
		})
	}
}

// TestTxExpiry: a transaction older than TransactionCookie.MaxAge is
// refused like a missing one, and cleared; the cookie expires at the same
// time.
func TestTxExpiry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		maxAge  time.Duration
		advance time.Duration
		ok      bool
	}{
		{"default: just under an hour", 0, time.Hour - time.Second, true},
		{"default: an hour", 0, time.Hour, false},
		{"default: a day", 0, 24 * time.Hour, false},
		{"five minutes: just under", 5 * time.Minute, 5*time.Minute - time.Second, true},
		{"five minutes: five minutes", 5 * time.Minute, 5 * time.Minute, false},
	}
	for _, flow := range []map[string]string{nil, codeQuery} {
		for _, tc := range cases {
			flowName := "id_token"
			if flow != nil {
				flowName = flow["response_type"]
			}
			t.Run(tc.name+"/"+flowName, func(t *testing.T) {
				t.Parallel()
				rec := &acRecorder{}
				app := newTestApp(t, withConfig(func(c *Config) {
					c.AuthorizationParams = flow
					c.TransactionCookie.MaxAge = tc.maxAge
					c.ErrorHandler = rec.handle
				}))
				maxAge := tc.maxAge
				if maxAge == 0 {
					maxAge = time.Hour
				}
				b := app.browser()
				login, _ := b.get(app.url("/login"))
				expires := "; Expires=" + app.clk.Now().Add(maxAge).UTC().Format(http.TimeFormat)
				assert.Contains(t, liCookieLines(login)["auth_verification"], expires)
				// The browser would drop an expired cookie; the server must
				// not rely on it.
				app.clk.Advance(tc.advance)
				cb, method, vals := b.authorize(login)
				resp, body := b.deliver(cb, method, vals)
				if tc.ok {
					assert.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, body)
					assert.Equal(t, true, b.session(app)["authenticated"])
					return
				}
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
				assert.Contains(t, body, "expired")
				assert.ErrorIs(t, rec.last(), ErrMissingTransaction)
				assert.True(t, liCleared(liCookieLines(resp)["auth_verification"]), "an expired transaction is cleared")
				assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
				assert.Equal(t, 0, app.op.Calls("token"))
				assert.Equal(t, false, b.session(app)["authenticated"])
			})
		}
	}
}

// TestTxExpiredSilentLogin: an expired silent login returns the user
// anonymously, like any failed silent login, instead of an error page.
func TestTxExpiredSilentLogin(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Login(w, r, LoginOptions{Silent: true, ReturnTo: "/landing"})
	})
	mux.Handle("/", appHandler())
	app := newTestApp(t, withHandler(mux))
	b := app.browser()
	login, _ := b.get(app.url("/silent"))
	app.clk.Advance(2 * time.Hour)
	cb, method, vals := b.authorize(login)
	require.Empty(t, vals.Get("error"), "the provider logs the user in")
	resp, _ := b.deliver(cb, method, vals)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, app.url("/landing"), resp.Header.Get("Location"))
	assert.True(t, liCleared(liCookieLines(resp)["auth_verification"]))
	assert.Equal(t, false, b.session(app)["authenticated"])
}

// TestTxStartTime: a start time ahead of the clock by more than
// ClockTolerance is refused (and logged); a transaction without a start
// time, as express-openid-connect writes it, has no age limit.
func TestTxStartTime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		started func(now time.Time) int64
		advance time.Duration
		ok      bool
		log     bool
	}{
		{"30s ahead, within the clock tolerance", func(now time.Time) int64 { return now.Add(30 * time.Second).UnixMicro() }, 0, true, false},
		{"2m ahead, beyond the clock tolerance", func(now time.Time) int64 { return now.Add(2 * time.Minute).UnixMicro() }, 0, false, true},
		{"no start time, three hours later", func(time.Time) int64 { return 0 }, 3 * time.Hour, true, false},
	}
	for _, express := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/ExpressFormat=%v", tc.name, express), func(t *testing.T) {
				t.Parallel()
				logs := &ctxLogBuffer{}
				app := newTestApp(t, withConfig(func(c *Config) {
					c.TransactionCookie.ExpressFormat = express
					c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
				}))
				b := app.browser()
				login, _ := b.get(app.url("/login"))
				tx, err := transaction.Parse(liTxValue(t, app, login, "auth_verification"))
				require.NoError(t, err)
				tx.Started = tc.started(app.clk.Now())
				value, err := app.m.encodeTransaction("auth_verification", tx)
				require.NoError(t, err)
				u, _ := url.Parse(app.url("/"))
				b.jar.SetCookies(u, []*http.Cookie{
					{Name: "auth_verification", Value: value, Path: "/"},
					{Name: "_auth_verification", Path: "/", MaxAge: -1},
				})
				app.clk.Advance(tc.advance)
				cb, method, vals := b.authorize(login)
				resp, body := b.deliver(cb, method, vals)
				if tc.ok {
					assert.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
				} else {
					assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
					assert.Contains(t, body, "missing_transaction")
				}
				assert.Equal(t, tc.log, strings.Contains(logs.String(), "level=WARN"), logs.String())
			})
		}
	}
}

func TestTxMaxAgeConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		maxAge time.Duration
		want   time.Duration // 0: refused
	}{
		{0, time.Hour},
		{time.Minute, time.Minute},
		{36 * time.Hour, 36 * time.Hour},
		{time.Minute - time.Nanosecond, 0},
		{time.Second, 0},
		{-time.Hour, 0},
	}
	for _, tc := range cases {
		t.Run(tc.maxAge.String(), func(t *testing.T) {
			t.Parallel()
			s, err := resolve(Config{
				Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example", BaseURL: "https://app.example",
				ClientID: "client", LookupEnv: func(string) (string, bool) { return "", false },
				TransactionCookie: TransactionCookieConfig{MaxAge: tc.maxAge},
			})
			if tc.want == 0 {
				var ce *ConfigError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, "TransactionCookie.MaxAge", ce.Option)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, s.txMaxAge)
		})
	}
}

// TestTxCookieFormats: both formats are read whatever the configuration
// writes; a value is only accepted under the cookie name it was made for,
// with a configured secret, unchanged.
func TestTxCookieFormats(t *testing.T) {
	t.Parallel()
	const oldSecret = harnessSecret
	const newSecret = "__a_newer_secret_that_is_long_enough__"
	oldSealer, err := cookiecrypto.NewSealer(cookiecrypto.TransactionPurpose, [][]byte{[]byte(oldSecret)}, nil)
	require.NoError(t, err)
	otherSealer, err := cookiecrypto.NewSealer(cookiecrypto.TransactionPurpose, [][]byte{[]byte(newSecret + "x")}, nil)
	require.NoError(t, err)

	// value builds the cookies to put in the jar from the login response.
	type jar func(t *testing.T, app *testApp, login *http.Response) map[string]string
	sealedBy := func(s *cookiecrypto.Sealer) jar {
		return func(t *testing.T, app *testApp, login *http.Response) map[string]string {
			v, err := s.Seal("auth_verification", []byte(liTxValue(t, app, login, "auth_verification")))
			require.NoError(t, err)
			return map[string]string{"auth_verification": v}
		}
	}
	signed := func(t *testing.T, app *testApp, login *http.Response) map[string]string {
		v := liTxValue(t, app, login, "auth_verification")
		return map[string]string{"auth_verification": uricomp.Encode(app.m.keys.Sign("auth_verification", v))}
	}
	moved := func(from, to string) jar {
		return func(t *testing.T, app *testApp, login *http.Response) map[string]string {
			return map[string]string{to: setCookies(login, from)[0].Value}
		}
	}
	raw := func(v string) jar {
		return func(*testing.T, *testApp, *http.Response) map[string]string {
			return map[string]string{"auth_verification": v}
		}
	}
	tampered := func(t *testing.T, app *testApp, login *http.Response) map[string]string {
		v := setCookies(login, "auth_verification")[0].Value
		return map[string]string{"auth_verification": tamperCookie(v)}
	}
	cases := []struct {
		name    string
		secrets Secrets
		express bool
		jar     jar
		ok      bool
	}{
		{"sealed, read by a default app", nil, false, sealedBy(oldSealer), true},
		{"sealed, read by an ExpressFormat app", nil, true, sealedBy(oldSealer), true},
		{"signed, read by a default app", nil, false, signed, true},
		{"signed, read by an ExpressFormat app", nil, true, signed, true},
		{"sealed with a rotated-out secret still in the list", Secrets{newSecret, oldSecret}, false, sealedBy(oldSealer), true},
		{"sealed with an unknown secret", nil, false, sealedBy(otherSealer), false},
		{"the main value under the fallback name", nil, false, moved("auth_verification", "_auth_verification"), false},
		{"the fallback value under the main name", nil, false, moved("_auth_verification", "auth_verification"), false},
		{"tampered", nil, false, tampered, false},
		{"oversized", nil, false, raw("v1." + strings.Repeat("A", 6000)), false},
		{"prefix only", nil, false, raw("v1."), false},
		{"not base64url", nil, false, raw("v1.!!!!"), false},
		{"percent-encoded junk", nil, false, raw("%7B%ZZ"), false},
		{"JSON without a signature", nil, false, raw(`%7B%22nonce%22%3A%22n%22%2C%22state%22%3A%22s%22%7D`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := newTestApp(t, withConfig(func(c *Config) {
				if tc.secrets != nil {
					c.Secret = tc.secrets
				}
				c.TransactionCookie.ExpressFormat = tc.express
			}))
			b := app.browser()
			login, _ := b.get(app.url("/login"))
			u, _ := url.Parse(app.url("/"))
			b.jar.SetCookies(u, []*http.Cookie{
				{Name: "auth_verification", Path: "/", MaxAge: -1},
				{Name: "_auth_verification", Path: "/", MaxAge: -1},
			})
			for name, v := range tc.jar(t, app, login) {
				b.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: v, Path: "/"}})
			}
			cb, method, vals := b.authorize(login)
			resp, body := b.deliver(cb, method, vals)
			if tc.ok {
				assert.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
				assert.Equal(t, true, b.session(app)["authenticated"])
				return
			}
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
			assert.Contains(t, body, "missing_transaction")
			assert.Equal(t, false, b.session(app)["authenticated"])
		})
	}

	t.Run("the session cookie is not a transaction", func(t *testing.T) {
		t.Parallel()
		app := newTestApp(t)
		resp, _ := app.browser().login(app, "/login")
		session := setCookies(resp, "appSession")
		require.Len(t, session, 1)
		b := app.browser()
		login, _ := b.get(app.url("/login"))
		u, _ := url.Parse(app.url("/"))
		b.jar.SetCookies(u, []*http.Cookie{
			{Name: "auth_verification", Value: session[0].Value, Path: "/"},
			{Name: "_auth_verification", Path: "/", MaxAge: -1},
		})
		cb, method, vals := b.authorize(login)
		resp, body := b.deliver(cb, method, vals)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		assert.Contains(t, body, "missing_transaction")
	})
}

// TestTxExpressFormatCookie: with ExpressFormat the cookie is what
// express-openid-connect writes and reads.
func TestTxExpressFormatCookie(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, withConfig(func(c *Config) { c.TransactionCookie.ExpressFormat = true }))
	login, _ := app.browser().get(app.url("/login"))
	for _, name := range []string{"auth_verification", "_auth_verification"} {
		raw := setCookies(login, name)[0].Value
		assert.False(t, cookiecrypto.IsSealed(raw))
		v, ok := app.m.keys.Verify(name, uricomp.Decode(raw))
		require.True(t, ok, "signed under its own name")
		assert.True(t, strings.HasPrefix(v, `{"nonce":"`), v)
	}
}

// FuzzTransactionCookie: whatever the transaction cookie holds, reading it
// never panics, and only the values the middleware wrote are accepted.
func FuzzTransactionCookie(f *testing.F) {
	cfg := Config{
		Secret: Secrets{harnessSecret}, IssuerBaseURL: "https://op.example", BaseURL: "https://app.example",
		ClientID: "client", LookupEnv: func(string) (string, bool) { return "", false },
		Random: strings.NewReader(strings.Repeat("0123456789abcdef", 64)), // the same seeds in every worker
		Now:    func() time.Time { return time.Unix(1700000000, 0) },
	}
	m, err := New(cfg)
	require.NoError(f, err)
	tx := transaction.Transaction{Nonce: "n", State: "s", ResponseType: "id_token", ResponseMode: "form_post", Started: 1700000000000000}
	sealed, err := m.encodeTransaction("auth_verification", tx)
	require.NoError(f, err)
	signed := uricomp.Encode(m.keys.Sign("auth_verification", tx.Marshal()))
	// The values the middleware wrote, as the reader sees them.
	valid := map[string]bool{sealed: true, uricomp.Decode(signed): true}
	for _, seed := range []string{sealed, signed, "", "v1.", "%7B%7D.x", strings.Repeat("%", 100), "v1." + strings.Repeat("A", 40)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest(http.MethodPost, "/callback", nil)
		req.Header.Set("Cookie", "auth_verification="+value)
		got, status := m.readTransaction(req)
		if status == txMissing {
			if got != (transaction.Transaction{}) {
				t.Fatal("a transaction without status")
			}
			return
		}
		// Only a value the middleware wrote (possibly differently
		// percent-encoded, as express's format allows) is accepted.
		var written bool
		for _, c := range req.CookiesNamed("auth_verification") {
			written = written || valid[c.Value] || valid[uricomp.Decode(c.Value)]
		}
		if !written {
			t.Fatalf("accepted a value that was never written: %q", value)
		}
		if got.Nonce != tx.Nonce || got.State != tx.State {
			t.Fatalf("read %#v", got)
		}
	})
}

// The tests below cover express-openid-connect titles that docs/express-tests.md
// once listed as MISSING. Each t.Run name is the express title, verbatim.
// Where the port behaves differently on purpose, the test asserts the
// port's behaviour and the comment says why (docs/decisions.md).

// test/transientHandler.tests.js

func TestGapTransactionCookieSecure(t *testing.T) {
	t.Parallel()
	t.Run("should use the config.secure property to automatically set cookies secure", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name       string
			mutate     func(*Config)
			wantSecure bool
		}{
			{"https BaseURL: Secure by default", func(*Config) {}, true},
			{"https BaseURL, Session.Cookie.Secure false", func(c *Config) { c.Session.Cookie.Secure = Bool(false) }, false},
			{"http BaseURL: not Secure", func(c *Config) { c.BaseURL = strings.Replace(c.BaseURL, "https://", "http://", 1) }, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				app := newTestApp(t, withConfig(func(c *Config) {
					codeFlow(c) // SameSite=Lax: Secure follows the config
					tc.mutate(c)
				}))
				assert.Equal(t, tc.wantSecure, app.m.s.cookie.secure)
				resp, _ := app.browser().get(app.url("/login"))
				require.Equal(t, http.StatusFound, resp.StatusCode)
				lines := liCookieLines(resp)
				main, ok := lines["auth_verification"]
				require.True(t, ok)
				assert.Contains(t, main, "; SameSite=Lax")
				assert.Equal(t, tc.wantSecure, strings.Contains(main, "; Secure"), main)
				assert.NotContains(t, lines, "_auth_verification", "no fallback without SameSite=None")
			})
		}
	})
}
