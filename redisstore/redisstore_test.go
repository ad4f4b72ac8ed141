package redisstore_test

// Tests against a real redis-server that each test starts on 127.0.0.1 at a
// free port (internal/redistest). Without redis-server they are skipped,
// except under CI=true, where they fail. Subtest names carry the security
// catalog ids they cover (the ST table of docs/security.md, "Server-side
// store").

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/redisstore"
	"github.com/openidconnect-go/oidc/redisstore/internal/redistest"
)

// newClient returns a client for addr, closed when the test ends.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sessionEntry returns a session entry in express-openid-connect's shape,
// as express writes it.
func sessionEntry(now, exp time.Time) []byte {
	return fmt.Appendf(nil, `{"header":{"iat":%d,"uat":%[1]d,"exp":%d},"data":{"id_token":"eyJ.x.y","state":{"returnTo":"/"}},"cookie":{"expires":%d,"maxAge":%d}}`,
		now.Unix(), exp.Unix(), exp.UnixMilli(), exp.Sub(now).Milliseconds())
}

// marker is express-openid-connect's back-channel logout marker.
var marker = []byte(`{"cookie":{"expires":1700003600000,"maxAge":86400000}}`)

func TestStore(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := newClient(t, srv.Addr())
	ctx := context.Background()

	tests := []struct {
		name string
		opts redisstore.Options
		run  func(t *testing.T, s *redisstore.Store)
	}{
		{"round trip", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			now := time.Now()
			exp := now.Add(time.Hour)
			in := sessionEntry(now, exp)
			require.NoError(t, s.Set(ctx, "abc", in, exp))
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, string(sessionEntry(now, exp)), string(got))
		}},
		{"ST-05 the value is the bytes, unchanged", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			// The middleware writes the id into the entry and checks it on
			// read (TestMultiInstance); the store keeps the
			// bytes as they are.
			in := `{"header":{"iat":1700000000,"uat":1700000000,"exp":1700003600},"cookie":{"expires":1700003600000,"maxAge":3600000},` +
				`"id":"https://op.example.com/|sid-1","loggedOutAt":1700000000123456}`
			key := "https://op.example.com/|sid-1"
			require.NoError(t, s.Set(ctx, key, []byte(in), time.Now().Add(time.Hour)))
			raw, err := rdb.Get(ctx, "sess:"+key).Result()
			require.NoError(t, err)
			assert.Equal(t, in, raw)
			got, err := s.Get(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, in, string(got))
		}},
		{"ST-05 TTL is the remaining lifetime", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			for _, d := range []time.Duration{1500 * time.Millisecond, 10 * time.Second, 7 * 24 * time.Hour} {
				exp := time.Now().Add(d)
				require.NoError(t, s.Set(ctx, "abc", sessionEntry(time.Now(), exp), exp))
				pttl, err := rdb.PTTL(ctx, "sess:abc").Result()
				require.NoError(t, err)
				assert.LessOrEqual(t, pttl, d, "PTTL for %v", d)
				assert.Greater(t, pttl, d-time.Second, "PTTL for %v", d)
			}
		}},
		{"Set again replaces the entry and its TTL", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			now := time.Now()
			require.NoError(t, s.Set(ctx, "abc", sessionEntry(now, now.Add(time.Minute)), now.Add(time.Minute)))
			exp := now.Add(time.Hour)
			require.NoError(t, s.Set(ctx, "abc", sessionEntry(now, exp), exp))
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, string(sessionEntry(now, exp)), string(got))
			pttl, err := rdb.PTTL(ctx, "sess:abc").Result()
			require.NoError(t, err)
			assert.Greater(t, pttl, 59*time.Minute)
		}},
		{"expired entry is gone", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			exp := time.Now().Add(100 * time.Millisecond)
			require.NoError(t, s.Set(ctx, "abc", sessionEntry(time.Now(), exp), exp))
			time.Sleep(250 * time.Millisecond)
			got, err := s.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.Nil(t, got)
			assert.Zero(t, rdb.Exists(ctx, "sess:abc").Val())
		}},
		{"Set with a past or zero expiry deletes the entry", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			for _, exp := range []time.Time{time.Now().Add(-time.Second), {}} {
				require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)))
				require.NoError(t, s.Set(ctx, "abc", marker, exp))
				assert.Zero(t, rdb.Exists(ctx, "sess:abc").Val())
			}
		}},
		{"missing entry is nil without error", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			got, err := s.Get(ctx, "nope")
			assert.NoError(t, err)
			assert.Nil(t, got)
		}},
		{"default prefix is sess:", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)))
			keys, err := rdb.Keys(ctx, "*").Result()
			require.NoError(t, err)
			assert.Equal(t, []string{"sess:abc"}, keys)
		}},
		{"custom prefix", redisstore.Options{Prefix: "app1:sess:"}, func(t *testing.T, s *redisstore.Store) {
			require.NoError(t, s.Set(ctx, "https://op.example.com/|sid-1", marker, time.Now().Add(time.Hour)))
			keys, err := rdb.Keys(ctx, "*").Result()
			require.NoError(t, err)
			assert.Equal(t, []string{"app1:sess:https://op.example.com/|sid-1"}, keys)
		}},
		{"stores with different prefixes do not see each other's entries", redisstore.Options{Prefix: "a:"}, func(t *testing.T, s *redisstore.Store) {
			other := redisstore.New(rdb, redisstore.Options{Prefix: "b:"})
			require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)))
			got, err := other.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.Nil(t, got)
			require.NoError(t, other.Destroy(ctx, "abc"))
			got, err = s.Get(ctx, "abc")
			assert.NoError(t, err)
			assert.NotNil(t, got)
		}},
		{"Destroy is idempotent", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			require.NoError(t, s.Set(ctx, "abc", marker, time.Now().Add(time.Hour)))
			require.NoError(t, s.Destroy(ctx, "abc"))
			assert.Zero(t, rdb.Exists(ctx, "sess:abc").Val())
			require.NoError(t, s.Destroy(ctx, "abc"))
			require.NoError(t, s.Destroy(ctx, "never-set"))
		}},
		{"values written by express-openid-connect through connect-redis are read as they are", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			node := sessionEntry(time.Unix(1700000000, 0), time.Unix(1700003600, 0))
			require.NoError(t, rdb.Set(ctx, "sess:abc", node, time.Hour).Err())
			got, err := s.Get(ctx, "abc")
			require.NoError(t, err)
			assert.Equal(t, string(node), string(got))

			// A back-channel logout marker written by express-openid-connect.
			require.NoError(t, rdb.Set(ctx, "sess:https://op.example.com/|sub-1", marker, time.Hour).Err())
			got, err = s.Get(ctx, "https://op.example.com/|sub-1")
			require.NoError(t, err)
			assert.Equal(t, string(marker), string(got))
		}},
		{"key of another type is an error, not a missing entry", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			require.NoError(t, rdb.HSet(ctx, "sess:abc", "f", "v").Err())
			got, err := s.Get(ctx, "abc")
			assert.ErrorContains(t, err, "WRONGTYPE")
			assert.Nil(t, got)
		}},
		{"invalid arguments", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			exp := time.Now().Add(time.Hour)
			_, err := s.Get(ctx, "")
			assert.Error(t, err)
			assert.Error(t, s.Set(ctx, "", marker, exp))
			assert.Error(t, s.Set(ctx, "abc", nil, exp))
			assert.Error(t, s.Set(ctx, "abc", []byte{}, exp))
			assert.Error(t, s.Destroy(ctx, ""))
			assert.Zero(t, rdb.DBSize(ctx).Val())
		}},
		{"canceled context", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Get(canceled, "abc")
			assert.ErrorIs(t, err, context.Canceled)
			assert.ErrorIs(t, s.Set(canceled, "abc", marker, time.Now().Add(time.Hour)), context.Canceled)
			assert.ErrorIs(t, s.Destroy(canceled, "abc"), context.Canceled)
			assert.Zero(t, rdb.DBSize(ctx).Val())
		}},
		{"concurrent use", redisstore.Options{}, func(t *testing.T, s *redisstore.Store) {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 50 {
						id := fmt.Sprint(g, "-", i%5)
						exp := time.Now().Add(time.Minute)
						value := fmt.Appendf(nil, `{"id":%q}`, id)
						if err := s.Set(ctx, id, value, exp); err != nil {
							t.Error(err)
							return
						}
						got, err := s.Get(ctx, id)
						if err != nil || string(got) != string(value) {
							t.Errorf("Get(%q) = %s, %v", id, got, err)
							return
						}
					}
				})
			}
			wg.Wait()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, rdb.FlushDB(ctx).Err())
			tt.run(t, redisstore.New(rdb, tt.opts))
		})
	}
}

func TestNewNilClient(t *testing.T) {
	t.Parallel()
	assert.PanicsWithValue(t, "redisstore: New: nil client", func() { redisstore.New(nil, redisstore.Options{}) })
}

// blackhole listens on 127.0.0.1 and accepts connections that it never
// answers. Everything is closed when the test ends.
func blackhole(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// storeCall runs one Store method.
type storeCall struct {
	name string
	call func(ctx context.Context, s *redisstore.Store) error
}

// storeCalls returns a call of each Store method, on the id "other". Get
// returns an error when it reports a missing entry.
func storeCalls() []storeCall {
	return []storeCall{
		{"Get", func(ctx context.Context, s *redisstore.Store) error {
			e, err := s.Get(ctx, "other")
			if err == nil && e == nil {
				return errors.New("Get reported a missing entry instead of an error")
			}
			return err
		}},
		{"Set", func(ctx context.Context, s *redisstore.Store) error {
			return s.Set(ctx, "other", marker, time.Now().Add(time.Hour))
		}},
		{"Set expired", func(ctx context.Context, s *redisstore.Store) error {
			return s.Set(ctx, "other", marker, time.Now().Add(-time.Hour))
		}},
		{"Destroy", func(ctx context.Context, s *redisstore.Store) error {
			return s.Destroy(ctx, "other")
		}},
	}
}

// TestStoreTimeout points the client at a server that accepts connections
// but never answers: every call must fail within the timeout rather than
// hang, whether or not the client applies context deadlines itself.
func TestStoreTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	addr := blackhole(t)

	for _, ctxTimeouts := range []bool{false, true} {
		rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: ctxTimeouts})
		t.Cleanup(func() { _ = rdb.Close() })
		s := redisstore.New(rdb, redisstore.Options{Timeout: timeout})
		for _, c := range storeCalls() {
			t.Run(c.name+"/ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeouts), func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				err := c.call(context.Background(), s)
				elapsed := time.Since(start)
				assert.ErrorIs(t, err, context.DeadlineExceeded)
				assert.GreaterOrEqual(t, elapsed, timeout)
				assert.Less(t, elapsed, timeout+time.Second)
			})
		}
	}

	t.Run("a shorter caller deadline wins", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		s := redisstore.New(rdb, redisstore.Options{Timeout: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		_, err := s.Get(ctx, "abc")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), timeout+time.Second)
	})

	t.Run("default timeout is 2s", func(t *testing.T) {
		t.Parallel()
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		s := redisstore.New(rdb, redisstore.Options{})
		start := time.Now()
		_, err := s.Get(context.Background(), "abc")
		elapsed := time.Since(start)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.GreaterOrEqual(t, elapsed, redisstore.DefaultTimeout)
		assert.Less(t, elapsed, redisstore.DefaultTimeout+time.Second)
	})
}

// TestStoreRedisFailures covers ST-01 at the store level: while Redis is
// down or hung every call fails (Get never reports "no session"), and once
// Redis is back the same client and Store work again.
func TestStoreRedisFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// fail breaks the server; heal repairs it.
		fail, heal func(srv *redistest.Server)
		// kept says whether entries survive.
		kept bool
	}{
		{"stopped and restarted", (*redistest.Server).Stop, (*redistest.Server).Restart, true},
		{"killed and restarted", (*redistest.Server).Kill, (*redistest.Server).Restart, false},
		{"hung and resumed", (*redistest.Server).Pause, (*redistest.Server).Resume, true},
	}
	for _, tt := range tests {
		for _, ctxTimeouts := range []bool{true, false} {
			t.Run(tt.name+"/ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeouts), func(t *testing.T) {
				t.Parallel()
				testRedisFailure(t, tt.fail, tt.heal, tt.kept, ctxTimeouts)
			})
		}
	}
}

// testRedisFailure breaks a fresh server with fail, checks that every call
// fails within the timeout, repairs it with heal, and checks that the same
// Store works again (and whether the entry written before survived).
func testRedisFailure(t *testing.T, fail, heal func(*redistest.Server), kept, ctxTimeouts bool) {
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: ctxTimeouts})
	t.Cleanup(func() { _ = rdb.Close() })
	s := redisstore.New(rdb, redisstore.Options{Timeout: timeout})
	exp := time.Now().Add(time.Hour)
	value := sessionEntry(time.Now(), exp)
	require.NoError(t, s.Set(ctx, "abc", value, exp))

	// The calls below use another id: a write that timed out on a hung
	// server is still applied once it resumes.
	fail(srv)
	for _, c := range storeCalls() {
		start := time.Now()
		err := c.call(ctx, s)
		assert.Error(t, err, c.name)
		assert.Less(t, time.Since(start), timeout+time.Second, c.name)
	}

	heal(srv)
	got, err := s.Get(ctx, "abc")
	require.NoError(t, err)
	if kept {
		assert.Equal(t, string(value), string(got))
	} else {
		assert.Nil(t, got)
	}
	require.NoError(t, s.Set(ctx, "def", value, exp))
	got, err = s.Get(ctx, "def")
	require.NoError(t, err)
	assert.Equal(t, string(value), string(got))
	require.NoError(t, s.Destroy(ctx, "def"))
}

// TestStoreCluster runs the store on a three-node Redis Cluster through
// redis.NewClusterClient, with ids that hash to every node.
func TestStoreCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cluster := redistest.StartCluster(t, 3)
	ctx := context.Background()

	clients := []struct {
		name string
		new  func() redis.UniversalClient
	}{
		{"ClusterClient", func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs(), ContextTimeoutEnabled: true})
		}},
		{"UniversalClient", func() redis.UniversalClient {
			return redis.NewUniversalClient(&redis.UniversalOptions{Addrs: cluster.Addrs(), IsClusterMode: true})
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			rdb := c.new()
			t.Cleanup(func() { _ = rdb.Close() })
			s := redisstore.New(rdb, redisstore.Options{})
			exp := time.Now().Add(time.Hour)
			for i := range 100 {
				id := fmt.Sprintf("%032x", i*7919)
				require.NoError(t, s.Set(ctx, id, fmt.Appendf(nil, `{"id":%q}`, id), exp))
			}
			// The keys are spread over every node.
			for _, n := range cluster.Nodes {
				size, err := n.Do("DBSIZE")
				require.NoError(t, err)
				assert.NotEqual(t, "0", size, "node %s holds no keys", n.Addr())
			}
			for i := range 100 {
				id := fmt.Sprintf("%032x", i*7919)
				got, err := s.Get(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, fmt.Sprintf(`{"id":%q}`, id), string(got))
				require.NoError(t, s.Destroy(ctx, id))
				got, err = s.Get(ctx, id)
				require.NoError(t, err)
				assert.Nil(t, got)
			}
		})
	}
}

// TestUpdateOnlyIfExists: Update never re-creates a destroyed session
// (catalog ST-03).
func TestUpdateOnlyIfExists(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	st := redisstore.New(newClient(t, srv.Addr()), redisstore.Options{})
	var _ oidc.UpdateStore = st
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	ok, err := st.Update(ctx, "gone", []byte(`{}`), exp)
	require.NoError(t, err)
	assert.False(t, ok, "a missing key is not created")
	got, err := st.Get(ctx, "gone")
	require.NoError(t, err)
	assert.Nil(t, got)

	require.NoError(t, st.Set(ctx, "live", []byte(`{"a":1}`), exp))
	ok, err = st.Update(ctx, "live", []byte(`{"a":2}`), exp)
	require.NoError(t, err)
	assert.True(t, ok)
	got, err = st.Get(ctx, "live")
	require.NoError(t, err)
	assert.Equal(t, `{"a":2}`, string(got))
}
