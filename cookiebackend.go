package oidc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// maxSessionBytes caps the encrypted session cookie. Above it a session is
// refused loudly instead of producing cookies that browsers or proxies drop
// silently (about four cookie chunks).
const maxSessionBytes = 16 << 10

// errSessionTooLarge is reported when a session does not fit maxSessionBytes.
var errSessionTooLarge = errors.New("oidc: session too large for a cookie")

// cookieBackend keeps the session in the browser: an encrypted JWE
// (express-openid-connect's format), in one cookie or in name.0, name.1, …
// chunks. Decrypted values are cached by their exact bytes (cache.go), and
// a response that never read the session only peeks at the unchunked
// cookie's header to see whether a re-issue is due.
type cookieBackend struct {
	s     *settings
	keys  *cookiecrypto.Keyring
	cache sessionCache // decrypted session cookies (cache.go)
	bufs  sync.Pool    // decryption buffers
	// ownName is the read-only name list of an unchunked session cookie.
	ownName []string
}

func newCookieBackend(s *settings, keys *cookiecrypto.Keyring) *cookieBackend {
	b := &cookieBackend{s: s, keys: keys, ownName: []string{s.sessionName}}
	b.bufs.New = func() any { buf := make([]byte, 0, 4096); return &buf }
	return b
}

// peekResult is what fresh learnt about the unchunked session cookie: its
// parsed header, or why the header was refused. read reuses it, so that a
// request parses the header once.
type peekResult struct {
	value string // "" when fresh found no single unchunked cookie
	p     cookiecrypto.Peeked
	err   error
}

// fresh reports, without decrypting, whether the request's session cookie
// is a well-formed value that needs no re-issue yet. Such a request can
// skip the session entirely when the handler never reads it. A forged
// header gains nothing: the cookie is simply left as it is.
func (b *cookieBackend) fresh(s *requestSession) (pr peekResult, fresh bool) {
	value, ok := peekCookie(s.req, b.s.sessionName)
	if !ok {
		return pr, false // chunked, duplicated or absent: take the full path
	}
	pr.value = value
	pr.p, pr.err = cookiecrypto.Peek(value)
	h, ok := pr.p.Header()
	if pr.err != nil || !ok {
		return pr, false
	}
	now := b.s.now().Unix()
	return pr, b.s.headerValid(h, now) && !b.s.needsTouch(h.UAT, now)
}

// read returns the request's session: from the cache when its exact value
// decrypted before, else decrypted (reusing what fresh parsed) and cached.
func (b *cookieBackend) read(s *requestSession, pr peekResult) readResult {
	r, name := s.req, b.s.sessionName
	// The common case: one unchunked cookie seen before.
	if value, ok := peekCookie(r, name); ok {
		if d, hit := b.cache.get(value); hit {
			return d.result(chunk.Result{Value: value, Found: true, Names: b.ownName})
		}
	}
	res := readResult{}
	bufp := b.bufs.Get().(*[]byte)
	cookie, joined, ok := chunk.ReadHeaderTo(r.Header["Cookie"], name, *bufp)
	if !ok {
		cookie = chunk.Read(r.Cookies(), name) // more cookies than net/http reads
	}
	if joined != nil {
		*bufp = joined
		if d, hit := b.cache.getBytes(joined); hit { // chunked sessions
			b.bufs.Put(bufp)
			return d.result(cookie)
		}
		cookie.Value = string(joined)
	}
	b.bufs.Put(bufp)
	res.cookie = cookie
	if !cookie.Found {
		return res
	}
	value := cookie.Value
	if joined == nil {
		if d, hit := b.cache.get(value); hit {
			return d.result(cookie)
		}
	}
	bufp = b.bufs.Get().(*[]byte)
	defer b.bufs.Put(bufp) // the session strings are copies; the buffer is free after decoding
	var (
		h   cookiecrypto.Header
		pt  []byte
		idx int
		err error
	)
	switch {
	case pr.value == "" || pr.value != value:
		h, pt, idx, *bufp, err = b.keys.DecryptKeyBuf(value, *bufp)
	case pr.err != nil:
		err = pr.err // the header was refused already
	default:
		h, pt, idx, *bufp, err = b.keys.DecryptPeekedBuf(pr.p, *bufp)
	}
	if err != nil {
		b.s.logger.Debug("oidc: session cookie rejected", "reason", err.Error())
		return res
	}
	sess, ok := decodeSession(pt)
	if !ok {
		b.s.logger.Debug("oidc: session payload rejected")
		return res
	}
	d := decoded{hdr: headerTimes{h.IAT, h.UAT, h.EXP}, sess: sess, oldKey: idx > 0}
	d.jwt = sess != nil && isJWTObject(string(sess.IDToken))
	// An unchunked value is part of the Cookie header: the cache copies it.
	b.cache.put(value, d, slices.Contains(res.cookie.Names, name))
	return d.result(res.cookie) // the request's own copy
}

// result is the read of a decoded session: a copy of it.
func (d decoded) result(cookie chunk.Result) readResult {
	return readResult{cookie: cookie, hdr: cookiecrypto.Header{IAT: d.hdr.iat, UAT: d.hdr.uat, EXP: d.hdr.exp},
		sess: d.sess.clone(), ok: true, oldKey: d.oldKey, jwt: d.jwt}
}

// write encrypts the session and sets it as one cookie, or as chunks when
// it is longer than a cookie can be. A session over maxSessionBytes is
// refused (errSessionTooLarge) and nothing is set.
func (b *cookieBackend) write(_ *requestSession, hdr cookiecrypto.Header, plain []byte, out cookieOut) (cookieOut, error) {
	value, err := b.keys.Encrypt(hdr, plain)
	if err != nil {
		return out, err
	}
	if len(value) > maxSessionBytes {
		return out, errSessionTooLarge
	}
	expires := time.Unix(hdr.EXP, 0)
	size := b.s.chunkSize(len(value))
	if len(value) <= size {
		out.session(value, expires)
		return out, nil
	}
	for i, part := range chunk.Split(value, size) {
		out.chunk(i, part, expires)
	}
	return out, nil
}

// fits reports whether the encrypted session stays within
// maxSessionBytes.
func (b *cookieBackend) fits(hdr cookiecrypto.Header, plain []byte) bool {
	value, err := b.keys.Encrypt(hdr, plain)
	return err == nil && len(value) <= maxSessionBytes
}

// destroy has nothing to do: clearing the cookies forgets the session.
func (b *cookieBackend) destroy(*requestSession) error { return nil }

// late refuses every change after the response headers: only a new cookie
// could carry it.
func (b *cookieBackend) late(*requestSession) error { return ErrResponseCommitted }

// shared is false: each browser carries its own copy.
func (b *cookieBackend) shared() bool { return false }

// stored is never asked: the cookie is the only copy.
func (b *cookieBackend) stored(context.Context, string) (*Session, bool) { return nil, false }
