package oidc

import (
	"sync"
	"time"
)

// maxReplayEntries bounds the in-process jti replay cache.
const maxReplayEntries = 10000

// replayCache remembers logout token ids until they expire, in process.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// reserve records key until until and reports whether it was new.
func (rc *replayCache) reserve(key string, until, now time.Time) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen == nil {
		rc.seen = map[string]time.Time{}
	}
	if t, ok := rc.seen[key]; ok && now.Before(t) {
		return false
	}
	if len(rc.seen) >= maxReplayEntries {
		for k, t := range rc.seen {
			if !now.Before(t) {
				delete(rc.seen, k)
			}
		}
		for k := range rc.seen {
			if len(rc.seen) < maxReplayEntries {
				break
			}
			delete(rc.seen, k) // full of live entries: forget arbitrary ones
		}
	}
	rc.seen[key] = until
	return true
}

// release forgets key, after a failed logout, so the provider may retry.
func (rc *replayCache) release(key string) {
	rc.mu.Lock()
	delete(rc.seen, key)
	rc.mu.Unlock()
}
