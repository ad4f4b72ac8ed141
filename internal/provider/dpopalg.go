package provider

import (
	"encoding/json"
	"slices"
	"strings"
)

// The proof algorithm. When the provider advertises
// dpop_signing_alg_values_supported (a non-empty array of strings), the
// configured algorithm must be one of them; without a configured one, the
// first of the provider's list that the key can sign is used. When it
// advertises none, the configured algorithm or the key's default is used.
// The choice is made once per generation of metadata.

// algChoice is the proof algorithm chosen for one generation of metadata.
type algChoice struct {
	md  *Metadata
	alg string
	err *Error
}

// DPoPAlgError is the cause of a request that was not sent because no
// proof algorithm fits both the DPoP key (or the configured algorithm) and
// the provider's dpop_signing_alg_values_supported. It names both lists.
type DPoPAlgError struct {
	// Configured is the configured algorithm, or "" when it was to be
	// chosen.
	Configured string
	// Key lists the algorithms the key can sign (only Configured when one
	// is configured).
	Key []string
	// Provider is the provider's dpop_signing_alg_values_supported.
	Provider []string
}

// Error names both lists.
func (e *DPoPAlgError) Error() string {
	if e.Configured != "" {
		return "oidc: DPoPConfig.Alg " + e.Configured + " is not among the provider's dpop_signing_alg_values_supported (" +
			strings.Join(e.Provider, ", ") + ")"
	}
	return "oidc: no DPoP algorithm fits both the key (" + strings.Join(e.Key, ", ") +
		") and the provider's dpop_signing_alg_values_supported (" + strings.Join(e.Provider, ", ") + ")"
}

// dpopAlgs returns the provider's dpop_signing_alg_values_supported, or nil
// when it advertises none (absent, not an array of strings, or empty).
func (md *Metadata) dpopAlgs() []string {
	if len(md.DPoPSigningAlgs) == 0 {
		return nil
	}
	var raw []string
	if err := json.Unmarshal(md.DPoPSigningAlgs, &raw); err != nil {
		return nil
	}
	var algs []string
	for _, a := range raw {
		if algName(a) && len(algs) < maxOfferedAlgs {
			algs = append(algs, a)
		}
	}
	return algs
}

// maxOfferedAlgs bounds the provider's algorithms that are looked at (and
// named in errors).
const maxOfferedAlgs = 32

// algName reports whether a is shaped like a JWS algorithm name: 1 to 32
// letters, digits, '+', '-', '.' or '_'. Others are ignored, so that
// errors and logs only name well-formed values.
func algName(a string) bool {
	if a == "" || len(a) > 32 {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+-._", c) >= 0) {
			return false
		}
	}
	return true
}

// errAlg returns the *DPoPAlgError e wraps, if it does.
func (e *Error) errAlg() (*DPoPAlgError, bool) {
	if e == nil {
		return nil, false
	}
	ae, ok := e.Err.(*DPoPAlgError)
	return ae, ok
}

// AdvertisesDPoP reports whether the provider advertises DPoP support: a
// non-empty dpop_signing_alg_values_supported array of strings.
func (md *Metadata) AdvertisesDPoP() bool { return md.dpopAlgs() != nil }

// dpopAlg returns the proof algorithm for md's provider. Its error
// (server_error, 500, wrapping a *DPoPAlgError) is logged at Warn once per
// generation of metadata.
func (c *Client) dpopAlg(md *Metadata) (string, *Error) {
	d := c.dpop
	if ch := d.choice.Load(); ch != nil && ch.md == md {
		return ch.alg, ch.err
	}
	ch := &algChoice{md: md}
	ch.alg, ch.err = d.chooseAlg(md.dpopAlgs())
	d.choice.Store(ch)
	if ae, ok := ch.err.errAlg(); ok {
		c.s.Logger.Warn("oidc: no DPoP proof algorithm fits both the key and the provider; token requests fail until the configuration is fixed",
			"configured", ae.Configured, "key", strings.Join(ae.Key, " "), "provider", strings.Join(ae.Provider, " "))
	}
	return ch.alg, ch.err
}

// chooseAlg picks the proof algorithm given the provider's list (nil when
// it advertises none).
func (d *dpopState) chooseAlg(offered []string) (string, *Error) {
	switch {
	case offered == nil && d.alg != "":
		return d.alg, nil
	case offered == nil:
		return d.key.algs[0], nil
	case d.alg != "" && slices.Contains(offered, d.alg):
		return d.alg, nil
	case d.alg == "":
		for _, a := range offered {
			if d.key.CanSign(a) {
				return a, nil
			}
		}
	}
	ae := &DPoPAlgError{Configured: d.alg, Key: d.key.Algs(), Provider: slices.Clone(offered)}
	if d.alg != "" {
		ae.Key = []string{d.alg}
	}
	return "", localError(strings.TrimPrefix(ae.Error(), "oidc: "), nil, ae)
}
