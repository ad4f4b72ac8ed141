package cookiecrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// This file implements this port's own encrypted cookie format, used for
// values that express-openid-connect only signs (the login transaction). It
// is not readable by express-openid-connect.
//
// A sealed value is
//
//	"v1." + B64U(iv || AES-256-GCM(key, iv, plaintext, aad))
//
// with a fresh 12-byte random iv, the 16-byte tag at the end, and
//
//	key = HKDF-SHA256(secret, salt = empty, info = the Sealer's purpose)
//	aad = "v1" || 0x00 || cookie name
//
// The purpose gives every use its own keys, distinct from the session
// cookie's "JWE CEK" and the signing key, and the cookie name in the AAD
// stops a value being moved from one cookie to another. The encoding is
// unpadded base64url, so the value is a valid cookie value as it stands.

// sealedPrefix starts every sealed value. It versions the format and tells it
// apart from express's signed values, which start with a JSON object.
const sealedPrefix = "v1."

// sealedIVSize and sealedTagSize are the AES-GCM nonce and tag sizes.
const (
	sealedIVSize  = 12
	sealedTagSize = 16
)

// sealedAADPrefix starts the additional authenticated data: the version and
// a separator that cannot occur in a cookie name.
const sealedAADPrefix = "v1\x00"

// MaxSealedLen is the length of the longest value Open looks at; longer
// values are refused before any decoding. It is far above what fits in a
// cookie.
const MaxSealedLen = 16 << 10

// maxSealedPlaintext is the largest plaintext Seal accepts, chosen so that
// every sealed value is at most MaxSealedLen long.
const maxSealedPlaintext = (MaxSealedLen-len(sealedPrefix))/4*3 - sealedIVSize - sealedTagSize

// TransactionPurpose is the HKDF info of the login transaction cookie's
// keys.
const TransactionPurpose = "openidconnect-go transaction cookie v1"

// ErrSealed reports that a value could not be opened: it is not a sealed
// value, is malformed or too long, or no key authenticates it for the
// cookie name. Open's errors wrap it.
var ErrSealed = errors.New("cookiecrypto: cannot open sealed value")

// Open's errors, allocated once so that refusing junk costs nothing.
var (
	errSealedTooLong   = fmt.Errorf("%w: longer than %d bytes", ErrSealed, MaxSealedLen)
	errSealedPrefix    = fmt.Errorf("%w: not a sealed value", ErrSealed)
	errSealedMalformed = fmt.Errorf("%w: malformed", ErrSealed)
	errSealedForged    = fmt.Errorf("%w: not authentic for this cookie", ErrSealed)
)

// Sealer encrypts and authenticates short cookie values under keys derived
// from the configured secrets for one purpose. The first secret seals; every
// secret is tried when opening (key rotation).
//
// A Sealer is immutable after NewSealer and safe for concurrent use. It must
// not be copied after first use.
type Sealer struct {
	aeads []cipher.AEAD
	// random is the IV source; a caller-supplied reader is used under mu.
	random   io.Reader
	lockRand bool
	mu       sync.Mutex
}

// NewSealer derives one AES-256-GCM key per secret, in order, with
// HKDF-SHA256 (empty salt) and purpose as the info. purpose must be non-empty
// and must differ from every other use of the same secrets. A nil random
// means crypto/rand.Reader; any other reader is only read under a lock.
func NewSealer(purpose string, secrets [][]byte, random io.Reader) (*Sealer, error) {
	if purpose == "" || purpose == encInfo || purpose == signInfo {
		return nil, errors.New("cookiecrypto: the sealer needs a purpose of its own")
	}
	if len(secrets) == 0 {
		return nil, errors.New("cookiecrypto: at least one secret is required")
	}
	s := &Sealer{aeads: make([]cipher.AEAD, 0, len(secrets))}
	for i, secret := range secrets {
		if len(secret) == 0 {
			return nil, fmt.Errorf("cookiecrypto: secret %d is empty", i)
		}
		key, err := deriveKey(secret, purpose)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: deriving sealing key %d: %w", i, err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: sealing key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("cookiecrypto: sealing key %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	if random == nil {
		s.random = rand.Reader
	} else {
		s.random = random
		s.lockRand = true
	}
	return s, nil
}

// IsSealed reports whether value has the sealed format's prefix (it says
// nothing about whether it opens).
func IsSealed(value string) bool { return strings.HasPrefix(value, sealedPrefix) }

// sealedAAD returns the additional authenticated data for the cookie name.
func sealedAAD(name string) []byte {
	aad := make([]byte, 0, len(sealedAADPrefix)+len(name))
	aad = append(aad, sealedAADPrefix...)
	return append(aad, name...)
}

// Seal encrypts plaintext for the cookie called name under the first key.
// It fails only when plaintext is longer than the format allows or the
// random source fails.
func (s *Sealer) Seal(name string, plaintext []byte) (string, error) {
	if len(plaintext) > maxSealedPlaintext {
		return "", fmt.Errorf("cookiecrypto: value longer than %d bytes", maxSealedPlaintext)
	}
	aead := s.aeads[0]
	buf := make([]byte, sealedIVSize, sealedIVSize+len(plaintext)+aead.Overhead())
	if err := s.readIV(buf); err != nil {
		return "", err
	}
	buf = aead.Seal(buf, buf[:sealedIVSize], plaintext, sealedAAD(name))
	enc := base64.RawURLEncoding
	out := make([]byte, len(sealedPrefix)+enc.EncodedLen(len(buf)))
	copy(out, sealedPrefix)
	enc.Encode(out[len(sealedPrefix):], buf)
	return string(out), nil
}

// Open decrypts a value produced by Seal for the cookie called name, trying
// every key in order. Values longer than MaxSealedLen are refused before
// decoding; the base64url must be canonical (no padding, no stray bits), so
// exactly one string opens to a given sealed message. Errors wrap ErrSealed
// and never include the value. Open never panics.
func (s *Sealer) Open(name, value string) ([]byte, error) {
	if len(value) > MaxSealedLen {
		return nil, errSealedTooLong
	}
	body, ok := strings.CutPrefix(value, sealedPrefix)
	if !ok {
		return nil, errSealedPrefix
	}
	// The decoder skips CR and LF, so check the alphabet first: only one
	// string may open to a given message.
	for i := 0; i < len(body); i++ {
		if !isB64URL(body[i]) {
			return nil, errSealedMalformed
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < sealedIVSize+sealedTagSize {
		return nil, errSealedMalformed
	}
	iv, ct := raw[:sealedIVSize], raw[sealedIVSize:]
	aad := sealedAAD(name)
	for _, aead := range s.aeads {
		if pt, err := aead.Open(nil, iv, ct, aad); err == nil {
			return pt, nil
		}
	}
	return nil, errSealedForged
}

// isB64URL reports whether c is in the base64url alphabet.
func isB64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// readIV fills iv from the sealer's random source.
func (s *Sealer) readIV(iv []byte) error {
	if s.lockRand {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if _, err := io.ReadFull(s.random, iv); err != nil {
		return fmt.Errorf("cookiecrypto: reading IV: %w", err)
	}
	return nil
}
