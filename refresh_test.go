package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRefreshGroup(t *testing.T) {
	t.Parallel()
	key := sha256.Sum256([]byte("rt-1"))
	at1 := sha256.Sum256([]byte("at-1"))
	at2 := sha256.Sum256([]byte("at-2"))
	ok := func(calls *atomic.Int32, release <-chan struct{}) func(context.Context) (*refreshResult, error) {
		return func(context.Context) (*refreshResult, error) {
			calls.Add(1)
			if release != nil {
				<-release
			}
			return &refreshResult{accessToken: "new"}, nil
		}
	}

	t.Run("concurrent callers share one call", func(t *testing.T) {
		t.Parallel()
		var g refreshGroup
		clk := newClock()
		var calls atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		results := make([]*refreshResult, 50)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := g.do(context.Background(), clk.Now, key, at1, ok(&calls, release))
				assert.NoError(t, err)
				results[i] = res
			}()
		}
		time.Sleep(50 * time.Millisecond)
		close(release)
		wg.Wait()
		assert.Equal(t, int32(1), calls.Load())
		for _, r := range results {
			assert.Same(t, results[0], r)
		}
	})
	t.Run("late callers adopt within the window, with the old access token only", func(t *testing.T) {
		t.Parallel()
		var g refreshGroup
		clk := newClock()
		var calls atomic.Int32
		first, err := g.do(context.Background(), clk.Now, key, at1, ok(&calls, nil))
		require.NoError(t, err)
		clk.Advance(refreshAdoptWindow - time.Second)
		again, err := g.do(context.Background(), clk.Now, key, at1, ok(&calls, nil))
		require.NoError(t, err)
		assert.Same(t, first, again)
		assert.Equal(t, int32(1), calls.Load())

		// A caller that already has other tokens asks for a real refresh.
		_, err = g.do(context.Background(), clk.Now, key, at2, ok(&calls, nil))
		require.NoError(t, err)
		assert.Equal(t, int32(2), calls.Load())

		clk.Advance(refreshAdoptWindow)
		_, err = g.do(context.Background(), clk.Now, key, at2, ok(&calls, nil))
		require.NoError(t, err)
		assert.Equal(t, int32(3), calls.Load(), "after the window the result is forgotten")
	})
	t.Run("outages are not remembered, OAuth errors are", func(t *testing.T) {
		t.Parallel()
		var g refreshGroup
		clk := newClock()
		var calls atomic.Int32
		fail := func(err error) func(context.Context) (*refreshResult, error) {
			return func(context.Context) (*refreshResult, error) { calls.Add(1); return nil, err }
		}
		down := &ProviderError{Code: "provider_unavailable", StatusCode: 503, cause: ErrProviderUnavailable}
		for range 3 {
			_, err := g.do(context.Background(), clk.Now, key, at1, fail(down))
			assert.ErrorIs(t, err, ErrProviderUnavailable)
		}
		assert.Equal(t, int32(3), calls.Load())
		bad := &ProviderError{Code: "invalid_grant", StatusCode: 400}
		for range 3 {
			_, err := g.do(context.Background(), clk.Now, key, at1, fail(bad))
			assert.Same(t, bad, err)
		}
		assert.Equal(t, int32(4), calls.Load())
	})
	t.Run("a caller whose context ends stops waiting; the call completes", func(t *testing.T) {
		t.Parallel()
		var g refreshGroup
		clk := newClock()
		var calls atomic.Int32
		release := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		var sawCancel atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, err := g.do(ctx, clk.Now, key, at1, func(fctx context.Context) (*refreshResult, error) {
				calls.Add(1)
				<-release
				sawCancel.Store(fctx.Err() != nil)
				return &refreshResult{accessToken: "new"}, nil
			})
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, err, ErrTokenExchange)
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		<-done
		close(release)
		res, err := g.do(context.Background(), clk.Now, key, at1, ok(&calls, nil))
		require.NoError(t, err)
		assert.Equal(t, "new", res.accessToken)
		assert.Equal(t, int32(1), calls.Load())
		assert.False(t, sawCancel.Load(), "the shared call is detached from the leader's context")
	})
	t.Run("a panic becomes an error and is not remembered", func(t *testing.T) {
		t.Parallel()
		var g refreshGroup
		clk := newClock()
		_, err := g.do(context.Background(), clk.Now, key, at1, func(context.Context) (*refreshResult, error) { panic("boom") })
		var pe *ProviderError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "server_error", pe.Code)
		var calls atomic.Int32
		_, err = g.do(context.Background(), clk.Now, key, at1, ok(&calls, nil))
		require.NoError(t, err)
		assert.Equal(t, int32(1), calls.Load())
	})
	t.Run("the map is bounded and expired entries are pruned", func(t *testing.T) {
		t.Parallel()
		var g refreshGroup
		clk := newClock()
		var calls atomic.Int32
		for i := range maxRefreshEntries + 100 {
			k := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
			_, err := g.do(context.Background(), clk.Now, k, at1, ok(&calls, nil))
			require.NoError(t, err)
		}
		g.mu.Lock()
		n := len(g.calls)
		g.mu.Unlock()
		assert.LessOrEqual(t, n, maxRefreshEntries)
		clk.Advance(refreshAdoptWindow)
		_, err := g.do(context.Background(), clk.Now, key, at1, ok(&calls, nil))
		require.NoError(t, err)
		g.mu.Lock()
		n = len(g.calls)
		g.mu.Unlock()
		assert.Equal(t, 1, n)
	})
	t.Run("remember", func(t *testing.T) {
		t.Parallel()
		assert.True(t, remember(nil))
		assert.True(t, remember(&ProviderError{Code: "invalid_grant"}))
		assert.False(t, remember(&ProviderError{cause: ErrProviderUnavailable}))
		assert.False(t, remember(errors.New("other")))
	})
}
