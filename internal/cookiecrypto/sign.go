package cookiecrypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// jwsProtected is B64U({"alg":"HS256","b64":false,"crit":["b64"]}), the
// protected header of express-openid-connect's detached-payload JWS
// (RFC 7797) cookie signature.
const jwsProtected = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"

// sigB64Len is the base64url length of an HMAC-SHA256 value.
const sigB64Len = 43

// cookieMAC computes HMAC-SHA256(key, jwsProtected + "." + name + "=" + value).
func cookieMAC(key []byte, name, value string) [sha256.Size]byte {
	m := hmac.New(sha256.New, key)
	buf := make([]byte, 0, len(jwsProtected)+1+len(name)+1+len(value))
	buf = append(buf, jwsProtected...)
	buf = append(buf, '.')
	buf = append(buf, name...)
	buf = append(buf, '=')
	buf = append(buf, value...)
	m.Write(buf)
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	return sum
}

// Sign returns value + "." + signature, where signature is express's
// detached-JWS cookie signature under the current signing key:
//
//	B64U(HMAC-SHA256(signKey, "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19" + "." + name + "=" + value))
//
// Binding name into the MAC stops a signature being replayed under another
// cookie name. A value containing "." cannot be verified (see Verify).
func (k *Keyring) Sign(name, value string) string {
	sum := cookieMAC(k.keys[0].signKey, name, value)
	var sb strings.Builder
	sb.Grow(len(value) + 1 + sigB64Len)
	sb.WriteString(value)
	sb.WriteByte('.')
	var enc [sigB64Len]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	sb.Write(enc[:])
	return sb.String()
}

// Verify checks a value produced by Sign for the cookie called name, trying
// every key in order, and returns the unsigned value. Like express, it
// splits on "." and needs exactly two segments, so a value containing "."
// never verifies. The signature must be canonical unpadded base64url and is
// compared in constant time.
func (k *Keyring) Verify(name, signed string) (string, bool) {
	value, sig, ok := strings.Cut(signed, ".")
	if !ok || len(sig) != sigB64Len || strings.IndexByte(sig, '.') >= 0 {
		return "", false
	}
	var got [sha256.Size]byte
	if !decodeStrict(got[:], sig) {
		return "", false
	}
	for _, key := range k.keys {
		want := cookieMAC(key.signKey, name, value)
		if hmac.Equal(want[:], got[:]) {
			return value, true
		}
	}
	return "", false
}
