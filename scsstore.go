package oidc

import (
	"context"
	"fmt"
	"time"
)

// SCSStore is the store interface of github.com/alexedwards/scs/v2
// (scs.Store), declared here so that any scs backend (redisstore,
// pgxstore, mysqlstore, boltstore, ...) can hold sessions through FromSCS
// without this module importing scs.
type SCSStore interface {
	// Find returns the data stored under token and found=true, or
	// found=false and no error when there is none or it expired.
	Find(token string) (b []byte, found bool, err error)
	// Commit stores b under token until expiry, replacing any previous data.
	Commit(token string, b []byte, expiry time.Time) error
	// Delete removes token; a missing token is not an error.
	Delete(token string) error
}

// SCSCtxStore is scs.CtxStore: an SCSStore whose methods also take a
// context. FromSCS prefers these methods when a store has them, so that the
// request's context (and its deadline) reaches the backend.
type SCSCtxStore interface {
	SCSStore
	// FindCtx is Find with a context.
	FindCtx(ctx context.Context, token string) (b []byte, found bool, err error)
	// CommitCtx is Commit with a context.
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	// DeleteCtx is Delete with a context.
	DeleteCtx(ctx context.Context, token string) error
}

// FromSCS adapts an alexedwards/scs store to Store. Both work on bytes, so
// the entries pass through unchanged (the middleware checks their ids when
// it reads them); an expiry that is not in the future deletes the entry.
// When s also implements SCSCtxStore its context methods are used;
// otherwise the context is only checked before each call, and the
// backend's own timeouts are the only bound on a call, so configure them.
// FromSCS panics if s is nil.
func FromSCS(s SCSStore) Store {
	if s == nil {
		panic("oidc: FromSCS: nil store")
	}
	a := &scsAdapter{s: s}
	if cs, ok := s.(SCSCtxStore); ok {
		a.cs = cs
	}
	return a
}

// scsAdapter is the Store returned by FromSCS.
type scsAdapter struct {
	s  SCSStore
	cs SCSCtxStore // s, when it has context methods; else nil
}

// Get implements Store.
func (a *scsAdapter) Get(ctx context.Context, id string) ([]byte, error) {
	if err := checkStoreCall(ctx, id); err != nil {
		return nil, err
	}
	var (
		b     []byte
		found bool
		err   error
	)
	if a.cs != nil {
		b, found, err = a.cs.FindCtx(ctx, id)
	} else {
		b, found, err = a.s.Find(id)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: scs store: find: %w", err)
	}
	if !found {
		return nil, nil
	}
	return b, nil
}

// Set implements Store.
func (a *scsAdapter) Set(ctx context.Context, id string, data []byte, expiry time.Time) error {
	if err := checkStoreCall(ctx, id); err != nil {
		return err
	}
	if !time.Now().Before(expiry) {
		return a.Destroy(ctx, id)
	}
	var err error
	if a.cs != nil {
		err = a.cs.CommitCtx(ctx, id, data, expiry)
	} else {
		err = a.s.Commit(id, data, expiry)
	}
	if err != nil {
		return fmt.Errorf("oidc: scs store: commit: %w", err)
	}
	return nil
}

// Destroy implements Store.
func (a *scsAdapter) Destroy(ctx context.Context, id string) error {
	if err := checkStoreCall(ctx, id); err != nil {
		return err
	}
	var err error
	if a.cs != nil {
		err = a.cs.DeleteCtx(ctx, id)
	} else {
		err = a.s.Delete(id)
	}
	if err != nil {
		return fmt.Errorf("oidc: scs store: delete: %w", err)
	}
	return nil
}
