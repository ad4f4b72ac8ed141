package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Store keeps sessions, and back-channel logout markers, on the server.
// With Config.Session.Store set, the session cookie carries only a random
// session id. Implementations must be safe for concurrent use and should
// bound every call with a timeout; an error from Get must mean "could not
// read", never "no session" (return nil, nil for a missing entry).
//
// Sessions and back-channel logout entries can share one store: the
// latter's keys ("<iss>|<sid or sub>" markers, "<iss>|jti|<jti>" token ids)
// always contain '|', which session ids never do, so no session cookie can
// address them.
type Store interface {
	// Get returns the entry stored under id, or nil and no error when there
	// is none (or it expired).
	Get(ctx context.Context, id string) (*StoreEntry, error)
	// Set stores entry under id until expiry; after expiry it must no
	// longer be returned.
	Set(ctx context.Context, id string, entry *StoreEntry, expiry time.Time) error
	// Destroy deletes the entry under id. Deleting a missing entry is not an
	// error.
	Destroy(ctx context.Context, id string) error
}

// StoreEntry is one stored value, in express-openid-connect's shape
// ({header, data, cookie}), so that Node and Go applications can share a
// store. ID repeats the key it was stored under; readers check it, as a
// defence against a store client returning another request's reply.
type StoreEntry struct {
	// Header holds the session's creation, update and expiry times in Unix
	// seconds.
	Header StoreHeader `json:"header"`
	// Data is the session JSON (express-openid-connect's session object).
	Data json.RawMessage `json:"data,omitempty"`
	// Cookie carries express-session's TTL hint, in milliseconds.
	Cookie *StoreCookie `json:"cookie,omitempty"`
	// ID is the key the entry was stored under.
	ID string `json:"id,omitempty"`
	// LoggedOutAt is set in back-channel logout markers written by this
	// package: when the logout was received, in Unix microseconds of
	// Config.Now. Sessions, and markers written by express-openid-connect
	// (whose logout time is Cookie.Expires - Cookie.MaxAge, in
	// milliseconds), leave it 0.
	LoggedOutAt int64 `json:"loggedOutAt,omitempty"`
}

// StoreHeader mirrors the session cookie's JWE header members.
type StoreHeader struct {
	IAT int64 `json:"iat"`
	UAT int64 `json:"uat"`
	EXP int64 `json:"exp"`
}

// StoreCookie is express-session's cookie member: Expires is an absolute
// Unix time and MaxAge a duration, both in milliseconds. connect-redis and
// similar stores derive their TTL from it.
type StoreCookie struct {
	Expires int64 `json:"expires"`
	MaxAge  int64 `json:"maxAge"`
}

// ErrStoreEntryMismatch: a store returned an entry whose ID is not the id it
// was asked for (or carries no ID). Stores that check IDs wrap it. It means
// the store client mixed up replies or the store holds foreign data, so the
// read fails rather than returning another user's session (catalog ST-05,
// GHSA-92cp-5422-2mw7).
var ErrStoreEntryMismatch = errors.New("oidc: store returned an entry for another id")
