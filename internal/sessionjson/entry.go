package sessionjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Entry is a store entry in express-openid-connect's shape: express-session's
// envelope {header, data, cookie}, plus the "id" and "loggedOutAt" members
// that the oidc package adds. Express-openid-connect writes sessions as
// {header, data, cookie} and back-channel logout markers as {cookie} alone;
// it ignores the members it does not know.
//
// The JSON tags are the wire format: DecodeEntry and AppendEntry agree with
// encoding/json on this struct.
type Entry struct {
	// Header holds the session's creation, update and expiry times in Unix
	// seconds, as in the session cookie's JWE header. In markers, IAT is the
	// logout token's iat.
	Header Header `json:"header"`
	// Data is the session object's JSON; empty in markers.
	Data json.RawMessage `json:"data,omitempty"`
	// Cookie is express-session's cookie member, from which connect-redis
	// and similar stores derive their TTL.
	Cookie *Cookie `json:"cookie,omitempty"`
	// ID repeats the key the entry is stored under (absent in entries
	// written by express-openid-connect).
	ID string `json:"id,omitempty"`
	// LoggedOutAt is when a back-channel logout was received, in Unix
	// microseconds (0 in sessions and in markers written by
	// express-openid-connect).
	LoggedOutAt int64 `json:"loggedOutAt,omitempty"`
}

// Header mirrors the session cookie's JWE header members.
type Header struct {
	IAT int64 `json:"iat"`
	UAT int64 `json:"uat"`
	EXP int64 `json:"exp"`
}

// Cookie is express-session's cookie member: Expires is an absolute Unix
// time and MaxAge a duration, both in milliseconds.
type Cookie struct {
	Expires int64 `json:"expires"`
	MaxAge  int64 `json:"maxAge"`
}

// ErrEntryMismatch reports an entry whose id is not the key it was read
// under.
var ErrEntryMismatch = errors.New("oidc: store returned an entry for another id")

// ErrNotEntry reports a stored JSON null, which encoding/json would decode
// as an empty entry (a marker without any time). Other values that are not
// objects fail as encoding/json fails on them.
var ErrNotEntry = errors.New("sessionjson: the stored value is null, not an entry")

// DecodeEntry decodes the entry read under key. It fails with
// ErrEntryMismatch when the entry has an id other than key; an entry
// without an id (as express-openid-connect writes them) is accepted. Its
// results equal those of encoding/json on Entry (a fuzz test checks this),
// except that a JSON null is refused with ErrNotEntry: the common shapes
// are decoded in one pass and anything unusual is handed to encoding/json.
// The returned Data may share memory with b.
func DecodeEntry(b []byte, key string) (Entry, error) {
	e, ok := decodeEntryFast(b)
	if !ok {
		if string(bytes.TrimSpace(b)) == "null" {
			return Entry{}, ErrNotEntry
		}
		e = Entry{}
		if err := json.Unmarshal(b, &e); err != nil {
			return Entry{}, fmt.Errorf("sessionjson: decoding a store entry: %w", err)
		}
	}
	if e.ID != "" && e.ID != key {
		return Entry{}, ErrEntryMismatch
	}
	return e, nil
}

// AppendEntry appends the JSON of e to dst: the bytes json.Marshal writes
// for it, provided that e.Data is empty or a compact JSON value as
// json.Marshal writes them (HTML characters escaped), which is what the
// session encoder produces.
func AppendEntry(dst []byte, e *Entry) []byte {
	dst = slices.Grow(dst, len(e.Data)+len(e.ID)+160)
	dst = append(dst, `{"header":{"iat":`...)
	dst = strconv.AppendInt(dst, e.Header.IAT, 10)
	dst = append(dst, `,"uat":`...)
	dst = strconv.AppendInt(dst, e.Header.UAT, 10)
	dst = append(dst, `,"exp":`...)
	dst = strconv.AppendInt(dst, e.Header.EXP, 10)
	dst = append(dst, '}')
	if len(e.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Data...)
	}
	if e.Cookie != nil {
		dst = append(dst, `,"cookie":{"expires":`...)
		dst = strconv.AppendInt(dst, e.Cookie.Expires, 10)
		dst = append(dst, `,"maxAge":`...)
		dst = strconv.AppendInt(dst, e.Cookie.MaxAge, 10)
		dst = append(dst, '}')
	}
	if e.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = appendString(dst, e.ID)
	}
	if e.LoggedOutAt != 0 {
		dst = append(dst, `,"loggedOutAt":`...)
		dst = strconv.AppendInt(dst, e.LoggedOutAt, 10)
	}
	return append(dst, '}')
}

// appendString appends s as json.Marshal quotes it.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// The members DecodeEntry knows, at each level. A key that equals one of
// them only case-insensitively (encoding/json matches it) or that is not
// plain ASCII is left to encoding/json.
var (
	entryKeys  = []string{"header", "data", "cookie", "id", "loggedOutAt"}
	headerKeys = []string{"iat", "uat", "exp"}
	cookieKeys = []string{"expires", "maxAge"}
)

// decodeEntryFast decodes the shapes that express-openid-connect and this
// package write, and reports false for anything it leaves to encoding/json.
func decodeEntryFast(b []byte) (Entry, bool) {
	var e Entry
	d := decoder{b: b}
	ok := d.object(entryKeys, func(key string) bool {
		switch key {
		case "header":
			if d.literal("null") {
				return true // encoding/json leaves a struct alone
			}
			return d.object(headerKeys, func(key string) bool {
				switch key {
				case "iat":
					return d.int(&e.Header.IAT)
				case "uat":
					return d.int(&e.Header.UAT)
				}
				return d.int(&e.Header.EXP)
			})
		case "data":
			start := d.i
			if !d.skip(0) {
				return false
			}
			e.Data = json.RawMessage(d.b[start:d.i])
			return true
		case "cookie":
			if d.literal("null") {
				e.Cookie = nil
				return true
			}
			if e.Cookie == nil {
				e.Cookie = new(Cookie)
			}
			ck := e.Cookie
			return d.object(cookieKeys, func(key string) bool {
				if key == "expires" {
					return d.int(&ck.Expires)
				}
				return d.int(&ck.MaxAge)
			})
		case "id":
			if d.literal("null") {
				return true
			}
			s, ok := d.plainString()
			e.ID = s
			return ok
		case "loggedOutAt":
			return d.int(&e.LoggedOutAt)
		}
		return false
	})
	if !ok || d.end() != nil {
		return Entry{}, false
	}
	return e, true
}

// object decodes a JSON object whose members named in known are decoded by
// member (called with the decoder at the value); other members are skipped.
// It reports false for what it leaves to encoding/json: anything but an
// object, a key with escapes or non-ASCII bytes, or a key that matches a
// known one only case-insensitively.
func (d *decoder) object(known []string, member func(key string) bool) bool {
	d.ws()
	if !d.eat('{') {
		return false
	}
	d.ws()
	if d.eat('}') {
		return true
	}
	for {
		d.ws()
		key, ok := d.plainBytes()
		if !ok {
			return false
		}
		d.ws()
		if !d.eat(':') {
			return false
		}
		d.ws()
		name, how := match(known, key)
		switch how {
		case exact:
			if !member(name) {
				return false
			}
		case folded:
			return false
		default:
			if !d.skip(0) {
				return false
			}
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		return d.eat('}')
	}
}

// The ways a key can match a known member name.
const (
	none = iota
	exact
	folded
)

// match reports how key (plain ASCII) matches the names in known, and the
// name it matches exactly.
func match(known []string, key []byte) (string, int) {
	m := none
	for _, k := range known {
		if string(key) == k {
			return k, exact
		}
		if bytes.EqualFold(key, []byte(k)) {
			m = folded
		}
	}
	return "", m
}

// plainString parses a JSON string of ASCII without escapes or control
// characters, and reports false for any other string (or non-string).
func (d *decoder) plainString() (string, bool) {
	b, ok := d.plainBytes()
	return string(b), ok
}

// plainBytes is plainString returning the bytes between the quotes.
func (d *decoder) plainBytes() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	start := d.i
	n := start + plainRun(d.b[start:], true)
	if n == len(d.b) || d.b[n] != '"' {
		return nil, false
	}
	d.i = n + 1
	return d.b[start:n], true
}

// int decodes an integer JSON number into *p, or a null (which leaves *p
// alone, as encoding/json does). Fractions, exponents, values out of range
// and other types are left to encoding/json (which refuses them).
func (d *decoder) int(p *int64) bool {
	if d.literal("null") {
		return true
	}
	start := d.i
	if !d.number() {
		return false
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	if err != nil {
		return false
	}
	*p = v
	return true
}
