package oidc

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// BackchannelLogoutEvent is the member of a logout token's "events" claim
// that marks it as an OpenID Connect Back-Channel Logout token.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// BackchannelLogoutConfig turns on OpenID Connect Back-Channel Logout 1.0
// (express-openid-connect's backchannelLogout option). The provider then
// POSTs logout tokens to Routes.BackchannelLogout (register BaseURL +
// "/backchannel-logout" as the client's backchannel_logout_uri), and every
// authenticated request is checked against the logouts received.
//
// The defaults keep "logout markers" in Store, so that they work with
// cookie sessions and with store sessions, and across several instances
// that share the store:
//
//   - a token with a sid logs out that one provider session: the marker
//     "<iss>|<sid>" is written;
//   - a token with only a sub logs out every session of that user that
//     existed when the logout arrived: the marker "<iss>|<sub>" is written;
//   - each marker records when the logout was received (its "loggedOutAt"
//     member, Unix microseconds of Config.Now) and the logout token's iat
//     (its header's "iat", Unix seconds), and lives as long as the longest
//     possible remaining session: Session.AbsoluteDuration, or
//     Session.RollingDuration when there is no absolute limit;
//   - a session is logged out by a marker of its sid or sub when its login
//     started (Session.LoginStartedAt) at or before the logout was received,
//     unless its ID token was issued (iat) after the logout token, that is
//     by the provider after the logout. Sessions without a recorded login
//     start (made by express-openid-connect or an older version) are logged
//     out when their ID token's iat is at or before the logout token's iat;
//   - markers written by express-openid-connect carry only their write
//     time (their cookie's expires - maxAge, in milliseconds), which then
//     serves as the logout time.
//
// A later login by the same user is therefore not affected, nothing needs
// to be deleted at login, and older sessions never come back. At the
// callback, the new session goes through IsLoggedOut before it is saved:
// a login whose provider session was logged out meanwhile (for example an
// authorization response held back and delivered after the logout) is
// refused with ErrLoggedOut (401) and creates no session. The instances
// sharing a store should have synchronised clocks: logins and logouts are
// ordered by their times.
//
// The check needs no request to the provider: before discovery has
// succeeded, markers are looked up under the issuer spellings that
// IssuerBaseURL allows (with and without a trailing slash), afterwards
// under the discovered issuer. Logged-in users keep working while the
// provider is down.
//
// Either a Store (this one, or Session.Store) or custom IsLoggedOut (or
// DisableIsLoggedOut) and OnLogoutToken hooks are required.
type BackchannelLogoutConfig struct {
	// Store keeps the logout markers and the replay cache of token ids.
	// Default: Session.Store.
	Store Store

	// IsLoggedOut reports whether the authenticated request's session has
	// been logged out through the back channel. It runs for every
	// authenticated request except to the logout and back-channel routes.
	// When it reports true, the session is cleared and the request goes on
	// as anonymous (AuthRequired and RequiresAuth then ask for a login).
	// When it fails, the request is answered 503 with Retry-After through
	// Config.ErrorHandler (or the status of an error implementing
	// interface{ StatusCode() int }), the session is left as it is and
	// nobody is served as logged in. It also runs at the end of every
	// login, after OnLogin, with c showing the new session: true refuses
	// the login (ErrLoggedOut, 401) and an error fails it (503, or its
	// StatusCode()); no session is created either way. Default: the marker
	// check above.
	IsLoggedOut func(r *http.Request, c *Context) (bool, error)

	// DisableIsLoggedOut turns the check off, for applications that log
	// sessions out themselves in OnLogoutToken (for example by destroying
	// store sessions directly). Express: isLoggedOut: false.
	DisableIsLoggedOut bool

	// OnLogin runs at the end of every successful login, with c already
	// showing the new session. Changes it makes to the session are
	// discarded; use Config.AfterCallback for that. An error fails the
	// login (503, or its StatusCode()) and no session is created. Default:
	// none. express-openid-connect's default deletes the user's markers,
	// which brings back every older session they logged out; here a new
	// login is told apart from older sessions by its start time instead,
	// so no marker ever needs deleting.
	OnLogin func(r *http.Request, c *Context) error

	// DisableOnLogin turns OnLogin off (express: onLogin: false). As the
	// default is none, it only matters together with OnLogin.
	DisableOnLogin bool

	// OnLogoutToken runs for every valid logout token, with its verified
	// claims (iss, aud, iat, exp, jti, events, and sub and/or sid). An
	// error is answered 400 application_error, so the provider may retry.
	// Default: write the markers described above.
	OnLogoutToken func(ctx context.Context, claims Claims) error
}

// backchannelSettings is the resolved BackchannelLogoutConfig.
type backchannelSettings struct {
	route         string // "": not mounted (RouteDisabled)
	markers       Store  // logout markers and token ids; nil with custom hooks only
	isLoggedOut   func(*http.Request, *Context) (bool, error)
	onLogin       func(*http.Request, *Context) error
	onLogoutToken func(context.Context, Claims) error
	markerTTL     time.Duration
	replay        replayCache
	// issuers are the issuer spellings markers are looked up under until
	// discovery has succeeded.
	issuers []string
}

// backchannelRoute returns the mounted back-channel logout route, or "".
func (s *settings) backchannelRoute() string {
	if s.bcl == nil {
		return ""
	}
	return s.bcl.route
}

// resolveBackchannel validates Config.BackchannelLogout and
// Routes.BackchannelLogout. It runs after the session and route validators;
// the comparison with the other routes needs them valid (routesOK).
func (s *settings) resolveBackchannel(v *validator, routesOK bool) {
	bc := s.cfg.BackchannelLogout
	if bc == nil {
		return
	}
	mark := v.mark()
	b := &backchannelSettings{markers: bc.Store}
	if bc.Store == nil {
		b.markers = s.cfg.Session.Store
	}
	customGate := bc.IsLoggedOut != nil || bc.DisableIsLoggedOut
	if b.markers == nil && !(customGate && bc.OnLogoutToken != nil) {
		v.fail("BackchannelLogout.Store", `Back-Channel Logout requires a "BackchannelLogout.Store" (you can also `+
			`reuse "Session.Store" if you have stateful sessions) or custom hooks for "IsLoggedOut" and "OnLogoutToken"`)
	}
	b.route = s.backchannelRouteOf(v, routesOK)
	if !v.clean(mark) {
		return
	}

	// The longest a session that exists now can still live: the absolute
	// limit, or the idle timeout when there is none (each use of a session
	// runs the check, so an idle session ends before its marker does).
	// Express uses min(rolling, absolute), which is 0 without an absolute
	// limit (the marker then expires at once).
	b.markerTTL = s.absoluteDur
	if b.markerTTL <= 0 {
		b.markerTTL = s.rollingDur
	}

	switch {
	case bc.DisableIsLoggedOut:
	case bc.IsLoggedOut != nil:
		b.isLoggedOut = bc.IsLoggedOut
	default:
		b.isLoggedOut = defaultIsLoggedOut
	}
	if !bc.DisableOnLogin {
		b.onLogin = bc.OnLogin
	}
	b.issuers = issuerSpellings(s.issuerBaseURL)
	b.onLogoutToken = bc.OnLogoutToken
	if b.onLogoutToken == nil {
		b.onLogoutToken = func(ctx context.Context, claims Claims) error {
			return s.writeLogoutMarkers(ctx, claims)
		}
	}
	s.bcl = b
}

// backchannelRouteOf checks Routes.BackchannelLogout and returns the route
// to mount ("" when disabled). It must differ from the other routes, which
// is checked when they are valid (routesOK).
func (s *settings) backchannelRouteOf(v *validator, routesOK bool) string {
	route := s.cfg.Routes.BackchannelLogout
	switch route {
	case "":
		route = "/backchannel-logout"
	case RouteDisabled:
		return ""
	default:
		if !strings.HasPrefix(route, "/") {
			route = "/" + route
		}
		if strings.HasPrefix(route, "//") || strings.ContainsAny(route, "?#\\ \t\r\n\x00") {
			v.fail("Routes.BackchannelLogout", "must be a path relative to BaseURL, such as %q", "/backchannel-logout")
			return ""
		}
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/") // matched with an optional trailing slash
		}
	}
	if !routesOK {
		return route
	}
	for _, other := range []string{s.loginRoute, s.logoutRoute, s.callbackRoute} {
		if strings.EqualFold(strings.TrimSuffix(route, "/"), strings.TrimSuffix(other, "/")) {
			v.fail("Routes.BackchannelLogout", "must differ from the login, logout and callback routes")
			break
		}
	}
	return route
}
