package redisstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestFollowClusterFailover kills a master of a cluster with replicas after
// sessions were written (and replicated) across all three masters. Once
// Redis has promoted the replica, every session loads again through the
// same client within seconds, and none ever answers "not found". Without
// FollowClusterFailover the client keeps asking the dead address until its
// slot map is a minute old, and the poll below gives up.
func TestFollowClusterFailover(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := redistest.StartClusterWithReplicas(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	redisstore.FollowClusterFailover(cc)
	defer cc.Close()
	s, err := redisstore.New(cc, redisstore.Config{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := masters[0]
	var ids []string
	onVictim := 0
	for i := range 30 {
		id := fmt.Sprintf("s%02d", i)
		if err := s.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		node, err := cc.MasterForKey(ctx, s.Key(id))
		if err != nil {
			t.Fatal(err)
		}
		if node.Options().Addr == victim {
			onVictim++
		}
		ids = append(ids, id)
	}
	if onVictim == 0 {
		t.Fatalf("no session on %s", victim)
	}
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.KillAddr(victim); err != nil {
		t.Fatal(err)
	}
	// Ask while Redis fails over, as requests would.
	for _, id := range ids {
		if _, found, err := s.Load(ctx, id); err == nil && !found {
			t.Fatalf("Load of %s during the failover: not found and no error", id)
		}
	}
	if _, err := c.WaitFailover(ctx, victim); err != nil {
		t.Fatal(err)
	}
	// The bound is the acceptance (every read works again within
	// 10 s of the promotion), far from go-redis's own 60 s reload.
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			_, found, err := s.Load(ctx, id)
			if err == nil && !found {
				t.Fatalf("Load of %s after the failover: not found", id)
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Load of %s still fails 10 s after the promotion: %v", id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
