// Package oidctest provides an in-process OpenID Connect provider (OP) for
// tests and for local development.
//
// A [Provider] serves discovery, JWKS, authorization, token, userinfo,
// revocation, pushed authorization request (PAR, RFC 9126) and RP-initiated
// logout endpoints on a loopback address. It supports the authorization
// code flow (with PKCE S256), the implicit id_token flow and the hybrid
// "code id_token" flow, the query, fragment and form_post response modes,
// client_secret_basic, client_secret_post, client_secret_jwt and
// private_key_jwt client authentication ([Options.TokenEndpointAuthMethods],
// [Options.ClientPublicKey]; assertions need aud = the issuer and a fresh
// jti), signed request objects (JAR, RFC 9101) at /authorize and /par,
// refresh-token rotation and RFC 8693 token exchange.
//
// It also plays the authorization server of newer profiles, strictly, so
// that a client's tests are honest: DPoP (RFC 9449; [Options.DPoP] and
// friends, proofs verified at the token, PAR and userinfo endpoints,
// sender-constrained access and refresh tokens, dpop_jkt, server nonces),
// resource indicators (RFC 8707; [Options.ResourceIndicators],
// [Options.Resources]) with protected resources for tests
// ([Provider.Resource]: "an API that accepts only its own audience"), RFC
// 9068 JWT access tokens ([Options.JWTAccessTokens]) and the FAPI 2.0
// Security Profile ([Options.FAPI2]). [NewDPoPKey] and [DPoPProof] mint
// proofs in tests; [Provider.AccessTokenInfo] tells what a token is bound
// to and for whom it is.
//
// In a test, create one with [NewProvider]; it is closed automatically when
// the test ends:
//
//	func TestLogin(t *testing.T) {
//		op := oidctest.NewProvider(t, oidctest.Options{
//			Claims: map[string]any{"email": "user@example.com"},
//		})
//		// configure the app with op.URL(), op.ClientID(), op.ClientSecret() ...
//	}
//
// By default /authorize logs in [Options.Subject] without any user
// interaction. With [Options.Interactive] it shows a login page where any
// user name can be typed, which makes it a convenient development provider
// (see [NewServer]). It is not an identity provider for production: it
// accepts every user, keeps all state in memory and never uses TLS.
//
// A [Browser] runs complete logins against a Provider in tests: it keeps
// cookies, follows redirects, types a user name into the login page and
// submits the form_post page, so a test can reach a protected handler of an
// application end to end. [SessionCookies] skips the login altogether by
// minting a logged-in session cookie. [Dev] reads an application's settings
// from the environment or a .env file and starts an interactive Provider
// when no real provider is configured; the examples of this module start
// with it.
//
// Every endpoint counts its calls ([Provider.Calls]), the provider can be
// switched off ([Provider.SetDown]), and tokens and responses can be altered
// ([Options.MutateIDToken], [Options.MutateTokenResponse] and friends), so
// tests can exercise a relying party's error handling.
//
// All methods of [Provider] are safe for concurrent use.
package oidctest
