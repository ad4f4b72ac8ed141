package state

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want string // decoded JSON
	}{
		{"returnTo", map[string]any{"returnTo": "https://example.org"}, `{"returnTo":"https://example.org"}`},
		{"nil map", nil, `{}`},
		{"empty map", map[string]any{}, `{}`},
		{"transaction keys removed", map[string]any{"returnTo": "/", "nonce": "n", "code_verifier": "v", "max_age": 60}, `{"returnTo":"/"}`},
		{"only transaction keys", map[string]any{"nonce": "n"}, `{}`},
		{"html not escaped (like JSON.stringify)", map[string]any{"returnTo": "/a?b=1&c=<d>"}, `{"returnTo":"/a?b=1&c=<d>"}`},
		{"silent login flag", map[string]any{"returnTo": "/", "attemptingSilentLogin": true}, `{"attemptingSilentLogin":true,"returnTo":"/"}`},
		{"json.Number preserved", map[string]any{"n": json.Number("12345678901234567890")}, `{"n":12345678901234567890}`},
		{"unicode", map[string]any{"returnTo": "/ü"}, `{"returnTo":"/ü"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.in)
			require.NoError(t, err)
			raw, err := base64.RawURLEncoding.DecodeString(got)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(raw))
			assert.NotContains(t, got, "=")
		})
	}
	t.Run("reference vector", func(t *testing.T) {
		got, err := Encode(map[string]any{"returnTo": "https://example.org"})
		require.NoError(t, err)
		assert.Equal(t, "eyJyZXR1cm5UbyI6Imh0dHBzOi8vZXhhbXBsZS5vcmcifQ", got)
	})
	t.Run("transaction vector state", func(t *testing.T) {
		got, err := Encode(map[string]any{"returnTo": "/"})
		require.NoError(t, err)
		assert.Equal(t, "eyJyZXR1cm5UbyI6Ii8ifQ", got)
	})
	t.Run("input not modified", func(t *testing.T) {
		in := map[string]any{"returnTo": "/", "nonce": "n"}
		_, err := Encode(in)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"returnTo": "/", "nonce": "n"}, in)
	})
	t.Run("unmarshallable value", func(t *testing.T) {
		_, err := Encode(map[string]any{"x": math.NaN()})
		require.Error(t, err)
		_, err = Encode(map[string]any{"x": make(chan int)})
		require.Error(t, err)
	})
}

func TestDecode(t *testing.T) {
	b := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		in      string
		want    map[string]any
		wantErr bool
	}{
		{"reference vector", "eyJyZXR1cm5UbyI6Imh0dHBzOi8vZXhhbXBsZS5vcmcifQ", map[string]any{"returnTo": "https://example.org"}, false},
		{"padding tolerated", base64.URLEncoding.EncodeToString([]byte(`{"a":1}`)), map[string]any{"a": json.Number("1")}, false},
		{"numbers kept as json.Number", b(`{"n":1.50,"big":12345678901234567890}`), map[string]any{"n": json.Number("1.50"), "big": json.Number("12345678901234567890")}, false},
		{"nested", b(`{"a":{"b":[1,"x",null,true]}}`), map[string]any{"a": map[string]any{"b": []any{json.Number("1"), "x", nil, true}}}, false},
		{"empty object", b(`{}`), map[string]any{}, false},
		{"whitespace around", b(" {\"a\":\"b\"}\n"), map[string]any{"a": "b"}, false},
		{"empty string", "", nil, true},
		{"bad base64", "!!!", nil, true},
		{"standard alphabet rejected", strings.ReplaceAll(strings.ReplaceAll(b(`{"a":"???>>>"}`), "_", "/"), "-", "+"), nil, true},
		{"too much padding", b(`{"a":1}`) + "===", nil, true},
		{"not JSON", b(`returnTo=/`), nil, true},
		{"array", b(`["a"]`), nil, true},
		{"string", b(`"a"`), nil, true},
		{"number", b(`1`), nil, true},
		{"null", b(`null`), nil, true},
		{"trailing data", b(`{"a":1}{"b":2}`), nil, true},
		{"trailing garbage", b(`{"a":1} x`), nil, true},
		{"truncated JSON", b(`{"a":`), nil, true},
		{"over 8 KiB", b(`{"a":"` + strings.Repeat("x", 7000) + `"}`), nil, true},
		{"deep nesting within limit", b(strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)), nestedMap(100), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func nestedMap(depth int) map[string]any {
	var v any = json.Number("1")
	for range depth {
		v = map[string]any{"a": v}
	}
	return v.(map[string]any)
}

func TestRoundTrip(t *testing.T) {
	tests := []map[string]any{
		{"returnTo": "https://example.org/a?b=c&d=%2F"},
		{"returnTo": "/", "attemptingSilentLogin": true, "custom": map[string]any{"n": json.Number("3")}},
		{},
	}
	for _, in := range tests {
		enc, err := Encode(in)
		require.NoError(t, err)
		t.Run(enc, func(t *testing.T) {
			out, err := Decode(enc)
			require.NoError(t, err)
			assert.Equal(t, in, out)
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"eyJyZXR1cm5UbyI6Imh0dHBzOi8vZXhhbXBsZS5vcmcifQ",
		"eyJyZXR1cm5UbyI6Ii8ifQ",
		"e30", "", "=", "bnVsbA", "WzFd", "eyJhIjoxfXt9",
		base64.RawURLEncoding.EncodeToString([]byte(`{"nonce":"n","max_age":1e400,"x":-0.0}`)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Decode(s)
		if err != nil {
			if m != nil {
				t.Fatal("map with error")
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if len(enc) > MaxEncodedLen {
			return // re-encoding can grow (e.g. invalid UTF-8 becomes U+FFFD)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %q: %v", enc, err)
		}
		for _, k := range transactionOnly() {
			delete(m, k)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed value: %#v vs %#v", m, again)
		}
	})
}
