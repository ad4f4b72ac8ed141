package oidctest

import (
	"bytes"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// dpopJWTType is the typ header of DPoP proofs (RFC 9449 §4.2).
const dpopJWTType = "dpop+jwt"

// Error codes of DPoP (RFC 9449 §5, §7.1, §8).
const (
	errInvalidDPoPProof = "invalid_dpop_proof"
	errUseDPoPNonce     = "use_dpop_nonce"
)

// privateJWKMembers are the JWK members that only a private or symmetric
// key has (RFC 7518 §6): a proof's jwk holding one is refused.
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// dpopError is a refused DPoP proof: code is invalid_dpop_proof or
// use_dpop_nonce.
type dpopError struct {
	code, desc string
}

func invalidProof(desc string) *dpopError { return &dpopError{code: errInvalidDPoPProof, desc: desc} }

// dpopProof is a verified proof.
type dpopProof struct {
	jkt string // RFC 7638 thumbprint of the proof key
	jti string
}

// proofCheck is what a proof must match besides its own consistency.
type proofCheck struct {
	method      string
	htu         string // the request URI as the server sees it
	accessToken string // the presented access token: ath required
	nonce       string // the current server nonce
	needNonce   bool   // the proof must carry nonce
	algs        []string
	window      time.Duration
	now         time.Time
}

// parseDPoPProof verifies one DPoP proof JWT against c (RFC 9449 §4.3),
// except jti uniqueness, which the caller checks with the replay cache.
func parseDPoPProof(raw string, c proofCheck) (*dpopProof, *dpopError) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, invalidProof("the DPoP proof is not a compact JWS")
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalidProof("the DPoP proof header is not base64url")
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, invalidProof("the DPoP proof header is not a JSON object")
	}
	if e := checkProofHeader(hdr, c.algs); e != nil {
		return nil, e
	}
	algs := make([]jose.SignatureAlgorithm, len(c.algs))
	for i, a := range c.algs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 || jws.Signatures[0].Protected.JSONWebKey == nil {
		return nil, invalidProof("the DPoP proof is not a valid JWS with a public jwk header")
	}
	jwk := jws.Signatures[0].Protected.JSONWebKey
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, invalidProof("the DPoP proof's jwk is not a valid public key")
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return nil, invalidProof("the DPoP proof's RSA key is shorter than 2048 bits")
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, invalidProof("the DPoP proof signature does not verify with its jwk")
	}
	jkt, err := jwkThumbprint(jwk.Key)
	if err != nil {
		return nil, invalidProof("cannot compute the thumbprint of the DPoP proof's jwk")
	}
	jti, e := checkProofClaims(payload, c)
	if e != nil {
		return nil, e
	}
	return &dpopProof{jkt: jkt, jti: jti}, nil
}

// checkProofHeader checks typ, alg, jwk (public members only) and crit.
func checkProofHeader(hdr map[string]json.RawMessage, algs []string) *dpopError {
	var typ, alg string
	if json.Unmarshal(hdr["typ"], &typ) != nil || typ != dpopJWTType {
		return invalidProof(`the DPoP proof's typ must be "dpop+jwt"`)
	}
	if json.Unmarshal(hdr["alg"], &alg) != nil || !slices.Contains(algs, alg) {
		return invalidProof("the DPoP proof's alg must be one of " + strings.Join(algs, ", "))
	}
	if _, ok := hdr["crit"]; ok {
		return invalidProof("the DPoP proof has critical header parameters")
	}
	var jwk map[string]json.RawMessage
	if json.Unmarshal(hdr["jwk"], &jwk) != nil || jwk == nil {
		return invalidProof("the DPoP proof has no jwk header")
	}
	for _, m := range privateJWKMembers {
		if _, ok := jwk[m]; ok {
			return invalidProof("the DPoP proof's jwk holds a private key member (" + m + ")")
		}
	}
	return nil
}

// checkProofClaims checks jti, htm, htu, iat, nonce and ath, and returns
// the jti.
func checkProofClaims(payload []byte, c proofCheck) (string, *dpopError) {
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if dec.Decode(&claims) != nil || claims == nil {
		return "", invalidProof("the DPoP proof's payload is not a JSON object")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" || len(jti) > 512 {
		return "", invalidProof("the DPoP proof has no valid jti")
	}
	if htm, _ := claims["htm"].(string); htm != c.method {
		return "", invalidProof("the DPoP proof's htm does not match the request method " + c.method)
	}
	htu, _ := claims["htu"].(string)
	got, err := normalizeHTU(htu)
	if err != nil {
		return "", invalidProof("the DPoP proof's htu is not an http(s) URI")
	}
	if want, _ := normalizeHTU(c.htu); got != want {
		return "", invalidProof("the DPoP proof's htu does not match the request URI " + c.htu)
	}
	n, ok := claims["iat"].(json.Number)
	iat, err := n.Float64()
	if !ok || err != nil || math.IsNaN(iat) {
		return "", invalidProof("the DPoP proof has no numeric iat")
	}
	if skew := c.now.Sub(time.Unix(int64(iat), 0)); skew > c.window || skew < -c.window {
		return "", invalidProof("the DPoP proof's iat is not within " + c.window.String() + " of the server time")
	}
	if c.accessToken != "" {
		ath, _ := claims["ath"].(string)
		if subtle.ConstantTimeCompare([]byte(ath), []byte(AccessTokenHash(c.accessToken))) != 1 {
			return "", invalidProof("the DPoP proof's ath does not match the access token")
		}
	}
	nonce, present := claims["nonce"]
	switch s, _ := nonce.(string); {
	case c.needNonce && !present:
		return "", &dpopError{code: errUseDPoPNonce, desc: "the DPoP proof must carry the server nonce"}
	case present && (s == "" || s != c.nonce):
		return "", &dpopError{code: errUseDPoPNonce, desc: "the DPoP proof's nonce is not the current server nonce"}
	}
	return jti, nil
}

// dpopHeader returns the request's single DPoP header, or "" when there is
// none; more than one is an error (RFC 9449 §4.3 check 1).
func dpopHeader(r *http.Request) (string, *dpopError) {
	vals := r.Header.Values("DPoP")
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", invalidProof("more than one DPoP header")
	case strings.TrimSpace(vals[0]) == "":
		return "", invalidProof("the DPoP header is empty")
	}
	return strings.TrimSpace(vals[0]), nil
}

// requestURI is the URI of r as its client addressed it: scheme (https when
// r came over TLS), Host and path, without query.
func requestURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}
