package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/provider"
)

// idTokenChecks are the per-login expectations for an ID token.
type idTokenChecks struct {
	nonce  string // required and compared when non-empty
	maxAge *int64 // auth_time required and checked when set
	code   string // c_hash required and compared when non-empty (hybrid)
}

// verifyIDToken verifies raw with go-oidc (signature, alg, iss, aud; see
// provider.Client.VerifyIDToken) and then applies what go-oidc leaves out:
// exp/nbf/iat with ClockTolerance, sub, azp, nonce, auth_time with max_age,
// and c_hash. Errors are 400 invalid_id_token, wrapping ErrInvalidIDToken
// and, when the provider's keys could not be fetched, the *ProviderError.
func (m *Middleware) verifyIDToken(ctx context.Context, md *provider.Metadata, raw string, chk idTokenChecks) (Claims, error) {
	fail := func(desc string, sentinels ...error) error {
		cause := ErrInvalidIDToken
		if len(sentinels) > 0 {
			cause = fmt.Errorf("%w: %w", ErrInvalidIDToken, sentinels[0])
		}
		return newError(http.StatusBadRequest, "invalid_id_token", desc, cause)
	}
	if raw == "" {
		return nil, fail("the ID token is missing")
	}
	vctx, cancel := context.WithTimeout(ctx, m.s.httpTimeout)
	defer cancel()
	if err := m.provider.VerifyIDToken(vctx, md, raw); err != nil {
		desc := "ID token rejected: " + strings.TrimPrefix(err.Error(), "oidc: ")
		if pe := fromProvider(err); pe != err { // the keys could not be fetched
			return nil, fail(desc, pe)
		}
		return nil, fail(desc)
	}
	claims, err := decodeClaims(raw)
	if err != nil {
		return nil, fail("the ID token payload is not a JSON object")
	}
	now := m.s.now()
	tol := m.s.tolerance
	exp, ok := numericClaim(claims, "exp")
	if !ok {
		return nil, fail("the ID token has no numeric exp claim")
	}
	if !now.Before(exp.Add(tol)) {
		return nil, fail("the ID token has expired")
	}
	iat, ok := numericClaim(claims, "iat")
	if !ok {
		return nil, fail("the ID token has no numeric iat claim")
	}
	if iat.After(now.Add(tol)) {
		return nil, fail("the ID token was issued in the future")
	}
	if _, present := claims["nbf"]; present {
		nbf, ok := numericClaim(claims, "nbf")
		if !ok || nbf.After(now.Add(tol)) {
			return nil, fail("the ID token is not valid yet (nbf)")
		}
	}
	if sub, ok := claims["sub"].(string); !ok || sub == "" {
		return nil, fail("the ID token has no sub claim")
	}
	if err := checkAudience(claims, m.s.clientID); err != "" {
		return nil, fail(err)
	}
	if chk.nonce != "" {
		got, _ := claims["nonce"].(string)
		if subtle.ConstantTimeCompare([]byte(got), []byte(chk.nonce)) != 1 {
			return nil, fail("the ID token nonce does not match this login", ErrNonceMismatch)
		}
	}
	if chk.maxAge != nil {
		at, ok := numericClaim(claims, "auth_time")
		if !ok {
			return nil, fail("the ID token has no auth_time claim although max_age was requested")
		}
		if at.Add(time.Duration(*chk.maxAge) * time.Second).Before(now.Add(-tol)) {
			return nil, fail("the authentication is older than max_age allows")
		}
	}
	if chk.code != "" {
		want := leftHalfHash(m.s.alg, chk.code)
		got, _ := claims["c_hash"].(string)
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return nil, fail("the ID token c_hash does not match the authorization code")
		}
	}
	return claims, nil
}

// checkAudience applies the azp rules go-oidc leaves out: with several
// audiences azp is required, and a present azp must be our client id.
func checkAudience(claims Claims, clientID string) string {
	if auds, ok := claims["aud"].([]any); ok && len(auds) > 1 {
		if _, ok := claims["azp"]; !ok {
			return "the ID token has several audiences but no azp claim"
		}
	}
	if azp, ok := claims["azp"]; ok {
		if s, _ := azp.(string); s != clientID {
			return "the ID token azp claim is not this client"
		}
	}
	return ""
}

// numericClaim reads a NumericDate claim; strings are not accepted.
func numericClaim(claims Claims, name string) (time.Time, bool) {
	switch v := claims[name].(type) {
	case float64:
		return time.Unix(int64(v), 0), true
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(int64(f), 0), true
	}
	return time.Time{}, false
}

// leftHalfHash computes c_hash / at_hash for a value: the base64url of the
// left half of the hash matching the signature algorithm.
func leftHalfHash(alg, value string) string {
	var h hash.Hash
	switch {
	case alg == "EdDSA" || strings.HasSuffix(alg, "512"):
		h = sha512.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	default:
		return ""
	}
	h.Write([]byte(value))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
