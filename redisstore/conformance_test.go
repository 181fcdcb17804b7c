package redisstore_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
	"github.com/sessionkit/sessionkit/storetest"
)

// cluster is the package's three-master Redis Cluster, started once in
// TestMain and shared by every test through per-test key prefixes.
var cluster *redistest.Cluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	c, err := redistest.StartCluster(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisstore tests need a Redis Cluster:", err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

// TestConformance runs storetest on both layouts, each on a single Redis
// and on the three-master cluster.
func TestConformance(t *testing.T) {
	for _, layout := range []struct {
		name      string
		layout    redisstore.Layout
		noCreated bool
	}{{"native", redisstore.LayoutNative, false}, {"connect-redis", redisstore.LayoutConnectRedis, true}} {
		for name, client := range deployments() {
			t.Run(layout.name+"/"+name, func(t *testing.T) {
				storetest.Run(t, storetest.Suite{
					New: func(t *testing.T) sessionkit.Store {
						client, prefix := client(t)
						s := mustNew(t, client, redisstore.Config{Layout: layout.layout, Prefix: prefix})
						clients.Store(s, dumpTarget{client, prefix})
						return s
					},
					ExpiresItself: true,
					NoCreated:     layout.noCreated,
					Dump:          dumpRedis,
					// connect-redis looks sessions up by the id itself.
					RawIDs: layout.layout == redisstore.LayoutConnectRedis,
				})
			})
		}
	}
}

// mustNew returns a store on client. When the test ends, DeleteAll removes
// its sessions and user sets, which in connect-redis's layout live outside
// the test's key prefix that redistest cleans up; cleanups run last-in first
// out, so the client is still open then.
func mustNew(t *testing.T, client redis.UniversalClient, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := s.DeleteAll(context.Background()); err != nil {
			t.Errorf("delete the test's sessions: %v", err)
		}
	})
	return s
}

// clients maps each store the suites made to its client and key prefix,
// for dumpRedis.
var clients sync.Map

type dumpTarget struct {
	client redis.UniversalClient
	prefix string
}

// dumpRedis is storetest's Suite.Dump: every key holding the test's
// prefix (sessions, and user indexes, which connect-redis's layout keeps
// under another prefix), with its contents, on every master.
func dumpRedis(t *testing.T, st sessionkit.Store) string {
	v, ok := clients.Load(st)
	if !ok {
		t.Fatal("no client recorded for the store")
	}
	d := v.(dumpTarget)
	return dumpOf(t, d.client, d.prefix)
}

// dumpOf is every key holding prefix on client, with its contents.
func dumpOf(t *testing.T, client redis.UniversalClient, prefix string) string {
	var (
		mu sync.Mutex
		b  strings.Builder
	)
	dumpNode := func(ctx context.Context, node redis.UniversalClient) error {
		iter := node.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			var val any
			var err error
			switch typ := node.Type(ctx, key).Val(); typ {
			case "hash":
				val, err = node.HGetAll(ctx, key).Result()
			case "zset":
				val, err = node.ZRangeWithScores(ctx, key, 0, -1).Result()
			case "set":
				val, err = node.SMembers(ctx, key).Result()
			case "string":
				val, err = node.Get(ctx, key).Result()
			default:
				val = typ
			}
			if err != nil {
				return err
			}
			mu.Lock()
			fmt.Fprintln(&b, key, val)
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, node *redis.Client) error { return dumpNode(ctx, node) })
	} else {
		err = dumpNode(t.Context(), client)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
