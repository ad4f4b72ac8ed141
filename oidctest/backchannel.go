package oidctest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// BackchannelLogoutEvent is the events member that marks a back-channel
// logout token.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// BackchannelLogoutOptions configures [Provider.SendBackchannelLogoutWith].
// The zero value sends a valid token without sub or sid, which a relying
// party must reject; set Sub and/or Sid.
type BackchannelLogoutOptions struct {
	// Sub and Sid are the token's sub and sid claims; empty ones are left
	// out.
	Sub, Sid string
	// Claims are merged into the token's claims as in [Provider.LogoutToken]:
	// they override, and a nil value removes a claim.
	Claims map[string]any
	// Mutate, if set, may edit the JOSE header and the claims just before
	// signing, to break the token on purpose: another typ, alg "none", an
	// unknown kid, a nonce, a wrong events claim, ... Numbers in claims are
	// float64. The token is signed as [Options.MutateIDToken] describes:
	// by the final header alg, with random signature bytes when no key of
	// the provider fits it.
	Mutate func(header, claims map[string]any)
	// Token, if non-empty, is sent as logout_token instead of a token built
	// from the fields above (for example an ID token, or a token with a
	// corrupted signature).
	Token string
	// Form holds extra form fields, sent along with logout_token. A
	// "logout_token" entry here adds a second logout_token field.
	Form url.Values
	// OmitToken sends the form without a logout_token field.
	OmitToken bool
	// Client sends the request. Default http.DefaultClient; use the
	// relying party's test server client for an https endpoint.
	Client *http.Client
}

// SendBackchannelLogout POSTs a valid back-channel logout token for sub
// and/or sid (empty ones are left out) to endpoint, the relying party's
// backchannel_logout_uri, as OpenID Connect Back-Channel Logout 1.0 §2.5
// describes: form-encoded, without cookies. The token is the one
// [Provider.LogoutToken] returns. The caller closes the response body.
func (p *Provider) SendBackchannelLogout(ctx context.Context, endpoint, sub, sid string) (*http.Response, error) {
	return p.SendBackchannelLogoutWith(ctx, endpoint, BackchannelLogoutOptions{Sub: sub, Sid: sid})
}

// SendBackchannelLogoutWith is [Provider.SendBackchannelLogout] with
// options, including ways to send deliberately broken requests. The caller
// closes the response body.
func (p *Provider) SendBackchannelLogoutWith(ctx context.Context, endpoint string, opts BackchannelLogoutOptions) (*http.Response, error) {
	form := url.Values{}
	if !opts.OmitToken {
		token := opts.Token
		if token == "" {
			var err error
			if token, err = p.MutatedLogoutToken(opts.Sub, opts.Sid, opts.Claims, opts.Mutate); err != nil {
				return nil, err
			}
		}
		form.Set("logout_token", token)
	}
	for k, vs := range opts.Form {
		for _, v := range vs {
			form.Add(k, v)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	return client.Do(req)
}

// MutatedLogoutToken returns [Provider.LogoutToken] (sub, sid, extra) with
// mutate applied to its header and claims before signing (see
// [BackchannelLogoutOptions.Mutate]). A nil mutate gives the token
// LogoutToken returns.
func (p *Provider) MutatedLogoutToken(sub, sid string, extra map[string]any, mutate func(header, claims map[string]any)) (string, error) {
	token := p.LogoutToken(sub, sid, extra)
	if token == "" {
		return "", errors.New("oidctest: the logout token claims cannot be encoded")
	}
	if mutate == nil {
		return token, nil
	}
	parts := strings.Split(token, ".")
	var header, claims map[string]any
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return "", err
		}
	}
	mutate(header, claims)
	p.mu.Lock()
	o := p.snapshot()
	p.mu.Unlock()
	return signWithProvider(header, claims, p.currentKey(), o.ClientSecret)
}
