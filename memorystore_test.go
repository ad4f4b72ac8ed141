package oidc

// Tests for MemoryStore (memorystore.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var _ Store = (*MemoryStore)(nil)

// storeClock is a settable clock, safe for concurrent use.
type storeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStoreClock() *storeClock {
	return &storeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *storeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *storeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testStoreEntry returns an entry in express-openid-connect's shape.
func testStoreEntry(now time.Time, exp time.Time) *StoreEntry {
	return &StoreEntry{
		Header: StoreHeader{IAT: now.Unix(), UAT: now.Unix(), EXP: exp.Unix()},
		Data:   json.RawMessage(`{"id_token":"eyJ.x.y","state":{"returnTo":"/"}}`),
		Cookie: &StoreCookie{Expires: exp.UnixMilli(), MaxAge: exp.Sub(now).Milliseconds()},
	}
}

func newTestMemoryStore() (*MemoryStore, *storeClock) {
	clk := newStoreClock()
	s := NewMemoryStore()
	s.Now = clk.Now
	return s, clk
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()

	tests := []struct {
		name string
		run  func(t *testing.T, s *MemoryStore, clk *storeClock)
	}{
		{"round trip stamps the id", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			in := testStoreEntry(clk.Now(), exp)
			require.NoError(t, s.Set(ctx, "abc", in, exp))
			assert.Empty(t, in.ID, "Set must not modify the caller's entry")

			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			want := *testStoreEntry(clk.Now(), exp)
			want.ID = "abc"
			assert.Equal(t, &want, got)
		}},
		{"Set overwrites a foreign id with the key", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			in := testStoreEntry(clk.Now(), exp)
			in.ID = "old-id"
			require.NoError(t, s.Set(ctx, "new-id", in, exp))
			got, err := s.Get(ctx, "new-id")
			require.NoError(t, err)
			assert.Equal(t, "new-id", got.ID)
			assert.Equal(t, "old-id", in.ID)
		}},
		{"missing entry is nil without error", func(t *testing.T, s *MemoryStore, _ *storeClock) {
			got, err := s.Get(ctx, "nope")
			assert.NoError(t, err)
			assert.Nil(t, got)
		}},
		{"entry is returned until its expiry and not at it", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(10 * time.Second)
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), exp))
			clk.Add(10*time.Second - time.Nanosecond)
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			require.NotNil(t, got)
			clk.Add(time.Nanosecond)
			got, err = s.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.Nil(t, got)
			assert.Zero(t, s.Len())
		}},
		{"Set with a past expiry deletes the entry", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), exp))
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), clk.Now().Add(-time.Second)))
			got, err := s.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.Nil(t, got)
		}},
		{"Set with a zero expiry deletes the entry", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), exp))
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), time.Time{}))
			assert.Zero(t, s.Len())
		}},
		{"caller cannot change a stored entry after Set", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			in := testStoreEntry(clk.Now(), exp)
			require.NoError(t, s.Set(ctx, "abc", in, exp))
			in.Data[2] = 'X'
			in.Cookie.MaxAge = -1
			in.Header.EXP = 1
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, testStoreEntry(clk.Now(), exp).Data, got.Data)
			assert.Equal(t, testStoreEntry(clk.Now(), exp).Cookie, got.Cookie)
			assert.Equal(t, exp.Unix(), got.Header.EXP)
		}},
		{"caller cannot change a stored entry through Get", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), exp))
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			got.Data[2] = 'X'
			got.Cookie.Expires = 0
			got.ID = "other"
			again, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, testStoreEntry(clk.Now(), exp).Data, again.Data)
			assert.Equal(t, testStoreEntry(clk.Now(), exp).Cookie, again.Cookie)
			assert.Equal(t, "abc", again.ID)
		}},
		{"entry without data or cookie", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			// The shape of a back-channel logout marker.
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "https://op.example.com/|sid", &StoreEntry{}, exp))
			got, err := s.Get(ctx, "https://op.example.com/|sid")
			require.NoError(t, err)
			assert.Equal(t, &StoreEntry{ID: "https://op.example.com/|sid"}, got)
		}},
		{"Destroy is idempotent", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), exp))
			require.NoError(t, s.Destroy(ctx, "abc"))
			require.NoError(t, s.Destroy(ctx, "abc"))
			require.NoError(t, s.Destroy(ctx, "never-set"))
			got, err := s.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.Nil(t, got)
		}},
		{"Len counts live entries", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			now := clk.Now()
			require.NoError(t, s.Set(ctx, "a", &StoreEntry{}, now.Add(time.Minute)))
			require.NoError(t, s.Set(ctx, "b", &StoreEntry{}, now.Add(time.Hour)))
			assert.Equal(t, 2, s.Len())
			clk.Add(time.Minute)
			assert.Equal(t, 1, s.Len())
		}},
		{"Set sweeps expired entries", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			for i := range 1000 {
				require.NoError(t, s.Set(ctx, fmt.Sprint("short", i), &StoreEntry{}, clk.Now().Add(time.Minute)))
			}
			clk.Add(time.Hour)
			for i := range 1000 {
				require.NoError(t, s.Set(ctx, fmt.Sprint("long", i), &StoreEntry{}, clk.Now().Add(time.Hour)))
			}
			// The expired entries were never read, yet they are gone: the
			// map holds the live entries plus at most one sweep interval.
			s.mu.Lock()
			n := len(s.entries)
			s.mu.Unlock()
			assert.Less(t, n, 1000+memorySweepMin)
			assert.Equal(t, 1000, s.Len())
		}},
		{"map stays bounded under constant churn", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			// Each entry lives 10 ticks; at most ~10 are live at a time.
			for i := range 10000 {
				require.NoError(t, s.Set(ctx, fmt.Sprint(i), &StoreEntry{}, clk.Now().Add(10*time.Second)))
				clk.Add(time.Second)
			}
			s.mu.Lock()
			n := len(s.entries)
			s.mu.Unlock()
			assert.LessOrEqual(t, n, 10+memorySweepMin)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newTestMemoryStore()
			tt.run(t, s, clk)
		})
	}
}

func TestMemoryStoreErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	exp := time.Now().Add(time.Hour)

	tests := []struct {
		name string
		call func(s *MemoryStore) error
		want error
	}{
		{"Get with empty id", func(s *MemoryStore) error {
			_, err := s.Get(context.Background(), "")
			return err
		}, errEmptyStoreID},
		{"Set with empty id", func(s *MemoryStore) error {
			return s.Set(context.Background(), "", &StoreEntry{}, exp)
		}, errEmptyStoreID},
		{"Destroy with empty id", func(s *MemoryStore) error {
			return s.Destroy(context.Background(), "")
		}, errEmptyStoreID},
		{"Get with canceled context", func(s *MemoryStore) error {
			_, err := s.Get(canceled, "abc")
			return err
		}, context.Canceled},
		{"Set with canceled context", func(s *MemoryStore) error {
			return s.Set(canceled, "abc", &StoreEntry{}, exp)
		}, context.Canceled},
		{"Destroy with canceled context", func(s *MemoryStore) error {
			return s.Destroy(canceled, "abc")
		}, context.Canceled},
		{"Set with nil entry", func(s *MemoryStore) error {
			return s.Set(context.Background(), "abc", nil, exp)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewMemoryStore()
			err := tt.call(s)
			require.Error(t, err)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.Zero(t, s.Len())
		})
	}
}

func TestMemoryStoreZeroValue(t *testing.T) {
	var s MemoryStore
	ctx := context.Background()
	got, err := s.Get(ctx, "abc")
	require.NoError(t, err)
	assert.Nil(t, got)
	require.NoError(t, s.Destroy(ctx, "abc"))
	require.NoError(t, s.Set(ctx, "abc", &StoreEntry{}, time.Now().Add(time.Hour)))
	got, err = s.Get(ctx, "abc")
	require.NoError(t, err)
	assert.Equal(t, "abc", got.ID)
}

func TestMemoryStoreConcurrent(t *testing.T) {
	s, clk := newTestMemoryStore()
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprint(g, "-", i%20)
				exp := clk.Now().Add(time.Duration(i%5) * time.Second)
				e := testStoreEntry(clk.Now(), exp)
				if err := s.Set(ctx, id, e, exp); err != nil {
					t.Error(err)
					return
				}
				got, err := s.Get(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				if got != nil {
					got.Data[0] = 'X' // must not race with other readers
					if got.ID != id {
						t.Errorf("Get(%q).ID = %q", id, got.ID)
					}
				}
				if i%7 == 0 {
					if err := s.Destroy(ctx, id); err != nil {
						t.Error(err)
					}
				}
				if i%50 == 0 {
					clk.Add(time.Second)
					_ = s.Len()
				}
			}
		})
	}
	wg.Wait()
}
