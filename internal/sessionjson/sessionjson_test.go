package sessionjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reference decodes like the encoding/json based implementation it
// replaces: a map of raw members, then typed decoding of the known ones.
func reference(data []byte) (Fields, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Fields{}, err
	}
	if raw == nil {
		return Fields{}, fmt.Errorf("null")
	}
	var f Fields
	strs := map[string]*string{"id_token": &f.IDToken, "access_token": &f.AccessToken,
		"refresh_token": &f.RefreshToken, "token_type": &f.TokenType, "sid": &f.SID}
	nums := map[string]*int64{"expires_at": &f.ExpiresAt, "sessionExpiresAt": &f.SessionExpiresAt,
		"loginStartedAt": &f.LoginStartedAt}
	for k, v := range raw {
		switch {
		case strs[k] != nil:
			if string(v) != "null" {
				if err := json.Unmarshal(v, strs[k]); err != nil {
					return Fields{}, err
				}
			}
		case nums[k] != nil:
			if string(v) != "null" {
				var x float64
				if err := json.Unmarshal(v, &x); err != nil {
					return Fields{}, err
				}
				*nums[k] = int64(x)
			}
		default:
			if f.Extra == nil {
				f.Extra = map[string]json.RawMessage{}
			}
			f.Extra[k] = v
		}
	}
	return f, nil
}

func compact(m map[string]json.RawMessage) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		var b bytes.Buffer
		_ = json.Compact(&b, v)
		out[k] = b.String()
	}
	return out
}

var seeds = []string{
	`{"expires_at":"","expires_at":0}`, `{"sid":1,"sid":"s"}`, `{"sid":"s","sid":1}`,
	`{"expires_at":1e999,"expires_at":2}`, `{"token_type":[1,{"a":null}],"token_type":null}`,
	`{"id_token":"x.y.z","sid":"abc"}`,
	`{"id_token":"a.b.c","access_token":"at","refresh_token":"rt","token_type":"Bearer","expires_at":1795934286,"sid":"s","cart":{"items":[1,2.5,"x",true,null]}}`,
	`{}`, ` { } `, `{"a":1}`, `{"expires_at":1.7e9}`, `{"expires_at":null,"id_token":null}`,
	`{"id_token":"a","id_token":null}`, `{"id_token":"caf\u00e9"}`, `{"id_token":"café"}`,
	`{"k\u0065y":"v"}`, `{"sid":"a\"b"}`, `{"sessionExpiresAt":-12}`, `{"loginStartedAt":1765000000123456}`, `{"loginStartedAt":"1"}`, `{"x":[[[[]]]]}`,
	`[]`, `null`, `{"a":}`, `{"a":1,}`, `{"a" 1}`, `{"id_token":1}`, `{"expires_at":"1"}`,
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":1} x`,
	`{"a":"\ud800"}`, `{"a":1e400}`, `{"expires_at":1e400}`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		t.Run(s, func(t *testing.T) { checkSame(t, []byte(s)) })
	}
}

func checkSame(t *testing.T, data []byte) {
	t.Helper()
	got, err := Decode(data)
	want, werr := reference(data)
	if (err == nil) != (werr == nil) {
		t.Fatalf("Decode(%q) error %v, encoding/json error %v", data, err, werr)
	}
	if err != nil {
		return
	}
	gx, wx := compact(got.Extra), compact(want.Extra)
	got.Extra, want.Extra = nil, nil
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gx, wx) {
		t.Fatalf("Decode(%q) = %+v %v, want %+v %v", data, got, gx, want, wx)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSame(t, data) })
}

func TestDeepNestingRejected(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	_, err := Decode([]byte(deep))
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrSyntax)
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"id_token":"` + strings.Repeat("a", 900) + `.` + strings.Repeat("b", 400) + `.sig","access_token":"` +
		strings.Repeat("t", 900) + `","refresh_token":"` + strings.Repeat("r", 300) +
		`","token_type":"Bearer","expires_at":1795934286,"sid":"7b1a0f4e"}`)
	b.ReportAllocs()
	for range b.N {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
