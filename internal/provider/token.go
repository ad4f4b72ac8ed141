package provider

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxTokenResponseBytes bounds token-endpoint and userinfo answers.
const MaxTokenResponseBytes = 1 << 20

// TokenResponse is a successful token-endpoint answer (RFC 6749 §5.1,
// RFC 8693 §2.2.1): its members as decoded, with access_token present.
type TokenResponse map[string]any

// Token sends one grant to the token endpoint: form holds grant_type and
// the grant's parameters; the client authentication and, with DPoP on, a
// proof are added by post (fresh ones per request). Every grant goes
// through it: the authorization code, refresh and token exchange.
//
// A 2xx answer must be a JSON object (or form-encoded, with that content
// type) with an access_token. Errors are *Error values wrapping
// ErrTokenRequest:
//   - the provider's OAuth error (its code, scrubbed description and
//     error_uri) with its HTTP status; an error answer without a code is
//     invalid_token_response;
//   - provider_unavailable wrapping ErrUnavailable for a network error, a
//     timeout (503) or a 5xx answer (with that status);
//   - invalid_token_response (502) for an answer that cannot be used: over
//     1 MiB, not a JSON object, no access_token, or a 1xx/3xx status; and,
//     wrapping ErrDPoPBearerDowngrade, a Bearer token for an
//     authorization-code or refresh grant sent with a DPoP proof to a
//     provider that advertises DPoP (see checkDowngrade);
//   - server_error (500) when the client authentication or the DPoP proof
//     cannot be prepared.
//
// Answers are never copied into errors.
func (c *Client) Token(ctx context.Context, md *Metadata, form url.Values) (TokenResponse, error) {
	// Discovery has already applied any mtls_endpoint_aliases.
	if md.TokenEndpoint == "" {
		return nil, c.outage(tokenEP, "the provider has no token_endpoint", nil)
	}
	r, err := c.post(ctx, md, tokenEP, md.TokenEndpoint, form, MaxTokenResponseBytes)
	if err != nil {
		return nil, err
	}
	if r.tooLarge {
		return nil, invalidTokenResponse("the token response is too large")
	}
	if r.status >= 200 && r.status < 300 {
		doc, derr := r.document()
		switch {
		case derr != nil:
			return nil, invalidTokenResponse("the token response is not a JSON object")
		case stringMember(doc, "access_token") == "":
			return nil, invalidTokenResponse("the token response has no access_token")
		}
		if err := c.checkDowngrade(md, form.Get("grant_type"), doc); err != nil {
			return nil, err
		}
		return doc, nil
	}
	code, desc, uri := r.oauthError()
	e := &Error{Code: code, Description: desc, URI: uri, StatusCode: r.status, Err: ErrTokenRequest}
	switch {
	case r.status >= 500:
		e.Err = tokenEP.wrap(ErrUnavailable)
		if e.Code == "" {
			e.Code = codeUnavailable
		}
		if e.Description == "" {
			e.Description = "the token endpoint answered " + strconv.Itoa(r.status)
		}
	case r.status >= 400:
		if e.Code == "" {
			e.Code = codeTokenResponse
		}
		if e.Description == "" {
			e.Description = "the token endpoint refused the request"
		}
	default: // 1xx, 3xx: redirects are not followed
		return nil, invalidTokenResponse("the token endpoint answered " + strconv.Itoa(r.status))
	}
	return nil, e
}

// invalidTokenResponse is a token-endpoint answer that cannot be used
// (502).
func invalidTokenResponse(desc string) *Error {
	return &Error{Code: codeTokenResponse, Description: desc, StatusCode: http.StatusBadGateway, Err: ErrTokenRequest}
}

// String returns a string member, or "".
func (r TokenResponse) String(name string) string { return stringMember(r, name) }

// Has reports whether the member name is present and not null.
func (r TokenResponse) Has(name string) bool { return r[name] != nil }

// ExpiresIn reads expires_in, a JSON number or a numeric string (as
// x/oauth2 accepts). present is false when it is absent; ok is false when
// it is present but malformed (null included).
func (r TokenResponse) ExpiresIn() (secs int64, present, ok bool) {
	v, present := r["expires_in"]
	if !present {
		return 0, false, false
	}
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, true, false
		}
		f = n
	default:
		return 0, true, false
	}
	if math.IsNaN(f) || f < 0 || f > math.MaxInt32 {
		return 0, true, false
	}
	return int64(f), true, true
}

// checkDowngrade refuses a Bearer token issued for an authorization-code
// or refresh grant that was sent with a DPoP proof, when the provider
// advertises DPoP support (dpop_signing_alg_values_supported): such a
// provider knows DPoP, so a Bearer token means the binding was dropped (a
// misconfigured client at the provider, or an attacker in the middle).
// Settings.DPoPAllowBearer accepts it, logged at Info. A provider that
// advertises nothing is taken not to know DPoP (RFC 9449 §5): its Bearer
// tokens are accepted. Token exchange is not checked: what it issues
// depends on the requested token type.
func (c *Client) checkDowngrade(md *Metadata, grant string, doc TokenResponse) *Error {
	if c.dpop == nil || (grant != GrantAuthorizationCode && grant != GrantRefreshToken) ||
		!strings.EqualFold(doc.String("token_type"), "bearer") || !md.AdvertisesDPoP() {
		return nil
	}
	if c.dpop.allowBearer {
		c.s.Logger.Info("oidc: the provider issued a Bearer token although DPoP was requested (accepted: AllowBearerDowngrade)",
			"grant_type", grant)
		return nil
	}
	e := invalidTokenResponse("the provider issued a Bearer token although a DPoP-bound token was requested")
	e.Err = fmt.Errorf("%w: %w", ErrTokenRequest, ErrDPoPBearerDowngrade)
	return e
}
