package oidc

import "sync"

// cacheEntryOverhead approximates what one entry costs beyond its key and
// value bytes: the map slot, the key and value headers and the entry's own
// bookkeeping.
const cacheEntryOverhead = 96

// boundedCache is a concurrency-safe map bounded by the bytes it holds, as
// estimated by the caller for each entry (key bytes plus an estimate of the
// value). When an entry does not fit the budget, entries are dropped in map
// (random) order until the new entry fits in half the budget, so eviction
// costs O(1) per insertion over time. Entries larger than the caller's
// per-entry limit are not stored at all. It backs the decoded-claims and
// decrypted-session caches.
type boundedCache[V any] struct {
	mu    sync.Mutex
	m     map[string]cacheEntry[V]
	bytes int // the sizes of the entries in m
}

type cacheEntry[V any] struct {
	v    V
	size int
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	return e.v, ok
}

// put stores v under key as an entry of size bytes, keeping the total at
// most budget. It stores nothing, and reports false, when size exceeds
// maxEntry.
func (c *boundedCache[V]) put(key string, v V, size, budget, maxEntry int) bool {
	if size > maxEntry || size > budget {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cacheEntry[V])
	}
	if old, ok := c.m[key]; ok {
		delete(c.m, key)
		c.bytes -= old.size
	}
	if c.bytes+size > budget {
		for k, e := range c.m {
			if c.bytes+size <= budget/2 {
				break
			}
			delete(c.m, k)
			c.bytes -= e.size
		}
	}
	c.m[key] = cacheEntry[V]{v: v, size: size}
	c.bytes += size
	return true
}

// size returns the accounted bytes and the number of entries.
func (c *boundedCache[V]) size() (bytes, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes, len(c.m)
}

// jsonValueSize estimates the memory held by a value that encoding/json
// decoded into an interface: string bytes, interface and slice headers, and
// map entries.
func jsonValueSize(v any) int {
	const iface = 16
	switch t := v.(type) {
	case string:
		return iface + 16 + len(t)
	case map[string]any:
		n := iface + 48
		for k, e := range t {
			n += 16 + len(k) + jsonValueSize(e) + 8
		}
		return n
	case []any:
		n := iface + 24
		for _, e := range t {
			n += jsonValueSize(e)
		}
		return n
	}
	return iface + 8 // numbers, booleans, null
}
