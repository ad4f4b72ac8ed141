package cookiecrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sealPT = `{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ","code_verifier":"V3R1F13R"}`

func newSealer(t testing.TB, purpose string, random []byte, secrets ...string) *Sealer {
	t.Helper()
	bs := make([][]byte, len(secrets))
	for i, s := range secrets {
		bs[i] = []byte(s)
	}
	var r io.Reader // nil: crypto/rand
	if random != nil {
		r = bytes.NewReader(random)
	}
	s, err := NewSealer(purpose, bs, r)
	require.NoError(t, err)
	return s
}

// TestSealedVector pins the format with a value built here from the standard
// library alone: HKDF-SHA256 with the purpose as info, AES-256-GCM with
// AAD "v1" 0x00 name, and "v1." + base64url(iv || ciphertext || tag).
func TestSealedVector(t *testing.T) {
	t.Parallel()
	key, err := hkdf.Key(sha256.New, []byte(testSecret), nil, TransactionPurpose, 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	sealed := aead.Seal(append([]byte{}, vectorIV...), vectorIV, []byte(sealPT), []byte("v1\x00auth_verification"))
	want := "v1." + base64.RawURLEncoding.EncodeToString(sealed)

	s := newSealer(t, TransactionPurpose, vectorIV, testSecret)
	got, err := s.Seal("auth_verification", []byte(sealPT))
	require.NoError(t, err)
	assert.Equal(t, want, got)

	pt, err := s.Open("auth_verification", want)
	require.NoError(t, err)
	assert.Equal(t, sealPT, string(pt))

	assert.NotEqual(t, DeriveEncryptionKey([]byte(testSecret)), key, "not the session cookie's key")
	assert.NotEqual(t, DeriveSigningKey([]byte(testSecret)), key, "not the signing key")
}

func TestSealedRoundTripAndRotation(t *testing.T) {
	t.Parallel()
	oldS := newSealer(t, TransactionPurpose, nil, testSecret)
	both := newSealer(t, TransactionPurpose, nil, testSecret2, testSecret)
	newS := newSealer(t, TransactionPurpose, nil, testSecret2)

	for _, pt := range []string{"", "x", sealPT, strings.Repeat("é", 1000)} {
		v, err := oldS.Seal("n", []byte(pt))
		require.NoError(t, err)
		got, err := oldS.Open("n", v)
		require.NoError(t, err)
		assert.Equal(t, pt, string(got))

		got, err = both.Open("n", v)
		require.NoError(t, err, "an old secret still opens")
		assert.Equal(t, pt, string(got))
		_, err = newS.Open("n", v)
		assert.ErrorIs(t, err, ErrSealed, "a removed secret no longer opens")

		v2, err := both.Seal("n", []byte(pt))
		require.NoError(t, err)
		got, err = newS.Open("n", v2)
		require.NoError(t, err, "the first secret seals")
		assert.Equal(t, pt, string(got))
		_, err = oldS.Open("n", v2)
		assert.ErrorIs(t, err, ErrSealed)
	}

	a, err := oldS.Seal("n", []byte(sealPT))
	require.NoError(t, err)
	b, err := oldS.Seal("n", []byte(sealPT))
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "a fresh IV per value")
}

// TestSealedDomainSeparation: a value opens only for the cookie name and
// purpose it was sealed for, and neither the session cookie's JWE nor a
// signed value opens.
func TestSealedDomainSeparation(t *testing.T) {
	t.Parallel()
	s := newSealer(t, TransactionPurpose, nil, testSecret)
	other := newSealer(t, "another purpose", nil, testSecret)
	v, err := s.Seal("auth_verification", []byte(sealPT))
	require.NoError(t, err)

	for _, name := range []string{"_auth_verification", "__Host-_auth_verification", "appSession", "auth_verification.0", "Auth_verification", ""} {
		_, err := s.Open(name, v)
		assert.ErrorIs(t, err, ErrSealed, "moved to %q", name)
	}
	_, err = other.Open("auth_verification", v)
	assert.ErrorIs(t, err, ErrSealed, "another purpose has other keys")

	// Neither format reads the other.
	ring := newRing(t, testSecret)
	_, _, err = ring.Decrypt(v)
	assert.Error(t, err, "the session reader refuses a sealed value")
	_, err = s.Open("appSession", vectorJWE)
	assert.ErrorIs(t, err, ErrSealed)
	_, err = s.Open("auth_verification", ring.Sign("auth_verification", sealPT))
	assert.ErrorIs(t, err, ErrSealed)

	for _, purpose := range []string{"", encInfo, signInfo} {
		_, err := NewSealer(purpose, [][]byte{[]byte(testSecret)}, nil)
		assert.Error(t, err, "purpose %q", purpose)
	}
	_, err = NewSealer(TransactionPurpose, nil, nil)
	assert.Error(t, err)
	_, err = NewSealer(TransactionPurpose, [][]byte{[]byte(testSecret), nil}, nil)
	assert.Error(t, err)
}

// TestSealedCookieSafe: the value needs no escaping in a cookie and no
// percent-encoding (encodeURIComponent leaves it as it is).
func TestSealedCookieSafe(t *testing.T) {
	t.Parallel()
	s := newSealer(t, TransactionPurpose, nil, testSecret)
	for i := range 50 {
		v, err := s.Seal("n", bytes.Repeat([]byte{byte(i)}, i*7))
		require.NoError(t, err)
		require.True(t, IsSealed(v))
		for _, c := range []byte(v[len(sealedPrefix):]) {
			require.True(t, isB64URL(c), "%q in %q", c, v)
		}
		assert.NotContains(t, v, "=")
	}
}

// TestSealedTamper changes every character of a sealed value in turn; none
// of the results opens.
func TestSealedTamper(t *testing.T) {
	t.Parallel()
	s := newSealer(t, TransactionPurpose, nil, testSecret)
	v, err := s.Seal("n", []byte(sealPT))
	require.NoError(t, err)
	for i := range len(v) {
		for _, c := range []byte{'A', 'B', '_', '.', '%', '\n', 0} {
			if v[i] == c {
				continue
			}
			bad := v[:i] + string(c) + v[i+1:]
			_, err := s.Open("n", bad)
			require.ErrorIs(t, err, ErrSealed, "position %d set to %q", i, c)
		}
	}
	for _, bad := range []string{
		"", "v1", "v1.", "v2." + v[3:], v[3:], v + "A", v + "\n", v[:len(v)-1],
		"v1." + strings.Repeat("A", 37), // one byte short of IV and tag
		"v1." + strings.Repeat("A", 38), // IV and tag, forged
		v[:10] + "\r\n" + v[10:],
	} {
		_, err := s.Open("n", bad)
		require.ErrorIs(t, err, ErrSealed, "%q", bad)
	}
}

// TestSealedLimits: oversized values are refused before any decoding (no
// allocation at all), and Seal refuses what Open would not read. Not
// parallel: AllocsPerRun measures the whole process.
func TestSealedLimits(t *testing.T) {
	s := newSealer(t, TransactionPurpose, nil, testSecret)
	huge := "v1." + strings.Repeat("A", MaxSealedLen)
	_, err := s.Open("n", huge)
	require.ErrorIs(t, err, ErrSealed)
	allocs := testing.AllocsPerRun(20, func() { _, _ = s.Open("n", huge) })
	assert.Zero(t, allocs, "an oversized value is refused before decoding")
	allocs = testing.AllocsPerRun(20, func() { _, _ = s.Open("n", "%7B%22nonce%22") })
	assert.Zero(t, allocs, "a value of another format costs nothing")

	v, err := s.Seal("n", make([]byte, maxSealedPlaintext))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(v), MaxSealedLen)
	_, err = s.Open("n", v)
	require.NoError(t, err, "the largest value Seal writes still opens")
	_, err = s.Seal("n", make([]byte, maxSealedPlaintext+1))
	assert.Error(t, err)
}

func TestSealedRandomFailure(t *testing.T) {
	t.Parallel()
	s := newSealer(t, TransactionPurpose, []byte{1, 2, 3}, testSecret)
	_, err := s.Seal("n", []byte("x"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "x\"")
}

// FuzzSealedOpen: Open never panics, its errors wrap ErrSealed, and the only
// strings that open are the sealed seeds themselves, unchanged.
func FuzzSealedOpen(f *testing.F) {
	// Fixed IVs: every fuzz worker process computes the same seeds.
	ivs := make([]byte, 3*sealedIVSize)
	for i := range ivs {
		ivs[i] = byte(i)
	}
	s := newSealer(f, TransactionPurpose, ivs, testSecret)
	valid := map[string]string{}
	for _, pt := range []string{"", sealPT, "x"} {
		v, err := s.Seal("n", []byte(pt))
		require.NoError(f, err)
		valid[v] = pt
		f.Add(v)
	}
	for _, seed := range []string{"", "v1.", "v1.AAAA", vectorJWE, "%7B%22nonce%22%3A%22N%22%7D.sig", "v1.\r\n", strings.Repeat("v1.", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		pt, err := s.Open("n", value)
		if err != nil {
			if !errors.Is(err, ErrSealed) {
				t.Fatalf("error does not wrap ErrSealed: %v", err)
			}
			if pt != nil {
				t.Fatal("plaintext with an error")
			}
			return
		}
		want, ok := valid[value]
		if !ok {
			t.Fatalf("a value that was never sealed opened: %q", value)
		}
		if string(pt) != want {
			t.Fatalf("opened to %q, sealed %q", pt, want)
		}
	})
}
