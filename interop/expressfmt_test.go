package interop

// An independent, standard-library reading of express-openid-connect's
// cookie formats (session and transaction cookies), used to check cookies
// from either side without going through the code under test.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
)

func expressKey(secret, info string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(secret), nil, info, 32)
	if err != nil {
		panic(err)
	}
	return k
}

// jweHeader is the protected header of a session cookie.
type jweHeader struct {
	Alg string `json:"alg"`
	Enc string `json:"enc"`
	IAT int64  `json:"iat"`
	UAT int64  `json:"uat"`
	EXP int64  `json:"exp"`
}

// decryptSession opens a session cookie value (dir + A256GCM compact JWE,
// key = HKDF-SHA256(secret, info "JWE CEK")).
func decryptSession(secret, value string) (jweHeader, []byte, error) {
	var h jweHeader
	p := strings.Split(value, ".")
	if len(p) != 5 || p[1] != "" {
		return h, nil, errors.New("not a dir compact JWE")
	}
	dec := base64.RawURLEncoding.DecodeString
	hb, err := dec(p[0])
	if err != nil {
		return h, nil, err
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, nil, err
	}
	if h.Alg != "dir" || h.Enc != "A256GCM" {
		return h, nil, errors.New("unexpected alg/enc")
	}
	iv, err1 := dec(p[2])
	ct, err2 := dec(p[3])
	tag, err3 := dec(p[4])
	if err := errors.Join(err1, err2, err3); err != nil {
		return h, nil, err
	}
	block, err := aes.NewCipher(expressKey(secret, "JWE CEK"))
	if err != nil {
		return h, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return h, nil, err
	}
	plain, err := gcm.Open(nil, iv, append(ct, tag...), []byte(p[0]))
	return h, plain, err
}

// cookieSignature is the detached-JWS HMAC of name=value (key =
// HKDF-SHA256(secret, info "JWS Cookie Signing")).
func cookieSignature(secret, name, value string) string {
	const protected = "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"
	m := hmac.New(sha256.New, expressKey(secret, "JWS Cookie Signing"))
	m.Write([]byte(protected + "." + name + "=" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifySigned checks a signed cookie value as it appears on the wire
// (percent-encoded or not) and returns the unsigned value.
func verifySigned(secret, name, wire string) (string, bool) {
	raw := wire
	if strings.Contains(wire, "%") {
		if d, err := url.PathUnescape(wire); err == nil {
			raw = d
		}
	}
	i := strings.LastIndexByte(raw, '.')
	if i < 0 {
		return "", false
	}
	value, sig := raw[:i], raw[i+1:]
	return value, hmac.Equal([]byte(sig), []byte(cookieSignature(secret, name, value)))
}
