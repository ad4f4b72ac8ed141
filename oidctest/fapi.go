package oidctest

import (
	"errors"
	"fmt"
	"slices"
)

// FAPI 2.0 Security Profile (Options.FAPI2), as an authorization server,
// to the extent a client's conformance tests need:
//
//   - /authorize takes only PAR request_uris (invalid_request otherwise);
//     PKCE with S256 is required (invalid_request); response_type must be
//     code (unsupported_response_type); every authorization response
//     carries iss (RFC 9207).
//   - Client authentication is private_key_jwt only, with PS256, ES256 or
//     EdDSA (invalid_client otherwise); signed request objects too
//     (invalid_request_object).
//   - Every token request needs a DPoP proof (invalid_dpop_proof): access
//     tokens are DPoP-bound. Proofs must use PS256, ES256 or EdDSA.
//   - ID tokens are signed with PS256 (default), ES256 or EdDSA.
//   - Discovery advertises exactly that.
//
// Not enforced: mTLS sender constraining, https-only redirect URIs,
// refresh-token rotation (FAPI 2.0 discourages it; it stays as configured)
// and key sizes beyond RSA 2048 for DPoP keys.

// fapiAlgs are the signature algorithms FAPI 2.0 allows (§5.4.1).
var fapiAlgs = []string{"PS256", "ES256", "EdDSA"}

// normalizeFAPI2 validates the options FAPI2 constrains.
func normalizeFAPI2(o *Options) error {
	if !o.FAPI2 {
		return nil
	}
	var errs []error
	if !slices.Contains(fapiAlgs, o.Alg) {
		errs = append(errs, fmt.Errorf("oidctest: FAPI2 requires Alg PS256, ES256 or EdDSA, not %q", o.Alg))
	}
	for _, m := range o.TokenEndpointAuthMethods {
		if m != "private_key_jwt" {
			errs = append(errs, fmt.Errorf("oidctest: FAPI2 allows only private_key_jwt client authentication, not %q", m))
		}
	}
	if o.DisablePAR {
		errs = append(errs, errors.New("oidctest: FAPI2 requires PAR: DisablePAR cannot be set"))
	}
	return errors.Join(errs...)
}

// parRequired reports whether /authorize requires a PAR request_uri.
func (o *Options) parRequired() bool { return o.RequirePAR || o.FAPI2 }

// pkceRequired reports whether code-flow requests need a code_challenge.
func (o *Options) pkceRequired() bool { return o.RequirePKCE || o.FAPI2 }

// issParameter reports whether authorization responses carry iss.
func (o *Options) issParameter() bool { return o.AuthorizationResponseIssParameter || o.FAPI2 }

// fapiAssertionAlg reports whether a client assertion or request object
// alg is acceptable.
func (o *Options) fapiAssertionAlg(alg string) bool {
	return !o.FAPI2 || slices.Contains(fapiAlgs, alg)
}

// fapiDiscovery narrows the discovery document to what FAPI2 allows.
func fapiDiscovery(doc map[string]any) {
	doc["response_types_supported"] = []string{"code"}
	doc["response_modes_supported"] = []string{"query", "form_post"}
	doc["grant_types_supported"] = []string{"authorization_code", "refresh_token"}
	doc["token_endpoint_auth_signing_alg_values_supported"] = slices.Clone(fapiAlgs)
	doc["request_object_signing_alg_values_supported"] = slices.Clone(fapiAlgs)
	doc["revocation_endpoint_auth_signing_alg_values_supported"] = slices.Clone(fapiAlgs)
}
