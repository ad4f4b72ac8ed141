package oidc

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openidconnect-go/oidc/internal/chunk"
	"github.com/openidconnect-go/oidc/internal/cookiecrypto"
)

// sessionBackend is where sessions live between requests: in the
// encrypted cookie (cookieBackend) or in a Store, the cookie naming the
// entry (storeBackend). requestSession does everything else (expiry,
// change tracking, when to save, clearing cookies) the same way for both.
// Its methods are called with the requestSession's lock held.
type sessionBackend interface {
	// fresh reports, without reading the session, whether the request's
	// session cookie can be left as it is by a response that never read
	// it. What it parsed is handed to read.
	fresh(s *requestSession) (peekResult, bool)
	// read reads the request's session, without the expiry checks, reusing
	// what fresh parsed (a zero peekResult when it did not run).
	read(s *requestSession, pr peekResult) readResult
	// write saves plain (a session JSON object) under hdr and sets the
	// session cookie through out, which it returns. An out without a
	// header is a save after the response headers were written (see
	// late). errSessionGone reports a session that was logged out
	// meanwhile.
	write(s *requestSession, hdr cookiecrypto.Header, plain []byte, out cookieOut) (cookieOut, error)
	// destroy forgets a session that became empty.
	destroy(s *requestSession) error
	// late reports whether a change made after the response headers were
	// written can still be saved (nil), or ErrResponseCommitted.
	late(s *requestSession) error
	// shared reports whether other instances read the sessions from where
	// this backend saves them, so that changes they depend on (rotated
	// refresh tokens, ended sessions) are saved at once.
	shared() bool
	// stored returns the session as saved now under the request's handle,
	// and false when there is none to ask (or it cannot be read). A nil
	// session with true is an entry that is not a session.
	stored(ctx context.Context, id string) (*Session, bool)
	// fits reports whether plain, saved under hdr, stays within the
	// backend's size cap (AccessTokenFor drops resource tokens until it
	// does).
	fits(hdr cookiecrypto.Header, plain []byte) bool
}

// readResult is what a backend read from the request.
type readResult struct {
	cookie chunk.Result        // the request's session cookie(s)
	hdr    cookiecrypto.Header // the session's times
	sess   *Session            // nil: a valid, empty session
	ok     bool                // a session was decoded (its expiry is not checked yet)
	oldKey bool                // re-issue it: an old secret, or an unsigned store id
	id     string              // the store entry's id
	jwt    bool                // sess's ID token is known to be a JWT with a JSON object payload
	err    error               // the session could not be read: its state is unknown
}

// readSessionCookie reads the request's session cookie (chunked or not)
// with internal/chunk's rules, looking only at the session's cookies.
func readSessionCookie(r *http.Request, name string) chunk.Result {
	if res, ok := chunk.ReadHeader(r.Header["Cookie"], name); ok {
		return res
	}
	return chunk.Read(r.Cookies(), name) // more cookies than net/http reads
}

// peekCookie returns the value of the single unchunked session cookie,
// without validating it (only its header is peeked at), and false when the
// request has none, several, or chunks.
func peekCookie(r *http.Request, name string) (string, bool) {
	var value string
	found := false
	for _, h := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(h, ";") {
			part = strings.TrimLeft(part, " ")
			if !strings.HasPrefix(part, name) {
				continue
			}
			rest := part[len(name):]
			switch {
			case strings.HasPrefix(rest, "="):
				if found {
					return "", false
				}
				value, found = strings.TrimRight(rest[1:], " "), true
			case strings.HasPrefix(rest, "."):
				return "", false
			}
		}
	}
	return value, found
}

// hasCookieNamed reports whether a Cookie header line mentions name at all.
func hasCookieNamed(r *http.Request, name string) bool {
	for _, v := range r.Header["Cookie"] {
		if strings.Contains(v, name) {
			return true
		}
	}
	return false
}

// maxClears bounds the Set-Cookie lines that clear request cookies.
const maxClears = 64

// cookieOut writes the session's Set-Cookie lines of one response: the
// cookies set, then the request's session cookies to clear, which are
// those not set. It is passed by value, so that it stays on the stack.
type cookieOut struct {
	s      *settings
	h      http.Header // nil: no cookie can be set (the headers were written)
	whole  bool        // the unchunked session cookie was set, or stays
	chunks int         // chunks 0 … chunks-1 were set
}

// session sets the unchunked session cookie.
func (o *cookieOut) session(value string, expires time.Time) {
	addCookie(o.h, o.s.sessionCookie(o.s.sessionName, value, expires))
	o.whole = true
	o.noStore()
}

// chunk sets chunk i of the session cookie.
func (o *cookieOut) chunk(i int, part string, expires time.Time) {
	addCookie(o.h, o.s.sessionCookie(chunk.ChunkName(o.s.sessionName, i), part, expires))
	o.chunks = max(o.chunks, i+1)
	o.noStore()
}

// keep leaves the unchunked session cookie as it is: it is not cleared.
func (o *cookieOut) keep() { o.whole = true }

// clear deletes the named request cookies that were not set, at most
// maxClears names (names are listed once each).
func (o *cookieOut) clear(names []string) {
	for i, name := range names {
		if i == maxClears {
			break // a request with thousands of cookies gets no more lines
		}
		if !o.set(name) {
			addCookie(o.h, o.s.clearSessionCookie(name))
			o.noStore()
		}
	}
}

// set reports whether the cookie name was set (or kept).
func (o *cookieOut) set(name string) bool {
	if name == o.s.sessionName {
		return o.whole
	}
	i, ok := chunk.Index(name, o.s.sessionName)
	return ok && i < o.chunks
}

// noStore keeps every response with a session Set-Cookie, a clearing one
// included, out of shared caches, whatever the handler chose.
func (o *cookieOut) noStore() { o.h.Set("Cache-Control", "no-store, private") }

// staleNames returns the session cookie names of a request that a valid
// session does not use: the chunks, when an unchunked cookie (which wins)
// is present too.
func staleNames(res chunk.Result, name string) []string {
	if len(res.Names) < 2 || !slices.Contains(res.Names, name) {
		return nil
	}
	out := make([]string, 0, len(res.Names)-1)
	for _, n := range res.Names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}
