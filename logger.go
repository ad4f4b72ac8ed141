package oidc

import (
	"context"
	"log/slog"
	"slices"
)

// defaultLogHandler is the handler of the logger used when Config.Logger is
// nil. It forwards the records at slog.LevelWarn and above (operational
// problems: an unreachable provider, an issuer mismatch, store errors,
// refused logins, configuration warnings) to the handler of slog.Default(),
// looked up again for every record, so that an application that calls
// slog.SetDefault after building the middleware is honoured. Debug and Info
// records (detail) are dropped.
type defaultLogHandler struct {
	// with replays the WithAttrs and WithGroup calls, in order, on the
	// handler of slog.Default().
	with []func(slog.Handler) slog.Handler
}

// target returns the handler of slog.Default() with the attributes and
// groups of h applied.
func (h defaultLogHandler) target() slog.Handler {
	t := slog.Default().Handler()
	for _, f := range h.with {
		t = f(t)
	}
	return t
}

// Enabled reports whether level is at least Warn and the default handler
// takes it.
func (h defaultLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && slog.Default().Handler().Enabled(ctx, level)
}

// Handle forwards r to the default handler when it is at least Warn.
func (h defaultLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	return h.target().Handle(ctx, r)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h defaultLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	attrs = slices.Clone(attrs)
	return defaultLogHandler{with: append(slices.Clip(h.with), func(t slog.Handler) slog.Handler { return t.WithAttrs(attrs) })}
}

// WithGroup returns a handler that puts the following attributes in group
// name.
func (h defaultLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return defaultLogHandler{with: append(slices.Clip(h.with), func(t slog.Handler) slog.Handler { return t.WithGroup(name) })}
}

// defaultLogger returns the logger used when Config.Logger is nil.
func defaultLogger() *slog.Logger {
	return slog.New(defaultLogHandler{})
}
