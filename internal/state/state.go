// Package state encodes and decodes the OAuth "state" parameter the way
// express-openid-connect does: base64url (no padding) of the JSON of the
// login state object, minus the values that live only in the transaction
// cookie.
package state

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxEncodedLen is the largest encoded state Decode accepts.
const MaxEncodedLen = 8 << 10

// transactionOnly lists the keys Encode drops: they belong to the
// transaction cookie, never to the URL.
func transactionOnly() [3]string { return [3]string{"nonce", "code_verifier", "max_age"} }

// Encode returns base64url (no padding) of the JSON of v with the keys "nonce", "code_verifier", "max_age" removed.
//
// Go's encoding/json writes object keys sorted, whereas express writes them
// in insertion order, so multi-key states are not byte-identical to Node's
// (both sides only decode them, so this does not affect interoperability).
// Like JSON.stringify, "<", ">" and "&" are not escaped (U+2028 and U+2029
// are, which JSON.stringify does not do). A nil map encodes
// as {}. v is not modified. An error is returned only if a value cannot be
// marshalled to JSON.
func Encode(v map[string]any) (string, error) {
	if v == nil {
		v = map[string]any{}
	}
	for _, k := range transactionOnly() {
		if _, ok := v[k]; ok {
			v = without(v)
			break
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// without returns a shallow copy of v minus the transaction-only keys.
func without(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, val := range v {
		out[k] = val
	}
	for _, k := range transactionOnly() {
		delete(out, k)
	}
	return out
}

// Decode reverses Encode; it returns an error (never panics) for bad base64, non-JSON, or a non-object; also reject input > 8 KiB.
//
// The input is base64url; trailing "=" padding is tolerated. Numbers are
// decoded as json.Number so that they survive a round trip unchanged, and
// trailing data after the JSON object is an error (as with JSON.parse).
func Decode(s string) (map[string]any, error) {
	if len(s) > MaxEncodedLen {
		return nil, fmt.Errorf("state: longer than %d bytes", MaxEncodedLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(trimPadding(s))
	if err != nil {
		return nil, fmt.Errorf("state: invalid base64url: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("state: invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("state: trailing data after JSON")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("state: not a JSON object")
	}
	return m, nil
}

// trimPadding removes up to two trailing "=" characters.
func trimPadding(s string) string {
	for range 2 {
		s, _ = strings.CutSuffix(s, "=")
	}
	return s
}
