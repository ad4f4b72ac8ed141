// Package transaction defines the JSON carried in the auth_verification
// cookie between login and callback, in the byte format
// express-openid-connect writes and reads (plus members of our own, which
// express ignores). The cookie protecting it is either sealed (this port's
// default) or signed (express's format).
package transaction

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// MaxLen is the largest serialised transaction Parse accepts.
const MaxLen = 8 << 10

// Transaction is the JSON carried in the auth_verification cookie.
type Transaction struct {
	// Nonce is the OIDC nonce sent in the authorization request.
	Nonce string `json:"nonce"`
	// State is the encoded state parameter sent in the authorization request.
	State string `json:"state"`
	// MaxAge is the max_age authorization parameter, when it was set.
	MaxAge *int64 `json:"max_age,omitempty"`
	// CodeVerifier is the PKCE verifier for response types containing code.
	CodeVerifier string `json:"code_verifier,omitempty"`
	// ResponseType is the response_type of the request. It is this port's
	// addition; express ignores unknown keys.
	ResponseType string `json:"response_type,omitempty"`
	// ResponseMode is how the response was requested to arrive: "query" or
	// "form_post" (empty: unknown, as in transactions written by
	// express-openid-connect). It is this port's addition.
	ResponseMode string `json:"response_mode,omitempty"`
	// Started is when the login started, in Unix microseconds of the
	// middleware's clock (0: unknown, as in transactions written by
	// express-openid-connect). It is this port's addition.
	Started int64 `json:"started,omitempty"`
}

// Marshal returns the JSON form with keys in the order nonce, state,
// max_age, code_verifier (express's JSON.stringify order), then our
// additions response_type, response_mode and started; empty optional members are omitted. Like
// JSON.stringify it does not escape "<", ">" or "&" (Go still escapes
// U+2028 and U+2029, which never occur in base64url values).
func (t Transaction) Marshal() string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// A struct of strings and an *int64 always encodes.
	_ = enc.Encode(t)
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// Parse decodes a transaction written by Marshal or by express-openid-connect.
// It requires a JSON object of at most MaxLen bytes whose nonce and state are
// non-empty strings. max_age, if present and not null, must be a
// non-negative integer, and so must started; code_verifier, response_type and
// response_mode, if present and not null, must be strings. Member names are matched exactly, unknown members
// are ignored and a repeated member takes its last value (JSON.parse
// semantics). Parse never panics.
func Parse(s string) (Transaction, error) {
	var t Transaction
	if len(s) > MaxLen {
		return t, fmt.Errorf("transaction: longer than %d bytes", MaxLen)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return t, fmt.Errorf("transaction: invalid JSON: %w", err)
	}
	if m == nil {
		return t, errors.New("transaction: not a JSON object")
	}
	var err error
	if t.Nonce, err = requiredString(m, "nonce"); err != nil {
		return Transaction{}, err
	}
	if t.State, err = requiredString(m, "state"); err != nil {
		return Transaction{}, err
	}
	if t.CodeVerifier, err = optionalString(m, "code_verifier"); err != nil {
		return Transaction{}, err
	}
	if t.ResponseType, err = optionalString(m, "response_type"); err != nil {
		return Transaction{}, err
	}
	if t.ResponseMode, err = optionalString(m, "response_mode"); err != nil {
		return Transaction{}, err
	}
	if raw, ok := m["started"]; ok && !isNull(raw) {
		v, ok := nonNegativeInt(raw)
		if !ok {
			return Transaction{}, errors.New("transaction: started must be a non-negative integer")
		}
		t.Started = v
	}
	if raw, ok := m["max_age"]; ok && !isNull(raw) {
		v, ok := nonNegativeInt(raw)
		if !ok {
			return Transaction{}, errors.New("transaction: max_age must be a non-negative integer")
		}
		t.MaxAge = &v
	}
	return t, nil
}

// requiredString returns member name, which must be a non-empty string.
func requiredString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", fmt.Errorf("transaction: missing %s", name)
	}
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil || s == "" {
		return "", fmt.Errorf("transaction: %s must be a non-empty string", name)
	}
	return s, nil
}

// optionalString returns member name if it is present and not null; it
// must then be a string.
func optionalString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("transaction: %s must be a string", name)
	}
	return s, nil
}

// isNull reports whether raw is the JSON literal null.
func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// nonNegativeInt accepts a JSON number whose value is a non-negative
// integer that fits in int64 (3600, 3600.0 and 3.6e3 alike).
func nonNegativeInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return 0, false // also rejects strings, objects and negative numbers
	}
	s := string(raw)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}
