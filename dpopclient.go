package oidc

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxRetryDrain bounds what is read of a use_dpop_nonce answer before it
// is discarded, so that its connection can be reused.
const maxRetryDrain = 64 << 10

// roundTripDPoP sends req with the DPoP token at (Context.Client): a
// proof per attempt, and a second attempt when the server asks for a new
// nonce and the body can be sent again.
func (t *tokenTransport) roundTripDPoP(req *http.Request, at string) (*http.Response, error) {
	m := t.c.m
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	if !m.provider.DPoP() {
		closeBody()
		return nil, dpopNotConfigured()
	}
	md, err := m.discover(req.Context())
	if err != nil {
		closeBody()
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		proof, nonce, err := m.provider.ResourceProof(md, req.Method, req.URL, at)
		if err != nil {
			if attempt == 1 {
				closeBody()
			}
			return nil, fromProvider(err)
		}
		out := req.Clone(req.Context())
		if attempt > 1 && req.GetBody != nil {
			if out.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		out.Header.Set("Authorization", "DPoP "+at)
		out.Header.Set("DPoP", proof)
		resp, err := t.base.RoundTrip(out)
		if err != nil {
			return nil, err
		}
		if !m.provider.ResourceRetry(req.URL, resp.StatusCode, resp.Header, nonce) || attempt > 1 || !replayable(req) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRetryDrain))
		_ = resp.Body.Close()
	}
}

// replayable reports whether req can be sent again: it has no body, or a
// GetBody to make a new one.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// dpopNotConfigured is the error of a DPoP token that cannot be used
// because Config.DPoP is nil.
func dpopNotConfigured() *Error {
	return newError(http.StatusInternalServerError, "dpop_not_configured",
		"The access token is DPoP-bound, but DPoP is not configured (Config.DPoP).", ErrDPoPNotConfigured)
}

// DPoPProof returns a DPoP proof (RFC 9449 §4) for a request of method to
// rawURL with the session's access token, for requests built by hand: send
// it in a "DPoP" header, with "Authorization: DPoP <token>" where the
// token is the session's (Context.AccessToken). The proof carries a random
// jti, htm = method, htu = rawURL without query and fragment, iat (from
// Config.Now), ath (the token's SHA-256) and the latest nonce this
// middleware learned from rawURL's origin (by Context.Client or
// FetchUserInfo). Each call makes a new proof, good for one request;
// Context.Client does all of this, and also answers a server's nonce
// challenge, which a caller of DPoPProof has to do itself.
//
// The token is not refreshed: call Context.Refresh (or take the token from
// Context.TokenSource) first when it may have expired.
//
// Errors are *Error values: 500 wrapping ErrNoMiddleware on a nil
// Context; 500 "dpop_not_configured" wrapping ErrDPoPNotConfigured without
// Config.DPoP; 401 "no_access_token" wrapping ErrNoAccessToken without a
// logged-in session with an access token, and 401 "not_dpop_bound"
// wrapping ErrNotDPoPBound when its token is not a DPoP token; 400
// "invalid_request" wrapping ErrBadRequest for an empty method or a URL
// that is not absolute http(s); 503 when the provider's metadata cannot be
// discovered; 500 wrapping the *ProviderError when no proof algorithm fits
// the provider or the key fails to sign.
func (c *Context) DPoPProof(method, rawURL string) (string, error) {
	if c == nil {
		return "", noMiddlewareError()
	}
	m := c.m
	if !m.provider.DPoP() {
		return "", dpopNotConfigured()
	}
	var at, typ string
	c.sess.read(func(s *Session) {
		if s != nil && s.IDToken != "" {
			at, typ = string(s.AccessToken), s.TokenType
		}
	})
	return c.dpopProof(at, typ, method, rawURL)
}

// DPoPProofFor is DPoPProof for the access token tok, for example one
// returned by Context.AccessTokenFor: send the proof in a "DPoP" header
// with "Authorization: DPoP <tok.Token>". Its errors are DPoPProof's; a
// nil tok or one without a token is ErrNoAccessToken, and a token whose
// Type is not "DPoP" ErrNotDPoPBound.
func (c *Context) DPoPProofFor(tok *AccessToken, method, rawURL string) (string, error) {
	if c == nil {
		return "", noMiddlewareError()
	}
	if !c.m.provider.DPoP() {
		return "", dpopNotConfigured()
	}
	if tok == nil {
		return c.dpopProof("", "", method, rawURL)
	}
	return c.dpopProof(string(tok.Token), tok.Type, method, rawURL)
}

// dpopProof makes a proof for the token at of type typ.
func (c *Context) dpopProof(at, typ, method, rawURL string) (string, error) {
	m := c.m
	switch {
	case at == "":
		return "", newError(http.StatusUnauthorized, "no_access_token", "The session has no access token.", ErrNoAccessToken)
	case tokenTypeName(typ) != "DPoP":
		return "", newError(http.StatusUnauthorized, "not_dpop_bound", "The session's access token is not a DPoP token.", ErrNotDPoPBound)
	}
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() || u.Host == "" || (!strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http")) {
		return "", newError(http.StatusBadRequest, "invalid_request", "DPoPProof needs an absolute http or https URL.", ErrBadRequest)
	}
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return "", newError(http.StatusBadRequest, "invalid_request", "DPoPProof needs an HTTP method.", ErrBadRequest)
	}
	md, err := m.discover(c.req.Context())
	if err != nil {
		return "", unavailable(err)
	}
	proof, _, err := m.provider.ResourceProof(md, method, u, at)
	if err != nil {
		return "", providerPage(err)
	}
	return proof, nil
}
