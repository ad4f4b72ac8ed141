package oidctest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// TestSigningKey: Options.SigningKey is the first key (with a kid of each
// provider's own), a key that does not fit Alg is refused, and RotateKeys
// still generates a new key.
func TestSigningKey(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecP384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)

	t.Run("used as the first key", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			alg string
			key crypto.Signer
		}{{"RS256", rsaKey}, {"PS256", rsaKey}, {"ES256", ecKey}, {"EdDSA", edKey}} {
			a := oidctest.NewProvider(t, oidctest.Options{Alg: tc.alg, SigningKey: tc.key})
			b := oidctest.NewProvider(t, oidctest.Options{Alg: tc.alg, SigningKey: tc.key})
			assert.Equal(t, tc.key.Public(), a.PublicKey(), tc.alg)
			assert.NotEqual(t, a.KeyID(), b.KeyID(), "%s: each provider has its own kid", tc.alg)
		}
	})

	t.Run("rotation generates a new key", func(t *testing.T) {
		t.Parallel()
		p := oidctest.NewProvider(t, oidctest.Options{SigningKey: rsaKey})
		kid := p.KeyID()
		p.RotateKeys()
		assert.NotEqual(t, kid, p.KeyID())
		assert.NotEqual(t, rsaKey.Public(), p.PublicKey())
	})

	t.Run("a key that does not fit Alg is refused", func(t *testing.T) {
		t.Parallel()
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		require.NoError(t, err)
		for _, tc := range []struct {
			name string
			opts oidctest.Options
		}{
			{"RSA key for ES256", oidctest.Options{Alg: "ES256", SigningKey: rsaKey}},
			{"P-384 key for ES256", oidctest.Options{Alg: "ES256", SigningKey: ecP384}},
			{"EC key for RS256", oidctest.Options{Alg: "RS256", SigningKey: ecKey}},
			{"1024-bit RSA key", oidctest.Options{Alg: "RS256", SigningKey: small}},
			{"Ed25519 key for PS256", oidctest.Options{Alg: "PS256", SigningKey: edKey}},
			{"any key for HS256", oidctest.Options{Alg: "HS256", SigningKey: rsaKey}},
		} {
			p, err := oidctest.NewServer("127.0.0.1:0", tc.opts)
			if p != nil {
				p.Close()
			}
			assert.ErrorContains(t, err, "SigningKey", tc.name)
		}
	})
}
