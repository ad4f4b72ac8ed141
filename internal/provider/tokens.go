package provider

import (
	"strings"
	"time"
)

// Grant types whose answers Tokens reads.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// Tokens are the members of an authorization-code or refresh answer that
// the session keeps.
type Tokens struct {
	AccessToken string
	// TokenType is "Bearer" or "DPoP" (whatever case the provider used).
	TokenType string
	// RefreshToken is "" when the answer has none.
	RefreshToken string
	// IDToken is the id_token member when it is a string; HasIDToken
	// reports a member that is present and not null (a refresh verifies
	// it even when it is not a string, and fails).
	IDToken    string
	HasIDToken bool
	// ExpiresIn is expires_in in seconds; HasExpiry reports that the answer
	// had one.
	ExpiresIn int64
	HasExpiry bool
}

// Tokens validates the members of an answer to grant (GrantAuthorizationCode
// or GrantRefreshToken) that the session relies on: token_type (bearer or
// DPoP), expires_in, refresh_token. The refresh rules are the stricter
// ones: a null expires_in and an empty refresh_token are invalid. Errors
// are invalid_token_response (502).
func (r TokenResponse) Tokens(grant string) (*Tokens, error) {
	refresh := grant == GrantRefreshToken
	out := &Tokens{AccessToken: r.String("access_token"), IDToken: r.String("id_token"), HasIDToken: r.Has("id_token")}
	tt := r.String("token_type")
	switch strings.ToLower(tt) {
	case "bearer":
		out.TokenType = "Bearer"
	case "dpop":
		out.TokenType = "DPoP"
	default:
		desc := "the token response has an unsupported token_type"
		if refresh {
			desc = "the token response has a missing or unsupported token_type"
		}
		return nil, invalidTokenResponse(desc)
	}
	if secs, present, ok := r.ExpiresIn(); present && (refresh || r.Has("expires_in")) {
		if !ok {
			return nil, invalidTokenResponse("the token response has an invalid expires_in")
		}
		out.ExpiresIn, out.HasExpiry = secs, true
	}
	if r.Has("refresh_token") {
		rt, ok := r["refresh_token"].(string)
		if !ok || (refresh && rt == "") {
			return nil, invalidTokenResponse("the token response has an invalid refresh_token")
		}
		out.RefreshToken = rt
	}
	return out, nil
}

// Exchanged is a token-exchange answer (RFC 8693 §2.2.1).
type Exchanged struct {
	AccessToken     string
	IssuedTokenType string
	TokenType       string // lower-cased: bearer, dpop or n_a
	ExpiresIn       time.Duration
	Scope           string
	RefreshToken    string
	IDToken         string
	// Extra holds the members without a field above.
	Extra map[string]any
}

// exchangedKnown are the members Exchanged has fields for.
var exchangedKnown = map[string]bool{
	"access_token": true, "issued_token_type": true, "token_type": true, "expires_in": true,
	"scope": true, "refresh_token": true, "id_token": true,
}

// Exchanged validates and converts a token-exchange answer: it needs
// issued_token_type and a token_type of bearer, dpop or n_a, and a valid
// expires_in when there is one. Errors are invalid_token_response (502).
func (r TokenResponse) Exchanged() (*Exchanged, error) {
	res := &Exchanged{
		AccessToken:     r.String("access_token"),
		IssuedTokenType: r.String("issued_token_type"),
		TokenType:       strings.ToLower(r.String("token_type")),
		Scope:           r.String("scope"),
		RefreshToken:    r.String("refresh_token"),
		IDToken:         r.String("id_token"),
	}
	switch {
	case res.IssuedTokenType == "":
		return nil, invalidTokenResponse("the token response has no issued_token_type")
	case res.TokenType != "bearer" && res.TokenType != "dpop" && res.TokenType != "n_a":
		return nil, invalidTokenResponse("the token response has a missing or unsupported token_type")
	}
	if secs, present, ok := r.ExpiresIn(); present {
		if !ok {
			return nil, invalidTokenResponse("the token response has an invalid expires_in")
		}
		res.ExpiresIn = time.Duration(secs) * time.Second
	}
	for k, v := range r {
		if !exchangedKnown[k] {
			if res.Extra == nil {
				res.Extra = map[string]any{}
			}
			res.Extra[k] = v
		}
	}
	return res, nil
}
