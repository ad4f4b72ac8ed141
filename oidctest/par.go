package oidctest

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RequestURIPrefix starts every request_uri the PAR endpoint issues
// (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// parLifetime is how long a pushed request may be used (expires_in).
const parLifetime = 60 * time.Second

// pushedRequest is an authorization request stored by the PAR endpoint.
type pushedRequest struct {
	clientID string
	params   url.Values
	signed   bool // it came from a verified request object
	expires  time.Time
}

// servePAR implements Pushed Authorization Requests (RFC 9126): the client
// authenticates as at the token endpoint and posts the authorization
// parameters, or a request object; the provider validates them like
// /authorize would and answers 201 with a single-use request_uri valid for
// 60 seconds.
func (p *Provider) servePAR(w http.ResponseWriter, r *http.Request, o Options) {
	if o.DisablePAR {
		http.NotFound(w, r)
		return
	}
	form, clientID, ok := p.clientPost(w, r, o, p.recordPARRequest)
	if !ok {
		return
	}
	if form.Has("request_uri") {
		badRequest("invalid_request", "request_uri must not be pushed").write(w)
		return
	}
	if form.Has("client_id") && form.Get("client_id") != clientID {
		badRequest("invalid_request", "client_id does not match the authenticated client").write(w)
		return
	}
	var params url.Values
	signed := false
	if form.Has("request") {
		var aerr *authzError
		if params, aerr = p.requestObjectParams(form.Get("request"), clientID, o); aerr != nil {
			badRequest(aerr.code, aerr.desc).write(w)
			return
		}
		signed = true
	} else {
		params = maps.Clone(form)
		for _, k := range [...]string{"client_secret", "client_assertion", "client_assertion_type"} {
			delete(params, k)
		}
		params.Set("client_id", clientID)
	}
	if o.RequireSignedRequestObject && !signed {
		badRequest("invalid_request", "a signed request object is required").write(w)
		return
	}
	proof, derr := p.checkDPoP(w, r, o, EndpointPAR, "", false)
	if derr != nil {
		derr.asError().write(w)
		return
	}
	if proof != nil {
		// RFC 9449 §10.1: the proof's key binds the code like dpop_jkt.
		if params.Has("dpop_jkt") && params.Get("dpop_jkt") != proof.jkt {
			badRequest("invalid_request", "the DPoP proof key does not match dpop_jkt").write(w)
			return
		}
		params.Set("dpop_jkt", proof.jkt)
	}
	if _, aerr := parseAuthorize(params, o); aerr != nil {
		badRequest(aerr.code, aerr.desc).write(w)
		return
	}
	now := o.Now()
	uri := RequestURIPrefix + randomString()
	p.mu.Lock()
	for k, pr := range p.pushed {
		if now.After(pr.expires) {
			delete(p.pushed, k)
		}
	}
	p.pushed[uri] = &pushedRequest{clientID: clientID, params: params, signed: signed, expires: now.Add(parLifetime)}
	p.mu.Unlock()
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusCreated, map[string]any{
		"request_uri": uri,
		"expires_in":  int64(parLifetime / time.Second),
	})
}

// takePushed returns and removes (single use) the pushed request for uri,
// unless it has expired.
func (p *Provider) takePushed(uri string, now time.Time) *pushedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.pushed[uri]
	delete(p.pushed, uri)
	if pr == nil || now.After(pr.expires) {
		return nil
	}
	return pr
}

func (p *Provider) recordPARRequest(r *http.Request, body []byte) {
	c := r.Clone(context.Background())
	c.Body = http.NoBody
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastPAR = c
	p.lastPARBody = body
}

// LastPARRequest returns a clone of the last request made to the PAR
// endpoint, or nil, like [Provider.LastTokenRequest].
func (p *Provider) LastPARRequest() *http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastPAR == nil {
		return nil
	}
	c := p.lastPAR.Clone(context.Background())
	c.Body = io.NopCloser(bytes.NewReader(p.lastPARBody))
	c.ContentLength = int64(len(p.lastPARBody))
	return c
}

// expandRequest replaces a request_uri from the PAR endpoint or a request
// object (RFC 9101) with the parameters it stands for, and applies
// RequirePAR and RequireSignedRequestObject. Errors are shown on the error
// page: before this step no redirect_uri can be trusted.
func (p *Provider) expandRequest(params url.Values, o Options) (url.Values, *authzError) {
	fail := func(code, desc string) (url.Values, *authzError) {
		return nil, &authzError{code: code, desc: desc}
	}
	if params.Has("request") && params.Has("request_uri") {
		return fail("invalid_request", "request and request_uri cannot be combined")
	}
	clientID := params.Get("client_id")
	switch {
	case params.Has("request_uri"):
		uri := params.Get("request_uri")
		if !strings.HasPrefix(uri, RequestURIPrefix) {
			return fail("invalid_request_uri", "only request_uri values from the PAR endpoint are supported")
		}
		if clientID == "" {
			return fail("invalid_request", "client_id is missing")
		}
		pr := p.takePushed(uri, o.Now())
		if pr == nil {
			return fail("invalid_request_uri", "the request_uri is unknown, expired or already used")
		}
		if pr.clientID != clientID {
			return fail("invalid_request_uri", "the request_uri was pushed by another client")
		}
		if o.RequireSignedRequestObject && !pr.signed {
			return fail("invalid_request", "a signed request object is required")
		}
		return maps.Clone(pr.params), nil
	case o.parRequired():
		return fail("invalid_request", "pushed authorization requests are required")
	case params.Has("request"):
		if clientID == "" {
			return fail("invalid_request", "client_id is missing")
		}
		if clientID != o.ClientID {
			return fail("invalid_client", "unknown client_id")
		}
		return p.requestObjectParams(params.Get("request"), clientID, o)
	case o.RequireSignedRequestObject:
		return fail("invalid_request", "a signed request object is required")
	}
	return params, nil
}
