package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"maps"
	"slices"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// Profile names a security profile for Config.Profile: a set of
// requirements that New checks the configuration against.
type Profile string

// ProfileFAPI2 is the client side of the FAPI 2.0 Security Profile. With
// Config.Profile set to it, New requires, and reports every violation as
// a *ConfigError naming the option (joined, like all of New's errors):
//
//   - the authorization code flow only: AuthorizationParams
//     "response_type" "code" (the default under the profile; PKCE with
//     S256 is always used by the code flow);
//   - pushed authorization requests: PushedAuthorizationRequests is turned
//     on;
//   - private_key_jwt client authentication (ClientAssertionSigningKey;
//     ClientAuthMethod unset or "private_key_jwt") or mTLS (UseMTLS);
//   - sender-constrained tokens: Config.DPoP (without
//     AllowBearerDowngrade) or UseMTLS;
//   - the RFC 9207 iss parameter in every authorization response, even
//     when the provider does not advertise it (a callback without it is
//     refused with ErrIssuerParameter);
//   - the signature algorithms PS256, ES256 and EdDSA only: for ID tokens
//     (IDTokenSigningAlg, default PS256 under the profile; none and HS*
//     are refused), client assertions (ClientAssertionSigningAlg, default
//     PS256 for RSA keys), request objects (RequestObjectSigningAlg) and
//     DPoP proofs (DPoP.Alg, default by key: PS256, ES256 or EdDSA).
//
// Defaults apply only to unset options; an explicit setting that
// contradicts the profile is an error. The profile does not check what
// only the provider or the deployment can ensure (https everywhere, key
// sizes beyond those New already requires, token lifetimes).
const ProfileFAPI2 Profile = "fapi2"

// fapi2Algs are the signature algorithms FAPI 2.0 allows.
var fapi2Algs = []string{"PS256", "ES256", "EdDSA"}

// fapi2AlgList is fapi2Algs for error messages.
const fapi2AlgList = "PS256, ES256 or EdDSA"

// applyProfileDefaults fills in the unset options that the profile gives
// a secure default, on s.cfg (a copy of the caller's Config; its maps and
// DPoP are copied before they change). An unknown Profile is an error.
func (s *settings) applyProfileDefaults(v *validator) {
	switch s.cfg.Profile {
	case "":
		return
	case ProfileFAPI2:
	default:
		v.fail("Profile", "unknown profile %q (want ProfileFAPI2 or none)", string(s.cfg.Profile))
		return
	}
	cfg := &s.cfg
	if cfg.AuthorizationParams["response_type"] == "" {
		params := maps.Clone(cfg.AuthorizationParams)
		if params == nil {
			params = map[string]string{}
		}
		params["response_type"] = "code"
		cfg.AuthorizationParams = params
	}
	cfg.PushedAuthorizationRequests = true
	if cfg.IDTokenSigningAlg == "" {
		cfg.IDTokenSigningAlg = "PS256"
	}
	if cfg.ClientAssertionSigningAlg == "" && cfg.ClientAssertionSigningKey != nil {
		if _, ok := cfg.ClientAssertionSigningKey.Public().(*rsa.PublicKey); ok {
			cfg.ClientAssertionSigningAlg = "PS256"
		}
	}
	if cfg.DPoP != nil && cfg.DPoP.Alg == "" {
		d := *cfg.DPoP
		d.Alg = fapi2KeyAlg(d.Key)
		cfg.DPoP = &d
	}
	s.requireIss = true
}

// fapi2KeyAlg is the FAPI 2.0 algorithm of a key ("" when it has none; a
// nil key is generated in development, for ES256).
func fapi2KeyAlg(key crypto.Signer) string {
	if key == nil {
		return "ES256"
	}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		return "PS256"
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ES256"
		}
	case ed25519.PublicKey:
		return "EdDSA"
	}
	return ""
}

// checkProfile checks the resolved settings against the profile. Options
// that failed their own checks are not reported again.
func (s *settings) checkProfile(v *validator) {
	if s.cfg.Profile != ProfileFAPI2 {
		return
	}
	cfg := s.cfg
	const why = " under ProfileFAPI2"
	if rt := cfg.AuthorizationParams["response_type"]; rt != "code" && !v.has(`AuthorizationParams["response_type"]`) {
		v.fail(`AuthorizationParams["response_type"]`, `must be "code"%s (FAPI 2.0 allows the authorization code flow only), not %q`, why, rt)
	}
	if !s.useMTLS && !v.has("ClientAuthMethod") {
		switch {
		case s.authMethod != provider.AuthPrivateKeyJWT && cfg.ClientAuthMethod != "":
			v.fail("ClientAuthMethod", `must be "private_key_jwt"%s (or use UseMTLS), not %q`, why, cfg.ClientAuthMethod)
		case s.authMethod != provider.AuthPrivateKeyJWT:
			v.fail("ClientAuthMethod", `must be "private_key_jwt"%s: set ClientAssertionSigningKey (or use UseMTLS)`, why)
		case cfg.ClientAssertionSigningKey != nil && !slices.Contains(fapi2Algs, s.assertionAlg) &&
			!v.has("ClientAssertionSigningAlg") && !v.has("ClientAssertionSigningKey"):
			v.fail("ClientAssertionSigningAlg", "must be %s%s, not %q", fapi2AlgList, why, s.assertionAlg)
		}
	}
	switch d := cfg.DPoP; {
	case d == nil && !s.useMTLS:
		v.fail("DPoP", "is required%s: tokens must be sender-constrained (DPoP, or mTLS with UseMTLS)", why)
	case d == nil:
	case d.AllowBearerDowngrade:
		v.fail("DPoP.AllowBearerDowngrade", "must be false%s: Bearer tokens are not sender-constrained", why)
	}
	if d := cfg.DPoP; d != nil && !v.has("DPoP.Alg") && !v.has("DPoP.Key") && !slices.Contains(fapi2Algs, d.Alg) {
		if d.Alg == "" {
			v.fail("DPoP.Key", "must be an RSA, P-256 or Ed25519 key%s (proofs must use %s)", why, fapi2AlgList)
		} else {
			v.fail("DPoP.Alg", "must be %s%s, not %q", fapi2AlgList, why, d.Alg)
		}
	}
	if alg := cfg.IDTokenSigningAlg; !slices.Contains(fapi2Algs, alg) && !v.has("IDTokenSigningAlg") {
		v.fail("IDTokenSigningAlg", "must be %s%s (no unsigned or HMAC-signed ID tokens), not %q", fapi2AlgList, why, alg)
	}
	if cfg.RequestObjectSigningKey != nil && !slices.Contains(fapi2Algs, cfg.RequestObjectSigningAlg) &&
		!v.has("RequestObjectSigningAlg") {
		v.fail("RequestObjectSigningAlg", "must be %s%s, not %q", fapi2AlgList, why, cfg.RequestObjectSigningAlg)
	}
}
