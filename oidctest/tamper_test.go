package oidctest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// b64urlAlphabet is the base64url alphabet, in value order.
const b64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// tamperTail returns s with each of its last n characters replaced by a
// different base64url character (the one whose value differs in the highest
// bit, which every position of an unpadded encoding uses), so the tampered
// value and its decoded bytes always differ from the original. Any other
// character becomes 'A'.
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
	for _, s := range []string{"AAAA", "xAAAA", "gggg", "a.b"} {
		got := tamperTail(s, 4)
		for i := max(len(s)-4, 0); i < len(s); i++ {
			assert.NotEqual(t, s[i], got[i], "%q: position %d unchanged", s, i)
		}
	}
}
