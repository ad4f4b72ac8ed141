package provider

import (
	"context"
	"errors"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// VerifyIDToken verifies an ID token's signature with the provider's keys
// (or the client secret for HS*), its alg (IDTokenAlg only), iss (md's
// issuer) and aud (ClientID), with go-oidc; expiry and the other claims
// are the caller's. go-oidc is given a fresh verifier per call, over the
// key set md shares with every other verification.
//
// The error is go-oidc's, whose text says what is wrong. When it failed
// because the keys could not be fetched at all, it also wraps that
// fetch's *Error (go-oidc keeps only the text of the key set's error).
func (c *Client) VerifyIDToken(ctx context.Context, md *Metadata, raw string) error {
	keys := &keysFailure{keys: md.keys}
	v := gooidc.NewVerifier(md.Issuer, keys, &gooidc.Config{
		ClientID:             c.s.ClientID,
		SupportedSigningAlgs: []string{c.s.IDTokenAlg},
		SkipExpiryCheck:      true, // the caller checks it with its clock tolerance
	})
	_, err := v.Verify(ctx, raw)
	if err != nil && keys.err != nil {
		return &verifyError{err: err, keys: keys.err}
	}
	return err
}

// VerifySignature verifies a JWS (a logout token, for example) with the
// provider's keys and returns its payload. When the keys could not be
// fetched at all, the error is that fetch's *Error.
func (c *Client) VerifySignature(ctx context.Context, md *Metadata, raw string) ([]byte, error) {
	return md.keys.VerifySignature(ctx, raw)
}

// keysFailure hands go-oidc the key set and remembers a failure to fetch
// the keys, which go-oidc reports only as text.
type keysFailure struct {
	keys *keySet
	err  *Error
}

func (k *keysFailure) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	payload, err := k.keys.VerifySignature(ctx, raw)
	if e := (*Error)(nil); errors.As(err, &e) {
		k.err = e
		return nil, e.Err // go-oidc quotes it: keep the text it had
	}
	return payload, err
}

// verifyError is go-oidc's error for a token whose keys could not be
// fetched: its text, and the fetch's *Error to unwrap to.
type verifyError struct {
	err  error
	keys *Error
}

func (e *verifyError) Error() string { return e.err.Error() }

func (e *verifyError) Unwrap() error { return e.keys }
