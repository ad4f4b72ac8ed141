package oidc

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// memorySweepMin is the least number of Set calls between two sweeps of
// expired entries. A sweep runs once the number of Set calls since the last
// one reaches max(memorySweepMin, entries left by the last sweep), so its
// cost is amortised to O(1) per Set, and the map never holds more than
// about twice the entries that were live at the last sweep plus
// memorySweepMin.
const memorySweepMin = 64

// MemoryStore is a Store that keeps entries in the process's memory. It is
// meant for tests and for applications that run as a single instance:
// entries are lost on restart and are not shared between processes (use
// redisstore, or an alexedwards/scs store through FromSCS, for that).
//
// Entries are copied on Set and on Get, so neither the caller nor the
// session layer can change what is stored except through Set. Expired
// entries are never returned; they are removed when they are read and by a
// sweep that Set runs every so often, so there is no background goroutine
// and nothing to close.
//
// A MemoryStore is safe for concurrent use. The zero value is ready to use;
// it must not be copied after first use.
type MemoryStore struct {
	// Now returns the current time. Nil means time.Now. Tests may set it to
	// move time; set it before the store is used.
	Now func() time.Time

	mu      sync.Mutex
	entries map[string]memoryEntry
	// sets counts Set calls since the last sweep; the next sweep runs when
	// it reaches sweepAt.
	sets, sweepAt int
}

// memoryEntry is one stored value and the time it expires.
type memoryEntry struct {
	data   []byte
	expiry time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entries: make(map[string]memoryEntry)}
}

// errEmptyStoreID is returned for a Store call with an empty id.
var errEmptyStoreID = errors.New("oidc: store: empty id")

// Get returns a copy of the bytes stored under id, or nil and no error when
// there are none or they have expired. It fails only when ctx is already
// done or id is empty.
func (s *MemoryStore) Get(ctx context.Context, id string) ([]byte, error) {
	if err := checkStoreCall(ctx, id); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return nil, nil
	}
	if !now.Before(e.expiry) {
		delete(s.entries, id)
		return nil, nil
	}
	return slices.Clone(e.data), nil
}

// Set stores a copy of data under id until expiry. An expiry that is not in
// the future deletes the entry instead. Set fails when ctx is already done,
// id is empty or data is empty.
func (s *MemoryStore) Set(ctx context.Context, id string, data []byte, expiry time.Time) error {
	if err := checkStoreCall(ctx, id); err != nil {
		return err
	}
	if len(data) == 0 {
		return errors.New("oidc: store: empty data")
	}
	now := s.now()
	c := slices.Clone(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(expiry) {
		delete(s.entries, id)
		return nil
	}
	if s.entries == nil {
		s.entries = make(map[string]memoryEntry)
	}
	s.entries[id] = memoryEntry{data: c, expiry: expiry}
	s.sets++
	if s.sets >= max(memorySweepMin, s.sweepAt) {
		for k, e := range s.entries {
			if !now.Before(e.expiry) {
				delete(s.entries, k)
			}
		}
		s.sets, s.sweepAt = 0, len(s.entries)
	}
	return nil
}

// Destroy deletes the entry under id. Deleting a missing entry is not an
// error. It fails only when ctx is already done or id is empty.
func (s *MemoryStore) Destroy(ctx context.Context, id string) error {
	if err := checkStoreCall(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
	return nil
}

// Len returns the number of entries that have not expired. It is meant for
// tests, for example to check that logging in destroyed the old session.
func (s *MemoryStore) Len() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if now.Before(e.expiry) {
			n++
		}
	}
	return n
}

func (s *MemoryStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// checkStoreCall rejects a call whose context is done or whose id is empty.
func checkStoreCall(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if id == "" {
		return errEmptyStoreID
	}
	return nil
}
