// Package oidc adds OpenID Connect login to net/http applications. It is a
// Go port of Node's express-openid-connect: one wrapper, Auth, mounts
// /login, /logout and /callback, keeps the user's session in an encrypted,
// chunked cookie (byte-compatible with express-openid-connect 3.x for the
// same secret), and exposes the session to handlers through *Context.
//
// A minimal application:
//
//	auth, err := oidc.Auth(oidc.Config{
//		IssuerBaseURL: "https://issuer.example.com",
//		BaseURL:       "http://localhost:3000",
//		ClientID:      "my-client",
//		Secret:        oidc.Secrets{"a long, random string used to encrypt cookies"},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := http.NewServeMux()
//	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
//		fmt.Fprintf(w, "hello %s", oidc.FromRequest(r).User().String("sub"))
//	})
//	log.Fatal(http.ListenAndServe(":3000", auth(mux)))
//
// By default every route requires a login (Config.AuthRequired). Set it to
// false and protect single routes with RequiresAuth instead.
//
// The Config fields follow express-openid-connect's options and defaults,
// with fallbacks to the ISSUER_BASE_URL, BASE_URL, CLIENT_ID, CLIENT_SECRET
// and SECRET environment variables. Invalid configuration is reported by
// Auth and New all at once: a *ConfigError per invalid option (joined with
// errors.Join when there are several), each naming the option and, where
// one applies, its environment variable.
//
// Operational problems (an unreachable or misconfigured provider, store
// failures, refused logins and their reason, configuration warnings) are
// logged at Warn through Config.Logger, by default slog.Default().
//
// With the authorization code flow the session also holds the access and
// refresh tokens: Context.Client returns an *http.Client that sends the
// access token to an API (refreshing it when it is about to expire),
// Context.TokenSource offers it as a golang.org/x/oauth2 TokenSource, and
// Context.AccessToken and Context.Refresh give direct control.
//
// Whatever the provider answers (a refused token request, an invalid
// answer, an outage, a failed discovery), the error is a *ProviderError
// with the OAuth error code, description, error URI and an HTTP status:
// Refresh and CustomTokenExchange return it, and the *Error that
// FetchUserInfo returns and that Config.ErrorHandler receives for a failed
// login wraps it, so errors.As finds it either way. Sentinel errors
// (ErrProviderUnavailable, ErrTokenExchange, ...) tell the cases apart
// with errors.Is.
//
// The oidctest package provides an in-process OpenID provider for tests and
// development, a Browser that runs whole logins against it in tests, and
// Dev, which starts it for the examples.
package oidc
