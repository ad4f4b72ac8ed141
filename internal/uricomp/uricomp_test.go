package uricomp

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Transaction-cookie wire vector (express-openid-connect's format).
const (
	txRaw  = `{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}.sn6A15Bk8a7uNH7IoAEnCGsiCu_9ZjzR37TEUoiUv9k`
	txWire = `%7B%22nonce%22%3A%22N0NCE%22%2C%22state%22%3A%22eyJyZXR1cm5UbyI6Ii8ifQ%22%7D.sn6A15Bk8a7uNH7IoAEnCGsiCu_9ZjzR37TEUoiUv9k`
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"transaction cookie vector", txRaw, txWire},
		{"empty", "", ""},
		{"unreserved untouched", "AZaz09-_.!~*'()", "AZaz09-_.!~*'()"},
		{"jwe untouched", "eyJh..AAEC.x-y_z.TBsL", "eyJh..AAEC.x-y_z.TBsL"},
		{"printable ASCII", " !\"#$%&'()*+,-./0123456789:;<=>?@[\\]^_`{|}~",
			"%20!%22%23%24%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~"},
		{"space is %20 not +", "a b", "a%20b"},
		{"controls", "\x00\x1f\x7f", "%00%1F%7F"},
		{"two-byte UTF-8", "é", "%C3%A9"},
		{"three-byte UTF-8", "日本", "%E6%97%A5%E6%9C%AC"},
		{"four-byte UTF-8", "😀", "%F0%9F%98%80"},
		{"U+2028", "\u2028", "%E2%80%A8"},
		{"invalid UTF-8 bytes", "\xff\xfe", "%FF%FE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Encode(tt.in))
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"transaction cookie vector", txWire, txRaw},
		{"no percent is untouched", "a+b c", "a+b c"},
		{"plus stays plus", "a+b%20c", "a+b c"},
		{"lower-case hex", "%7b%22%e2%82%ac", "{\"€"},
		{"two-byte UTF-8", "%C3%A9", "é"},
		{"four-byte UTF-8", "%F0%9F%98%80", "😀"},
		{"escaped replacement character is valid", "%EF%BF%BD", "\uFFFD"},
		{"NUL", "%00", "\x00"},
		{"raw non-ASCII passes through", "é%41", "éA"},
		{"lone percent", "%", "%"},
		{"trailing percent", "abc%", "abc%"},
		{"truncated escape", "%4", "%4"},
		{"truncated escape at end", "a%41%4", "a%41%4"},
		{"non-hex escape", "%zz", "%zz"},
		{"half hex", "%4g", "%4g"},
		{"incomplete sequence", "%C3", "%C3"},
		{"incomplete sequence then ASCII", "%C3A", "%C3A"},
		{"continuation without lead", "%80", "%80"},
		{"overlong NUL", "%C0%80", "%C0%80"},
		{"overlong slash", "%E0%80%AF", "%E0%80%AF"},
		{"surrogate", "%ED%A0%80", "%ED%A0%80"},
		{"above U+10FFFF", "%F4%90%80%80", "%F4%90%80%80"},
		{"invalid lead byte", "%FF", "%FF"},
		{"non-continuation second byte", "%C3%41", "%C3%41"},
		{"double escape decodes once", "%2541", "%41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Decode(tt.in))
		})
	}
}

// TestNetHTTPCarriesEncodedValue checks the reason for this package:
// net/http refuses the raw transaction value but carries the encoded one.
func TestNetHTTPCarriesEncodedValue(t *testing.T) {
	rec := &http.Cookie{Name: "auth_verification", Value: Encode(txRaw)}
	require.NoError(t, rec.Valid())
	assert.Equal(t, "auth_verification="+txWire, rec.String())

	r := &http.Request{Header: http.Header{"Cookie": {rec.String()}}}
	c, err := r.Cookie("auth_verification")
	require.NoError(t, err)
	assert.Equal(t, txRaw, Decode(c.Value))
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{txRaw, txWire, "", "%", "é", "\xff", "%C3%A9", "a+b", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := Encode(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c != '%' && !unreserved(c) {
				t.Fatalf("Encode left %q in %q", c, enc)
			}
		}
		if utf8.ValidString(s) && Decode(enc) != s {
			t.Fatalf("round trip: %q -> %q -> %q", s, enc, Decode(enc))
		}
		dec := Decode(s)
		if !strings.Contains(s, "%") && dec != s {
			t.Fatalf("Decode changed a value without %%")
		}
		if len(dec) > len(s) {
			t.Fatalf("Decode grew the value")
		}
	})
}
