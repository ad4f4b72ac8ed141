package oidc

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
)

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Status}} {{.Text}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>{{.Status}} {{.Text}}</h1><p>{{.Description}}</p>{{if .Code}}<p>Error code: <code>{{.Code}}</code></p>{{end}}</body></html>
`))

// defaultErrorHandler renders err as a small self-contained HTML page, or as
// JSON {"error","error_description"} for clients that do not accept HTML.
// Everything is escaped; the page loads no external resources.
func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var pe *ProviderError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &pe):
		e = pe.page()
	default:
		e = newError(statusOf(err, http.StatusInternalServerError), "server_error", "An unexpected error occurred.", err)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	if !acceptsHTML(r) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(e.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": e.Code, "error_description": e.Description})
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(e.Status)
	_ = errorPage.Execute(w, map[string]any{
		"Status": e.Status, "Text": http.StatusText(e.Status), "Code": e.Code, "Description": e.Description,
	})
}
