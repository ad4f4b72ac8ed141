package transaction

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr(v int64) *int64 { return &v }

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   Transaction
		want string
	}{
		{"reference vector", Transaction{Nonce: "N0NCE", State: "eyJyZXR1cm5UbyI6Ii8ifQ"},
			`{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}`},
		{"all members in express order", Transaction{Nonce: "n", State: "s", MaxAge: ptr(60), CodeVerifier: "v", ResponseType: "code"},
			`{"nonce":"n","state":"s","max_age":60,"code_verifier":"v","response_type":"code"}`},
		{"our additions after express's members", Transaction{Nonce: "n", State: "s", CodeVerifier: "v", ResponseType: "code", ResponseMode: "query", Started: 1700000000000000},
			`{"nonce":"n","state":"s","code_verifier":"v","response_type":"code","response_mode":"query","started":1700000000000000}`},
		{"code flow", Transaction{Nonce: "n", State: "s", CodeVerifier: "v"},
			`{"nonce":"n","state":"s","code_verifier":"v"}`},
		{"zero max_age kept when set", Transaction{Nonce: "n", State: "s", MaxAge: ptr(0)},
			`{"nonce":"n","state":"s","max_age":0}`},
		{"empty required members still written", Transaction{},
			`{"nonce":"","state":""}`},
		{"no HTML escaping", Transaction{Nonce: "<&>", State: "s"},
			`{"nonce":"<&>","state":"s"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.Marshal())
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Transaction
		wantErr bool
	}{
		{"reference vector", `{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}`,
			Transaction{Nonce: "N0NCE", State: "eyJyZXR1cm5UbyI6Ii8ifQ"}, false},
		{"all members", `{"nonce":"n","state":"s","max_age":60,"code_verifier":"v","response_type":"code id_token"}`,
			Transaction{Nonce: "n", State: "s", MaxAge: ptr(60), CodeVerifier: "v", ResponseType: "code id_token"}, false},
		{"any order and whitespace", "{ \"code_verifier\" : \"v\",\n\"state\":\"s\", \"nonce\":\"n\" }",
			Transaction{Nonce: "n", State: "s", CodeVerifier: "v"}, false},
		{"unknown members ignored", `{"nonce":"n","state":"s","extra":{"a":[1]}}`,
			Transaction{Nonce: "n", State: "s"}, false},
		{"response_mode", `{"nonce":"n","state":"s","response_mode":"form_post"}`,
			Transaction{Nonce: "n", State: "s", ResponseMode: "form_post"}, false},
		{"response_mode number", `{"nonce":"n","state":"s","response_mode":1}`, Transaction{}, true},
		{"null optionals", `{"nonce":"n","state":"s","max_age":null,"code_verifier":null,"response_type":null,"response_mode":null,"started":null}`,
			Transaction{Nonce: "n", State: "s"}, false},
		{"max_age as float integer", `{"nonce":"n","state":"s","max_age":3.6e3}`,
			Transaction{Nonce: "n", State: "s", MaxAge: ptr(3600)}, false},
		{"duplicate member: last wins", `{"nonce":"a","nonce":"b","state":"s"}`,
			Transaction{Nonce: "b", State: "s"}, false},
		{"escaped strings", `{"nonce":"\u004e","state":"s\/t"}`,
			Transaction{Nonce: "N", State: "s/t"}, false},
		{"missing nonce", `{"state":"s"}`, Transaction{}, true},
		{"missing state", `{"nonce":"n"}`, Transaction{}, true},
		{"empty nonce", `{"nonce":"","state":"s"}`, Transaction{}, true},
		{"empty state", `{"nonce":"n","state":""}`, Transaction{}, true},
		{"null nonce", `{"nonce":null,"state":"s"}`, Transaction{}, true},
		{"numeric nonce", `{"nonce":1,"state":"s"}`, Transaction{}, true},
		{"array state", `{"nonce":"n","state":["s"]}`, Transaction{}, true},
		{"upper-case member names", `{"NONCE":"n","STATE":"s"}`, Transaction{}, true},
		{"max_age string", `{"nonce":"n","state":"s","max_age":"60"}`, Transaction{}, true},
		{"max_age negative", `{"nonce":"n","state":"s","max_age":-1}`, Transaction{}, true},
		{"max_age fraction", `{"nonce":"n","state":"s","max_age":1.5}`, Transaction{}, true},
		{"max_age overflow", `{"nonce":"n","state":"s","max_age":1e400}`, Transaction{}, true},
		{"max_age beyond int64", `{"nonce":"n","state":"s","max_age":9223372036854775808}`, Transaction{}, true},
		{"code_verifier number", `{"nonce":"n","state":"s","code_verifier":1}`, Transaction{}, true},
		{"response_type object", `{"nonce":"n","state":"s","response_type":{}}`, Transaction{}, true},
		{"null", `null`, Transaction{}, true},
		{"array", `[]`, Transaction{}, true},
		{"string", `"x"`, Transaction{}, true},
		{"empty", ``, Transaction{}, true},
		{"trailing data", `{"nonce":"n","state":"s"}x`, Transaction{}, true},
		{"two objects", `{"nonce":"n","state":"s"}{}`, Transaction{}, true},
		{"truncated", `{"nonce":"n","state":"s"`, Transaction{}, true},
		{"signed value is not JSON", `{"nonce":"n","state":"s"}.sig`, Transaction{}, true},
		{"over 8 KiB", `{"nonce":"n","state":"` + strings.Repeat("s", MaxLen) + `"}`, Transaction{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, Transaction{}, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []Transaction{
		{Nonce: "N0NCE", State: "eyJyZXR1cm5UbyI6Ii8ifQ"},
		{Nonce: "n", State: "s", MaxAge: ptr(1), CodeVerifier: strings.Repeat("v", 43), ResponseType: "code", ResponseMode: "query", Started: 42},
		{Nonce: "ü\"\\", State: "\u2028<>"},
	}
	for _, in := range tests {
		t.Run(in.Nonce, func(t *testing.T) {
			out, err := Parse(in.Marshal())
			require.NoError(t, err)
			assert.Equal(t, in, out)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"nonce":"N0NCE","state":"eyJyZXR1cm5UbyI6Ii8ifQ"}`,
		`{"nonce":"n","state":"s","max_age":60,"code_verifier":"v","response_type":"code"}`,
		`{"nonce":"n","state":"s","response_type":"code","response_mode":"query","started":1700000000000000}`,
		`{"nonce":"n","state":"s","max_age":1e400}`,
		`{"nonce":null,"state":"s"}`,
		`null`, `[]`, ``, `{"nonce":"n","nonce":"m","state":"s"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tx, err := Parse(s)
		if err != nil {
			if tx != (Transaction{}) {
				t.Fatal("value with error")
			}
			return
		}
		if tx.Nonce == "" || tx.State == "" || (tx.MaxAge != nil && *tx.MaxAge < 0) {
			t.Fatalf("invariants violated: %#v", tx)
		}
		m := tx.Marshal()
		if len(m) > MaxLen {
			return // re-encoding can grow (invalid UTF-8 becomes U+FFFD)
		}
		again, err := Parse(m)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", m, err)
		}
		if again.Nonce != tx.Nonce || again.State != tx.State || again.CodeVerifier != tx.CodeVerifier ||
			again.ResponseType != tx.ResponseType || again.ResponseMode != tx.ResponseMode ||
			again.Started != tx.Started || (again.MaxAge == nil) != (tx.MaxAge == nil) ||
			(tx.MaxAge != nil && *again.MaxAge != *tx.MaxAge) {
			t.Fatalf("round trip: %#v vs %#v", tx, again)
		}
	})
}
