package cookiecrypto

import (
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerOfLen returns a valid header (alg dir, enc A256GCM, iat/uat/exp)
// of exactly n bytes, padded with an unknown member.
func headerOfLen(t *testing.T, n int) string {
	t.Helper()
	const head = `{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3,"pad":"`
	require.GreaterOrEqual(t, n, len(head)+2)
	return head + strings.Repeat("p", n-len(head)-2) + `"}`
}

// joseSealed returns a value encrypted by go-jose itself, as another JOSE
// implementation would write it, with a kid and the session members.
func joseSealed(t *testing.T) string {
	t.Helper()
	enc, err := jose.NewEncrypter(jose.A256GCM,
		jose.Recipient{Algorithm: jose.DIRECT, Key: DeriveEncryptionKey([]byte(testSecret)), KeyID: "session-key-2024"},
		(&jose.EncrypterOptions{}).WithHeader("iat", 1).WithHeader("uat", 2).WithHeader("exp", 3))
	require.NoError(t, err)
	obj, err := enc.Encrypt([]byte(vectorPT))
	require.NoError(t, err)
	v, err := obj.CompactSerialize()
	require.NoError(t, err)
	return v
}

// TestHeaderSegmentBound: the unauthenticated protected header is refused
// above MaxHeaderSegment characters before any decoding, while every header
// a legitimate writer produces stays well below the bound.
func TestHeaderSegmentBound(t *testing.T) {
	k := newRing(t, testSecret)
	seal := func(header string) string { return sealRaw(t, testSecret, header, vectorIV, []byte(vectorPT)) }
	atBound := seal(headerOfLen(t, MaxHeaderSegment*3/4))
	require.Len(t, atBound[:strings.IndexByte(atBound, '.')], MaxHeaderSegment)

	for _, tc := range []struct {
		name  string
		value string
	}{
		{"express's canonical header", vectorJWE},
		{"go-jose's header with a kid (fallback path)", joseSealed(t)},
		{"exactly at the bound", atBound},
	} {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			_, pt, err := k.Decrypt(tc.value)
			require.NoError(t, err)
			assert.Equal(t, vectorPT, string(pt))
			_, err = Peek(tc.value)
			assert.NoError(t, err)
		})
	}

	over := seal(headerOfLen(t, MaxHeaderSegment*3/4+1))
	tail := vectorJWE[strings.IndexByte(vectorJWE, '.'):]
	for _, tc := range []struct {
		name  string
		value string
	}{
		{"one byte over the bound, genuinely sealed", over},
		{"48 KB header", b64([]byte(headerOfLen(t, 36<<10))) + tail},
		{"48 KB without any dot", strings.Repeat("A", 48<<10)},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, _, err := k.Decrypt(tc.value)
			assert.ErrorIs(t, err, ErrMalformed)
			_, err = Peek(tc.value)
			assert.ErrorIs(t, err, ErrMalformed)
			_, err = PeekHeader(tc.value)
			assert.ErrorIs(t, err, ErrMalformed)

			// Refused by length: the work does not grow with the header.
			for name, f := range map[string]func(){
				"Decrypt": func() { _, _, _ = k.Decrypt(tc.value) },
				"Peek":    func() { _, _ = Peek(tc.value) },
			} {
				allocs, bytes := allocsPerRun(20, f)
				assert.LessOrEqual(t, allocs, 8.0, name)
				assert.LessOrEqual(t, bytes, 512.0, name)
			}
		})
	}
}

// TestDecryptPeeked: decrypting a peeked value gives what Decrypt gives,
// checks the rest of the frame, and does not parse the header again.
func TestDecryptPeeked(t *testing.T) {
	k := newRing(t, "other secret", testSecret)
	seal := func(header string) string { return sealRaw(t, testSecret, header, vectorIV, []byte(vectorPT)) }
	reordered := seal(`{"exp":3,"uat":2,"iat":1,"enc":"A256GCM","alg":"dir","note":"` + strings.Repeat("n", 300) + `"}`)
	for _, tc := range []struct {
		name      string
		value     string
		canonical bool
	}{
		{"canonical", vectorJWE, true},
		{"general JSON parser", reordered, true},
		{"go-jose fallback", joseSealed(t), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantH, wantPT, wantIdx, err := k.DecryptKey(tc.value)
			require.NoError(t, err)
			p, err := Peek(tc.value)
			require.NoError(t, err)
			assert.Equal(t, tc.value, p.Value())
			h, ok := p.Header()
			assert.Equal(t, tc.canonical, ok)
			if ok {
				assert.Equal(t, wantH, h)
			}
			gotH, gotPT, gotIdx, _, err := k.DecryptPeekedBuf(p, nil)
			require.NoError(t, err)
			assert.Equal(t, wantH, gotH)
			assert.Equal(t, wantPT, gotPT)
			assert.Equal(t, wantIdx, gotIdx)
		})
	}
	t.Run("the header is parsed once", func(t *testing.T) {
		p, err := Peek(reordered)
		require.NoError(t, err)
		buf := make([]byte, 0, 4096)
		peeked := testing.AllocsPerRun(50, func() { _, _, _, buf, _ = k.DecryptPeekedBuf(p, buf) })
		full := testing.AllocsPerRun(50, func() { _, _, _, buf, _ = k.DecryptKeyBuf(reordered, buf) })
		assert.Zero(t, peeked, "decrypting a peeked value allocates nothing")
		assert.Greater(t, full, peeked, "parsing the header again would")
	})
	t.Run("the rest of the frame is still checked", func(t *testing.T) {
		for name, v := range map[string]string{
			"sixth segment":      vectorJWE + ".x",
			"encrypted key":      strings.Replace(vectorJWE, "..", ".AA.", 1),
			"tampered tag":       flip(vectorJWE, len(vectorJWE)-5),
			"tampered IV":        strings.Replace(vectorJWE, "AAECAwQFBgcICQoL", "AAECAwQFBgcICQoM", 1),
			"newline in payload": strings.Replace(vectorJWE, "EaIv", "Ea\nIv", 1),
		} {
			p, err := Peek(v)
			require.NoError(t, err, name)
			_, pt, _, _, err := k.DecryptPeekedBuf(p, nil)
			assert.Error(t, err, name)
			assert.Nil(t, pt, name)
		}
		_, _, _, _, err := k.DecryptPeekedBuf(Peeked{}, nil)
		assert.ErrorIs(t, err, ErrMalformed, "zero Peeked")
	})
}

// BenchmarkHostileHeader measures Decrypt and Peek on a value whose
// unauthenticated protected header is 48 KB.
func BenchmarkHostileHeader(b *testing.B) {
	k := newRing(b, testSecret)
	var sb strings.Builder
	sb.WriteString(`{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3`)
	for i := 0; sb.Len() < 36<<10; i++ {
		sb.WriteString(`,"m":0`)
	}
	sb.WriteString("}")
	value := b64([]byte(sb.String())) + vectorJWE[strings.IndexByte(vectorJWE, '.'):]
	b.Run("Decrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := k.Decrypt(value); err == nil {
				b.Fatal("accepted")
			}
		}
	})
	b.Run("Peek", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Peek(value); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
