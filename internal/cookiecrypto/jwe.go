package cookiecrypto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxCompactSize is the largest JWE compact string Decrypt will look at.
// Anything longer is rejected before any parsing (JOSE-06).
const MaxCompactSize = 64 << 10

const (
	ivSize     = 12 // AES-GCM nonce
	tagSize    = 16 // AES-GCM tag
	ivB64Len   = 16 // base64url length of a 12-byte IV
	tagB64Len  = 22 // base64url length of a 16-byte tag
	algDir     = "dir"
	encA256GCM = "A256GCM"

	// headerPrefix is the canonical start of the protected header that
	// express-openid-connect writes (JSON.stringify key order).
	headerPrefix = `{"alg":"dir","enc":"A256GCM","iat":`
	uatInfix     = `,"uat":`
	expInfix     = `,"exp":`
	// maxHeaderLen bounds the canonical header: prefix, two infixes, the
	// closing brace and three int64 values of at most 20 characters each.
	maxHeaderLen = len(headerPrefix) + len(uatInfix) + len(expInfix) + 1 + 3*20
)

// MaxHeaderSegment is the longest protected-header segment (base64url
// characters) Decrypt and Peek accept. The header is unauthenticated until
// the AEAD check, so it is bounded before any decoding: the canonical
// header is about 110 characters, and headers with extra members that the
// go-jose fallback reads (a kid, for example) stay far below the limit.
const MaxHeaderSegment = 1024

// Header is the protected JWE header members express-openid-connect writes.
//
// All three are integer Unix seconds: IAT is when the session was first
// created, UAT when this cookie was written and EXP when it expires.
type Header struct{ IAT, UAT, EXP int64 }

// appendHeader appends the protected header in express's exact byte form:
// {"alg":"dir","enc":"A256GCM","iat":N,"uat":N,"exp":N}.
func appendHeader(dst []byte, h Header) []byte {
	dst = append(dst, headerPrefix...)
	dst = strconv.AppendInt(dst, h.IAT, 10)
	dst = append(dst, uatInfix...)
	dst = strconv.AppendInt(dst, h.UAT, 10)
	dst = append(dst, expInfix...)
	dst = strconv.AppendInt(dst, h.EXP, 10)
	return append(dst, '}')
}

// Encrypt seals plaintext under the current key (index 0) and returns the
// JWE compact serialisation express-openid-connect writes:
//
//	B64U(header) + "." + "" + "." + B64U(iv) + "." + B64U(ciphertext) + "." + B64U(tag)
//
// with header bytes exactly {"alg":"dir","enc":"A256GCM","iat":N,"uat":N,"exp":N},
// a fresh 12-byte IV from the keyring's random source, AES-256-GCM and
// AAD = the ASCII bytes of B64U(header). It is safe for concurrent use.
func (k *Keyring) Encrypt(h Header, plaintext []byte) (string, error) {
	enc := base64.RawURLEncoding
	var hdrBuf [maxHeaderLen]byte
	hdr := appendHeader(hdrBuf[:0], h)

	hLen := enc.EncodedLen(len(hdr))
	aead := k.keys[0].aead
	// One scratch allocation: AAD (encoded header) | IV | ciphertext+tag.
	scratch := make([]byte, hLen+ivSize, hLen+ivSize+len(plaintext)+aead.Overhead())
	aad := scratch[:hLen]
	enc.Encode(aad, hdr)
	iv := scratch[hLen : hLen+ivSize]
	if err := k.readIV(iv); err != nil {
		return "", err
	}
	sealed := aead.Seal(scratch[hLen+ivSize:], iv, plaintext, aad)
	ct, tag := sealed[:len(plaintext)], sealed[len(plaintext):]

	var sb strings.Builder
	sb.Grow(hLen + 2 + ivB64Len + 1 + enc.EncodedLen(len(ct)) + 1 + tagB64Len)
	sb.Write(aad)
	sb.WriteString("..")
	writeB64(&sb, iv)
	sb.WriteByte('.')
	writeB64(&sb, ct)
	sb.WriteByte('.')
	writeB64(&sb, tag)
	return sb.String(), nil
}

// writeB64 base64url-encodes src (no padding) into sb through a stack
// buffer, so the builder's single allocation becomes the result string.
func writeB64(sb *strings.Builder, src []byte) {
	const in = 384 // multiple of 3: no padding bits between chunks
	var buf [in / 3 * 4]byte
	for len(src) > 0 {
		n := min(len(src), in)
		m := base64.RawURLEncoding.EncodedLen(n)
		base64.RawURLEncoding.Encode(buf[:m], src[:n])
		sb.Write(buf[:m])
		src = src[n:]
	}
}

// Decrypt parses a JWE compact string written by Encrypt or by
// express-openid-connect, authenticates and decrypts it with each key in
// order (the first that succeeds wins) and returns the iat/uat/exp header
// members and the plaintext.
//
// Framing is checked before any parsing or cryptography: at most
// MaxCompactSize bytes, a protected-header segment of at most
// MaxHeaderSegment bytes, exactly four dots, an empty encrypted-key segment,
// a 12-byte IV, a 16-byte tag and canonical unpadded base64url. The header
// must have alg "dir" and enc "A256GCM", no "zip" and no "crit", and
// integer iat, uat and exp; member order and unknown members are accepted,
// duplicate members are not. Errors wrap ErrMalformed or ErrDecrypt.
// Decrypt never panics and is safe for concurrent use.
func (k *Keyring) Decrypt(compact string) (Header, []byte, error) {
	h, pt, _, err := k.DecryptKey(compact)
	return h, pt, err
}

// DecryptKey is Decrypt that also returns the index of the key that
// decrypted the value (0 is the current key; higher means the value should
// be re-encrypted).
func (k *Keyring) DecryptKey(compact string) (Header, []byte, int, error) {
	return k.decryptFramed(compact, nil)
}

// DecryptKeyBuf is DecryptKey that works in buf when it is large enough
// (the returned plaintext then aliases buf), so callers can reuse buffers
// across requests. Pass the returned buffer back in next time.
func (k *Keyring) DecryptKeyBuf(compact string, buf []byte) (Header, []byte, int, []byte, error) {
	h, pt, idx, err := k.decryptFramed(compact, &buf)
	return h, pt, idx, buf, err
}

// Peeked is a JWE compact value whose protected header was parsed but not
// authenticated. It lets a caller look at the header first and decrypt
// later without parsing the header again.
type Peeked struct {
	compact string
	hdr     Header
	useJose bool
}

// Value returns the JWE compact string that was peeked at.
func (p Peeked) Value() string { return p.compact }

// Peek parses the protected header of a JWE compact string WITHOUT
// authenticating it. Values longer than MaxCompactSize, and header segments
// longer than MaxHeaderSegment, are refused before any decoding. Errors
// wrap ErrMalformed. The rest of the frame is checked by DecryptPeekedBuf.
func Peek(compact string) (Peeked, error) {
	if len(compact) > MaxCompactSize {
		return Peeked{}, fmt.Errorf("%w: value too long", ErrMalformed)
	}
	seg, err := headerSegment(compact)
	if err != nil {
		return Peeked{}, err
	}
	h, useJose, err := parseProtected(seg)
	if err != nil {
		return Peeked{}, err
	}
	return Peeked{compact: compact, hdr: h, useJose: useJose}, nil
}

// Header returns the iat/uat/exp members of the peeked header, which are
// NOT authenticated: use them only to decide whether a value needs work
// (for example a re-issue), never to trust a session. It reports false for
// headers that only the go-jose fallback interprets.
func (p Peeked) Header() (Header, bool) { return p.hdr, !p.useJose }

// PeekHeader is Peek followed by Header: it returns the unauthenticated
// iat/uat/exp members, and an error for headers that only the go-jose
// fallback interprets.
func PeekHeader(compact string) (Header, error) {
	p, err := Peek(compact)
	if err != nil {
		return Header{}, err
	}
	h, ok := p.Header()
	if !ok {
		return Header{}, fmt.Errorf("%w: non-canonical header", ErrMalformed)
	}
	return h, nil
}

// DecryptPeekedBuf is DecryptKeyBuf for a value already parsed by Peek: the
// header is not parsed again.
func (k *Keyring) DecryptPeekedBuf(p Peeked, buf []byte) (Header, []byte, int, []byte, error) {
	f, err := splitFrame(p.compact)
	if err != nil {
		return Header{}, nil, 0, buf, err
	}
	h, pt, idx, err := k.open(f, p.hdr, p.useJose, &buf)
	return h, pt, idx, buf, err
}

// headerSegment returns the protected-header segment of compact, looking at
// no more than MaxHeaderSegment+1 bytes.
func headerSegment(compact string) (string, error) {
	i := strings.IndexByte(compact[:min(len(compact), MaxHeaderSegment+1)], '.')
	switch {
	case i < 0 && len(compact) > MaxHeaderSegment:
		return "", fmt.Errorf("%w: protected header longer than %d bytes", ErrMalformed, MaxHeaderSegment)
	case i < 0:
		return "", fmt.Errorf("%w: no header", ErrMalformed)
	case i == 0:
		return "", fmt.Errorf("%w: empty protected header", ErrMalformed)
	}
	return compact[:i], nil
}

// frame is a JWE compact string cut into its five segments.
type frame struct {
	compact          string
	hdr, iv, ct, tag string
}

// splitFrame checks the framing of compact before any parsing or
// cryptography: its length, the header length, exactly four dots, no CR or
// LF, an empty encrypted key and the IV and tag sizes.
func splitFrame(compact string) (frame, error) {
	if len(compact) > MaxCompactSize {
		return frame{}, fmt.Errorf("%w: value longer than %d bytes", ErrMalformed, MaxCompactSize)
	}
	hS, err := headerSegment(compact)
	if err != nil {
		return frame{}, err
	}
	// Count before splitting: never build a slice sized by attacker input.
	if strings.Count(compact, ".") != 4 {
		return frame{}, fmt.Errorf("%w: JWE compact must have 5 segments", ErrMalformed)
	}
	// The base64 decoder skips CR and LF; refuse them so that exactly one
	// string maps to each JWE.
	if strings.IndexByte(compact, '\n') >= 0 || strings.IndexByte(compact, '\r') >= 0 {
		return frame{}, fmt.Errorf("%w: invalid character", ErrMalformed)
	}
	rest := compact[len(hS)+1:]
	ekS, rest, _ := strings.Cut(rest, ".")
	ivS, rest, _ := strings.Cut(rest, ".")
	ctS, tagS, _ := strings.Cut(rest, ".")
	switch {
	case ekS != "":
		return frame{}, fmt.Errorf("%w: encrypted key must be empty for alg dir", ErrMalformed)
	case len(ivS) != ivB64Len:
		return frame{}, fmt.Errorf("%w: IV must be %d bytes", ErrMalformed, ivSize)
	case len(tagS) != tagB64Len:
		return frame{}, fmt.Errorf("%w: tag must be %d bytes", ErrMalformed, tagSize)
	}
	return frame{compact: compact, hdr: hS, iv: ivS, ct: ctS, tag: tagS}, nil
}

func (k *Keyring) decryptFramed(compact string, reuse *[]byte) (Header, []byte, int, error) {
	f, err := splitFrame(compact)
	if err != nil {
		return Header{}, nil, 0, err
	}
	h, useJose, err := parseProtected(f.hdr)
	if err != nil {
		return Header{}, nil, 0, err
	}
	return k.open(f, h, useJose, reuse)
}

// open authenticates and decrypts a framed value whose header parsed as h
// (or needs go-jose when useJose).
func (k *Keyring) open(f frame, h Header, useJose bool, reuse *[]byte) (Header, []byte, int, error) {
	if useJose {
		return k.decryptJose(f.compact)
	}
	hS, ivS, ctS, tagS := f.hdr, f.iv, f.ct, f.tag
	ctLen, ok := decodedLen(len(ctS))
	if !ok {
		return Header{}, nil, 0, fmt.Errorf("%w: bad ciphertext encoding", ErrMalformed)
	}
	// One allocation: AAD | IV | ciphertext+tag | plaintext (returned, last).
	aadEnd := len(hS)
	ivEnd := aadEnd + ivSize
	ctEnd := ivEnd + ctLen
	tagEnd := ctEnd + tagSize
	var mem []byte
	if reuse != nil && cap(*reuse) >= tagEnd+ctLen {
		mem = (*reuse)[:tagEnd+ctLen]
	} else {
		mem = make([]byte, tagEnd+ctLen)
		if reuse != nil {
			*reuse = mem
		}
	}
	aad := mem[:aadEnd]
	copy(aad, hS)
	iv := mem[aadEnd:ivEnd]
	sealed := mem[ivEnd:tagEnd]
	if !decodeStrict(iv, ivS) || !decodeStrict(mem[ivEnd:ctEnd], ctS) || !decodeStrict(mem[ctEnd:tagEnd], tagS) {
		return Header{}, nil, 0, fmt.Errorf("%w: bad base64url", ErrMalformed)
	}
	out := mem[tagEnd:tagEnd]
	for i, key := range k.keys {
		pt, err := key.aead.Open(out, iv, sealed, aad)
		if err == nil {
			return h, pt, i, nil
		}
	}
	return Header{}, nil, 0, fmt.Errorf("%w: no key authenticated the JWE", ErrDecrypt)
}

// decryptJose is the compatibility fallback for protected headers that the
// fast path does not interpret itself. go-jose is restricted to dir +
// A256GCM; a "zip" member is refused before decryption (no decompression).
func (k *Keyring) decryptJose(compact string) (Header, []byte, int, error) {
	obj, err := jose.ParseEncryptedCompact(compact, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return Header{}, nil, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, ok := obj.Header.ExtraHeaders[jose.HeaderKey("zip")]; ok {
		return Header{}, nil, 0, fmt.Errorf("%w: zip is not supported", ErrMalformed)
	}
	var pt []byte
	idx := 0
	for i, key := range k.keys {
		if pt, err = obj.Decrypt(key.encKey); err == nil {
			idx = i
			break
		}
	}
	if err != nil {
		return Header{}, nil, 0, fmt.Errorf("%w: no key authenticated the JWE", ErrDecrypt)
	}
	var h Header
	for _, m := range []struct {
		name string
		dst  *int64
	}{{"iat", &h.IAT}, {"uat", &h.UAT}, {"exp", &h.EXP}} {
		v, ok := floatToInt(obj.Header.ExtraHeaders[jose.HeaderKey(m.name)])
		if !ok {
			return Header{}, nil, 0, fmt.Errorf("%w: header %q must be an integer", ErrMalformed, m.name)
		}
		*m.dst = v
	}
	return h, pt, idx, nil
}

// floatToInt converts a JSON number decoded as float64 to int64 if it is an
// integer within range.
func floatToInt(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// parseProtected decodes and checks the protected header segment. useJose
// reports that the header is well-formed but uses members that only the
// go-jose fallback interprets (or JSON that encoding/json cannot parse).
func parseProtected(seg string) (h Header, useJose bool, err error) {
	n, ok := decodedLen(len(seg))
	if !ok {
		return Header{}, false, fmt.Errorf("%w: bad header encoding", ErrMalformed)
	}
	var stack [maxHeaderLen]byte
	var b []byte
	if n <= len(stack) {
		b = stack[:n]
	} else {
		b = make([]byte, n)
	}
	if !decodeStrict(b, seg) {
		return Header{}, false, fmt.Errorf("%w: bad header encoding", ErrMalformed)
	}
	if h, ok := parseCanonicalHeader(b); ok {
		return h, false, nil
	}
	// The stack buffer must not escape into encoding/json.
	return parseHeaderJSON(bytes.Clone(b))
}

// parseCanonicalHeader recognises, without allocating, the exact header
// bytes express-openid-connect (and Encrypt) write.
func parseCanonicalHeader(b []byte) (Header, bool) {
	var h Header
	var ok bool
	if b, ok = cutPrefix(b, headerPrefix); !ok {
		return h, false
	}
	if h.IAT, b, ok = parseJSONInt(b); !ok {
		return h, false
	}
	if b, ok = cutPrefix(b, uatInfix); !ok {
		return h, false
	}
	if h.UAT, b, ok = parseJSONInt(b); !ok {
		return h, false
	}
	if b, ok = cutPrefix(b, expInfix); !ok {
		return h, false
	}
	if h.EXP, b, ok = parseJSONInt(b); !ok {
		return h, false
	}
	return h, len(b) == 1 && b[0] == '}'
}

// cutPrefix is bytes.CutPrefix for a string prefix without conversion.
func cutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return b, false
	}
	return b[len(prefix):], true
}

// parseJSONInt parses a JSON integer (-?(0|[1-9][0-9]*)) of at most 18
// digits, so it cannot overflow int64, and returns the rest of b.
func parseJSONInt(b []byte) (int64, []byte, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	i := 0
	var v int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int64(b[i]-'0')
		i++
		if i > 18 {
			return 0, b, false
		}
	}
	if i == 0 || (i > 1 && b[0] == '0') {
		return 0, b, false
	}
	if neg {
		v = -v
	}
	return v, b[i:], true
}

// parseHeaderJSON is the general header parser: any member order, unknown
// members ignored, duplicate members rejected (as go-jose does).
func parseHeaderJSON(b []byte) (h Header, useJose bool, err error) {
	malformed := func(format string, a ...any) (Header, bool, error) {
		return Header{}, false, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return Header{}, true, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return malformed("protected header is not a JSON object")
	}
	seen := make(map[string]struct{})
	var haveAlg, haveEnc, haveIAT, haveUAT, haveEXP bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Header{}, true, nil
		}
		name, ok := tok.(string)
		if !ok {
			return Header{}, true, nil
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Header{}, true, nil
		}
		if _, dup := seen[name]; dup {
			return malformed("duplicate header member %q", name)
		}
		seen[name] = struct{}{}
		switch name {
		case "alg", "enc":
			want := algDir
			if name == "enc" {
				want = encA256GCM
			}
			var s string
			if json.Unmarshal(raw, &s) != nil || s != want {
				return malformed("header %q must be %q", name, want)
			}
			haveAlg = haveAlg || name == "alg"
			haveEnc = haveEnc || name == "enc"
		case "zip":
			return malformed("zip is not supported")
		case "crit":
			return malformed("crit is not supported")
		case "iat", "uat", "exp":
			v, ok := jsonNumberToInt(raw)
			if !ok {
				return malformed("header %q must be an integer", name)
			}
			switch name {
			case "iat":
				h.IAT, haveIAT = v, true
			case "uat":
				h.UAT, haveUAT = v, true
			default:
				h.EXP, haveEXP = v, true
			}
		case "kid", "jwk", "nonce", "x5c":
			// Registered members go-jose validates itself.
			useJose = true
		default:
			// go-jose decodes every other member into an interface{};
			// let it decide on values that encoding/json cannot represent.
			var v any
			if json.Unmarshal(raw, &v) != nil {
				useJose = true
			}
		}
	}
	if tok, err = dec.Token(); err != nil || tok != json.Delim('}') {
		return Header{}, true, nil
	}
	if _, err = dec.Token(); err != io.EOF {
		return malformed("trailing data after protected header")
	}
	if useJose {
		return Header{}, true, nil
	}
	switch {
	case !haveAlg:
		return malformed("missing alg")
	case !haveEnc:
		return malformed("missing enc")
	case !haveIAT || !haveUAT || !haveEXP:
		return malformed("missing iat, uat or exp")
	}
	return h, false, nil
}

// jsonNumberToInt accepts a JSON number literal whose value is an integer
// that fits in int64 (so 1700000000 and 1.7e9 both work).
func jsonNumberToInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	s := string(raw)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return floatToInt(f)
}

// decodedLen is the decoded size of an unpadded base64 string of n
// characters, or false if no such string exists.
func decodedLen(n int) (int, bool) {
	if n%4 == 1 {
		return 0, false
	}
	return base64.RawURLEncoding.DecodedLen(n), true
}

// decodeStrict decodes unpadded base64url s into dst, which must have
// exactly the decoded length, and rejects non-canonical encodings (non-zero
// trailing bits), so a given byte string has a single valid encoding.
func decodeStrict(dst []byte, s string) bool {
	if len(s) == 0 {
		return len(dst) == 0
	}
	// Non-zero padding bits in the last character make the encoding
	// malleable; RawURLEncoding (non-strict) would accept them.
	switch len(s) % 4 {
	case 2:
		if v, ok := b64Value(s[len(s)-1]); !ok || v&0x0f != 0 {
			return false
		}
	case 3:
		if v, ok := b64Value(s[len(s)-1]); !ok || v&0x03 != 0 {
			return false
		}
	}
	// The full slice expression stops a mis-sized decode from spilling into
	// whatever follows dst in the caller's buffer.
	out, err := base64.RawURLEncoding.AppendDecode(dst[:0:len(dst)], []byte(s))
	return err == nil && len(out) == len(dst)
}

// b64Value returns the 6-bit value of a base64url character.
func b64Value(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '-':
		return 62, true
	case c == '_':
		return 63, true
	}
	return 0, false
}
