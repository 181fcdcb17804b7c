package redisstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

func TestNewRejectsBadConfig(t *testing.T) {
	client, _ := redistest.Client(t)
	for _, prefix := range []string{"app{x}:", "a}", "{"} {
		if _, err := redisstore.New(client, redisstore.Config{Prefix: prefix}); !errors.Is(err, redisstore.ErrInvalidPrefix) {
			t.Errorf("New(Prefix %q): err = %v, want ErrInvalidPrefix", prefix, err)
		}
	}
	if _, err := redisstore.New(nil, redisstore.Config{}); err == nil {
		t.Error("New(nil client): err = nil, want an error")
	}
	s, err := redisstore.New(client, redisstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Key("abc"), "sessionkit:{"+sessionkit.HashID("abc")+"}"; got != want {
		t.Errorf("zero Config: Key = %q, want %q", got, want)
	}
}

// TestRedisExpiresTheKey checks that the session's expiry is the key's own
// expiry time in Redis (PEXPIREAT), on Create and on every Update that moves
// it, so Redis deletes the session at its absolute end with no pruning.
func TestRedisExpiresTheKey(t *testing.T) {
	for name, client := range deployments() {
		t.Run(name, func(t *testing.T) {
			client, prefix := client(t)
			s := mustNew(t, client, redisstore.Config{Prefix: prefix})
			ctx := t.Context()
			exp := time.Now().Add(90 * time.Minute).Truncate(time.Millisecond)
			if err := s.Create(ctx, "s1", sessionkit.Record{Values: map[string]json.RawMessage{"k": json.RawMessage(`1`)}, Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			checkExpireTime(t, client, s.Key("s1"), exp)
			later := exp.Add(time.Hour)
			if found, err := s.Update(ctx, "s1", sessionkit.Patch{Expiry: later}); err != nil || !found {
				t.Fatalf("Update = %v, %v", found, err)
			}
			checkExpireTime(t, client, s.Key("s1"), later)
			// A patch of values without Expiry keeps the key's expiry time.
			if found, err := s.Update(ctx, "s1", sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}}); err != nil || !found {
				t.Fatalf("Update = %v, %v", found, err)
			}
			checkExpireTime(t, client, s.Key("s1"), later)
			// An expired Create leaves no key behind.
			if err := s.Create(ctx, "dead", sessionkit.Record{Expiry: time.Now().Add(-time.Second)}); err != nil {
				t.Fatal(err)
			}
			if n := client.Exists(ctx, s.Key("dead")).Val(); n != 0 {
				t.Fatalf("an expired session's key exists (%d) after Create", n)
			}
		})
	}
}

func checkExpireTime(t *testing.T, client redis.UniversalClient, key string, want time.Time) {
	t.Helper()
	ms, err := client.PExpireTime(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := time.UnixMilli(ms.Milliseconds()); !got.Equal(want) {
		t.Fatalf("PEXPIRETIME %s = %v, want the session's expiry %v", key, got, want)
	}
}

// TestClusterSpreadsSessions checks that the cluster tests run on a real
// cluster: sessions land on every master, each whole on one of them.
func TestClusterSpreadsSessions(t *testing.T) {
	client, prefix := cluster.Client(t)
	s := mustNew(t, client, redisstore.Config{Prefix: prefix})
	cc := client.(*redis.ClusterClient)
	ctx := t.Context()
	masters := map[string]bool{}
	for i := range 30 {
		id := fmt.Sprintf("spread%02d", i)
		if err := s.Create(ctx, id, sessionkit.Record{Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		node, err := cc.MasterForKey(ctx, s.Key(id))
		if err != nil {
			t.Fatal(err)
		}
		masters[node.Options().Addr] = true
	}
	if len(masters) != len(cluster.Addrs) {
		t.Fatalf("30 sessions landed on %d masters, want all %d: %v", len(masters), len(cluster.Addrs), masters)
	}
}

func TestLoadRefusesForeignHash(t *testing.T) {
	client, prefix := redistest.Client(t)
	s := mustNew(t, client, redisstore.Config{Prefix: prefix})
	if err := client.HSet(t.Context(), s.Key("x"), "v.k", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Load(t.Context(), "x"); err == nil || found {
		t.Fatalf("Load of a hash without an expiry field = %v, %v; want an error", found, err)
	}
}

func TestCreateRefusesInvalidJSON(t *testing.T) {
	client, prefix := redistest.Client(t)
	s := mustNew(t, client, redisstore.Config{Prefix: prefix})
	bad := map[string]json.RawMessage{"k": json.RawMessage(`{oops`)}
	if err := s.Create(t.Context(), "s1", sessionkit.Record{Values: bad, Expiry: time.Now().Add(time.Hour)}); err == nil {
		t.Fatal("Create with invalid JSON: err = nil")
	}
	if n := client.Exists(t.Context(), s.Key("s1")).Val(); n != 0 {
		t.Fatal("a refused Create wrote the key")
	}
}

// deployments names the two Redis deployments a test runs on, each giving a
// client and a fresh key prefix.
func deployments() map[string]func(testing.TB) (redis.UniversalClient, string) {
	return map[string]func(testing.TB) (redis.UniversalClient, string){
		"single":  redistest.Client,
		"cluster": cluster.Client,
	}
}

// TestCountAndDeleteAll: the maintenance walks see exactly the store's
// sessions, on every master, even under a prefix with glob characters, and
// leave another prefix's keys alone.
func TestCountAndDeleteAll(t *testing.T) {
	for name, client := range deployments() {
		t.Run(name, func(t *testing.T) {
			client, prefix := client(t)
			s := mustNew(t, client, redisstore.Config{Prefix: prefix + "a*[b]?:"})
			other := mustNew(t, client, redisstore.Config{Prefix: prefix + "aXbY:"})
			ctx := t.Context()
			exp := time.Now().Add(time.Hour)
			for i := range 20 {
				if err := s.Create(ctx, fmt.Sprint("s", i), sessionkit.Record{Values: bound("ada"), Expiry: exp}); err != nil {
					t.Fatal(err)
				}
			}
			if err := other.Create(ctx, "keep", sessionkit.Record{Values: bound("ada"), Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Count(ctx); err != nil || n != 20 {
				t.Fatalf("Count = %d, %v; want 20", n, err)
			}
			if n, err := s.DeleteAll(ctx); err != nil || n != 20 {
				t.Fatalf("DeleteAll = %d, %v; want 20", n, err)
			}
			if n, err := s.Count(ctx); err != nil || n != 0 {
				t.Fatalf("Count after DeleteAll = %d, %v; want 0", n, err)
			}
			if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != 0 {
				t.Fatalf("UserSessions after DeleteAll = %v, %v; want none", list, err)
			}
			if list, err := other.UserSessions(ctx, "ada"); err != nil || len(list) != 1 {
				t.Fatalf("the other prefix's sessions after DeleteAll = %v, %v; want its one", list, err)
			}
		})
	}
}

// bound returns values bound to user, as Session.Authenticate writes them.
func bound(user string) map[string]json.RawMessage {
	return map[string]json.RawMessage{sessionkit.MetaKey: json.RawMessage(`{"user":"` + user + `"}`)}
}

// TestClusterNodeDown kills one master of a cluster of the test's own (no
// replicas) after sessions were written across all three. Every session on
// the dead master then answers with an error, which the manager turns into
// 503, and no session anywhere answers "not found", which would log its user
// out: the live masters' sessions load until the cluster declares itself
// down (cluster-require-full-coverage, Redis's default), and are errors
// after that.
func TestClusterNodeDown(t *testing.T) {
	t.Parallel()
	c, err := redistest.StartCluster(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	// Few retries and a short dial timeout: each call to the dead master
	// fails in well under a second instead of go-redis's default back-off.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, MaxRetries: -1, MaxRedirects: 1, DialTimeout: 300 * time.Millisecond})
	defer cc.Close()
	s, err := redisstore.New(cc, redisstore.Config{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	onDead := map[string]bool{}
	for i := range 30 {
		id := fmt.Sprintf("s%02d", i)
		if err := s.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		node, err := cc.MasterForKey(ctx, s.Key(id))
		if err != nil {
			t.Fatal(err)
		}
		onDead[id] = node.Options().Addr == c.Addrs[0]
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping with every master up: %v", err)
	}
	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	// The health check asks every master, not whichever node answers.
	for range 5 {
		if err := s.Ping(ctx); err == nil {
			t.Fatal("Ping with a master dead: no error")
		}
	}
	var dead int
	for id, isDead := range onDead {
		_, found, err := s.Load(ctx, id)
		switch {
		case err == nil && !found:
			t.Errorf("Load of %s after a master died: not found and no error, which logs its user out", id)
		case isDead && err == nil:
			t.Errorf("Load of %s on the killed master: found, no error", id)
		case isDead:
			dead++
			if found, err := s.Update(ctx, id, sessionkit.Patch{Set: bound("bob")}); err == nil || found {
				t.Errorf("Update of %s on the killed master = %v, %v; want an error", id, found, err)
			}
		}
	}
	if dead == 0 || dead == len(onDead) {
		t.Fatalf("%d of %d sessions on the killed master; want some, not all", dead, len(onDead))
	}
}
