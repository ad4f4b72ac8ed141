package provider

import (
	"crypto"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of the proof algorithms
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// proofClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	Nonce string `json:"nonce,omitempty"`
	ATH   string `json:"ath,omitempty"`
}

// proofRequest is what a proof is made for.
type proofRequest struct {
	alg    string // a proof algorithm the key can sign
	method string
	htu    string // see proofURL
	nonce  string // "" for none
	ath    string // "" for none: base64url SHA-256 of the access token
}

// proof returns a fresh DPoP proof for r: the header typ "dpop+jwt", alg
// and the public jwk; the claims jti (128 random bits from random), htm,
// htu, iat (now), and nonce and ath when set. It costs one signature.
func (k *DPoPKey) proof(random io.Reader, now time.Time, r proofRequest) (string, error) {
	hdr, ok := k.headers[r.alg]
	if !ok {
		return "", fmt.Errorf("the DPoP key cannot sign %s", r.alg)
	}
	var jti [16]byte
	if _, err := io.ReadFull(random, jti[:]); err != nil {
		return "", fmt.Errorf("no randomness: %w", err)
	}
	payload, err := json.Marshal(proofClaims{
		JTI: base64.RawURLEncoding.EncodeToString(jti[:]), HTM: r.method, HTU: r.htu, IAT: now.Unix(),
		Nonce: r.nonce, ATH: r.ath,
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(hdr)+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	buf = append(buf, hdr...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.sign(random, r.alg, buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// sign signs the JWS signing input with alg (RFC 7518 §3, RFC 8037):
// ECDSA signatures as R || S of the curve's size, RSA-PSS with a salt as
// long as the hash.
func (k *DPoPKey) sign(random io.Reader, alg string, input []byte) ([]byte, error) {
	if alg == "EdDSA" {
		return k.signer.Sign(random, input, crypto.Hash(0))
	}
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("unsupported DPoP algorithm %s", alg)
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch alg[:2] {
	case "PS":
		return k.signer.Sign(random, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case "RS":
		return k.signer.Sign(random, digest, h)
	}
	der, err := k.signer.Sign(random, digest, h)
	if err != nil {
		return nil, err
	}
	size := map[string]int{"ES256": 32, "ES384": 48, "ES512": 66}[alg]
	sig, ok := rawECDSA(der, size)
	if !ok {
		return nil, errors.New("the DPoP key returned a malformed ECDSA signature")
	}
	return sig, nil
}

// rawECDSA converts an ASN.1 DER ECDSA signature, SEQUENCE { r INTEGER, s
// INTEGER }, into R || S of size bytes each (RFC 7518 §3.4), without the
// reflection of encoding/asn1.
func rawECDSA(der []byte, size int) ([]byte, bool) {
	seq, rest, ok := derElement(der, 0x30)
	if !ok || len(rest) != 0 {
		return nil, false
	}
	out := make([]byte, 2*size)
	for i := range 2 {
		var n []byte
		if n, seq, ok = derElement(seq, 0x02); !ok || len(n) == 0 || n[0]&0x80 != 0 {
			return nil, false // absent or negative
		}
		for len(n) > 1 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) > size || (len(n) == 1 && n[0] == 0) {
			return nil, false // too large, or zero
		}
		copy(out[(i+1)*size-len(n):(i+1)*size], n)
	}
	return out, len(seq) == 0
}

// derElement reads one DER element of tag from b: its contents and what
// follows. Lengths up to 65535 bytes are read.
func derElement(b []byte, tag byte) (contents, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, hdr := int(b[1]), 2
	switch {
	case n == 0x81 && len(b) >= 3 && b[2] >= 0x80:
		n, hdr = int(b[2]), 3
	case n == 0x82 && len(b) >= 4 && b[2] != 0:
		n, hdr = int(b[2])<<8|int(b[3]), 4
	case n >= 0x80:
		return nil, nil, false
	}
	if len(b)-hdr < n {
		return nil, nil, false
	}
	return b[hdr : hdr+n], b[hdr+n:], true
}

// proofURL returns the htu of a request to u (RFC 9449 §4.2): the URL
// without query, fragment and user information, the scheme lower-cased and
// the path "/" when it is empty, so that it names what the server
// receives. Only absolute http(s) URLs qualify.
func proofURL(u *url.URL) (string, error) {
	if u == nil || u.Host == "" || (!strings.EqualFold(u.Scheme, "https") && !strings.EqualFold(u.Scheme, "http")) {
		return "", errors.New("a DPoP proof needs an absolute http or https URL")
	}
	v := url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if v.Path == "" {
		v.Path, v.RawPath = "/", ""
	}
	return v.String(), nil
}
