package provider

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// MaxErrorDescription bounds a provider's error_description and error_uri.
const MaxErrorDescription = 512

// redacted replaces secret values in a provider's error_description.
const redacted = "[REDACTED]"

// CleanDescription makes a provider's text safe to log and show: printable
// ASCII only, bounded in length, and without any of the secret values that
// were sent (in case the provider echoes them).
func CleanDescription(desc string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			desc = strings.ReplaceAll(desc, s, redacted)
		}
	}
	desc = strings.Map(func(r rune) rune {
		if r >= 0x20 && r <= 0x7e {
			return r
		}
		return -1
	}, desc)
	if len(desc) > MaxErrorDescription {
		desc = desc[:MaxErrorDescription]
	}
	return desc
}

// SanitizeCode keeps an OAuth error code to its allowed character set
// (RFC 6749 §5.2), so it is safe to log and show.
func SanitizeCode(code string) string {
	code = strings.Map(func(r rune) rune {
		if r >= 0x20 && r <= 0x7e && r != '"' && r != '\\' && r != '<' && r != '>' {
			return r
		}
		return -1
	}, code)
	if len(code) > 64 {
		code = code[:64]
	}
	return code
}

// cleanErrorURI returns a provider's error_uri when it is usable: within
// RFC 6749 §5.2's character set, bounded, an absolute http(s) URL, and free
// of every secret sent. Anything else is dropped, never repaired.
func cleanErrorURI(uri string, secrets []string) string {
	if uri == "" || len(uri) > MaxErrorDescription {
		return ""
	}
	for _, r := range uri {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return ""
		}
	}
	for _, s := range secrets {
		if len(s) >= 4 && strings.Contains(uri, s) {
			return ""
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return uri
}

// redactURLError drops the URL's query from a *url.Error, which may carry
// parameters.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
	}
	return err
}

// WithQuery appends params to endpoint, keeping its own query, with the
// keys in a stable order. An endpoint that does not parse is a 502
// provider_unavailable (discovery has checked the endpoints it returns).
func WithQuery(endpoint string, params url.Values) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", unavailable(http.StatusBadGateway, "invalid endpoint", nil)
	}
	q := u.Query()
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q[k] = params[k]
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
