package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Claims is a set of JWT claims. Numbers are float64, as encoding/json
// decodes them.
type Claims map[string]any

// String returns the claim as a string, or "" when it is absent or not a
// string.
func (c Claims) String(name string) string {
	s, _ := c[name].(string)
	return s
}

// Has reports whether the claim is present.
func (c Claims) Has(name string) bool {
	_, ok := c[name]
	return ok
}

func (c Claims) clone() Claims {
	if c == nil {
		return nil
	}
	return Claims(deepCopy(map[string]any(c)).(map[string]any))
}

// isJWTObject reports whether token has three segments and a base64url
// payload shaped like a JSON object, without building the claims (the hot
// path of RequiresAuth).
func isJWTObject(token string) bool {
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return false
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 || strings.IndexByte(rest[second+1:], '.') >= 0 {
		return false
	}
	seg := rest[:second]
	var stack [1024]byte
	buf := stack[:0]
	if n := base64.RawURLEncoding.DecodedLen(len(seg)); n > len(stack) {
		buf = make([]byte, 0, n)
	}
	payload, err := base64.RawURLEncoding.AppendDecode(buf, []byte(seg))
	if err != nil {
		return false
	}
	// The token was verified at login and sits in our authenticated cookie;
	// an object shape is enough here. Claims are fully decoded on use.
	payload = bytes.TrimSpace(payload)
	return len(payload) >= 2 && payload[0] == '{' && payload[len(payload)-1] == '}'
}

// decodeClaims decodes a JWT's payload without verifying it.
func decodeClaims(token string) (Claims, error) {
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return nil, fmt.Errorf("not a JWT")
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 || strings.IndexByte(rest[second+1:], '.') >= 0 {
		return nil, fmt.Errorf("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(rest[:second])
	if err != nil {
		return nil, err
	}
	var claims Claims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	if claims == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return claims, nil
}

// Decode stores the claims in the value v points to, typically a struct with
// json tags, through a JSON round trip: the rules of encoding/json apply
// (field names match case-insensitively, unknown claims are ignored, and a
// claim of the wrong type is an error). It fails on nil Claims, such as
// those of an anonymous request, and leaves v as it is then.
//
//	var user struct {
//		Sub   string   `json:"sub"`
//		Roles []string `json:"roles"`
//	}
//	err := oidc.FromRequest(r).User().Decode(&user)
func (c Claims) Decode(v any) error {
	if c == nil {
		return errors.New("oidc: no claims to decode")
	}
	b, err := json.Marshal(map[string]any(c))
	if err != nil {
		return fmt.Errorf("oidc: encoding the claims: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("oidc: decoding the claims: %w", err)
	}
	return nil
}
