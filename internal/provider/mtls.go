package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// mtlsAliases is the RFC 8705 §5 mtls_endpoint_aliases object.
type mtlsAliases map[string]json.RawMessage

// aliases returns md's mtls_endpoint_aliases; a value that is not an
// object has none.
func (md *Metadata) aliases() mtlsAliases {
	var a mtlsAliases
	if len(md.MTLSEndpointAliases) > 0 {
		_ = json.Unmarshal(md.MTLSEndpointAliases, &a)
	}
	return a
}

func (a mtlsAliases) get(name string) string {
	var s string
	if raw, ok := a[name]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// applyMTLSAliases points the token, PAR and userinfo endpoints of md at
// their mtls_endpoint_aliases when UseMTLS is set (RFC 8705 §5). The token
// alias is required, and the PAR alias with PAR; a missing userinfo alias
// keeps the standard endpoint. (The revocation alias is optional and read
// by revocationEndpoint.)
func (c *Client) applyMTLSAliases(md *Metadata) *Error {
	if !c.s.UseMTLS {
		return nil
	}
	aliases := md.aliases()
	missing := func(name string) *Error {
		e := unavailable(http.StatusBadGateway, "the provider's mtls_endpoint_aliases has no "+name, nil)
		e.Err = fmt.Errorf("%w: %w: %s", ErrUnavailable, ErrMTLSEndpointAliasesMissing, name)
		return e
	}
	tok := aliases.get("token_endpoint")
	if tok == "" {
		return missing("token_endpoint")
	}
	md.TokenEndpoint = tok
	if c.s.PAR {
		par := aliases.get("pushed_authorization_request_endpoint")
		if par == "" {
			return missing("pushed_authorization_request_endpoint")
		}
		raw, _ := json.Marshal(par)
		md.PAREndpoint = raw
	}
	if ui := aliases.get("userinfo_endpoint"); ui != "" {
		md.UserinfoEndpoint = ui
	} else {
		c.s.Logger.Debug("oidc: no mtls_endpoint_aliases.userinfo_endpoint; using userinfo_endpoint")
	}
	return nil
}
