package oidc

import (
	"errors"
	"fmt"
	"net/http"
)

// responseWriter writes the session cookie when the response headers are
// written, including for streamed responses. It implements Unwrap, so
// http.ResponseController reaches the underlying writer's features.
type responseWriter struct {
	http.ResponseWriter
	c *Context
}

// commit writes the session cookie headers once.
func (w *responseWriter) commit() {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.committed {
		return
	}
	c.m.writeSession(c)
	c.committed = true
}

// WriteHeader writes the session cookie, then the status. Informational
// statuses (1xx, except 101) pass through without it.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.commit()
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the session cookie before the first body bytes.
func (w *responseWriter) Write(b []byte) (int, error) {
	w.commit()
	return w.ResponseWriter.Write(b)
}

// Flush commits the headers and flushes, when the underlying writer can.
func (w *responseWriter) Flush() {
	w.commit()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// saveAfterCommit saves a session change made after the response headers
// were written (store mode, for a session that keeps its store id; see
// Context.lateChangeLocked). The browser keeps the cookie it has, so the
// entry is written under the same id with the same header (the cookie's
// expiry is unchanged), or destroyed when the session became empty. A
// session that was logged out meanwhile is not brought back: the error then
// wraps ErrResponseCommitted. The caller holds c.mu.
func (m *Middleware) saveAfterCommit(c *Context) error {
	st := &c.sess
	if st.data.empty() {
		ctx, cancel := m.storeContext(c.req.Context())
		err := m.s.store.Destroy(ctx, st.id)
		cancel()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		st.id, st.hadValid, st.dirty = "", false, false
		st.data = nil
		return nil
	}
	plain, err := st.data.marshal()
	if err != nil {
		return err
	}
	if err := m.storeWrite(c, st, st.header, plain); err != nil {
		if errors.Is(err, errSessionGone) {
			return fmt.Errorf("%w: %w", ErrResponseCommitted, err)
		}
		return err
	}
	st.dirty = false
	st.snap = *st.data
	return nil
}
