package provider

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
)

// serverProof returns a DPoP proof for a POST to the authorization-server
// endpoint u (token, PAR), with the latest nonce of u's origin, and that
// nonce. Errors are server_error (500).
func (c *Client) serverProof(md *Metadata, u *url.URL) (proof, nonce string, err *Error) {
	return c.makeProof(md, &c.dpop.asNonces, http.MethodPost, u, "")
}

// ResourceProof returns a DPoP proof for a request of method to the
// protected resource u (the userinfo endpoint, an API) with accessToken
// (its ath), carrying the latest nonce of u's origin among the resource
// servers' nonces; it also returns that nonce ("" for none). The algorithm
// is chosen for md (see dpopalg.go). Errors are *Error values:
// server_error (500), wrapping ErrDPoPNotConfigured when DPoP is off, a
// *DPoPAlgError when no algorithm fits, or the signer's error.
func (c *Client) ResourceProof(md *Metadata, method string, u *url.URL, accessToken string) (proof, nonce string, err error) {
	proof, nonce, perr := c.resourceProof(md, method, u, accessToken)
	if perr != nil {
		return "", "", perr
	}
	return proof, nonce, nil
}

func (c *Client) resourceProof(md *Metadata, method string, u *url.URL, accessToken string) (string, string, *Error) {
	if c.dpop == nil {
		return "", "", localError("the access token is DPoP-bound, but DPoP is not configured", ErrDPoPNotConfigured, nil)
	}
	sum := sha256.Sum256([]byte(accessToken))
	return c.makeProof(md, &c.dpop.rsNonces, method, u, base64.RawURLEncoding.EncodeToString(sum[:]))
}

// ResourceRetry records the DPoP-Nonce header of a protected resource's
// answer to a request whose proof carried sentNonce, and reports whether
// the answer asks for the request to be sent again with the new nonce
// (RFC 9449 §9): 401 with a DPoP challenge whose error is use_dpop_nonce,
// and a nonce other than sentNonce. It does nothing when DPoP is off.
func (c *Client) ResourceRetry(u *url.URL, status int, h http.Header, sentNonce string) bool {
	if c.dpop == nil || u == nil {
		return false
	}
	n := c.dpop.rsNonces.learn(originOf(u), h)
	return status == http.StatusUnauthorized && n != "" && n != sentNonce && dpopChallengeError(h) == "use_dpop_nonce"
}

// makeProof returns a proof for a request of method to u with ath, and
// the nonce of nonces for u's origin that it carries.
func (c *Client) makeProof(md *Metadata, nonces *nonceStore, method string, u *url.URL, ath string) (string, string, *Error) {
	alg, aerr := c.dpopAlg(md)
	if aerr != nil {
		return "", "", aerr
	}
	htu, err := proofURL(u)
	if err != nil {
		return "", "", localError("the DPoP proof could not be made: "+err.Error(), nil, err)
	}
	nonce := nonces.get(originOf(u))
	proof, err := c.dpop.key.proof(c.s.Random, c.s.Now(), proofRequest{alg: alg, method: method, htu: htu, nonce: nonce, ath: ath})
	if err != nil {
		return "", "", localError("the DPoP proof could not be signed", nil, err)
	}
	return proof, nonce, nil
}
