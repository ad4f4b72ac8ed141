package cookiecrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testSecret  = "__test_secret__"
	testSecret2 = "0123456789abcdef0123456789abcdef"

	// express-openid-connect's cookie vector (catalog SESS-12)
	vectorJWE = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaWF0IjoxNzAwMDAwMDAwLCJ1YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDA4NjQwMH0..AAECAwQFBgcICQoL.EaIvxDfrG0-187jApFps260K0bauWiBFRVMS3g5stOQ.TBsL0nK9kTRT31IdzQFHNw"
	vectorPT  = `{"id_token":"x.y.z","sid":"abc"}`
	// the second SESS-12 vector (docs/security.md)
	vector2JWE = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiaWF0IjoxNzAwMDAwMDAwLCJ1YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDA4NjQwMH0..AAECAwQFBgcICQoL._q-M0p_X3_jyh4e4FQ.ykK5dROTVWnAZNti3EHrMQ"
	vector2PT  = `{"foo":"bar"}`
)

var (
	vectorHeader = Header{IAT: 1700000000, UAT: 1700000000, EXP: 1700086400}
	vectorIV     = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
)

func newRing(t testing.TB, secrets ...string) *Keyring {
	t.Helper()
	bs := make([][]byte, len(secrets))
	for i, s := range secrets {
		bs[i] = []byte(s)
	}
	k, err := NewKeyring(bs, nil)
	require.NoError(t, err)
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// sealRaw builds a compact JWE with an arbitrary protected header, sealed
// independently of the code under test, so that only header handling is
// exercised (the tag is genuine).
func sealRaw(t testing.TB, secret, header string, iv, plaintext []byte) string {
	t.Helper()
	block, err := aes.NewCipher(DeriveEncryptionKey([]byte(secret)))
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	h := b64([]byte(header))
	sealed := aead.Seal(nil, iv, plaintext, []byte(h))
	n := len(plaintext)
	return h + ".." + b64(iv) + "." + b64(sealed[:n]) + "." + b64(sealed[n:])
}

func TestDeriveKeys(t *testing.T) {
	tests := []struct {
		name, secret, enc, sign string
	}{
		{"reference test secret", testSecret,
			"47c4e100b0cc03c7a093b3e2964bbf3fb9f0ebee1d8ae92e580c77587037788b",
			"472a865b55bdfff0b0b548394b8603229bbe2e7b1cd17d025f80fa511f38ec98"},
		{"security catalog secret", testSecret2,
			"948b6624dca4d9f50f954c73aad1acc24af9ac06785ed9cc633e3dd912c2548d",
			"aabf0f391541baad62e0d20d011ddbe9fabc5a6d2f1901495e1d1edab68caa46"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.enc, hex.EncodeToString(DeriveEncryptionKey([]byte(tt.secret))))
			assert.Equal(t, tt.sign, hex.EncodeToString(DeriveSigningKey([]byte(tt.secret))))
		})
	}
}

func TestNewKeyring(t *testing.T) {
	tests := []struct {
		name    string
		secrets [][]byte
		wantErr bool
	}{
		{"nil", nil, true},
		{"empty list", [][]byte{}, true},
		{"empty secret", [][]byte{[]byte("a"), {}}, true},
		{"one", [][]byte{[]byte(testSecret)}, false},
		{"two", [][]byte{[]byte(testSecret), []byte(testSecret2)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeyring(tt.secrets, nil)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, k)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tt.secrets), k.Len())
		})
	}
}

func TestVectors(t *testing.T) {
	tests := []struct {
		name, secret, jwe, plaintext string
	}{
		{"express vector", testSecret, vectorJWE, vectorPT},
		{"SESS-12 vector", testSecret2, vector2JWE, vector2PT},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/encrypt reproduces byte-for-byte", func(t *testing.T) {
			k, err := NewKeyring([][]byte{[]byte(tt.secret)}, bytes.NewReader(vectorIV))
			require.NoError(t, err)
			got, err := k.Encrypt(vectorHeader, []byte(tt.plaintext))
			require.NoError(t, err)
			assert.Equal(t, tt.jwe, got)
		})
		t.Run(tt.name+"/decrypt", func(t *testing.T) {
			h, pt, err := newRing(t, tt.secret).Decrypt(tt.jwe)
			require.NoError(t, err)
			assert.Equal(t, vectorHeader, h)
			assert.Equal(t, tt.plaintext, string(pt))
		})
		t.Run(tt.name+"/decrypt as second key", func(t *testing.T) {
			_, pt, err := newRing(t, "some other secret", tt.secret).Decrypt(tt.jwe)
			require.NoError(t, err)
			assert.Equal(t, tt.plaintext, string(pt))
		})
	}
}

func TestEncryptOutput(t *testing.T) {
	k := newRing(t, testSecret)
	h := Header{IAT: 1, UAT: 2, EXP: 3}
	out, err := k.Encrypt(h, []byte(`{"sub":"me"}`))
	require.NoError(t, err)
	parts := strings.Split(out, ".")

	t.Run("should produce a 5-part compact JWE", func(t *testing.T) {
		assert.Len(t, parts, 5)
	})
	t.Run("should have an empty encrypted key segment", func(t *testing.T) {
		assert.Empty(t, parts[1])
		assert.Contains(t, out, "..")
	})
	t.Run("should use a 12-byte IV", func(t *testing.T) {
		iv, err := base64.RawURLEncoding.DecodeString(parts[2])
		require.NoError(t, err)
		assert.Len(t, iv, 12)
	})
	t.Run("should produce a 16-byte tag", func(t *testing.T) {
		tag, err := base64.RawURLEncoding.DecodeString(parts[4])
		require.NoError(t, err)
		assert.Len(t, tag, 16)
	})
	t.Run("should write the header members in express order", func(t *testing.T) {
		hb, err := base64.RawURLEncoding.DecodeString(parts[0])
		require.NoError(t, err)
		assert.Equal(t, `{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3}`, string(hb))
	})
	t.Run("go-jose can decrypt our output", func(t *testing.T) {
		obj, err := jose.ParseEncryptedCompact(out, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
		require.NoError(t, err)
		pt, err := obj.Decrypt(DeriveEncryptionKey([]byte(testSecret)))
		require.NoError(t, err)
		assert.Equal(t, `{"sub":"me"}`, string(pt))
		assert.Equal(t, "dir", obj.Header.Algorithm)
		assert.InDelta(t, 2, obj.Header.ExtraHeaders["uat"], 0)
	})
	t.Run("should fail to decrypt with a different key", func(t *testing.T) {
		_, _, err := newRing(t, "a different secret").Decrypt(out)
		require.ErrorIs(t, err, ErrDecrypt)
	})
	t.Run("round trip", func(t *testing.T) {
		gh, pt, err := k.Decrypt(out)
		require.NoError(t, err)
		assert.Equal(t, h, gh)
		assert.Equal(t, `{"sub":"me"}`, string(pt))
	})
}

func TestEncryptRoundTrip(t *testing.T) {
	k := newRing(t, testSecret)
	tests := []struct {
		name      string
		header    Header
		plaintext string
	}{
		{"unicode", Header{1700000000, 1700000001, 1700000002}, `{"name":"Zoë 日本語 🎉","e":"\u2028"}`},
		{"empty plaintext", Header{}, ""},
		{"negative and extreme header", Header{-1, -9223372036854775808, 9223372036854775807}, "{}"},
		{"one byte", Header{1, 1, 1}, "x"},
		{"large", Header{1, 2, 3}, strings.Repeat("abcdefghij", 3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := k.Encrypt(tt.header, []byte(tt.plaintext))
			require.NoError(t, err)
			h, pt, err := k.Decrypt(out)
			require.NoError(t, err)
			assert.Equal(t, tt.header, h)
			assert.Equal(t, tt.plaintext, string(pt))
		})
	}
}

func TestEncryptUniquePerCall(t *testing.T) {
	k := newRing(t, testSecret)
	seen := map[string]bool{}
	ivs := map[string]bool{}
	for range 100 {
		out, err := k.Encrypt(vectorHeader, []byte(vectorPT))
		require.NoError(t, err)
		assert.False(t, seen[out], "ciphertext repeated")
		seen[out] = true
		iv := strings.Split(out, ".")[2]
		assert.False(t, ivs[iv], "IV repeated")
		ivs[iv] = true
	}
}

func TestEncryptRandomFailure(t *testing.T) {
	k, err := NewKeyring([][]byte{[]byte(testSecret)}, bytes.NewReader([]byte{1, 2, 3}))
	require.NoError(t, err)
	_, err = k.Encrypt(vectorHeader, nil)
	require.Error(t, err)
}

func TestRotation(t *testing.T) {
	old := newRing(t, "old secret")
	cookie, err := old.Encrypt(vectorHeader, []byte(vectorPT))
	require.NoError(t, err)
	tests := []struct {
		name    string
		ring    *Keyring
		wantErr error
	}{
		{"old only", old, nil},
		{"new first, old second (key 2 of 2)", newRing(t, "new secret", "old secret"), nil},
		{"old first, new second", newRing(t, "old secret", "new secret"), nil},
		{"old key removed", newRing(t, "new secret"), ErrDecrypt},
		{"three keys, old last", newRing(t, "a", "b", "old secret"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pt, err := tt.ring.Decrypt(cookie)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Nil(t, pt)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, vectorPT, string(pt))
		})
	}
	t.Run("re-encrypting under the rotated ring uses the new key", func(t *testing.T) {
		ring := newRing(t, "new secret", "old secret")
		fresh, err := ring.Encrypt(vectorHeader, []byte(vectorPT))
		require.NoError(t, err)
		_, _, err = newRing(t, "new secret").Decrypt(fresh)
		require.NoError(t, err)
		_, _, err = old.Decrypt(fresh)
		require.ErrorIs(t, err, ErrDecrypt)
	})
}

// flip changes the character at index i of s to a different base64url character.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestTamper(t *testing.T) {
	k := newRing(t, testSecret)
	parts := strings.Split(vectorJWE, ".")
	join := func(p []string) string { return strings.Join(p, ".") }
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return join(p)
	}
	tests := []struct {
		name  string
		value string
	}{
		{"header first char", with(0, flip(parts[0], 0))},
		{"header middle char", with(0, flip(parts[0], 40))},
		{"header last char", with(0, flip(parts[0], len(parts[0])-1))},
		{"encrypted key made non-empty", with(1, "AA")},
		{"iv first char", with(2, flip(parts[2], 0))},
		{"iv last char", with(2, flip(parts[2], len(parts[2])-1))},
		{"ciphertext first char", with(3, flip(parts[3], 0))},
		{"ciphertext last char", with(3, flip(parts[3], len(parts[3])-1))},
		{"tag first char", with(4, flip(parts[4], 0))},
		{"tag last char", with(4, flip(parts[4], len(parts[4])-1))},
		{"truncated by one", vectorJWE[:len(vectorJWE)-1]},
		{"truncated to half", vectorJWE[:len(vectorJWE)/2]},
		{"padding appended", vectorJWE + "="},
		{"padded tag", with(4, parts[4]+"==")},
		{"non-canonical tag bits", with(4, parts[4][:21]+"x")},
		{"ciphertext shortened", with(3, parts[3][:len(parts[3])-4])},
		{"ciphertext empty", with(3, "")},
		{"extra segment", vectorJWE + ".AAAA"},
		{"segments swapped", join([]string{parts[0], "", parts[2], parts[4], parts[3]})},
		{"newline inside", with(3, parts[3][:4]+"\n"+parts[3][4:])},
		{"header replaced by other valid header", with(0, b64([]byte(`{"alg":"dir","enc":"A256GCM","iat":1700000000,"uat":1700000000,"exp":1800086400}`)))},
		{"empty string", ""},
		{"garbage", "not a jwe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, pt, err := k.Decrypt(tt.value)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformed) || errors.Is(err, ErrDecrypt), "unexpected error %v", err)
			assert.Nil(t, pt)
			assert.Equal(t, Header{}, h)
		})
	}
}

func TestHostileHeaders(t *testing.T) {
	k := newRing(t, testSecret)
	iv := vectorIV
	pt := []byte(vectorPT)
	seal := func(header string) string { return sealRaw(t, testSecret, header, iv, pt) }
	validTail := strings.SplitN(vectorJWE, ".", 2)[1]
	withHeader := func(header string) string { return b64([]byte(header)) + "." + validTail }
	dots := strings.Repeat(".", 1<<20)

	tests := []struct {
		name  string
		value string
	}{
		// JOSE-01, genuinely authenticated under our key: only the header check can reject.
		{"alg RSA-OAEP", seal(`{"alg":"RSA-OAEP","enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"alg PBES2 with huge p2c", seal(`{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":2147483647,"p2s":"AAAA","iat":1,"uat":1,"exp":1}`)},
		{"alg none", seal(`{"alg":"none","enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"enc A128GCM", seal(`{"alg":"dir","enc":"A128GCM","iat":1,"uat":1,"exp":1}`)},
		{"enc A128CBC-HS256", seal(`{"alg":"dir","enc":"A128CBC-HS256","iat":1,"uat":1,"exp":1}`)},
		{"zip DEF", seal(`{"alg":"dir","enc":"A256GCM","zip":"DEF","iat":1,"uat":1,"exp":1}`)},
		{"zip null", seal(`{"alg":"dir","enc":"A256GCM","zip":null,"iat":1,"uat":1,"exp":1}`)},
		{"crit exp", seal(`{"alg":"dir","enc":"A256GCM","crit":["exp"],"iat":1,"uat":1,"exp":1}`)},
		{"crit with kid (go-jose path)", seal(`{"alg":"dir","enc":"A256GCM","kid":"k","crit":["kid"],"iat":1,"uat":1,"exp":1}`)},
		{"duplicate alg", seal(`{"alg":"RSA-OAEP","alg":"dir","enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"duplicate iat", seal(`{"alg":"dir","enc":"A256GCM","iat":1,"iat":2,"uat":1,"exp":1}`)},
		{"alg upper-case key only", seal(`{"ALG":"dir","enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"alg not a string", seal(`{"alg":["dir"],"enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"alg null", seal(`{"alg":null,"enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"missing alg", seal(`{"enc":"A256GCM","iat":1,"uat":1,"exp":1}`)},
		{"missing enc", seal(`{"alg":"dir","iat":1,"uat":1,"exp":1}`)},
		{"missing exp", seal(`{"alg":"dir","enc":"A256GCM","iat":1,"uat":1}`)},
		{"iat string", seal(`{"alg":"dir","enc":"A256GCM","iat":"1","uat":1,"exp":1}`)},
		{"iat fraction", seal(`{"alg":"dir","enc":"A256GCM","iat":1.5,"uat":1,"exp":1}`)},
		{"iat overflow", seal(`{"alg":"dir","enc":"A256GCM","iat":1e400,"uat":1,"exp":1}`)},
		{"iat beyond int64", seal(`{"alg":"dir","enc":"A256GCM","iat":9223372036854775808,"uat":1,"exp":1}`)},
		{"header is an array", seal(`["alg","dir"]`)},
		{"header is a string", seal(`"dir"`)},
		{"header not JSON", seal(`{alg:dir}`)},
		{"trailing data", seal(`{"alg":"dir","enc":"A256GCM","iat":1,"uat":1,"exp":1}{}`)},
		{"empty header", ".." + b64(iv) + "." + strings.SplitN(vectorJWE, ".", 4)[3]},
		// Unauthenticated hostile headers with an otherwise valid frame.
		{"forged RSA-OAEP frame", withHeader(`{"alg":"RSA-OAEP","enc":"A256GCM"}`)},
		{"forged PBES2 p2c frame", withHeader(`{"alg":"PBES2-HS512+A256KW","enc":"A256GCM","p2c":2147483647,"p2s":"AAAAAAAAAAA"}`)},
		{"forged zip frame", withHeader(`{"alg":"dir","enc":"A256GCM","zip":"DEF","iat":1,"uat":1,"exp":1}`)},
		// JOSE-02
		{"1-byte key segment", strings.Replace(vectorJWE, "..", ".AA.", 1)},
		{"7-byte IV", strings.Replace(vectorJWE, "AAECAwQFBgcICQoL", b64(make([]byte, 7)), 1)},
		{"15-byte tag", strings.Replace(vectorJWE, "TBsL0nK9kTRT31IdzQFHNw", b64(make([]byte, 15)), 1)},
		{"17-byte tag", strings.Replace(vectorJWE, "TBsL0nK9kTRT31IdzQFHNw", b64(make([]byte, 17)), 1)},
		{"empty IV", strings.Replace(vectorJWE, "AAECAwQFBgcICQoL", "", 1)},
		{"empty tag", strings.TrimSuffix(vectorJWE, "TBsL0nK9kTRT31IdzQFHNw")},
		// JOSE-06
		{"1 MiB of dots", dots},
		{"64 KiB of dots", dots[:MaxCompactSize]},
		{"four dots", "...."},
		{"1 MiB base64 header", strings.Repeat("A", 1<<20) + "." + validTail},
		{"60 KiB base64 header", b64(bytes.Repeat([]byte(" "), 45<<10)) + "." + validTail},
		{"60 KiB ciphertext of garbage", strings.Replace(vectorJWE, "EaIvxDfrG0-187jApFps260K0bauWiBFRVMS3g5stOQ", strings.Repeat("A", 60<<10), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				h   Header
				out []byte
				err error
			)
			require.NotPanics(t, func() { h, out, err = k.Decrypt(tt.value) })
			require.Error(t, err)
			if strings.Contains(tt.name, "ciphertext of garbage") {
				assert.ErrorIs(t, err, ErrDecrypt) // framed correctly: one AES-GCM open
			} else {
				assert.ErrorIs(t, err, ErrMalformed, "refused before any key is tried")
			}
			assert.Nil(t, out)
			assert.Equal(t, Header{}, h)

			// Bounded work instead of a time limit: no input may cost more
			// than a few buffers the size of the value itself, nor more
			// than a bounded number of allocations, whatever its header
			// asks for (a PBKDF2 count, decompression, ...).
			allocs, bytes := allocsPerRun(10, func() { _, _, _ = k.Decrypt(tt.value) })
			t.Logf("%d bytes in: %.0f allocs, %.0f bytes", len(tt.value), allocs, bytes)
			assert.LessOrEqual(t, allocs, 150.0, "allocations")
			assert.LessOrEqual(t, bytes, float64(2*min(len(tt.value), MaxCompactSize)+16<<10), "bytes allocated")
		})
	}
}

// allocsPerRun is testing.AllocsPerRun that also reports the bytes
// allocated per run.
func allocsPerRun(runs int, f func()) (allocs, bytes float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(runs), float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

func TestHeaderVariantsAccepted(t *testing.T) {
	k := newRing(t, testSecret)
	tests := []struct {
		name   string
		header string
		want   Header
	}{
		{"canonical", `{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3}`, Header{1, 2, 3}},
		{"reordered", `{"exp":3,"uat":2,"iat":1,"enc":"A256GCM","alg":"dir"}`, Header{1, 2, 3}},
		{"whitespace", "{ \"alg\" : \"dir\" ,\n\"enc\":\"A256GCM\", \"iat\":1,\"uat\":2,\"exp\":3 }", Header{1, 2, 3}},
		{"unknown members", `{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3,"foo":{"bar":[1,2,null]},"cty":"JWT"}`, Header{1, 2, 3}},
		{"escaped member names and values", `{"\u0061lg":"di\u0072","enc":"A256GCM","iat":1,"uat":2,"exp":3}`, Header{1, 2, 3}},
		{"exponent integers", `{"alg":"dir","enc":"A256GCM","iat":1.7e9,"uat":17e8,"exp":1700000000.0}`, Header{1700000000, 1700000000, 1700000000}},
		{"negative", `{"alg":"dir","enc":"A256GCM","iat":-5,"uat":0,"exp":-0}`, Header{-5, 0, 0}},
		{"trailing space forces the general parser", `{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3 }`, Header{1, 2, 3}},
		{"19-digit integer", `{"alg":"dir","enc":"A256GCM","iat":1234567890123456789,"uat":2,"exp":3}`, Header{1234567890123456789, 2, 3}},
		{"kid (go-jose fallback)", `{"alg":"dir","enc":"A256GCM","kid":"k1","iat":1,"uat":2,"exp":3}`, Header{1, 2, 3}},
		{"kid reordered (go-jose fallback)", `{"kid":"k1","exp":3,"uat":2,"iat":1,"enc":"A256GCM","alg":"dir"}`, Header{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			value := sealRaw(t, testSecret, tt.header, vectorIV, []byte(vectorPT))
			h, pt, err := k.Decrypt(value)
			require.NoError(t, err)
			assert.Equal(t, tt.want, h)
			assert.Equal(t, vectorPT, string(pt))
		})
	}
}

func TestParseJSONInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		rest string
		ok   bool
	}{
		{"0}", 0, "}", true},
		{"-0}", 0, "}", true},
		{"1700000000,", 1700000000, ",", true},
		{"-42", -42, "", true},
		{"012", 0, "", false},
		{"-", 0, "", false},
		{"", 0, "", false},
		{"x", 0, "", false},
		{"999999999999999999", 999999999999999999, "", true},
		{"1234567890123456789", 0, "", false}, // 19 digits: left to the general parser
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			v, rest, ok := parseJSONInt([]byte(tt.in))
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Equal(t, tt.want, v)
				assert.Equal(t, tt.rest, string(rest))
			}
		})
	}
}

func TestSign(t *testing.T) {
	tx := `{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}`
	tests := []struct {
		name, secret, cookie, value, want string
	}{
		{"store id", testSecret, "appSession", "0123abcd", "0123abcd.Dwuz-2ltoiBuaxyHi8urRIjcMCRiAiUPrywavWkNfms"},
		{"transaction", testSecret, "auth_verification", tx, tx + ".sn6A15Bk8a7uNH7IoAEnCGsiCu_9ZjzR37TEUoiUv9k"},
		{"legacy transaction", testSecret, "_auth_verification", tx, tx + ".ckTBvK31758EZmrigVWyxHa7XJIokpWOF73hLT2yufM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newRing(t, tt.secret)
			assert.Equal(t, tt.want, k.Sign(tt.cookie, tt.value))
			got, ok := k.Verify(tt.cookie, tt.want)
			require.True(t, ok)
			assert.Equal(t, tt.value, got)
		})
	}
}

func TestVerify(t *testing.T) {
	k := newRing(t, testSecret)
	signed := k.Sign("auth_verification", "value")
	value, sig, _ := strings.Cut(signed, ".")
	tests := []struct {
		name, cookie, signed string
		ring                 *Keyring
		want                 string
		ok                   bool
	}{
		{"should produce value.signature and verify", "auth_verification", signed, k, "value", true},
		{"should fail when the name differs", "other", signed, k, "", false},
		{"should fail when the value is tampered", "auth_verification", "valuf." + sig, k, "", false},
		{"should fail with a different secret", "auth_verification", signed, newRing(t, "other secret"), "", false},
		{"verifies with the old key during rotation", "auth_verification", signed, newRing(t, "new", testSecret), "value", true},
		{"signature tampered", "auth_verification", value + "." + flip(sig, 3), k, "", false},
		{"signature non-canonical trailing bits", "auth_verification", value + "." + sig[:42] + "h", k, "", false},
		{"signature padded", "auth_verification", signed + "=", k, "", false},
		{"signature truncated", "auth_verification", signed[:len(signed)-1], k, "", false},
		{"extra segment", "auth_verification", signed + ".x", k, "", false},
		{"no separator", "auth_verification", "value", k, "", false},
		{"empty", "auth_verification", "", k, "", false},
		{"only a dot", "auth_verification", ".", k, "", false},
		{"value containing a dot cannot verify", "n", k.Sign("n", "a.b"), k, "", false},
		{"empty value verifies", "n", k.Sign("n", ""), k, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.ring.Verify(tt.cookie, tt.signed)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
	t.Run("sign uses key 0 only", func(t *testing.T) {
		ring := newRing(t, "new", testSecret)
		_, ok := k.Verify("n", ring.Sign("n", "v"))
		assert.False(t, ok)
		_, ok = newRing(t, "new").Verify("n", ring.Sign("n", "v"))
		assert.True(t, ok)
	})
}

func TestConcurrentUse(t *testing.T) {
	tests := []struct {
		name string
		ring *Keyring
	}{
		{"crypto/rand", newRing(t, testSecret, "old")},
	}
	custom, err := NewKeyring([][]byte{[]byte(testSecret)}, &counterReader{})
	require.NoError(t, err)
	tests = append(tests, struct {
		name string
		ring *Keyring
	}{"custom reader", custom})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 50 {
						h := Header{int64(g), int64(i), 3}
						out, err := tt.ring.Encrypt(h, []byte(vectorPT))
						assert.NoError(t, err)
						gh, pt, err := tt.ring.Decrypt(out)
						assert.NoError(t, err)
						assert.Equal(t, h, gh)
						assert.Equal(t, vectorPT, string(pt))
						v, ok := tt.ring.Verify("n", tt.ring.Sign("n", "v"))
						assert.True(t, ok)
						assert.Equal(t, "v", v)
					}
				}()
			}
			wg.Wait()
		})
	}
}

// counterReader is a deliberately non-thread-safe deterministic reader.
type counterReader struct{ n byte }

func (r *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

func TestDecryptAllocations(t *testing.T) {
	k := newRing(t, testSecret)
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = k.Decrypt(vectorJWE)
	})
	assert.LessOrEqual(t, allocs, 1.0)
	pt := []byte(vectorPT)
	allocs = testing.AllocsPerRun(100, func() {
		_, _ = k.Encrypt(vectorHeader, pt)
	})
	assert.LessOrEqual(t, allocs, 2.0)
}

// joseDecrypt decrypts with go-jose and every key of secrets.
func joseDecrypt(value string, secrets ...string) ([]byte, map[jose.HeaderKey]any, bool) {
	obj, err := jose.ParseEncryptedCompact(value, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, nil, false
	}
	for _, s := range secrets {
		if pt, err := obj.Decrypt(DeriveEncryptionKey([]byte(s))); err == nil {
			return pt, obj.Header.ExtraHeaders, true
		}
	}
	return nil, nil, false
}

func FuzzDecrypt(f *testing.F) {
	seal := func(header string) string { return sealRaw(f, testSecret, header, vectorIV, []byte(vectorPT)) }
	for _, s := range []string{
		vectorJWE,
		vector2JWE,
		seal(`{"alg":"dir","enc":"A256GCM","zip":"DEF","iat":1,"uat":1,"exp":1}`),
		seal(`{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":2147483647,"iat":1,"uat":1,"exp":1}`),
		seal(`{"alg":"dir","enc":"A256GCM","crit":["exp"],"iat":1,"uat":1,"exp":1}`),
		seal(`{"kid":"k","exp":3,"uat":2,"iat":1,"enc":"A256GCM","alg":"dir"}`),
		seal(`{"alg":"dir","enc":"A256GCM","iat":1.7e9,"uat":1,"exp":1}`),
		"....", ".....", "...", "", "a.b.c.d.e",
		strings.Repeat(".", 4096),
		strings.Replace(vectorJWE, "..", ".AA.", 1),
		strings.Replace(vectorJWE, "AAECAwQFBgcICQoL", "AAECAwQFBgc", 1),
	} {
		f.Add(s)
	}
	k := newRing(f, "other secret", testSecret)
	f.Fuzz(func(t *testing.T, value string) {
		h, pt, err := k.Decrypt(value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			if pt != nil || h != (Header{}) {
				t.Fatalf("error with output")
			}
			return
		}
		jpt, extra, ok := joseDecrypt(value, "other secret", testSecret)
		if !ok {
			t.Fatalf("we decrypted %q but go-jose did not", value)
		}
		if !bytes.Equal(pt, jpt) {
			t.Fatalf("plaintext differs: %q vs %q", pt, jpt)
		}
		checkHeader(t, h, extra)
	})
}

func checkHeader(t *testing.T, h Header, extra map[jose.HeaderKey]any) {
	t.Helper()
	for name, v := range map[string]int64{"iat": h.IAT, "uat": h.UAT, "exp": h.EXP} {
		f, ok := extra[jose.HeaderKey(name)].(float64)
		if !ok || f != float64(v) {
			t.Fatalf("header %s: go-jose sees %v, we return %d", name, extra[jose.HeaderKey(name)], v)
		}
	}
}

// FuzzDecryptHeader authenticates arbitrary protected headers under the key,
// so the fuzzer reaches the header logic behind the AEAD check. Whenever we
// accept a value, go-jose must accept it too and agree on plaintext and
// header values.
func FuzzDecryptHeader(f *testing.F) {
	for _, h := range []string{
		`{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3}`,
		`{"exp":3,"uat":2,"iat":1,"enc":"A256GCM","alg":"dir"}`,
		`{"alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3,"x":[{"y":null}]}`,
		`{"alg":"dir","enc":"A256GCM","kid":"a","iat":1,"uat":2,"exp":3}`,
		`{"alg":"dir","enc":"A256GCM","zip":"DEF","iat":1,"uat":2,"exp":3}`,
		`{"alg":"dir","enc":"A256GCM","crit":["b64"],"iat":1,"uat":2,"exp":3}`,
		`{"alg":"dir","alg":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3}`,
		`{"ALG":"dir","enc":"A256GCM","iat":1,"uat":2,"exp":3}`,
		`{"alg":"dir","enc":"A256GCM","iat":1e3,"uat":2.0,"exp":-3}`,
	} {
		f.Add([]byte(h), []byte(vectorPT))
	}
	k := newRing(f, testSecret)
	f.Fuzz(func(t *testing.T, header, plaintext []byte) {
		if len(header) == 0 {
			return
		}
		value := sealRaw(t, testSecret, string(header), vectorIV, plaintext)
		h, pt, err := k.Decrypt(value)
		if err != nil {
			return
		}
		jpt, extra, ok := joseDecrypt(value, testSecret)
		if !ok {
			t.Fatalf("we accepted header %q but go-jose did not", header)
		}
		if !bytes.Equal(pt, jpt) || !bytes.Equal(pt, plaintext) {
			t.Fatalf("plaintext differs")
		}
		checkHeader(t, h, extra)
		var m map[string]any
		if json.Unmarshal(header, &m) != nil || m["alg"] != "dir" || m["enc"] != "A256GCM" {
			t.Fatalf("accepted header %q without alg dir / enc A256GCM", header)
		}
	})
}

func benchPlaintext(n int) []byte {
	b := []byte(`{"id_token":"`)
	for len(b) < n-2 {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

func BenchmarkEncrypt(b *testing.B) {
	k := newRing(b, testSecret)
	for _, size := range []int{300, 3000} {
		pt := benchPlaintext(size)
		b.Run(byteSize(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := k.Encrypt(vectorHeader, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, size := range []int{300, 3000} {
		pt := benchPlaintext(size)
		for _, keys := range [][]string{{testSecret}, {"new secret", testSecret}} {
			k := newRing(b, keys...)
			value, err := newRing(b, testSecret).Encrypt(vectorHeader, pt)
			require.NoError(b, err)
			name := byteSize(size)
			if len(keys) > 1 {
				name += "/second-key"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(pt)))
				for b.Loop() {
					if _, _, err := k.Decrypt(value); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k := newRing(b, testSecret)
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Sign("auth_verification", `{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}`)
	}
}

func byteSize(n int) string {
	if n >= 1000 {
		return strconv.Itoa(n/1000) + "KB"
	}
	return strconv.Itoa(n) + "B"
}

func TestDecryptKeyIndexAndPeek(t *testing.T) {
	oldRing, err := NewKeyring([][]byte{[]byte("old-secret-value")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	both, err := NewKeyring([][]byte{[]byte("new-secret-value"), []byte("old-secret-value")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{IAT: 1, UAT: 2, EXP: 3}
	for name, tc := range map[string]struct {
		ring *Keyring
		want int
	}{"current key": {both, 0}, "rotated-out key": {oldRing, 1}} {
		t.Run(name, func(t *testing.T) {
			v, err := tc.ring.Encrypt(h, []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			got, _, idx, err := both.DecryptKey(v)
			if err != nil || idx != tc.want || got != h {
				t.Fatalf("DecryptKey = %v, %d, %v; want %v, %d", got, idx, err, h, tc.want)
			}
			peek, err := PeekHeader(v)
			if err != nil || peek != h {
				t.Fatalf("PeekHeader = %v, %v", peek, err)
			}
		})
	}
	if _, err := PeekHeader("not-a-jwe"); err == nil {
		t.Fatal("PeekHeader accepted garbage")
	}
}
