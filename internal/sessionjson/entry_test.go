package sessionjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// referenceEntry decodes like DecodeEntry's specification: encoding/json on
// Entry, a JSON null refused, then the id check.
func referenceEntry(b []byte, key string) (Entry, error) {
	if strings.TrimSpace(string(b)) == "null" {
		return Entry{}, ErrNotEntry
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, err
	}
	if e.ID != "" && e.ID != key {
		return Entry{}, ErrEntryMismatch
	}
	return e, nil
}

// entryKey is the key every seed is read under.
const entryKey = "k1"

var entrySeeds = []string{
	// Written by express-openid-connect: a session, and a back-channel
	// logout marker.
	`{"header":{"iat":1765000000,"uat":1765000100,"exp":1765086400},"data":{"id_token":"a.b.c","sid":"s"},"cookie":{"expires":1765086400000,"maxAge":86300000}}`,
	`{"cookie":{"expires":1765086400000,"maxAge":86400000}}`,
	// Written by this package: a session, a marker, a logout token id.
	`{"header":{"iat":1,"uat":2,"exp":3},"data":{"id_token":"a.b.c"},"cookie":{"expires":3000,"maxAge":1000},"id":"k1"}`,
	`{"header":{"iat":1,"uat":2,"exp":3},"cookie":{"expires":3000,"maxAge":1000},"id":"k1","loggedOutAt":1765000000123456}`,
	`{"header":{"iat":0,"uat":0,"exp":0},"id":"k1"}`,
	// Other keys and spacing.
	` { "header" : { "iat" : 1 } , "x" : [1, {"y": null}], "data" : { "a" : [ 1 , 2 ] } } `,
	`{}`, `{"data":null}`, `{"data":"x"}`, `{"data":[]}`, `{"header":null}`, `{"cookie":null}`, `{"id":null}`,
	`{"loggedOutAt":null}`, `{"header":{"iat":null}}`, `{"header":{"other":1,"iat":-0}}`,
	// Duplicates merge like encoding/json.
	`{"header":{"iat":1},"header":{"uat":2}}`, `{"cookie":{"expires":1},"cookie":{"maxAge":2}}`,
	`{"cookie":{"expires":1},"cookie":null}`, `{"data":{"a":1},"data":{"b":2}}`, `{"id":"k1","id":"k2"}`,
	// Left to encoding/json: case variants, escapes, non-ASCII keys.
	`{"ID":"k1"}`, `{"Id":"k2"}`, `{"HEADER":{"IAT":1}}`, `{"header":{"Iat":1}}`, `{"cookie":{"MAXAGE":5}}`,
	`{"DATA":{"a":1}}`, `{"LoggedOutAt":7}`, `{"\u0069d":"k2"}`, `{"id":"k\u0031"}`, `{"id":"\u006b1"}`,
	"{\"cooKie\":{\"expires\":1}}", "{\"coo\u212aie\":{\"expires\":1}}", "{\"expire\u017f\":1}",
	"{\"cookie\":{\"expire\u017f\":1}}", `{"id":"k1<"}`,
	// Refused.
	`null`, ` null `, `[]`, `1`, `"x"`, `true`, `{"header":[]}`, `{"header":{"iat":1.5}}`, `{"header":{"iat":1e3}}`,
	`{"header":{"iat":"1"}}`, `{"header":{"iat":9223372036854775808}}`, `{"cookie":{"maxAge":1.0}}`,
	`{"cookie":5}`, `{"id":5}`, `{"loggedOutAt":"1"}`, `{"data":}`, `{"data":{"a":01}}`, `{"a":1,}`, `{"a" 1}`,
	`{"a":1} x`, `{"id":"k2"}`, `{"header":{"iat":1}`, `{"data":"\x"}`, "{\"data\":\"\x01\"}", ``, ` `,
	`{"data":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
}

func TestDecodeEntryMatchesEncodingJSON(t *testing.T) {
	for _, s := range entrySeeds {
		t.Run(s, func(t *testing.T) { checkSameEntry(t, []byte(s)) })
	}
}

func checkSameEntry(t *testing.T, b []byte) {
	t.Helper()
	got, err := DecodeEntry(b, entryKey)
	want, werr := referenceEntry(b, entryKey)
	if (err == nil) != (werr == nil) {
		t.Fatalf("DecodeEntry(%q) error %v, encoding/json error %v", b, err, werr)
	}
	if errors.Is(werr, ErrEntryMismatch) != errors.Is(err, ErrEntryMismatch) ||
		errors.Is(werr, ErrNotEntry) != errors.Is(err, ErrNotEntry) {
		t.Fatalf("DecodeEntry(%q) error %v, want %v", b, err, werr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeEntry(%q) = %+v, want %+v", b, got, want)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, s := range entrySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSameEntry(t, b) })
}

func TestDecodeEntryChecksID(t *testing.T) {
	_, err := DecodeEntry([]byte(`{"id":"other"}`), "mine")
	assert.ErrorIs(t, err, ErrEntryMismatch)
	e, err := DecodeEntry([]byte(`{"id":"mine"}`), "mine")
	require.NoError(t, err)
	assert.Equal(t, "mine", e.ID)
	e, err = DecodeEntry([]byte(`{"cookie":{"expires":2,"maxAge":1}}`), "mine")
	require.NoError(t, err, "express-openid-connect writes no id")
	assert.Equal(t, Entry{Cookie: &Cookie{Expires: 2, MaxAge: 1}}, e)
	_, err = DecodeEntry([]byte(`null`), "mine")
	assert.ErrorIs(t, err, ErrNotEntry)
}

// sessionData returns session JSON as the session encoder writes it: the
// json.Marshal encoding of each member.
func sessionData(t testing.TB, v map[string]any) json.RawMessage {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestAppendEntryMatchesEncodingJSON(t *testing.T) {
	data := sessionData(t, map[string]any{"id_token": "a.b.c", "sid": "<s&>", "x": []any{1.5, "é\u2028", nil, true}})
	for _, e := range []Entry{
		{},
		{Header: Header{IAT: 1765000000, UAT: 1765000100, EXP: 1765086400}, Data: data,
			Cookie: &Cookie{Expires: 1765086400000, MaxAge: 86300000}, ID: "0123456789abcdef0123456789abcdef"},
		{Header: Header{IAT: -1, UAT: 0, EXP: 1 << 62}, Cookie: &Cookie{Expires: -5}, ID: "https://op.example/|jti|\"<&>\"\\é\x01\u2028",
			LoggedOutAt: 1765000000123456},
		{ID: "invalid UTF-8 \xff"},
		{Data: json.RawMessage(`"string"`), LoggedOutAt: -1},
	} {
		want, err := json.Marshal(&e)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(AppendEntry(nil, &e)))
		if !utf8.ValidString(e.ID) {
			continue // json.Marshal writes U+FFFD for the invalid bytes
		}
		back, err := DecodeEntry(want, e.ID)
		require.NoError(t, err)
		if len(e.Data) == 0 {
			e.Data = nil
		}
		assert.Equal(t, e, back, "round trip")
	}
	assert.Equal(t, "x{", string(AppendEntry([]byte("x"), &Entry{}))[:2], "appends")
}

func FuzzAppendEntry(f *testing.F) {
	f.Add(int64(1), int64(2), int64(3), "a.b.c", true, int64(3000), int64(1000), "k1", int64(0))
	f.Add(int64(-1), int64(0), int64(1<<62), "<&>\u2028\xff", false, int64(0), int64(0), "https://op|\"\\\x00", int64(7))
	f.Fuzz(func(t *testing.T, iat, uat, exp int64, token string, cookie bool, expires, maxAge int64, id string, loggedOutAt int64) {
		e := Entry{Header: Header{IAT: iat, UAT: uat, EXP: exp}, ID: id, LoggedOutAt: loggedOutAt}
		if token != "" {
			e.Data = sessionData(t, map[string]any{"id_token": token})
		}
		if cookie {
			e.Cookie = &Cookie{Expires: expires, MaxAge: maxAge}
		}
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendEntry(nil, &e); string(got) != string(want) {
			t.Fatalf("AppendEntry(%+v) = %s, want %s", e, got, want)
		}
	})
}

// benchEntry is a session entry with the "tokens" payload of the root
// package's benchmarks (about 2.5 KB).
func benchEntry(b *testing.B) []byte {
	data := sessionData(b, map[string]any{"id_token": strings.Repeat("a", 900) + "." + strings.Repeat("b", 400) + ".sig",
		"access_token": strings.Repeat("t", 900), "refresh_token": strings.Repeat("r", 300), "token_type": "Bearer",
		"expires_at": 1795934286, "sid": "7b1a0f4e"})
	return AppendEntry(nil, &Entry{Header: Header{IAT: 1, UAT: 2, EXP: 3}, Data: data,
		Cookie: &Cookie{Expires: 3000, MaxAge: 1000}, ID: "0123456789abcdef0123456789abcdef"})
}

func BenchmarkDecodeEntry(b *testing.B) {
	raw := benchEntry(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEntry(raw, "0123456789abcdef0123456789abcdef"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEntry(b *testing.B) {
	raw := benchEntry(b)
	e, err := DecodeEntry(raw, "0123456789abcdef0123456789abcdef")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		AppendEntry(nil, &e)
	}
}
