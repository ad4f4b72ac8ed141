package oidctest

import (
	"bytes"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// pageTemplates holds every HTML page the provider renders. They use
// html/template, inline CSS only and no external resources.
const pageTemplates = `
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.}}</title>
<style>
  *{box-sizing:border-box}
  body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
    font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
  main{width:100%;max-width:24rem;margin:1rem;padding:2rem;background:#fff;border-radius:.75rem;
    box-shadow:0 10px 25px rgba(0,0,0,.08)}
  h1{margin:0 0 1rem;font-size:1.4rem}
  .notice{margin:0 0 1.25rem;padding:.6rem .8rem;border-radius:.5rem;background:#fef3c7;color:#92400e;font-size:.875rem}
  .error{margin:0 0 1rem;padding:.6rem .8rem;border-radius:.5rem;background:#fee2e2;color:#991b1b;font-size:.875rem}
  label{display:block;margin-bottom:.35rem;font-weight:600}
  input[type=text]{width:100%;padding:.6rem .75rem;border:1px solid #d1d5db;border-radius:.5rem;font-size:1rem}
  input[type=text]:focus{outline:2px solid #6366f1;border-color:transparent}
  button{margin-top:1rem;width:100%;padding:.65rem;border:0;border-radius:.5rem;background:#4f46e5;color:#fff;
    font-size:1rem;font-weight:600;cursor:pointer}
  button:hover{background:#4338ca}
  .meta{margin-top:1.25rem;color:#6b7280;font-size:.8rem;word-break:break-all}
  code{font-size:.85em}
</style>
</head>
<body>
<main>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "login"}}{{template "head" "Sign in — oidctest"}}<h1>Sign in</h1>
<p class="notice"><strong>Development provider — not for production.</strong> Any user name is accepted; no password is needed.</p>
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<label for="username">User name</label>
<input type="text" id="username" name="username" autocomplete="username" autofocus required>
<button type="submit" id="login">Sign in</button>
</form>
<p class="meta">Client <code>{{.ClientID}}</code>{{with .Scope}} requests <code>{{.}}</code>{{end}}</p>
{{template "foot"}}{{end}}

{{define "formpost"}}{{template "head" "Continue — oidctest"}}<h1>Signing you in…</h1>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>JavaScript is disabled. Press the button to continue.</p><button type="submit">Continue</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.forms[0].submit();</script>
{{template "foot"}}{{end}}

{{define "message"}}{{template "head" .Title}}<h1>{{.Title}}</h1>
{{with .Error}}<p class="error"><code>{{.}}</code></p>{{end}}
{{with .Text}}<p>{{.}}</p>{{end}}
<p class="notice">oidctest development provider — not for production.</p>
{{template "foot"}}{{end}}
`

type field struct{ Name, Value string }

func sortedFields(v url.Values) []field {
	var out []field
	for _, k := range slices.Sorted(maps.Keys(v)) {
		for _, val := range v[k] {
			out = append(out, field{k, val})
		}
	}
	return out
}

func (p *Provider) render(w http.ResponseWriter, status int, name string, data any, csp string) {
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "oidctest: render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const baseCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

func (p *Provider) loginPage(w http.ResponseWriter, req *authzRequest, o Options, errMsg string) {
	hidden := maps.Clone(req.params)
	delete(hidden, "username")
	w.Header().Set("X-Frame-Options", "DENY")
	p.render(w, http.StatusOK, "login", map[string]any{
		"Action":   p.endpointURL(PathAuthorize),
		"Fields":   sortedFields(hidden),
		"Error":    errMsg,
		"ClientID": o.ClientID,
		"Scope":    req.scope,
	}, baseCSP)
}

func (p *Provider) formPostPage(w http.ResponseWriter, action string, params url.Values) {
	nonce := randomString()
	p.render(w, http.StatusOK, "formpost", map[string]any{
		"Action": action,
		"Fields": sortedFields(params),
		"Nonce":  nonce,
	}, baseCSP+"; script-src 'nonce-"+nonce+"'")
}

func (p *Provider) errorPage(w http.ResponseWriter, status int, code, desc string) {
	p.render(w, status, "message", map[string]any{
		"Title": "Authorization error",
		"Error": code + ": " + desc,
	}, baseCSP)
}

func (p *Provider) messagePage(w http.ResponseWriter, status int, title, text string) {
	p.render(w, status, "message", map[string]any{"Title": title, "Text": text}, baseCSP)
}
