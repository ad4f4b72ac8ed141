// Package sessionjson reads and writes express-openid-connect's session
// JSON: the session object of its cookie ({"id_token": ...,
// "access_token": ..., ...}), and the store entry that wraps it in
// server-side stores ({header, data, cookie}, entry.go). Both are decoded
// in one pass, without reflection: they are the hot path of every
// authenticated request. Their results equal those of encoding/json for
// every input (fuzz tests check this), and anything unusual (escapes,
// non-ASCII) is handed to encoding/json.
package sessionjson

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Fields are the session members the library interprets, plus the raw
// JSON of every other member.
type Fields struct {
	IDToken, AccessToken, RefreshToken, TokenType, SID string
	ExpiresAt, SessionExpiresAt, LoginStartedAt        int64
	// Extra holds the other members as raw JSON (nil when there are none).
	Extra map[string]json.RawMessage
}

// ErrSyntax reports input that is not a JSON object of the expected shape.
var ErrSyntax = errors.New("sessionjson: invalid session JSON")

// maxDepth bounds nesting inside unknown members.
const maxDepth = 64

// Decode parses data. Known string members must be strings or null; known
// number members must be numbers or null (truncated to integers); null
// means absent. Later duplicates win, as with JSON.parse and
// encoding/json into a map: only the last value of a known member must
// have the right type.
func Decode(data []byte) (Fields, error) {
	var f Fields
	d := decoder{b: data}
	d.ws()
	if !d.eat('{') {
		return f, ErrSyntax
	}
	d.ws()
	if d.eat('}') {
		return f, d.end()
	}
	for {
		d.ws()
		key, ok := d.str()
		if !ok {
			return Fields{}, ErrSyntax
		}
		d.ws()
		if !d.eat(':') {
			return Fields{}, ErrSyntax
		}
		d.ws()
		if !d.member(&f, key) {
			return Fields{}, ErrSyntax
		}
		d.ws()
		if d.eat(',') {
			continue
		}
		if d.eat('}') {
			if err := d.end(); err != nil {
				return Fields{}, err
			}
			if d.bad != 0 {
				return Fields{}, ErrSyntax // a known member's last value has the wrong type
			}
			return f, nil
		}
		return Fields{}, ErrSyntax
	}
}

type decoder struct {
	b []byte
	i int
	// bad has bit k set while the last value seen for the k-th known member
	// has the wrong type; a later duplicate of the right type clears it.
	bad uint8
}

func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.b) {
		return ErrSyntax
	}
	return nil
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) eat(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// member decodes the value of key into f.
func (d *decoder) member(f *Fields, key string) bool {
	var sp *string
	var np *int64
	var bit uint8
	switch key {
	case "id_token":
		sp, bit = &f.IDToken, 1<<0
	case "access_token":
		sp, bit = &f.AccessToken, 1<<1
	case "refresh_token":
		sp, bit = &f.RefreshToken, 1<<2
	case "token_type":
		sp, bit = &f.TokenType, 1<<3
	case "sid":
		sp, bit = &f.SID, 1<<4
	case "expires_at":
		np, bit = &f.ExpiresAt, 1<<5
	case "sessionExpiresAt":
		np, bit = &f.SessionExpiresAt, 1<<6
	case "loginStartedAt":
		np, bit = &f.LoginStartedAt, 1<<7
	}
	switch {
	case sp != nil:
		d.bad &^= bit
		if d.literal("null") {
			*sp = ""
			return true
		}
		if d.i < len(d.b) && d.b[d.i] == '"' {
			s, ok := d.str()
			*sp = s
			return ok
		}
		d.bad |= bit
		return d.skip(0)
	case np != nil:
		d.bad &^= bit
		if d.literal("null") {
			*np = 0
			return true
		}
		start := d.i
		if d.i < len(d.b) && (d.b[d.i] == '-' || (d.b[d.i] >= '0' && d.b[d.i] <= '9')) {
			if !d.number() {
				return false
			}
			v, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
			if err != nil {
				d.bad |= bit // out of range: refused unless a later duplicate fits
				return true
			}
			*np = int64(v)
			return true
		}
		d.bad |= bit
		return d.skip(0)
	}
	start := d.i
	if !d.skip(0) {
		return false
	}
	if f.Extra == nil {
		f.Extra = make(map[string]json.RawMessage)
	}
	f.Extra[key] = json.RawMessage(d.b[start:d.i])
	return true
}

// str parses a JSON string. Plain ASCII without escapes is sliced directly;
// anything else is unquoted by encoding/json.
func (d *decoder) str() (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	start := d.i
	// Fast path: the closing quote, with only plain printable ASCII before it.
	if n := start + plainRun(d.b[start:], true); n < len(d.b) && d.b[n] == '"' {
		d.i = n + 1
		return string(d.b[start:n]), true
	}
	if _, ok := d.skipString(start - 1); !ok {
		return "", false
	}
	var out string
	if json.Unmarshal(d.b[start-1:d.i], &out) != nil {
		return "", false
	}
	return out, true
}

func (d *decoder) literal(lit string) bool {
	if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// number checks a JSON number's grammar.
func (d *decoder) number() bool {
	d.eat('-')
	if d.eat('0') {
		// no leading zeros
	} else if !d.digits() {
		return false
	}
	if d.eat('.') && !d.digits() {
		return false
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if !d.eat('+') {
			d.eat('-')
		}
		if !d.digits() {
			return false
		}
	}
	return true
}

func (d *decoder) digits() bool {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// skip validates and skips any JSON value.
func (d *decoder) skip(depth int) bool {
	if depth > maxDepth || d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, ok := d.skipString(d.i)
		return ok
	case c == '{':
		d.i++
		d.ws()
		if d.eat('}') {
			return true
		}
		for {
			d.ws()
			if _, ok := d.skipString(d.i); !ok {
				return false
			}
			d.ws()
			if !d.eat(':') {
				return false
			}
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			return d.eat('}')
		}
	case c == '[':
		d.i++
		d.ws()
		if d.eat(']') {
			return true
		}
		for {
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			d.ws()
			if d.eat(',') {
				continue
			}
			return d.eat(']')
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	default:
		return d.number()
	}
}

// skipString validates a JSON string, including its escapes, starting at
// the opening quote at position from.
func (d *decoder) skipString(from int) (int, bool) {
	d.i = from
	if !d.eat('"') {
		return 0, false
	}
	start := d.i
	for d.i < len(d.b) {
		d.i += plainRun(d.b[d.i:], false)
		if d.i == len(d.b) {
			break
		}
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return start, true
		case c == '\\':
			d.i++
			if d.i >= len(d.b) {
				return 0, false
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if len(d.b)-d.i < 5 {
					return 0, false
				}
				for _, h := range d.b[d.i+1 : d.i+5] {
					if !isHex(h) {
						return 0, false
					}
				}
				d.i += 5
			default:
				return 0, false
			}
		case c < 0x20:
			return 0, false
		default:
			d.i++
		}
	}
	return 0, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
