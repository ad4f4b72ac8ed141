package oidc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	secretValue  = "s3cr3t-hunter2-value"
	secretValue2 = "another-s3cr3t-value"
)

// assertNoLeak fails if out contains a secret value, plainly or hex-encoded.
func assertNoLeak(t *testing.T, out string) {
	t.Helper()
	for _, v := range []string{secretValue, secretValue2} {
		assert.NotContains(t, out, v)
		assert.NotContains(t, out, hex.EncodeToString([]byte(v)))
	}
}

// printedConfig is a Config with every secret set.
func printedConfig() Config {
	return Config{
		Secret:        Secrets{secretValue, secretValue2},
		ClientSecret:  Secret(secretValue),
		IssuerBaseURL: testIssuer,
		BaseURL:       testBaseURL,
		ClientID:      testClientID,
	}
}

func TestSecretFmt(t *testing.T) {
	t.Parallel()
	values := []struct {
		name string
		v    any
	}{
		{"Secret", Secret(secretValue)},
		{"*Secret", func() *Secret { s := Secret(secretValue); return &s }()},
		{"Secrets", Secrets{secretValue, secretValue2}},
		{"[]Secret", []Secret{Secret(secretValue), Secret(secretValue2)}},
		{"map value", map[string]Secret{"k": Secret(secretValue)}},
		{"Config", printedConfig()},
		{"*Config", func() *Config { c := printedConfig(); return &c }()},
		{"struct field", struct {
			A Secret
			B Secrets
		}{Secret(secretValue), Secrets{secretValue2}}},
	}
	// Verbs a caller may plausibly use, including wrong ones: a bad verb makes
	// fmt print the underlying value unless the type implements fmt.Formatter.
	verbs := []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%10s", "%-30v", "%d", "%t"}
	for _, val := range values {
		for _, verb := range verbs {
			t.Run(val.name+"/"+verb, func(t *testing.T) {
				t.Parallel()
				assertNoLeak(t, fmt.Sprintf(verb, val.v))
			})
		}
		t.Run(val.name+"/Sprint", func(t *testing.T) {
			t.Parallel()
			assertNoLeak(t, fmt.Sprint(val.v))
			assertNoLeak(t, fmt.Sprintln(val.v))
		})
	}
}

func TestSecretFmtExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"Secret", Secret(secretValue), "[REDACTED]"},
		{"Secrets", Secrets{secretValue, secretValue2}, "[REDACTED]"},
		{"empty Secret", Secret(""), ""},
		{"nil Secrets", Secrets(nil), ""},
		{"empty Secrets", Secrets{}, ""},
	}
	for _, tt := range tests {
		for _, verb := range []string{"%v", "%s", "%+v", "%#v"} {
			t.Run(tt.name+"/"+verb, func(t *testing.T) {
				t.Parallel()
				assert.Equal(t, tt.want, fmt.Sprintf(verb, tt.v))
			})
		}
	}

	t.Run("methods", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, "[REDACTED]", Secret(secretValue).String())
		assert.Equal(t, "[REDACTED]", Secret(secretValue).GoString())
		assert.Equal(t, "[REDACTED]", Secrets{secretValue}.String())
		assert.Equal(t, "[REDACTED]", Secrets{secretValue}.GoString())
		assert.Empty(t, Secret("").String())
		assert.Empty(t, Secrets(nil).String())
	})

	t.Run("the value is still available by conversion", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, secretValue, string(Secret(secretValue)))
		assert.Equal(t, []string{secretValue}, []string(Secrets{secretValue}))
	})

	t.Run("Config fields", func(t *testing.T) {
		t.Parallel()
		out := fmt.Sprintf("%+v", printedConfig())
		assert.Contains(t, out, "Secret:[REDACTED]")
		assert.Contains(t, out, "ClientSecret:[REDACTED]")
		assert.Contains(t, out, testClientID, "non-secret fields still print")
		empty := fmt.Sprintf("%+v", Config{})
		assert.Contains(t, empty, "Secret: ")
		assert.Contains(t, empty, "ClientSecret: ")
		assert.NotContains(t, empty, "[REDACTED]")
	})
}

func TestSecretJSON(t *testing.T) {
	t.Parallel()
	type wrapper struct {
		Secret      Secret            `json:"secret"`
		Ptr         *Secret           `json:"ptr"`
		Secrets     Secrets           `json:"secrets"`
		Map         map[string]Secret `json:"map"`
		Empty       Secret            `json:"empty"`
		EmptyList   Secrets           `json:"empty_list"`
		OmitIfEmpty Secret            `json:"omit,omitempty"`
	}
	ptr := Secret(secretValue)
	out, err := json.Marshal(wrapper{
		Secret:  Secret(secretValue),
		Ptr:     &ptr,
		Secrets: Secrets{secretValue, secretValue2},
		Map:     map[string]Secret{"k": Secret(secretValue2)},
	})
	require.NoError(t, err)
	assertNoLeak(t, string(out))
	assert.JSONEq(t, `{
		"secret": "[REDACTED]",
		"ptr": "[REDACTED]",
		"secrets": "[REDACTED]",
		"map": {"k": "[REDACTED]"},
		"empty": "",
		"empty_list": ""
	}`, string(out))

	tests := []struct {
		name string
		v    any
		want string
	}{
		{"Secret", Secret(secretValue), `"[REDACTED]"`},
		{"Secrets", Secrets{secretValue}, `"[REDACTED]"`},
		{"empty Secret", Secret(""), `""`},
		{"nil Secrets", Secrets(nil), `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.v)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetIndent("", "  ")
			require.NoError(t, enc.Encode(tt.v))
			assertNoLeak(t, buf.String())
		})
	}
}

func TestSecretSlog(t *testing.T) {
	t.Parallel()
	handlers := []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	}
	type small struct {
		Name   string
		Secret Secret
		List   Secrets
	}
	logs := []struct {
		name string
		log  func(l *slog.Logger)
		want string // substring expected in the output, per handler kind
	}{
		{"Secret attr", func(l *slog.Logger) { l.Info("msg", "client_secret", Secret(secretValue)) }, "[REDACTED]"},
		{"Secrets attr", func(l *slog.Logger) { l.Info("msg", "secrets", Secrets{secretValue, secretValue2}) }, "[REDACTED]"},
		{"slog.Any", func(l *slog.Logger) { l.Info("msg", slog.Any("s", Secret(secretValue))) }, "[REDACTED]"},
		{"group", func(l *slog.Logger) {
			l.Info("msg", slog.Group("g", slog.Any("s", Secret(secretValue)), slog.Any("l", Secrets{secretValue2})))
		}, "[REDACTED]"},
		{"With", func(l *slog.Logger) { l.With("s", Secret(secretValue)).Info("msg") }, "[REDACTED]"},
		{"struct", func(l *slog.Logger) {
			l.Info("msg", "v", small{Name: "x", Secret: Secret(secretValue), List: Secrets{secretValue2}})
		}, "[REDACTED]"},
		{"message args", func(l *slog.Logger) { l.Info(fmt.Sprintf("secret is %v", Secret(secretValue))) }, "[REDACTED]"},
	}
	for _, h := range handlers {
		for _, lg := range logs {
			t.Run(h.name+"/"+lg.name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				lg.log(slog.New(h.new(&buf)))
				assertNoLeak(t, buf.String())
				assert.Contains(t, buf.String(), lg.want)
			})
		}
		t.Run(h.name+"/Config", func(t *testing.T) {
			t.Parallel()
			// The JSON handler cannot marshal Config (it has func fields)
			// and logs an error string instead; neither may leak.
			var buf bytes.Buffer
			slog.New(h.new(&buf)).Info("msg", "cfg", printedConfig())
			assertNoLeak(t, buf.String())
		})
		t.Run(h.name+"/empty", func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			slog.New(h.new(&buf)).Info("msg", "s", Secret(""), "l", Secrets(nil))
			assert.NotContains(t, buf.String(), "[REDACTED]")
			if h.name == "json" {
				assert.Contains(t, buf.String(), `"s":""`)
				assert.Contains(t, buf.String(), `"l":""`)
			} else {
				assert.Contains(t, buf.String(), `s="" l=""`)
			}
		})
	}

	t.Run("LogValue", func(t *testing.T) {
		t.Parallel()
		assert.Equal(t, slog.StringValue("[REDACTED]"), Secret(secretValue).LogValue())
		assert.Equal(t, slog.StringValue("[REDACTED]"), Secrets{secretValue}.LogValue())
		assert.Equal(t, slog.StringValue(""), Secret("").LogValue())
		assert.Equal(t, slog.StringValue(""), Secrets(nil).LogValue())
	})
}
