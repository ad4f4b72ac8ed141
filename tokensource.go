package oidc

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// tokenRefreshEarly is how long before its expiry TokenSource refreshes an
// access token: the expiry delta golang.org/x/oauth2 uses, so that a token
// does not expire on its way to the API.
const tokenRefreshEarly = 10 * time.Second

// TokenSource returns an oauth2.TokenSource for the session's access token,
// for code that works with golang.org/x/oauth2.
//
// Each call of Token reads the session's access token and returns it as an
// *oauth2.Token with AccessToken, TokenType ("Bearer", "DPoP" for a
// DPoP-bound token, or the provider's type for others) and Expiry set. RefreshToken is
// always empty: the refresh token stays in the session. When fewer than 10
// seconds are left before the token expires (x/oauth2's convention; the
// time comes from Config.Now), Token first calls Context.Refresh with ctx
// and default RefreshOptions, and returns the refreshed token. So the
// refresh is shared with concurrent refreshes of the session, the session is
// updated by the same rules (and an invalid_grant answer ends it), and
// Refresh's errors are returned as they are. A token without a known expiry
// (the provider sent no expires_in) has a zero Expiry and is never
// refreshed by Token.
//
// A refreshed session is saved with the response, so call Token (or send
// the requests of Client) before writing the response; a refresh after the
// response headers were written is lost with a cookie session, and with a
// rotating refresh token the next refresh then fails. Use the TokenSource
// only while the request is being handled.
//
// Without a logged-in session with an access token, Token returns an *Error
// (401) wrapping ErrNoAccessToken; on a nil Context (a handler not wrapped
// by Auth) the *Error is 500 and wraps ErrNoMiddleware too. The token
// values in an *oauth2.Token are plain strings: do not log them.
//
// A DPoP token (see DPoPConfig) is only accepted with a proof for each
// request, which x/oauth2's own transport (oauth2.NewClient,
// oauth2.Transport) cannot add: it would send "Authorization: DPoP <token>"
// alone, which servers refuse. Use Context.Client, or Context.DPoPProof
// for requests built by hand.
func (c *Context) TokenSource(ctx context.Context) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	return &sessionTokenSource{c: c, ctx: ctx}
}

// sessionTokenSource is the TokenSource of a request's session.
type sessionTokenSource struct {
	c   *Context
	ctx context.Context
}

// Token implements oauth2.TokenSource.
func (ts *sessionTokenSource) Token() (*oauth2.Token, error) {
	c := ts.c
	if c == nil {
		return nil, newError(http.StatusInternalServerError, "no_middleware",
			"The request did not pass through the oidc middleware.", fmt.Errorf("%w: %w", ErrNoMiddleware, ErrNoAccessToken))
	}
	tok := c.oauth2Token()
	if tok == nil {
		return nil, errNoAccessToken()
	}
	if !tok.Expiry.IsZero() && tok.Expiry.Add(-tokenRefreshEarly).Before(c.m.s.now()) {
		if _, err := c.Refresh(ts.ctx, RefreshOptions{}); err != nil {
			return nil, err
		}
		// Refresh may return no AccessToken (no expires_in): read the
		// session again rather than its result.
		if tok = c.oauth2Token(); tok == nil {
			return nil, errNoAccessToken()
		}
	}
	return tok, nil
}

func errNoAccessToken() error {
	return newError(http.StatusUnauthorized, "no_access_token",
		"The session has no access token.", ErrNoAccessToken)
}

// oauth2Token returns the session's access token, or nil when the request
// has no logged-in session with an access token and its type.
func (c *Context) oauth2Token() *oauth2.Token {
	var tok *oauth2.Token
	c.sess.read(func(s *Session) {
		if s == nil || s.IDToken == "" || s.AccessToken == "" || s.TokenType == "" {
			return
		}
		tok = &oauth2.Token{AccessToken: string(s.AccessToken), TokenType: tokenTypeName(s.TokenType)}
		if s.ExpiresAt != 0 {
			tok.Expiry = time.Unix(s.ExpiresAt, 0)
		}
	})
	return tok
}

// Client returns an *http.Client whose requests carry the session's access
// token in an "Authorization: <type> <token>" header, from
// Context.TokenSource(ctx): the token is refreshed when it is about to
// expire, and the refresh rules and errors of TokenSource apply (an error
// is returned by the client's Do, wrapped in a *url.Error, and no request
// is sent). Like oauth2.Config.Client, the requests go through the
// Transport of the *http.Client stored in ctx under the oauth2.HTTPClient
// key, whose Jar, CheckRedirect and Timeout are used too; without one they
// go through http.DefaultTransport, with no timeout (give the requests a
// context with a deadline).
//
// The token is only sent to the origin (scheme, host and port) of the
// request the application made: a redirect to another origin is followed
// without the Authorization header. The caller's request is never
// modified. As with TokenSource, send the requests before writing the
// response.
//
// A DPoP token (see DPoPConfig) is sent as "Authorization: DPoP <token>"
// with a DPoP header: a fresh proof for the request's method and URL
// (without query and fragment) and the token's hash, carrying the latest
// nonce this middleware learned from that origin. When the server answers
// 401 with a DPoP challenge use_dpop_nonce and a new DPoP-Nonce, the
// request is sent once more with a new proof, provided its body can be
// sent again: no body, or a GetBody (which http.NewRequest sets for
// *bytes.Buffer, *bytes.Reader and *strings.Reader bodies); otherwise the
// 401 is returned as it is. A DPoP token with Config.DPoP nil is an error
// wrapping ErrDPoPNotConfigured, and nothing is sent.
func (c *Context) Client(ctx context.Context) *http.Client {
	if ctx == nil {
		ctx = context.Background()
	}
	client := &http.Client{}
	var base http.RoundTripper
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		base = hc.Transport
		client.Jar, client.CheckRedirect, client.Timeout = hc.Jar, hc.CheckRedirect, hc.Timeout
	}
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = &tokenTransport{source: c.TokenSource(ctx), base: base, c: c}
	return client
}

// ClientFor is Client for the API resource (a resource indicator, RFC
// 8707): its requests carry the token that AccessTokenFor(ctx, resource,
// scopes...) returns, fetched for each request (from the session while
// it is fresh). AccessTokenFor's errors are returned by the client's Do,
// wrapped in a *url.Error, and no request is sent. Everything else is as
// for Client: the transport and settings of the oauth2.HTTPClient in ctx,
// the token only for the origin of the application's request, and DPoP
// proofs with one retry for a resource's new nonce. Send the requests
// before writing the response, so that new tokens are saved.
func (c *Context) ClientFor(ctx context.Context, resource string, scopes ...string) *http.Client {
	client := c.Client(ctx)
	t := client.Transport.(*tokenTransport)
	t.source = &resourceTokenSource{c: c, ctx: t.source.(*sessionTokenSource).ctx, resource: resource,
		scopes: append([]string(nil), scopes...)}
	return client
}

// resourceTokenSource is the token source of ClientFor.
type resourceTokenSource struct {
	c        *Context
	ctx      context.Context
	resource string
	scopes   []string
}

// Token implements oauth2.TokenSource.
func (ts *resourceTokenSource) Token() (*oauth2.Token, error) {
	tok, err := ts.c.AccessTokenFor(ts.ctx, ts.resource, ts.scopes...)
	if err != nil {
		return nil, err
	}
	out := &oauth2.Token{AccessToken: string(tok.Token), TokenType: tok.Type}
	if !tok.ExpiresAt.IsZero() {
		out.Expiry = tok.ExpiresAt
	}
	return out, nil
}

// tokenTransport adds the session's access token to each request. It sets
// the header itself (rather than using oauth2.Transport) so that the header
// follows the token's type and so that requests are only authorised for the
// origin the application addressed.
type tokenTransport struct {
	source oauth2.TokenSource
	base   http.RoundTripper
	c      *Context // for DPoP tokens (dpopclient.go)
}

// RoundTrip implements http.RoundTripper.
func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOriginAsFirst(req) {
		return t.base.RoundTrip(req)
	}
	tok, err := t.source.Token()
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	if strings.EqualFold(tok.TokenType, "DPoP") {
		return t.roundTripDPoP(req, tok.AccessToken)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	return t.base.RoundTrip(out)
}

// sameOriginAsFirst reports whether req, when http.Client follows a
// redirect, still addresses the origin of the first request of the chain.
func sameOriginAsFirst(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	if first == req {
		return true
	}
	return first.URL != nil && req.URL != nil &&
		strings.EqualFold(first.URL.Scheme, req.URL.Scheme) && strings.EqualFold(first.URL.Host, req.URL.Host)
}
