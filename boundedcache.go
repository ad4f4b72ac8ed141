package oidc

import "sync"

// boundedCache is a concurrency-safe map with a size bound: when full, about
// half of the entries are dropped in map (random) order. It backs the
// decoded-claims and decrypted-session caches.
type boundedCache[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	return v, ok
}

// put stores v under key, keeping at most limit entries.
func (c *boundedCache[V]) put(key string, v V, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]V)
	}
	if len(c.m) >= limit {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= limit/2 {
				break
			}
		}
	}
	c.m[key] = v
}
