package oidctest

import "strings"

// b64urlAlphabet is the base64url alphabet, in value order.
const b64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Tamper returns value with each of its last n characters replaced by a
// different base64url character, for tests that check that a tampered
// cookie, token or signature is refused. The tampered value always differs
// from the original, and so do its decoded bytes: a base64url character is
// replaced by the one whose value differs in the highest of its six bits,
// which every position of an unpadded encoding uses (the last character
// drops only low bits). Any other character becomes 'A'. An n larger than
// the value changes every character.
func Tamper(value string, n int) string {
	b := []byte(value)
	for i := max(len(b)-n, 0); i < len(b); i++ {
		if j := strings.IndexByte(b64urlAlphabet, b[i]); j >= 0 {
			b[i] = b64urlAlphabet[j^32]
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}
