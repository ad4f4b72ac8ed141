package oidc

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret is a sensitive string, such as a client secret or a token. It
// redacts itself when formatted with the fmt package, marshalled to JSON or
// logged with log/slog, so that it cannot leak into logs or error messages by
// accident. Convert it with string(s) where the real value is needed.
type Secret string

// String returns a fixed placeholder, never the value.
func (s Secret) String() string { return redactIfSet(len(s) > 0) }

// GoString returns a fixed placeholder, never the value.
func (s Secret) GoString() string { return s.String() }

// Format prints the placeholder for every fmt verb (%v, %s, %q, %x, %d, ...).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes a fixed placeholder, never the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue implements slog.LogValuer with a fixed placeholder.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Secrets is a list of secrets, such as Config.Secret. Like Secret it redacts
// itself when printed, marshalled or logged.
type Secrets []string

// String returns a fixed placeholder, never the values.
func (s Secrets) String() string { return redactIfSet(len(s) > 0) }

// GoString returns a fixed placeholder, never the values.
func (s Secrets) GoString() string { return s.String() }

// Format prints the placeholder for every fmt verb.
func (s Secrets) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes a fixed placeholder, never the values.
func (s Secrets) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue implements slog.LogValuer with a fixed placeholder.
func (s Secrets) LogValue() slog.Value { return slog.StringValue(s.String()) }

func redactIfSet(set bool) string {
	if set {
		return redacted
	}
	return ""
}
