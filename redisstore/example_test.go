package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openidconnect-go/oidc"
	"github.com/openidconnect-go/oidc/redisstore"
)

// The store for a standalone Redis. ContextTimeoutEnabled lets go-redis
// abandon a connection as soon as the store's timeout expires.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()

	var store oidc.Store = redisstore.New(rdb, redisstore.Options{
		Prefix:  "myapp:sess:",
		Timeout: time.Second,
	})
	// Pass store as the session store in oidc.Config; every instance of the
	// application that uses the same Redis and prefix shares the sessions.
	// The middleware calls the store; it keeps bytes under ids until an
	// expiry, with a Redis TTL.

	ctx := context.Background()
	exp := time.Now().Add(24 * time.Hour)
	if err := store.Set(ctx, "0123abcd", []byte(`{"id":"0123abcd"}`), exp); err != nil {
		log.Fatal(err) // Redis unreachable: fail, do not log anyone out
	}
	b, err := store.Get(ctx, "0123abcd")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
}

// Sentinel: NewFailoverClient follows the primary that the sentinels elect.
// Leave ReplicaOnly and RouteByLatency off so that reads see the latest
// writes.
func ExampleNew_sentinel() {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	_ = redisstore.New(rdb, redisstore.Options{})
}

// Cluster: every operation touches one key, so the ids need no hash tags.
func ExampleNew_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	_ = redisstore.New(rdb, redisstore.Options{})
}

// NewUniversalClient picks a standalone, Sentinel or Cluster client from its
// options, for example from configuration.
func ExampleNew_universal() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	_ = redisstore.New(rdb, redisstore.Options{Prefix: "myapp:"})
}

// Sharing sessions with an express-openid-connect application that uses
// connect-redis: the same Redis and the default "sess:" prefix. Both read
// the entries the other writes.
func ExampleOptions_sharedWithNode() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	_ = redisstore.New(rdb, redisstore.Options{})
}
