package oidctest_test

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc/oidctest"
)

// b64urlAlphabet is the base64url alphabet, in value order.
const b64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestTamper(t *testing.T) {
	t.Parallel()
	// Every character in every final position of 1, 2 and 3 encoded bytes
	// (the last character carries 2, 4 or 6 significant bits).
	for _, prefix := range []string{"Q", "QU", "QUJ"} {
		for _, last := range []byte(b64urlAlphabet) {
			s := prefix + string(last)
			dec, err := base64.RawURLEncoding.DecodeString(s)
			require.NoError(t, err)
			for n := 1; n <= len(s); n++ {
				got := oidctest.Tamper(s, n)
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
	assert.Equal(t, "v1.A", oidctest.Tamper("v1..", 1), "non-base64url characters become 'A'")
	assert.Equal(t, "BA", oidctest.Tamper("hg", 5), "n larger than the string: every character")
}
