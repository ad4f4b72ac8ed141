// Package cookiecrypto implements the byte-level cookie formats of
// express-openid-connect 3.x: the JWE (alg "dir", enc "A256GCM") that
// carries a cookie-mode session, and the detached-JWS HMAC signature used
// for the transaction cookie and for store-backed session ids.
//
// Keys are derived from the configured secrets with HKDF-SHA256 exactly as
// the Node library does, so cookies written by either implementation can be
// read by the other.
package cookiecrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
)

// KeySize is the length in bytes of both derived keys (AES-256 and HMAC-SHA256).
const KeySize = 32

const (
	encInfo  = "JWE CEK"
	signInfo = "JWS Cookie Signing"
)

// ErrMalformed reports that a value is not a well-formed cookie of the
// expected format (bad framing, sizes, encoding or header). Decrypt wraps it.
var ErrMalformed = errors.New("cookiecrypto: malformed value")

// ErrDecrypt reports that a well-formed JWE could not be decrypted and
// authenticated with any key of the keyring. Decrypt wraps it.
var ErrDecrypt = errors.New("cookiecrypto: decryption failed")

// deriveKey runs HKDF-SHA256 with an empty salt over secret.
func deriveKey(secret []byte, info string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, info, KeySize)
}

// DeriveEncryptionKey returns the 32-byte AES-256-GCM key express-openid-connect
// derives from secret: HKDF-SHA256 with an empty salt and info "JWE CEK".
// It returns nil only if HKDF refuses the input, which can happen only when the
// FIPS 140-3 "only" mode rejects a short secret.
func DeriveEncryptionKey(secret []byte) []byte {
	k, err := deriveKey(secret, encInfo)
	if err != nil {
		return nil
	}
	return k
}

// DeriveSigningKey returns the 32-byte HMAC-SHA256 key express-openid-connect
// derives from secret: HKDF-SHA256 with an empty salt and info
// "JWS Cookie Signing". It returns nil under the same condition as
// DeriveEncryptionKey.
func DeriveSigningKey(secret []byte) []byte {
	k, err := deriveKey(secret, signInfo)
	if err != nil {
		return nil
	}
	return k
}

// keyPair holds everything derived from one secret.
type keyPair struct {
	encKey  []byte      // AES-256 key, used by the go-jose fallback
	aead    cipher.AEAD // AES-256-GCM over encKey, safe for concurrent use
	signKey []byte      // HMAC-SHA256 key
}

// Keyring holds keys derived from one or more secrets; index 0 encrypts/signs, all decrypt/verify.
//
// A Keyring is immutable after NewKeyring and safe for concurrent use by
// multiple goroutines. It must not be copied after first use.
type Keyring struct {
	keys []keyPair
	// random is the IV source. When the caller supplied its own reader it
	// is serialised with mu, because an arbitrary io.Reader need not be safe
	// for concurrent use; crypto/rand is used without the lock.
	random   io.Reader
	lockRand bool
	mu       sync.Mutex
}

// NewKeyring derives the encryption and signing keys for every secret, in
// order. Secret 0 is the current secret used by Encrypt and Sign; every
// secret is tried by Decrypt and Verify (key rotation). It returns an error
// when secrets is empty or contains an empty secret. A nil random means
// crypto/rand.Reader; a non-nil reader (typically a fixed stream in tests)
// is only ever read under a lock.
func NewKeyring(secrets [][]byte, random io.Reader) (*Keyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("cookiecrypto: at least one secret is required")
	}
	k := &Keyring{keys: make([]keyPair, 0, len(secrets))}
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("cookiecrypto: secret %d is empty", i)
		}
		enc, err := deriveKey(s, encInfo)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: deriving encryption key %d: %w", i, err)
		}
		sig, err := deriveKey(s, signInfo)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: deriving signing key %d: %w", i, err)
		}
		block, err := aes.NewCipher(enc)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: key %d: %w", i, err)
		}
		k.keys = append(k.keys, keyPair{encKey: enc, aead: aead, signKey: sig})
	}
	if random == nil {
		k.random = rand.Reader
	} else {
		k.random = random
		k.lockRand = true
	}
	return k, nil
}

// Len returns the number of keys (secrets) in the keyring.
func (k *Keyring) Len() int { return len(k.keys) }

// readIV fills iv from the keyring's random source.
func (k *Keyring) readIV(iv []byte) error {
	if k.lockRand {
		k.mu.Lock()
		defer k.mu.Unlock()
	}
	if _, err := io.ReadFull(k.random, iv); err != nil {
		return fmt.Errorf("cookiecrypto: reading IV: %w", err)
	}
	return nil
}
