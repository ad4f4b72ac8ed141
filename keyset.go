package oidc

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

// jwksCooldown is the minimum time between two JWKS fetches triggered by an
// unknown key id, so that a flood of tokens with random kids cannot become a
// flood of requests to the provider.
const jwksCooldown = 30 * time.Second

// maxJWTBytes bounds the tokens we parse.
const maxJWTBytes = 256 << 10

var errNoKey = errors.New("no matching key in the provider's JWKS")

// keySet verifies JWS signatures with the provider's JWKS. It implements
// go-oidc's KeySet. Keys are fetched lazily, re-fetched only when no key
// matches (at most once per jwksCooldown), and concurrent fetches are
// shared. A failed fetch keeps the old keys. HS* tokens are verified with the
// client secret.
type keySet struct {
	s      *settings
	client *http.Client
	uri    string

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   bool
	fetchedAt time.Time
	inflight  *keysFlight
}

type keysFlight struct {
	done chan struct{}
	err  error
}

func newKeySet(s *settings, client *http.Client, uri string) *keySet {
	return &keySet{s: s, client: client, uri: uri}
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	if len(raw) > maxJWTBytes {
		return nil, errors.New("token too large")
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.s.alg)})
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must have exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	if strings.HasPrefix(k.s.alg, "HS") {
		return jws.Verify([]byte(k.s.clientSecret))
	}
	for attempt := 0; attempt < 2; attempt++ {
		candidates, stale := k.candidates(hdr.KeyID)
		for _, key := range candidates {
			if payload, err := jws.Verify(key.Key); err == nil {
				return payload, nil
			}
		}
		if len(candidates) > 0 || attempt == 1 || !stale {
			if len(candidates) > 0 {
				return nil, errors.New("signature verification failed")
			}
			break
		}
		if err := k.refresh(ctx); err != nil {
			return nil, err
		}
	}
	return nil, errNoKey
}

// candidates returns the eligible keys for kid (all eligible keys when kid is
// empty) and whether a refetch is allowed.
func (k *keySet) candidates(kid string) ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if eligible(key, k.s.alg) {
			out = append(out, key)
		}
	}
	stale := !k.fetched || !k.s.now().Before(k.fetchedAt.Add(jwksCooldown))
	return out, stale
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

// refresh fetches the JWKS, sharing one fetch between concurrent callers.
func (k *keySet) refresh(ctx context.Context) error {
	k.mu.Lock()
	f := k.inflight
	leader := f == nil
	if leader {
		f = &keysFlight{done: make(chan struct{})}
		k.inflight = f
	}
	k.mu.Unlock()
	if !leader {
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.s.httpTimeout)
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	err := getJSON(fctx, k.client, k.uri, &set)
	cancel()
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if key.UnmarshalJSON(raw) == nil && key.Valid() && key.IsPublic() {
			keys = append(keys, key) // malformed or private entries are skipped
		}
	}
	k.mu.Lock()
	k.fetched, k.fetchedAt = true, k.s.now()
	if err == nil {
		k.keys = keys
	}
	f.err = err
	k.inflight = nil
	k.mu.Unlock()
	close(f.done)
	return err
}
