package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// Token-type identifiers of RFC 8693 §3, for TokenExchangeOptions.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken  = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeSAML2         = "urn:ietf:params:oauth:token-type:saml2"
)

// TokenExchangeOptions are the parameters of an RFC 8693 token exchange
// (Context.CustomTokenExchange). Empty fields are not sent, except where a
// default applies.
type TokenExchangeOptions struct {
	// SubjectToken is the token to exchange. Default: the session's access
	// token (Context.AccessToken must be non-nil).
	SubjectToken string
	// SubjectTokenType is its type. Default: TokenTypeAccessToken.
	SubjectTokenType string
	// Audience is the target service. Default:
	// Config.AuthorizationParams["audience"].
	Audience string
	// Scope is the requested scope. Default: Config.AuthorizationParams
	// ["scope"] (so a scope is always sent, as in express-openid-connect).
	Scope string
	// ActorToken and ActorTokenType identify the acting party (delegation);
	// they go together.
	ActorToken     string
	ActorTokenType string
	// RequestedTokenType is the type of token wanted, for example
	// TokenTypeAccessToken.
	RequestedTokenType string
	// Organization is sent as the organization parameter (Auth0); it must
	// not be blank when set.
	Organization string
	// Extra holds further parameters, such as a provider's "connection".
	// A key that has a field above (organization, audience, scope,
	// subject_token_type, requested_token_type, actor_token,
	// actor_token_type) is used as that field when the field is empty, so
	// Extra{"organization": "org_123"} sends organization=org_123; the
	// field and the key set to different values, or the key set to "", is
	// an error. The keys that the request or the client authentication own
	// (grant_type, client_id, client_secret, client_assertion,
	// client_assertion_type, subject_token, and aud, which is not a
	// token-exchange parameter: use Audience) are refused. Such errors are
	// *ProviderError "invalid_request" values naming the key, returned before
	// anything is sent. (express-openid-connect drops all of these keys
	// silently.)
	Extra map[string]string
}

// TokenExchangeResult is a successful token-exchange response (RFC 8693
// §2.2.1). None of it is stored in the session.
type TokenExchangeResult struct {
	// AccessToken is the issued token (RFC 8693 names it access_token
	// whatever its type).
	AccessToken Secret
	// IssuedTokenType is the type of AccessToken, for example
	// TokenTypeAccessToken.
	IssuedTokenType string
	// TokenType is how to use it, lower-cased as returned: "bearer", "dpop",
	// or "n_a" when it is not an access token.
	TokenType string
	// ExpiresIn is its lifetime (0 when the provider did not say).
	ExpiresIn time.Duration
	// Scope is the granted scope, when the provider returned one.
	Scope string
	// RefreshToken and IDToken are returned by some providers.
	RefreshToken Secret
	IDToken      Secret
	// Extra holds the other members of the response (vendor fields).
	Extra map[string]any
	// Act is the "act" (actor) claim, when ActorToken was sent: from the
	// returned ID token, else from a JWT access token. It is read without
	// verifying any signature: informational only.
	Act map[string]any
}

// tokenExchangeReserved are the Extra keys that are refused, with the
// reason.
var tokenExchangeReserved = map[string]string{
	"grant_type":            "is always " + GrantTypeTokenExchange,
	"client_id":             "is set by the client authentication",
	"client_secret":         "is set by the client authentication",
	"client_assertion":      "is set by the client authentication",
	"client_assertion_type": "is set by the client authentication",
	"subject_token":         "must be given as SubjectToken",
	"aud":                   "is not a token-exchange parameter; use Audience",
}

// field returns the option field that the Extra key names, or nil.
func (o *TokenExchangeOptions) field(key string) (name string, f *string) {
	switch key {
	case "organization":
		return "Organization", &o.Organization
	case "audience":
		return "Audience", &o.Audience
	case "scope":
		return "Scope", &o.Scope
	case "subject_token_type":
		return "SubjectTokenType", &o.SubjectTokenType
	case "requested_token_type":
		return "RequestedTokenType", &o.RequestedTokenType
	case "actor_token":
		return "ActorToken", &o.ActorToken
	case "actor_token_type":
		return "ActorTokenType", &o.ActorTokenType
	}
	return "", nil
}

// applyExtra moves the Extra keys that have a field of their own into
// opts, and returns the remaining parameters to send. Reserved keys and
// conflicts are errors that name the key (never its value, which may be a
// token).
func (o *TokenExchangeOptions) applyExtra() (map[string]string, error) {
	rest := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(o.Extra)) {
		v := o.Extra[k]
		if why, ok := tokenExchangeReserved[k]; ok {
			return nil, localTokenError(fmt.Sprintf("Extra[%q] cannot be set: it %s", k, why))
		}
		name, f := o.field(k)
		switch {
		case f == nil:
			rest[k] = v
		case v == "":
			return nil, localTokenError(fmt.Sprintf("Extra[%q] is empty; leave it out, or set %s", k, name))
		case *f == "":
			*f = v
		case *f != v:
			return nil, localTokenError(fmt.Sprintf("Extra[%q] and %s are both set, to different values; set only %s", k, name, name))
		}
	}
	return rest, nil
}

var bearerPrefixRE = regexp.MustCompile(`(?i)^bearer\s+`)

// CustomTokenExchange exchanges a token at the provider's token endpoint
// (RFC 8693 token exchange, express-openid-connect's customTokenExchange),
// with the configured client authentication, and returns the issued token.
// Nothing is stored in the session. Defaults and parameters are described on
// TokenExchangeOptions.
//
// Errors are *ProviderError values, wrapping ErrTokenExchange:
//   - before any network call, 400 "invalid_request" wrapping
//     ErrBadRequest: no subject token (for example an anonymous request, or
//     a session without an access token), a subject token with surrounding
//     whitespace or a "Bearer " prefix, a blank Organization, an actor
//     token without its type (or a type without a token), or an Extra key
//     that is refused or conflicts with its field;
//   - the provider's OAuth error, with StatusCode 401 for "mfa_required" and
//     400 otherwise, its error code and description;
//   - 503 wrapping ErrProviderUnavailable when the provider cannot be
//     reached, times out or answers 5xx, or its metadata cannot be
//     discovered (express-openid-connect answers 400);
//   - 502 "invalid_token_response" when the answer lacks access_token,
//     issued_token_type or a supported token_type (bearer, dpop or n_a);
//   - 500 "server_error" wrapping ErrNoMiddleware on a nil Context (a
//     handler not wrapped by Auth).
func (c *Context) CustomTokenExchange(ctx context.Context, opts TokenExchangeOptions) (*TokenExchangeResult, error) {
	if c == nil {
		return nil, tokenError(http.StatusInternalServerError, "server_error", "the oidc middleware is not installed for this route",
			ErrNoMiddleware)
	}
	m := c.m
	extra, err := opts.applyExtra()
	if err != nil {
		return nil, err
	}
	subject := opts.SubjectToken
	if subject == "" {
		if at := c.AccessToken(); at != nil {
			subject = string(at.Token)
		}
	}
	switch {
	case strings.TrimSpace(subject) == "":
		return nil, localTokenError("subject_token is required for token exchange")
	case strings.TrimSpace(subject) != subject:
		return nil, localTokenError("subject_token must not include leading or trailing whitespace")
	case bearerPrefixRE.MatchString(subject):
		return nil, localTokenError("subject_token must not include the 'Bearer ' prefix")
	case opts.Organization != "" && strings.TrimSpace(opts.Organization) == "":
		return nil, localTokenError("organization must not be blank")
	case opts.ActorToken != "" && opts.ActorTokenType == "":
		return nil, localTokenError("actor_token_type is required when actor_token is provided")
	case opts.ActorToken == "" && opts.ActorTokenType != "":
		return nil, localTokenError("actor_token_type must not be sent without actor_token")
	}
	form := url.Values{
		"grant_type":    {GrantTypeTokenExchange},
		"subject_token": {subject},
	}
	set := func(k, v string) {
		if v != "" {
			form.Set(k, v)
		}
	}
	set("subject_token_type", orDefault(opts.SubjectTokenType, TokenTypeAccessToken))
	set("actor_token", opts.ActorToken)
	set("actor_token_type", opts.ActorTokenType)
	set("requested_token_type", opts.RequestedTokenType)
	set("organization", opts.Organization)
	set("audience", orDefault(opts.Audience, m.s.authParams["audience"]))
	set("scope", orDefault(opts.Scope, m.s.authParams["scope"]))
	for k, v := range extra {
		form.Set(k, v)
	}

	md, err := m.discover(ctx)
	if err != nil {
		return nil, metadataUnavailable(err)
	}
	doc, err := m.provider.Token(ctx, md, form)
	var ex *provider.Exchanged
	if err == nil {
		ex, err = doc.Exchanged()
	}
	if err != nil {
		err = fromProvider(err)
		var pe *ProviderError
		if errors.As(err, &pe) && !pe.unavailable() && pe.StatusCode >= 400 && pe.StatusCode < 500 {
			pe.StatusCode = http.StatusBadRequest
			if pe.Code == "mfa_required" {
				pe.StatusCode = http.StatusUnauthorized
			}
		}
		return nil, err
	}
	return exchangeResult(ex, opts.ActorToken != ""), nil
}

// exchangeResult is the public form of a token-exchange answer, with the
// "act" claim of its tokens when an actor token was sent.
func exchangeResult(ex *provider.Exchanged, withActor bool) *TokenExchangeResult {
	res := &TokenExchangeResult{
		AccessToken:     Secret(ex.AccessToken),
		IssuedTokenType: ex.IssuedTokenType,
		TokenType:       ex.TokenType,
		ExpiresIn:       ex.ExpiresIn,
		Scope:           ex.Scope,
		RefreshToken:    Secret(ex.RefreshToken),
		IDToken:         Secret(ex.IDToken),
		Extra:           ex.Extra,
	}
	if withActor {
		for _, tok := range []Secret{res.IDToken, res.AccessToken} {
			if tok == "" {
				continue
			}
			if claims, err := decodeClaims(string(tok)); err == nil {
				if act, ok := claims["act"].(map[string]any); ok {
					res.Act = act
					break
				}
			}
		}
	}
	return res
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
