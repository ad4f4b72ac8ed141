package oidc

// Tests for MemoryStore (memorystore.go).

import (
	"bytes"
	"context"
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

// testStoreEntry returns an entry in express-openid-connect's shape, as
// express writes it.
func testStoreEntry(now time.Time, exp time.Time) []byte {
	return fmt.Appendf(nil, `{"header":{"iat":%d,"uat":%[1]d,"exp":%d},"data":{"id_token":"eyJ.x.y","state":{"returnTo":"/"}},"cookie":{"expires":%d,"maxAge":%d}}`,
		now.Unix(), exp.Unix(), exp.UnixMilli(), exp.Sub(now).Milliseconds())
}

// marker is the smallest stored value: express-openid-connect's
// back-channel logout marker.
var marker = []byte(`{"cookie":{"expires":1765000000000,"maxAge":3600000}}`)

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
		{"round trip keeps the bytes", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			in := testStoreEntry(clk.Now(), exp)
			require.NoError(t, s.Set(ctx, "abc", in, exp))
			assert.Equal(t, testStoreEntry(clk.Now(), exp), in, "Set must not modify the caller's bytes")

			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, string(in), string(got))
		}},
		{"the bytes are opaque: an entry with another id is kept as it is", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			// The middleware's decoder refuses it on read (TestStoreEntryIDs, store_test.go).
			in := []byte(`{"header":{"iat":1,"uat":1,"exp":2},"id":"old-id"}`)
			require.NoError(t, s.Set(ctx, "new-id", in, clk.Now().Add(time.Hour)))
			got, err := s.Get(ctx, "new-id")
			require.NoError(t, err)
			assert.Equal(t, string(in), string(got))
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
			clear(in)
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, testStoreEntry(clk.Now(), exp), got)
		}},
		{"caller cannot change a stored entry through Get", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", testStoreEntry(clk.Now(), exp), exp))
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			clear(got)
			again, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, testStoreEntry(clk.Now(), exp), again)
		}},
		{"entry without header or data", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			// The shape of express-openid-connect's back-channel logout marker.
			exp := clk.Now().Add(time.Hour)
			require.NoError(t, s.Set(ctx, "https://op.example.com/|sid", marker, exp))
			got, err := s.Get(ctx, "https://op.example.com/|sid")
			require.NoError(t, err)
			assert.Equal(t, marker, got)
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
			require.NoError(t, s.Set(ctx, "a", marker, now.Add(time.Minute)))
			require.NoError(t, s.Set(ctx, "b", marker, now.Add(time.Hour)))
			assert.Equal(t, 2, s.Len())
			clk.Add(time.Minute)
			assert.Equal(t, 1, s.Len())
		}},
		{"Set sweeps expired entries", func(t *testing.T, s *MemoryStore, clk *storeClock) {
			for i := range 1000 {
				require.NoError(t, s.Set(ctx, fmt.Sprint("short", i), marker, clk.Now().Add(time.Minute)))
			}
			clk.Add(time.Hour)
			for i := range 1000 {
				require.NoError(t, s.Set(ctx, fmt.Sprint("long", i), marker, clk.Now().Add(time.Hour)))
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
				require.NoError(t, s.Set(ctx, fmt.Sprint(i), marker, clk.Now().Add(10*time.Second)))
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
			return s.Set(context.Background(), "", marker, exp)
		}, errEmptyStoreID},
		{"Destroy with empty id", func(s *MemoryStore) error {
			return s.Destroy(context.Background(), "")
		}, errEmptyStoreID},
		{"Get with canceled context", func(s *MemoryStore) error {
			_, err := s.Get(canceled, "abc")
			return err
		}, context.Canceled},
		{"Set with canceled context", func(s *MemoryStore) error {
			return s.Set(canceled, "abc", marker, exp)
		}, context.Canceled},
		{"Destroy with canceled context", func(s *MemoryStore) error {
			return s.Destroy(canceled, "abc")
		}, context.Canceled},
		{"Set with nil data", func(s *MemoryStore) error {
			return s.Set(context.Background(), "abc", nil, exp)
		}, nil},
		{"Set with empty data", func(s *MemoryStore) error {
			return s.Set(context.Background(), "abc", []byte{}, exp)
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
	require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)))
	got, err = s.Get(ctx, "abc")
	require.NoError(t, err)
	assert.Equal(t, marker, got)
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
					if !bytes.Equal(got, e) {
						t.Errorf("Get(%q) = %s, want %s", id, got, e)
					}
					got[0] = 'X' // must not race with other readers
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
