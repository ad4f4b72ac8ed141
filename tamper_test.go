package oidc

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// b64urlAlphabet is the base64url alphabet, in value order.
const b64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// tamperTail returns s with each of its last n characters replaced by a
// different base64url character, so a tampered value always differs from
// the original. A base64url character is replaced by the one whose value
// differs in the highest of its six bits: every position of an unpadded
// encoding uses that bit (the last character drops only low bits), so the
// decoded bytes change too. Any other character becomes 'A'.
func tamperTail(s string, n int) string {
	b := []byte(s)
	for i := max(len(b)-n, 0); i < len(b); i++ {
		if j := strings.IndexByte(b64urlAlphabet, b[i]); j >= 0 {
			b[i] = b64urlAlphabet[j^32]
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func TestTamperTail(t *testing.T) {
	t.Parallel()
	// Every character in every final position of 1, 2 and 3 encoded bytes
	// (the last character carries 2, 4 or 6 significant bits).
	for _, prefix := range []string{"Q", "QU", "QUJ"} {
		for _, last := range []byte(b64urlAlphabet) {
			s := prefix + string(last)
			dec, err := base64.RawURLEncoding.DecodeString(s)
			require.NoError(t, err)
			for n := 1; n <= len(s); n++ {
				got := tamperTail(s, n)
				require.Len(t, got, len(s))
				for i := range s {
					if i >= len(s)-n {
						assert.NotEqual(t, s[i], got[i], "%q n=%d: position %d unchanged", s, n, i)
						assert.Contains(t, b64urlAlphabet, string(got[i]))
					} else {
						assert.Equal(t, s[i], got[i])
					}
				}
				tdec, err := base64.RawURLEncoding.DecodeString(got)
				require.NoError(t, err)
				assert.NotEqual(t, dec, tdec, "%q n=%d: the decoded bytes must change", s, n)
			}
		}
	}
	assert.Equal(t, "v1.A", tamperTail("v1..", 1), "non-base64url characters become 'A'")
	assert.Equal(t, "BA", tamperTail("hg", 5), "n larger than the string: every character")
}
