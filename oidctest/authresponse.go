package oidctest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// AuthorizationResponse is a provider's answer to an authorization request,
// as a browser delivers it to the application: a request with Method to
// URL carrying Params.
type AuthorizationResponse struct {
	// URL is the redirect_uri (the application's callback), without query
	// or fragment.
	URL string
	// Method is http.MethodPost for response_mode form_post and
	// http.MethodGet for query and fragment.
	Method string
	// Params are the response parameters (code, state, id_token, iss,
	// error, ...).
	Params url.Values
	// Fragment reports that Params came in the URL fragment (response_mode
	// fragment), which a browser does not send to the server: an
	// application reads it with a script of its own. Request sends them in
	// the query.
	Fragment bool
}

// ReadAuthorizationResponse reads a provider's response to an
// authorization request, made without following redirects: a redirect
// (302 or 303) to the redirect_uri with the parameters in its query or
// fragment, or the auto-submitting form_post page (200). It reads and
// closes resp.Body. Use it to drive a login step by step, for example to
// look at or change the response before the callback gets it; [Browser]
// runs a whole login in one call.
//
// It returns an error for any other response, such as the provider's error
// page when it refuses the request before it can redirect.
func ReadAuthorizationResponse(resp *http.Response) (*AuthorizationResponse, error) {
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther:
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("oidctest: authorization response: %w", err)
		}
		out := &AuthorizationResponse{Method: http.MethodGet, Params: loc.Query()}
		if loc.Fragment != "" {
			out.Fragment = true
			if out.Params, err = url.ParseQuery(loc.Fragment); err != nil {
				return nil, errors.New("oidctest: authorization response: invalid fragment")
			}
		}
		loc.RawQuery, loc.Fragment, loc.RawFragment = "", "", ""
		out.URL = loc.String()
		return out, nil
	case http.StatusOK:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
		if err != nil {
			return nil, fmt.Errorf("oidctest: authorization response: %w", err)
		}
		if len(body) > maxPageBytes {
			return nil, fmt.Errorf("oidctest: authorization response: the page is larger than %d bytes", maxPageBytes)
		}
		f := findForm(resp, body)
		if f == nil || !f.autoSubmit {
			return nil, fmt.Errorf("oidctest: authorization response: a page that is not a form_post response%s", pageError(body))
		}
		action, err := url.Parse(f.action)
		if err == nil && resp.Request != nil && resp.Request.URL != nil {
			action, err = resp.Request.URL.Parse(f.action)
		}
		if err != nil {
			return nil, errors.New("oidctest: authorization response: the form has an invalid action")
		}
		return &AuthorizationResponse{URL: action.String(), Method: http.MethodPost, Params: f.values}, nil
	}
	return nil, fmt.Errorf("oidctest: authorization response: unexpected status %d", resp.StatusCode)
}

// Request returns the request that delivers r to the application: a POST
// of the parameters as a form for form_post, otherwise a GET with the
// parameters in the query.
func (r *AuthorizationResponse) Request() (*http.Request, error) {
	if r.Method == http.MethodPost {
		req, err := http.NewRequest(http.MethodPost, r.URL, bytes.NewBufferString(r.Params.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, err
	}
	u.RawQuery = r.Params.Encode()
	return http.NewRequest(http.MethodGet, u.String(), nil)
}
