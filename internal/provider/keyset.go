package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksCooldown is the minimum time between two JWKS fetches triggered by a
// failed verification (an unknown key id, a bad signature, a kid-less token
// that no key verifies), so that a flood of such tokens cannot become a
// flood of requests to the provider. It is measured from the last such
// fetch only: routine fetches do not delay the next one.
const jwksCooldown = 30 * time.Second

// Back-off after a failed JWKS fetch: a provider outage costs one attempt
// per window, not one per token.
const (
	jwksBackoffMin = 5 * time.Second
	jwksBackoffMax = time.Minute
)

// MaxJWTBytes bounds the tokens we parse.
const MaxJWTBytes = 256 << 10

var errNoKey = errors.New("no matching key in the provider's JWKS")

// errBadSignature is returned when keys matched the token but none of them
// verified its signature.
var errBadSignature = errors.New("signature verification failed")

// keySet verifies JWS signatures with the provider's JWKS. It implements
// go-oidc's KeySet and serves ID tokens and logout tokens alike.
//
// Keys are fetched lazily and trusted for at most JWKSCacheMaxAge: older
// keys are re-fetched before the next verification, so a key the provider
// removed stops verifying within that time, and a key replaced under the
// same kid (or without kids) is picked up. A failed fetch keeps the old
// keys (stale-if-error) and backs off. A verification that fails with
// cached keys triggers one re-fetch and one more attempt, at most once per
// jwksCooldown across all callers. Concurrent fetches are shared. HS*
// tokens are verified with the client secret.
type keySet struct {
	c   *Client
	uri string

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	gen       uint64    // successful fetches so far; 0 means no keys yet
	fetchedAt time.Time // last successful fetch
	forced    bool      // a failure-triggered fetch happened
	forcedAt  time.Time // start of the last failure-triggered fetch
	retryAt   time.Time // back-off: no fetch before this
	backoff   time.Duration
	lastErr   error // an *Error
	inflight  *keysFlight
}

type keysFlight struct {
	done chan struct{}
	err  error
}

func newKeySet(c *Client, uri string) *keySet {
	return &keySet{c: c, uri: uri}
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	if len(raw) > MaxJWTBytes {
		return nil, errors.New("token too large")
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.c.s.IDTokenAlg)})
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must have exactly one signature")
	}
	if strings.HasPrefix(k.c.s.IDTokenAlg, "HS") {
		return jws.Verify([]byte(k.c.s.ClientSecret))
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, gen, justFetched, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := k.verifyWith(jws, keys, kid)
	if err == nil || justFetched {
		// Keys fetched for this very token are as fresh as they get.
		return payload, err
	}
	keys, ok := k.refetch(ctx, gen)
	if !ok {
		return nil, err
	}
	return k.verifyWith(jws, keys, kid)
}

// verifyWith verifies jws with the eligible keys for kid (every eligible
// key when the token has no kid).
func (k *keySet) verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) ([]byte, error) {
	matched := false
	for _, key := range keys {
		if (kid != "" && key.KeyID != kid) || !eligible(key, k.c.s.IDTokenAlg) {
			continue
		}
		matched = true
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	if matched {
		return nil, errBadSignature
	}
	return nil, errNoKey
}

// current returns the keys to verify with, fetching them first when there
// are none yet or they are older than the maximum age (unless a failed
// fetch is backing off). justFetched reports that a fetch made for this
// call succeeded. An error means there are no keys at all.
func (k *keySet) current(ctx context.Context) (keys []jose.JSONWebKey, gen uint64, justFetched bool, err error) {
	k.mu.Lock()
	now := k.c.s.Now()
	if k.gen > 0 && now.Sub(k.fetchedAt) < k.c.s.JWKSMaxAge {
		keys, gen = k.keys, k.gen
		k.mu.Unlock()
		return keys, gen, false, nil
	}
	if k.inflight == nil && now.Before(k.retryAt) {
		keys, gen, err = k.keys, k.gen, k.lastErr
		k.mu.Unlock()
		if gen == 0 {
			return nil, 0, false, err
		}
		return keys, gen, false, nil // stale-if-error
	}
	f, leader := k.flightLocked()
	k.mu.Unlock()
	ferr := k.await(ctx, f, leader)
	k.mu.Lock()
	keys, gen = k.keys, k.gen
	k.mu.Unlock()
	if gen == 0 {
		return nil, 0, false, ferr
	}
	return keys, gen, ferr == nil, nil
}

// refetch re-fetches the keys after a failed verification with the keys of
// generation gen, and reports whether there are other keys to try. It
// joins a fetch in flight, and otherwise starts one only when the cooldown
// since the last failure-triggered fetch has passed and no back-off is
// running.
func (k *keySet) refetch(ctx context.Context, gen uint64) ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	if k.gen != gen {
		keys := k.keys // changed since the caller tried: no fetch needed
		k.mu.Unlock()
		return keys, true
	}
	leader := false
	f := k.inflight
	if f == nil {
		now := k.c.s.Now()
		if (k.forced && now.Before(k.forcedAt.Add(jwksCooldown))) || now.Before(k.retryAt) {
			k.mu.Unlock()
			return nil, false
		}
		k.forced, k.forcedAt = true, now
		f, leader = k.flightLocked()
	}
	k.mu.Unlock()
	_ = k.await(ctx, f, leader)
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.gen != gen
}

// flightLocked returns the fetch in flight, or a new one that the caller
// leads. The caller holds k.mu.
func (k *keySet) flightLocked() (*keysFlight, bool) {
	if f := k.inflight; f != nil {
		return f, false
	}
	f := &keysFlight{done: make(chan struct{})}
	k.inflight = f
	return f, true
}

// await runs the fetch when leader, and otherwise waits for it or for ctx.
func (k *keySet) await(ctx context.Context, f *keysFlight, leader bool) error {
	if leader {
		k.fetch(ctx, f)
		return f.err
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return unavailable(http.StatusServiceUnavailable, ctx.Err().Error(), ctx.Err())
	}
}

// fetch downloads the JWKS into f. A successful fetch replaces the keys, so
// keys the provider dropped stop verifying at once; a failed one keeps them
// and starts (or extends) the back-off.
func (k *keySet) fetch(ctx context.Context, f *keysFlight) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.c.s.HTTPTimeout)
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	var err error
	if e := k.c.getJSON(fctx, k.uri, &set); e != nil {
		err = e
	}
	cancel()
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if key.UnmarshalJSON(raw) == nil && key.Valid() && key.IsPublic() {
			keys = append(keys, key) // malformed or private entries are skipped
		}
	}
	k.mu.Lock()
	now := k.c.s.Now()
	if err == nil {
		k.keys, k.gen, k.fetchedAt = keys, k.gen+1, now
		k.backoff, k.retryAt, k.lastErr = 0, time.Time{}, nil
	} else {
		k.backoff = min(max(k.backoff*2, jwksBackoffMin), jwksBackoffMax)
		k.retryAt, k.lastErr = now.Add(k.backoff), err
	}
	stale := k.gen > 0
	f.err = err
	k.inflight = nil
	k.mu.Unlock()
	close(f.done)
	if err != nil {
		if stale {
			k.c.s.Logger.Warn("oidc: JWKS refresh failed; keeping the cached keys", "error", detail(err))
		} else {
			k.c.s.Logger.Warn("oidc: JWKS fetch failed", "error", detail(err))
		}
	}
}

// eligible reports whether key may verify a token signed with alg.
func eligible(key jose.JSONWebKey, alg string) bool {
	if key.Use != "" && key.Use != "sig" {
		return false
	}
	if key.Algorithm != "" && key.Algorithm != alg {
		return false
	}
	switch key.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// detail is the text to log of err: Detail for an *Error.
func detail(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Detail()
	}
	return err.Error()
}
