package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestReplicaAcknowledgement: with Config.Replicas, the writes that must
// not be lost are on a replica when they return, and a write no replica
// acknowledged in time fails with ErrNotReplicated instead of a silent
// success (it is made on the master all the same). On a cluster with a
// replica per master, each write's replica is stalled with DEBUG SLEEP:
// WAIT sent on another connection than the write's, or to another node,
// would count the replicas at once and let the write through.
func TestReplicaAcknowledgement(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := redistest.StartClusterWithReplicas(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := c.NoteReplicas(ctx); err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	defer cc.Close()
	// The machine's Redis has no replica: every acknowledged write fails.
	single, singlePrefix := redistest.Client(t)
	if info := single.Info(ctx, "replication").Val(); !strings.Contains(info, "connected_slaves:0") {
		t.Fatalf("the machine's Redis has replicas; this test needs it without:\n%s", info)
	}

	expiry := time.Now().Add(time.Hour)
	for _, layout := range []redisstore.Layout{redisstore.LayoutNative, redisstore.LayoutConnectRedis} {
		t.Run(fmt.Sprintf("layout %d", layout), func(t *testing.T) {
			// The cluster: acknowledged, then refused while the replica sleeps.
			s, err := redisstore.New(cc, redisstore.Config{Layout: layout, Prefix: redistest.Prefix(t), Replicas: 1, ReplicaTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 6 {
				id := fmt.Sprintf("ack%d", i)
				master, err := cc.MasterForKey(ctx, s.Key(id))
				if err != nil {
					t.Fatal(err)
				}
				replicaAddr := c.ReplicaOf(master.Options().Addr)
				replica := redis.NewClient(&redis.Options{Addr: replicaAddr,
					// A cluster replica answers reads only on a READONLY
					// connection.
					OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }})
				defer replica.Close()
				// probe tells a sleeping replica from an awake one: a
				// PING it cannot answer within its read timeout.
				probe := redis.NewClient(&redis.Options{Addr: replicaAddr, ReadTimeout: 150 * time.Millisecond, MaxRetries: -1})
				defer probe.Close()
				writes := []struct {
					name  string
					write func() error
				}{
					{"create", func() error {
						return s.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: expiry})
					}},
					{"update", func() error {
						_, err := s.Update(ctx, id, sessionkit.Patch{Set: bound("bob")})
						return err
					}},
					{"delete", func() error { return s.Delete(ctx, id) }},
				}
				for _, w := range writes {
					if err := w.write(); err != nil {
						t.Fatalf("%s %s with its replica up: %v", w.name, id, err)
					}
					// WAIT returned: the replica has the write already.
					exists, err := replica.Exists(ctx, s.Key(id)).Result()
					if err != nil {
						t.Fatal(err)
					}
					if want := w.name != "delete"; (exists == 1) != want {
						t.Errorf("%s %s acknowledged, but the replica has the key: %v, want %v", w.name, id, exists, want)
					}
				}
				// Stall the replica: the next write is made on the master
				// and not acknowledged.
				var wg sync.WaitGroup
				wg.Go(func() { replica.Do(context.Background(), "debug", "sleep", "1") })
				// Not a fixed pause: on a loaded machine the sleep may start
				// late, and the write would then be acknowledged.
				poll.Until(t, "the replica to stall", func() bool { return probe.Ping(ctx).Err() != nil })
				err = s.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: expiry})
				wg.Wait()
				if !errors.Is(err, redisstore.ErrNotReplicated) {
					t.Errorf("create %s with its replica stalled: %v, want ErrNotReplicated", id, err)
				}
				if _, found, err := s.Load(ctx, id); err != nil || !found {
					t.Errorf("the unacknowledged create of %s is not on the master: found %v, %v", id, found, err)
				}
			}

			// A server without replicas: every acknowledged write fails,
			// having been made.
			s1, err := redisstore.New(single, redisstore.Config{Layout: layout, Prefix: singlePrefix, Replicas: 1, ReplicaTimeout: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("alone%d", layout)
			if err := s1.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: expiry}); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("create without replicas: %v, want ErrNotReplicated", err)
			}
			if found, err := s1.Update(ctx, id, sessionkit.Patch{Expiry: expiry.Add(time.Minute)}); err != nil || !found {
				t.Errorf("a touch does not wait: %v, %v", found, err)
			}
			if _, err := s1.Update(ctx, id, sessionkit.Patch{Set: bound("bob")}); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("update without replicas: %v, want ErrNotReplicated", err)
			}
			if err := s1.Delete(ctx, id); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("delete without replicas: %v, want ErrNotReplicated", err)
			}
			if _, found, _ := s1.Load(ctx, id); found {
				t.Errorf("the unacknowledged delete was not made")
			}
			if err := s1.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: expiry}); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("create without replicas: %v, want ErrNotReplicated", err)
			}
			if err := s1.DeleteMany(ctx, []string{id, id + "-missing"}); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Errorf("DeleteMany without replicas: %v, want ErrNotReplicated", err)
			}
			if _, found, _ := s1.Load(ctx, id); found {
				t.Errorf("the unacknowledged DeleteMany was not made")
			}
		})
	}
}

// BenchmarkReplicaAck measures what Config.Replicas costs a write: a Create
// and a Delete of one session per iteration, on a cluster of the
// benchmark's own with one replica per master, without and with the wait.
func BenchmarkReplicaAck(b *testing.B) {
	ctx := b.Context()
	c, err := redistest.StartClusterWithReplicas(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	defer cc.Close()
	expiry := time.Now().Add(time.Hour)
	for _, replicas := range []int{0, 1} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			s, err := redisstore.New(cc, redisstore.Config{Prefix: redistest.Prefix(b), Replicas: replicas})
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				id := fmt.Sprintf("b%d", i)
				i++
				if err := s.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: expiry}); err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnacknowledgedDeleteRetried: a Delete no replica acknowledged is a
// log-out a failover could undo. The store that made it treats the session
// as gone, and deletes it again while the window lasts: a session brought
// back (written again under its key, as a promoted replica that never saw
// the delete would) is deleted again. With the window off, neither.
// The machine's Redis has no replica, so every delete goes unacknowledged.
func TestUnacknowledgedDeleteRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
	}{{"window", 0}, {"window off", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			client, prefix := redistest.Client(t)
			s, err := redisstore.New(client, redisstore.Config{Prefix: prefix, Replicas: 1, ReplicaTimeout: 20 * time.Millisecond, RevocationWindow: tc.window})
			if err != nil {
				t.Fatal(err)
			}
			plain, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			rec := sessionkit.Record{Values: bound("ada"), Expiry: time.Now().Add(time.Hour)}
			if err := plain.Create(ctx, "s1", rec); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "s1"); !errors.Is(err, redisstore.ErrNotReplicated) {
				t.Fatalf("Delete: %v, want ErrNotReplicated", err)
			}
			// The failover brings it back.
			if err := plain.Create(ctx, "s1", rec); err != nil {
				t.Fatal(err)
			}
			_, found, err := s.Load(ctx, "s1")
			if err != nil {
				t.Fatal(err)
			}
			// An Update that writes fails unacknowledged; one that finds
			// the session gone writes nothing and reports it missing.
			patched, updateErr := s.Update(ctx, "s1", sessionkit.Patch{Set: bound("bob")})
			if tc.window < 0 {
				if !found || !errors.Is(updateErr, redisstore.ErrNotReplicated) {
					t.Fatalf("window off: Load found %v, Update %v; want the session back and patched", found, updateErr)
				}
				return
			}
			if found || patched || updateErr != nil {
				t.Fatalf("Load found %v, Update %v, %v after an unacknowledged delete; want gone", found, patched, updateErr)
			}
			poll.Until(t, "the session brought back deleted again", func() bool {
				_, found, err := plain.Load(ctx, "s1")
				return err == nil && !found
			})
		})
	}
}
