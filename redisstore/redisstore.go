// Package redisstore is an oidc.Store backed by Redis, through go-redis's
// UniversalClient. It holds store-backed sessions (oidc Config.Session.Store)
// and back-channel logout markers, so that several instances of an
// application can share them.
//
// Any UniversalClient works: a standalone server (redis.NewClient), a
// Sentinel-managed primary (redis.NewFailoverClient), or a Cluster
// (redis.NewClusterClient); redis.NewUniversalClient picks one from its
// options. Every operation touches a single key, so Cluster needs no hash
// tags. With Sentinel or Cluster, read from the primary (leave ReplicaOnly,
// ReadOnly, RouteByLatency and RouteRandomly off) so that a session written
// by one instance is visible to the next request, whichever instance serves
// it.
//
// Keys are Options.Prefix followed by the session id (by default "sess:",
// like connect-redis); values are the bytes the middleware stores, unchanged
// (JSON in express-openid-connect's {header, data, cookie} shape plus an
// "id" member), and the Redis TTL is the entry's expiry.
//
// # Failure behaviour
//
// Every call is bounded by Options.Timeout. An error from Get always means
// "could not read", never "no session": a timeout, a refused connection or
// a key of another type are all errors, so the middleware fails closed
// without logging anyone out. The middleware also refuses, the same way, a
// value that does not decode or whose id is not the one it asked for
// (oidc.ErrStoreEntryMismatch): that check defends against a client handing
// one request another request's reply, as go-redis did before 9.7.3
// (GHSA-92cp-5422-2mw7, CVE-2025-29923); this module requires a fixed
// go-redis.
//
// go-redis applies a context's deadline to socket reads and writes only when
// the client was created with ContextTimeoutEnabled: true; otherwise it waits
// for its own ReadTimeout and WriteTimeout (3s by default). The Store
// enforces Options.Timeout either way, by returning when it expires and
// leaving the call to finish in the background, but setting
// ContextTimeoutEnabled lets go-redis abandon (and discard) the connection
// at the same moment, which is recommended.
//
// A timed-out Set or Destroy has an unknown outcome: the command may have
// reached Redis, or may still reach it when a hung server resumes.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openidconnect-go/oidc"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty. It is
// connect-redis's default, so that express-openid-connect applications using
// connect-redis and Go applications using this package can share sessions.
const DefaultPrefix = "sess:"

// DefaultTimeout bounds each call when Options.Timeout is not positive.
const DefaultTimeout = 2 * time.Second

// Options configures a Store. The zero value is usable.
type Options struct {
	// Prefix is prepended to every id to form the Redis key. Default:
	// DefaultPrefix ("sess:"). Give each application its own prefix when
	// several share a Redis database but must not share sessions.
	Prefix string

	// Timeout bounds every call (Get, Set, Destroy), in addition to the
	// deadline of the caller's context. Default: DefaultTimeout (2s).
	Timeout time.Duration

	// AllowMissingID has no effect.
	//
	// Deprecated: the Store keeps bytes and no longer decodes them. The oidc
	// middleware checks the id of every entry it reads, whatever the store,
	// and reads entries without one, as express-openid-connect writes them
	// through connect-redis.
	AllowMissingID bool
}

// Store is an oidc.Store on Redis. Create it with New. It is safe for
// concurrent use; it does not own the client, so closing the client is the
// caller's job.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	// direct: the client applies context deadlines to socket I/O
	// (ContextTimeoutEnabled), so calls need no goroutine of their own.
	direct bool
}

var _ oidc.Store = (*Store)(nil)

// New returns a Store that keeps entries in Redis through client, which
// may be a standalone, Sentinel (failover) or Cluster client. It panics if
// client is nil.
func New(client redis.UniversalClient, opts Options) *Store {
	if client == nil {
		panic("redisstore: New: nil client")
	}
	s := &Store{client: client, prefix: opts.Prefix, timeout: opts.Timeout, direct: contextTimeoutEnabled(client)}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// Get returns the bytes stored under id, or nil and no error when there are
// none (or they expired). It fails, rather than reporting "no entry", when
// Redis cannot be reached in time or the key holds another type.
func (s *Store) Get(ctx context.Context, id string) ([]byte, error) {
	if id == "" {
		return nil, errors.New("redisstore: get: empty id")
	}
	b, err := bounded(ctx, s.timeout, s.direct, func(ctx context.Context) ([]byte, error) {
		return s.client.Get(ctx, s.prefix+id).Bytes()
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	return b, nil
}

// Set stores data under id, with a Redis TTL that ends at expiry (SET with
// a TTL rounded up to the millisecond). An expiry that is not in the future
// deletes the entry instead. Set fails when id or data is empty.
//
// An error means the outcome is unknown, not that nothing was written: a
// command that timed out may already be on its way and still be applied,
// for example when a hung server resumes.
func (s *Store) Set(ctx context.Context, id string, data []byte, expiry time.Time) error {
	if id == "" || len(data) == 0 {
		return errors.New("redisstore: set: empty id or data")
	}
	ttl, ok := redisTTL(expiry)
	if !ok {
		if err := s.del(ctx, id); err != nil {
			return fmt.Errorf("redisstore: set: deleting expired entry: %w", err)
		}
		return nil
	}
	_, err := bounded(ctx, s.timeout, s.direct, func(ctx context.Context) (string, error) {
		return s.client.Set(ctx, s.prefix+id, data, ttl).Result()
	})
	if err != nil {
		return fmt.Errorf("redisstore: set: %w", err)
	}
	return nil
}

// Update stores data under id only if id still exists (SET XX), so that a
// request in flight while the session was logged out cannot bring it back.
// It reports whether the data was written. It implements oidc.UpdateStore.
func (s *Store) Update(ctx context.Context, id string, data []byte, expiry time.Time) (bool, error) {
	if id == "" || len(data) == 0 {
		return false, errors.New("redisstore: update: empty id or data")
	}
	ttl, ok := redisTTL(expiry)
	if !ok {
		return false, s.del(ctx, id)
	}
	res, err := bounded(ctx, s.timeout, s.direct, func(ctx context.Context) (string, error) {
		return s.client.SetArgs(ctx, s.prefix+id, data, redis.SetArgs{Mode: "XX", TTL: ttl}).Result()
	})
	if errors.Is(err, redis.Nil) {
		return false, nil // the key is gone: not written
	}
	if err != nil {
		return false, fmt.Errorf("redisstore: update: %w", err)
	}
	return res == "OK", nil
}

// Destroy deletes the entry under id. Deleting a missing entry is not an
// error. As with Set, an error means the outcome is unknown.
func (s *Store) Destroy(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("redisstore: destroy: empty id")
	}
	if err := s.del(ctx, id); err != nil {
		return fmt.Errorf("redisstore: destroy: %w", err)
	}
	return nil
}

// redisTTL returns the TTL that ends at expiry, in whole milliseconds
// rounded up, so that the key never outlives expiry by more than a
// millisecond nor gets a zero (= no) TTL; false when expiry is not in the
// future.
func redisTTL(expiry time.Time) (time.Duration, bool) {
	ttl := time.Until(expiry)
	if ttl <= 0 {
		return 0, false
	}
	return (ttl + time.Millisecond - 1).Truncate(time.Millisecond), true
}

// del deletes the key of id.
func (s *Store) del(ctx context.Context, id string) error {
	_, err := bounded(ctx, s.timeout, s.direct, func(ctx context.Context) (int64, error) {
		return s.client.Del(ctx, s.prefix+id).Result()
	})
	return err
}

// result carries the outcome of a call run by bounded.
type result[T any] struct {
	v   T
	err error
}

// contextTimeoutEnabled reports whether client is a go-redis client that
// applies context deadlines to socket I/O (ContextTimeoutEnabled); other
// UniversalClient implementations do not reveal it.
func contextTimeoutEnabled(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// bounded runs fn with a context that expires after timeout, and returns
// when fn does or when that context is done, whichever comes first. go-redis
// does not apply context deadlines to socket I/O unless the client has
// ContextTimeoutEnabled, so without it (direct false) fn runs in its own
// goroutine; after a timeout it finishes in the background, within the
// client's own read and write timeouts. With it (direct), fn runs in the
// caller's goroutine and the client itself stops at the deadline.
func bounded[T any](ctx context.Context, timeout time.Duration, direct bool, fn func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if direct {
		return fn(ctx)
	}
	done := make(chan result[T], 1)
	go func() {
		v, err := fn(ctx)
		done <- result[T]{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-done: // finished just in time
			return r.v, r.err
		default:
			var zero T
			return zero, ctx.Err()
		}
	}
}
