package oidctest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"

	"github.com/openidconnect-go/oidc/oidctest"
)

// sharedRSAKey is one RSA signing key for the providers of these tests
// (Options.SigningKey): generating a 2048-bit key per provider is slow,
// above all under -race. Each provider still has its own kid, and
// RotateKeys still generates new keys.
var sharedRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// newProvider is oidctest.NewProvider with sharedRSAKey when the provider
// signs with RSA and the test gives no key of its own.
func newProvider(t oidctest.TestingT, opts oidctest.Options) *oidctest.Provider {
	t.Helper()
	if opts.SigningKey == nil && (opts.Alg == "" || opts.Alg == "RS256" || opts.Alg == "PS256") {
		opts.SigningKey = sharedRSAKey()
	}
	return oidctest.NewProvider(t, opts)
}
