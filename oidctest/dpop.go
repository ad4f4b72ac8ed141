package oidctest

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// DPoP (RFC 9449) at the provider's endpoints:
//
//   - A proof is a compact JWS with typ "dpop+jwt", an alg of
//     Options.DPoPSigningAlgs, and a jwk header holding a public key only
//     (RSA keys of 2048 bits at least) under which the signature verifies.
//     Its claims: a jti never seen before (the replay cache keeps the jti
//     of every accepted proof while its iat is within the window, at most
//     dpopReplayCacheSize of them), htm = the request method, htu = the
//     request URI without query and fragment (after RFC 3986 §6.2.2-3
//     normalisation), iat within Options.DPoPProofWindow of Options.Now,
//     nonce = the current server nonce when one is required (a nonce is
//     always checked when present), and, at userinfo and resources, ath =
//     base64url(SHA-256(access token)). A request has at most one DPoP
//     header.
//   - Token and PAR endpoints answer a refused proof with 400
//     invalid_dpop_proof or use_dpop_nonce (and a DPoP-Nonce header);
//     userinfo and resources with 401 and WWW-Authenticate: DPoP
//     error="invalid_dpop_proof" / "use_dpop_nonce".
//   - A token request with a valid proof gets token_type "DPoP" and an
//     access token bound to the key's thumbprint; the refresh token issued
//     with it is bound too (unless Options.DPoPUnboundRefreshTokens), and a
//     refresh without a proof of that key fails with invalid_grant, as
//     does a code grant whose proof key does not match the authorization
//     request's dpop_jkt. A proof at PAR sets dpop_jkt (a different
//     dpop_jkt in the same request is invalid_request).
//   - Userinfo and resources refuse a DPoP-bound token presented as Bearer,
//     an unbound token presented as DPoP, a bound token without a proof and
//     a proof of another key, with 401 invalid_token; the Bearer scheme
//     with a DPoP header gets 400 invalid_request.
//
// Where the RFC leaves the error code open, the provider answers like
// node-oidc-provider 9, so client tests behave the same against both.

// defaultDPoPAlgs and fapiAlgs are the default and the FAPI 2.0 proof
// algorithms.
var (
	defaultDPoPAlgs = []string{"ES256", "EdDSA", "PS256", "RS256"}
	knownDPoPAlgs   = []string{"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA"}
)

const (
	defaultDPoPProofWindow = 60 * time.Second
	// dpopReplayCacheSize bounds the jti replay cache. When it is full,
	// expired entries are pruned first, then the oldest ones.
	dpopReplayCacheSize = 10000
)

// dpopState is the provider's DPoP bookkeeping, guarded by Provider.mu.
type dpopState struct {
	asNonce string               // nonce of the token and PAR endpoints
	rsNonce string               // nonce of userinfo and the resources
	seen    map[string]time.Time // jkt + " " + jti -> end of its window
	last    map[string]string    // endpoint -> last DPoP header received
}

func newDPoPState() dpopState {
	return dpopState{
		asNonce: randomString()[:32],
		rsNonce: randomString()[:32],
		seen:    map[string]time.Time{},
		last:    map[string]string{},
	}
}

// remember records an accepted proof; it reports false for a replay.
// Caller holds Provider.mu.
func (d *dpopState) remember(key string, until, now time.Time) bool {
	if _, dup := d.seen[key]; dup {
		return false
	}
	if len(d.seen) >= dpopReplayCacheSize {
		for k, t := range d.seen {
			if now.After(t) {
				delete(d.seen, k)
			}
		}
	}
	for len(d.seen) >= dpopReplayCacheSize {
		oldest, first := "", time.Time{}
		for k, t := range d.seen {
			if oldest == "" || t.Before(first) {
				oldest, first = k, t
			}
		}
		delete(d.seen, oldest)
	}
	d.seen[key] = until
	return true
}

// normalizeDPoP validates the DPoP options.
func normalizeDPoP(o *Options) error {
	if o.DPoPProofWindow <= 0 {
		o.DPoPProofWindow = defaultDPoPProofWindow
	}
	for _, a := range o.DPoPSigningAlgs {
		if !slices.Contains(knownDPoPAlgs, a) {
			return fmt.Errorf("oidctest: unsupported DPoP signing alg %q", a)
		}
		if o.FAPI2 && !slices.Contains(fapiAlgs, a) {
			return fmt.Errorf("oidctest: FAPI 2.0 does not allow the DPoP signing alg %q", a)
		}
	}
	return nil
}

// dpopEnabled reports whether the provider speaks DPoP.
func (o *Options) dpopEnabled() bool {
	return o.DPoP || len(o.DPoPSigningAlgs) > 0 || o.RequireDPoP || o.DPoPNonce || o.ResourceDPoPNonce || o.FAPI2
}

// dpopRequired reports whether token requests need a proof.
func (o *Options) dpopRequired() bool { return o.RequireDPoP || o.FAPI2 }

// dpopAlgs returns the accepted proof algorithms.
func (o *Options) dpopAlgs() []string {
	switch {
	case len(o.DPoPSigningAlgs) > 0:
		return o.DPoPSigningAlgs
	case o.FAPI2:
		return fapiAlgs
	}
	return defaultDPoPAlgs
}

// checkDPoP verifies the DPoP proof of r at endpoint, if r has one: ath
// against accessToken when it is non-empty, and the server nonce when
// needNonce (the authorization server's, or the resources' when
// resourceSide). It returns nil, nil without a proof or when DPoP is off.
// When needNonce and r has a proof, the current nonce is set in a
// DPoP-Nonce response header.
func (p *Provider) checkDPoP(w http.ResponseWriter, r *http.Request, o Options, endpoint, accessToken string, resourceSide bool) (*dpopProof, *dpopError) {
	if !o.dpopEnabled() {
		return nil, nil
	}
	raw, derr := dpopHeader(r)
	needNonce := o.DPoPNonce
	if resourceSide {
		needNonce = o.ResourceDPoPNonce
	}
	p.mu.Lock()
	nonce := p.dpop.asNonce
	if resourceSide {
		nonce = p.dpop.rsNonce
	}
	if len(r.Header.Values("DPoP")) > 0 {
		p.dpop.last[endpoint] = r.Header.Get("DPoP")
	}
	p.mu.Unlock()
	if raw == "" && derr == nil {
		return nil, nil
	}
	if needNonce {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	if derr != nil {
		return nil, derr
	}
	now := o.Now()
	proof, derr := parseDPoPProof(raw, proofCheck{
		method: r.Method, htu: requestURI(r), accessToken: accessToken,
		nonce: nonce, needNonce: needNonce,
		algs: o.dpopAlgs(), window: o.DPoPProofWindow, now: now,
	})
	if derr != nil {
		return nil, derr
	}
	p.mu.Lock()
	fresh := p.dpop.remember(proof.jkt+" "+proof.jti, now.Add(2*o.DPoPProofWindow), now)
	p.mu.Unlock()
	if !fresh {
		return nil, invalidProof("the DPoP proof was replayed (jti already used)")
	}
	return proof, nil
}

// asError turns a refused proof into the token/PAR endpoint's error.
func (e *dpopError) asError() *oauthError { return badRequest(e.code, e.desc) }

// DPoPNonce returns the current DPoP nonce of the token and PAR endpoints
// (see [Options.DPoPNonce]).
func (p *Provider) DPoPNonce() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dpop.asNonce
}

// ResourceDPoPNonce returns the current DPoP nonce of the userinfo
// endpoint and the resources (see [Options.ResourceDPoPNonce]).
func (p *Provider) ResourceDPoPNonce() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dpop.rsNonce
}

// RotateDPoPNonce replaces both DPoP nonces; proofs carrying an old one
// are then answered with use_dpop_nonce and the new nonce.
func (p *Provider) RotateDPoPNonce() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dpop.asNonce = randomString()[:32]
	p.dpop.rsNonce = randomString()[:32]
}

// LastDPoPProof returns the DPoP header of the last request to endpoint
// ([EndpointToken], [EndpointPAR], [EndpointUserinfo] or
// [EndpointResource]) that had one, valid or not, or "".
func (p *Provider) LastDPoPProof(endpoint string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dpop.last[endpoint]
}
