package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// endpoint names a client-authenticated endpoint in errors, with the
// sentinel (if any) that its errors wrap.
type endpoint struct {
	name     string // "token endpoint"
	response string // "token response"
	sentinel error
	dpop     bool // requests carry a DPoP proof when DPoP is on
}

var (
	tokenEP      = endpoint{"token endpoint", "token response", ErrTokenRequest, true}
	parEP        = endpoint{"PAR endpoint", "PAR response", ErrPushedAuthorizationRequest, true}
	revocationEP = endpoint{"revocation endpoint", "revocation response", nil, false}
)

// wrap returns err wrapped in ep's sentinel.
func (ep endpoint) wrap(err error) error {
	if ep.sentinel == nil {
		return err
	}
	if err == nil {
		return ep.sentinel
	}
	return fmt.Errorf("%w: %w", ep.sentinel, err)
}

// secretParams are the form parameters whose values must never appear in an
// error, even when the provider echoes them back.
var secretParams = []string{
	"refresh_token", "subject_token", "actor_token", "code", "code_verifier",
	"client_secret", "client_assertion", "token",
}

// reply is the answer to a client-authenticated POST.
type reply struct {
	status   int
	header   http.Header
	body     []byte // at most the limit
	tooLarge bool   // the body was longer than the limit
	secrets  []string
	// sentNonce is the DPoP nonce the request's proof carried, newNonce
	// the one the answer's DPoP-Nonce header gave ("" for none).
	sentNonce, newNonce string
}

// post sends form to url with the client authentication (HTTP Basic with
// both parts form-encoded before Base64, RFC 6749 §2.3.1, as x/oauth2 does;
// or the method's form parameters, a fresh assertion for the JWT methods)
// and, at endpoints that take one with DPoP on, a fresh DPoP proof, bounded
// by HTTPTimeout, and reads at most limit bytes of the answer. It is the
// one way token, PAR and revocation requests are sent.
//
// When the provider answers use_dpop_nonce with a new DPoP-Nonce, the
// request is rebuilt (a new proof with the nonce, a new client assertion)
// and sent once more, with a timeout of its own.
//
// Errors: server_error (500) when the client authentication or the DPoP
// proof cannot be prepared (a *DPoPAlgError cause when no proof algorithm
// fits the key and the provider); provider_unavailable (503, wrapping
// ErrUnavailable) when the URL is invalid, the endpoint cannot be reached
// or its answer cannot be read. They wrap ep's sentinel.
func (c *Client) post(ctx context.Context, md *Metadata, ep endpoint, target string, form url.Values, limit int) (*reply, *Error) {
	for attempt := 1; ; attempt++ {
		r, err := c.postOnce(ctx, md, ep, target, form, limit)
		if err != nil || attempt > 1 || !r.useDPoPNonce() {
			return r, err
		}
		c.s.Logger.Debug("oidc: the " + ep.name + " asked for a DPoP nonce; sending the request again with it")
	}
}

// useDPoPNonce reports whether the answer asks for the request to be sent
// again with the new nonce it gave: an OAuth error use_dpop_nonce (RFC
// 9449 §8) with a DPoP-Nonce other than the one the proof carried.
func (r *reply) useDPoPNonce() bool {
	if r.newNonce == "" || r.newNonce == r.sentNonce || r.status < 400 || r.status >= 500 {
		return false
	}
	code, _, _ := r.oauthError()
	return code == "use_dpop_nonce"
}

// postOnce sends the request of post once.
func (c *Client) postOnce(ctx context.Context, md *Metadata, ep endpoint, target string, form url.Values, limit int) (*reply, *Error) {
	authn, aerr := c.clientAuth(md)
	if aerr != nil {
		return nil, localError("the client authentication could not be prepared", ep.sentinel, aerr)
	}
	body := make(url.Values, len(form)+len(authn.params))
	for k, vs := range form {
		body[k] = vs
	}
	for k, vs := range authn.params {
		body[k] = vs
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.HTTPTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body.Encode()))
	if err != nil {
		return nil, c.outage(ep, "the "+ep.name+" URL is invalid", nil)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if authn.basic {
		req.SetBasicAuth(url.QueryEscape(c.s.ClientID), url.QueryEscape(c.s.ClientSecret))
	}
	secrets := c.sentSecrets(body, authn)
	dpop := c.dpop != nil && ep.dpop
	var sentNonce string
	if dpop {
		proof, nonce, perr := c.serverProof(md, req.URL)
		if perr != nil {
			return nil, &Error{Code: perr.Code, Description: perr.Description, StatusCode: perr.StatusCode, Err: ep.wrap(perr.Err)}
		}
		req.Header.Set("DPoP", proof)
		secrets = append(secrets, proof)
		sentNonce = nonce
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.outage(ep, "the "+ep.name+" could not be reached", redactURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return nil, c.outage(ep, "the "+ep.response+" could not be read", err)
	}
	r := &reply{status: resp.StatusCode, header: resp.Header, body: raw, secrets: secrets, sentNonce: sentNonce}
	if dpop {
		r.newNonce = c.dpop.asNonces.learn(originOf(req.URL), resp.Header)
	}
	if len(raw) > limit {
		r.body, r.tooLarge = raw[:limit], true
	}
	return r, nil
}

// outage is a request that did not get an answer: 503
// provider_unavailable, wrapping ep's sentinel, ErrUnavailable and cause.
func (c *Client) outage(ep endpoint, desc string, cause error) *Error {
	e := unavailable(http.StatusServiceUnavailable, desc, cause)
	e.Err = ep.wrap(e.Err)
	return e
}

// sentSecrets returns the secret values of a request, in every form a
// provider might echo back in an error_description: raw, form-encoded as
// in the body, and the HTTP Basic credentials.
func (c *Client) sentSecrets(body url.Values, authn clientAuthn) []string {
	secrets := []string{c.s.ClientSecret}
	for _, k := range secretParams {
		if v := body.Get(k); v != "" {
			secrets = append(secrets, v)
		}
	}
	for _, v := range secrets {
		if e := url.QueryEscape(v); e != v {
			secrets = append(secrets, e)
		}
	}
	if authn.basic {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(
			[]byte(url.QueryEscape(c.s.ClientID)+":"+url.QueryEscape(c.s.ClientSecret))))
	}
	return secrets
}

// document decodes the answer: JSON, or (like x/oauth2, for providers such
// as GitHub) form-encoded when the content type says so. It is the one
// decoder of token, PAR and revocation answers, errors included.
func (r *reply) document() (map[string]any, error) {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		vals, err := url.ParseQuery(string(r.body))
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(vals))
		for k, v := range vals {
			out[k] = v[0]
		}
		return out, nil
	}
	var out map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return out, nil
}

// oauthError reads the error members of an error answer (RFC 6749 §5.2):
// the code reduced to its character set, the description scrubbed of
// every secret sent, and a usable error_uri. All are "" when the answer
// has none.
func (r *reply) oauthError() (code, desc, uri string) {
	doc, err := r.document()
	if err != nil {
		return "", "", ""
	}
	code = SanitizeCode(stringMember(doc, "error"))
	desc = CleanDescription(stringMember(doc, "error_description"), r.secrets...)
	uri = cleanErrorURI(stringMember(doc, "error_uri"), r.secrets)
	return code, desc, uri
}

// stringMember returns a string member of a document, or "".
func stringMember(doc map[string]any, key string) string {
	s, _ := doc[key].(string)
	return s
}
