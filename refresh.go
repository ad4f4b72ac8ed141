package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Refresh de-duplication (docs/security.md, REF-02 and REF-08).
const (
	// refreshAdoptWindow is how long a finished refresh is remembered, so
	// that requests still carrying the old cookie adopt its result instead
	// of presenting the rotated refresh token again.
	refreshAdoptWindow = 60 * time.Second
	// maxRefreshEntries bounds the remembered refreshes. Beyond it the
	// oldest finished ones are forgotten first; in-flight ones never are.
	maxRefreshEntries = 4096
)

// refreshGroup de-duplicates refresh_token grants within one Middleware:
// one call per refresh token at a time, and its result is remembered for
// refreshAdoptWindow. The zero value is ready to use. It starts a goroutine
// per grant, which ends when the grant does (bounded by HTTPTimeout).
// Results are kept in memory only, keyed by SHA-256 hashes of the refresh
// token, and forgotten when they expire (pruned whenever a grant starts).
type refreshGroup struct {
	mu        sync.Mutex
	calls     map[[32]byte]*refreshCall
	nextPrune time.Time
}

// refreshCall is one grant, in flight or finished.
type refreshCall struct {
	done   chan struct{}
	fromAT [32]byte // hash of the access token the grant replaces
	res    *refreshResult
	err    error
	until  time.Time // finished: remembered until then

	finished bool // guarded by refreshGroup.mu; done is closed
}

// do returns the result of the grant for key: it joins a grant in flight,
// adopts a remembered one (when the caller still holds the access token that
// grant replaced), or starts fn detached from ctx. Successes and OAuth
// errors are remembered; network errors and 5xx answers are not, so the next
// request tries again.
func (g *refreshGroup) do(ctx context.Context, now func() time.Time, key, fromAT [32]byte,
	fn func(context.Context) (*refreshResult, error)) (*refreshResult, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[[32]byte]*refreshCall)
	}
	call := g.calls[key]
	if call != nil {
		if call.finished {
			if now().Before(call.until) && call.fromAT == fromAT {
				res, err := call.res, call.err
				g.mu.Unlock()
				return res, err
			}
			delete(g.calls, key)
			call = nil
		} // else in flight: join it
	}
	if call == nil {
		call = &refreshCall{done: make(chan struct{}), fromAT: fromAT}
		g.pruneLocked(now())
		g.calls[key] = call
		go g.run(context.WithoutCancel(ctx), now, key, call, fn)
	}
	g.mu.Unlock()

	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		// As for a token request whose context ends: the provider did not
		// answer in time for this caller.
		return nil, tokenError(http.StatusServiceUnavailable, "provider_unavailable",
			"the request ended before the shared refresh did", fmt.Errorf("%w: %w", ErrProviderUnavailable, ctx.Err()))
	}
}

func (g *refreshGroup) run(ctx context.Context, now func() time.Time, key [32]byte, call *refreshCall,
	fn func(context.Context) (*refreshResult, error)) {
	var res *refreshResult
	var err error
	panicked := true
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = tokenError(http.StatusInternalServerError, "server_error", "the refresh failed unexpectedly",
					fmt.Errorf("panic: %v", p))
			}
		}()
		res, err = fn(ctx)
		panicked = false
	}()
	g.mu.Lock()
	defer g.mu.Unlock()
	call.res, call.err, call.finished = res, err, true
	if !panicked && remember(err) {
		call.until = now().Add(refreshAdoptWindow)
	} else if g.calls[key] == call {
		delete(g.calls, key)
	}
	close(call.done)
}

// remember reports whether a grant's outcome is final for its refresh
// token: a success or an OAuth error, not an outage.
func remember(err error) bool {
	if err == nil {
		return true
	}
	var pe *ProviderError
	return errors.As(err, &pe) && !pe.unavailable()
}

// pruneLocked forgets expired results (at most once a second) and, at
// maxRefreshEntries, the eighth of the finished results closest to expiry.
func (g *refreshGroup) pruneLocked(now time.Time) {
	if len(g.calls) < maxRefreshEntries && now.Before(g.nextPrune) {
		return
	}
	g.nextPrune = now.Add(time.Second)
	for k, c := range g.calls {
		if c.finished && !now.Before(c.until) {
			delete(g.calls, k)
		}
	}
	if len(g.calls) < maxRefreshEntries {
		return
	}
	type entry struct {
		key   [32]byte
		until time.Time
	}
	var finished []entry
	for k, c := range g.calls {
		if c.finished {
			finished = append(finished, entry{k, c.until})
		}
	}
	slices.SortFunc(finished, func(a, b entry) int { return a.until.Compare(b.until) })
	for _, e := range finished[:min(len(finished), max(maxRefreshEntries/8, len(g.calls)-maxRefreshEntries+1))] {
		delete(g.calls, e.key)
	}
}
