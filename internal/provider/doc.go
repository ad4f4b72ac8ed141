// Package provider talks to the OpenID provider on behalf of package oidc:
// discovery (cached, stale-if-error, with a back-off), the provider's key
// set (JWKS with a maximum age and a rate-limited refetch) and ID-token
// signature checks with go-oidc, client authentication, pushed
// authorization requests (PAR) and request objects (JAR), the token
// endpoint, userinfo and token revocation.
//
// The root package validates its Config and builds one Settings from it;
// New turns that into a Client, the only state this package keeps. Every
// request to the provider goes out through the Client's HTTP client (no
// redirects, the configured User-Agent and timeout), and every
// client-authenticated request (token endpoint, PAR, revocation) through
// one POST with one client-authentication step (a fresh assertion per
// request for the JWT methods).
//
// Errors returned by the exported functions and methods are *Error values
// (RFC 6749 error code, description, error URI and HTTP status, wrapping
// the sentinels of this package and the cause), except where a method says
// otherwise. The root package converts them into its public
// ProviderError at the boundary and re-exports the sentinels under its own
// names, so errors.Is works on either. Nothing here imports the root
// package.
package provider
