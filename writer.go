package oidc

import "net/http"

// responseWriter writes the session cookie when the response headers are
// written, including for streamed responses. It implements Unwrap, so
// http.ResponseController reaches the underlying writer's features.
type responseWriter struct {
	http.ResponseWriter
	c *Context
}

// commit saves the session once, before the headers go out.
func (w *responseWriter) commit() { w.c.sess.commit() }

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
