package redisstore_test

import (
	"context"
	"fmt"
	"os"
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
						return mustNew(t, client, redisstore.Config{Layout: layout.layout, Prefix: prefix})
					},
					ExpiresItself: true,
					NoCreated:     layout.noCreated,
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
