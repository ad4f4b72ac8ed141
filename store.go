package oidc

import (
	"context"
	"fmt"
	"time"

	"github.com/openidconnect-go/oidc/internal/sessionjson"
)

// Store keeps sessions, and back-channel logout markers, on the server.
// With Config.Session.Store set, the session cookie carries only a random
// session id. Like an alexedwards/scs store, a Store works on bytes: it
// keeps what Set gives it under an id until an expiry, and never needs to
// look inside. Implementations must be safe for concurrent use and should
// bound every call with a timeout; an error from Get must mean "could not
// read", never "no session" (return nil, nil for a missing entry).
//
// The bytes are JSON in express-openid-connect's shape
// ({"header", "data", "cookie"} with an added "id" member), so that Node
// and Go applications can share a store: values that express-openid-connect
// wrote are read, and the values written here are read by it. The
// middleware checks on every read that an entry's id is the id it asked
// for (ErrStoreEntryMismatch).
//
// Sessions and back-channel logout entries can share one store: the
// latter's keys ("<iss>|<sid or sub>" markers, "<iss>|jti|<jti>" token ids)
// always contain '|', which session ids never do, so no session cookie can
// address them.
type Store interface {
	// Get returns the bytes stored under id, or nil and no error when there
	// are none (or they expired). The caller does not modify them.
	Get(ctx context.Context, id string) ([]byte, error)
	// Set stores data under id until expiry, replacing what was there;
	// after expiry Get must no longer return it. The caller does not
	// modify data after Set returns, so a Store may keep it.
	Set(ctx context.Context, id string, data []byte, expiry time.Time) error
	// Destroy deletes the entry under id. Deleting a missing entry is not an
	// error.
	Destroy(ctx context.Context, id string) error
}

// UpdateStore is an optional Store capability: Update stores data under id
// only if id still exists, atomically, and reports whether it did (SET XX
// in Redis). With it, a request that was in flight while the session was
// logged out cannot bring the session back. Without it the middleware
// checks with Get first.
type UpdateStore interface {
	Update(ctx context.Context, id string, data []byte, expiry time.Time) (bool, error)
}

// ErrStoreEntryMismatch: a store returned an entry whose id is not the id it
// was asked for. It means the store client mixed up replies or the store
// holds foreign data, so the read fails (wrapped in ErrStoreUnavailable)
// rather than returning another user's session (catalog ST-05,
// GHSA-92cp-5422-2mw7). Entries without an id, as
// express-openid-connect writes them, are accepted.
var ErrStoreEntryMismatch = sessionjson.ErrEntryMismatch

// storeEntry is a decoded store value; storeHeader and storeCookie are its
// header and cookie members.
type (
	storeEntry  = sessionjson.Entry
	storeHeader = sessionjson.Header
	storeCookie = sessionjson.Cookie
)

// getEntry reads and decodes the entry under key: nil when there is none,
// and an error wrapping ErrStoreUnavailable when the store fails or the
// value is not an entry for key.
func getEntry(ctx context.Context, store Store, key string) (*storeEntry, error) {
	b, err := store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return decodeEntry(b, key)
}

// decodeEntry decodes the bytes a store returned for key: nil when there
// are none, and an error wrapping ErrStoreUnavailable when they are not an
// entry for key.
func decodeEntry(b []byte, key string) (*storeEntry, error) {
	if len(b) == 0 {
		return nil, nil
	}
	e, err := sessionjson.DecodeEntry(b, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	return &e, nil
}

// encodeEntry returns the stored form of e, with its id set to key.
func encodeEntry(key string, e storeEntry) []byte {
	e.ID = key
	return sessionjson.AppendEntry(nil, &e)
}
