package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/faultproxy"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// recorder is a sessionkit.ChangeWatcher that notes what it is told:
// "up", "down", "all", or the changed key.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) Changed(key string) { r.add(key) }
func (r *recorder) Up()                { r.add("up") }
func (r *recorder) Down()              { r.add("down") }
func (r *recorder) ChangedAll()        { r.add("all") }

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// watching starts s.WatchChanges with a recorder, waits until it is up, and
// returns the recorder and a stop function that ends the watch and waits
// for WatchChanges to return.
func watching(t *testing.T, s *redisstore.Store) (*recorder, func()) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WatchChanges(ctx, rec)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("WatchChanges did not return once its context ended")
		}
	}
	t.Cleanup(stop)
	poll.Until(t, "the watcher is up", func() bool { return slices.Contains(rec.snapshot(), "up") })
	return rec, stop
}

// TestChangesAnnounced: on both layouts, on a single server and on a
// cluster, every Update that finds its session (patch, expiry rewrite) and
// every Delete announces exactly the session's ChangeKey, and nothing else
// (an existence check, a failed update, a create) announces anything;
// DeleteAll makes watchers forget everything; WatchChanges reports Down and
// returns when its context ends.
func TestChangesAnnounced(t *testing.T) {
	for _, layout := range []struct {
		name   string
		layout redisstore.Layout
	}{{"native", redisstore.LayoutNative}, {"connect-redis", redisstore.LayoutConnectRedis}} {
		for name, client := range deployments() {
			t.Run(layout.name+"/"+name, func(t *testing.T) {
				client, prefix := client(t)
				s := mustNew(t, client, redisstore.Config{Layout: layout.layout, Prefix: prefix})
				ctx := t.Context()
				rec, stop := watching(t, s)
				markers := 0
				// expect checks that what the watcher heard since the last
				// check is want: it publishes a marker from the node that
				// holds id's key (announcements from one node arrive in the
				// order it sent them) and waits for it.
				seen := len(rec.snapshot())
				expect := func(what, id string, want ...string) {
					t.Helper()
					markers++
					marker := fmt.Sprint("marker-", markers)
					if err := publisherOf(t, client, s.Key(id)).Publish(ctx, s.Channel(), marker).Err(); err != nil {
						t.Fatal(err)
					}
					var got []string
					poll.Until(t, "the marker after "+what, func() bool {
						got = rec.snapshot()[seen:]
						return slices.Contains(got, marker)
					})
					seen += len(got)
					got = got[:len(got)-1]
					if !slices.Equal(got, want) {
						t.Fatalf("%s: the watcher heard %q, want %q", what, got, want)
					}
				}
				expect("nothing", "s1")

				exp := time.Now().Add(time.Hour)
				key := sessionkit.ChangeKey("s1")
				if err := s.Create(ctx, "s1", sessionkit.Record{Values: map[string]json.RawMessage{"k": json.RawMessage(`1`)}, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				expect("Create", "s1")
				update := func(id string, p sessionkit.Patch, found bool) {
					t.Helper()
					if got, err := s.Update(ctx, id, p); err != nil || got != found {
						t.Fatalf("Update(%s) = %v, %v; want %v", id, got, err, found)
					}
				}
				update("s1", sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}, Delete: []string{"x"}}, true)
				expect("a patch", "s1", key)
				update("s1", sessionkit.Patch{Expiry: exp.Add(time.Hour)}, true)
				expect("an expiry rewrite", "s1", key)
				update("s1", sessionkit.Patch{}, true)
				expect("an existence check", "s1")
				update("gone", sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`3`)}}, false)
				expect("an update of a missing session", "gone")
				if err := s.Delete(ctx, "s1"); err != nil {
					t.Fatal(err)
				}
				expect("Delete", "s1", key)
				update("s1", sessionkit.Patch{Expiry: exp}, false)
				expect("an expiry rewrite of a deleted session", "s1")
				// A writer that does not announce may have deleted it while
				// watchers still hold it.
				if err := s.Delete(ctx, "s1"); err != nil {
					t.Fatal(err)
				}
				expect("Delete of a missing session", "s1", key)

				// An expiry rewrite into the past deletes, and announces.
				if err := s.Create(ctx, "s2", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				update("s2", sessionkit.Patch{Expiry: time.Now().Add(-time.Second)}, true)
				expect("an expiry rewrite into the past", "s2", sessionkit.ChangeKey("s2"))

				if err := s.Create(ctx, "s3", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				if n, err := s.DeleteAll(ctx); err != nil || n != 1 {
					t.Fatalf("DeleteAll = %d, %v; want 1", n, err)
				}
				// AllSessionsChanged is published from any node: a marker from
				// every master follows it.
				var masters []string
				err := forEachServer(t, client, func(node redis.UniversalClient) error {
					markers++
					marker := fmt.Sprint("marker-", markers)
					masters = append(masters, marker)
					return node.Publish(ctx, s.Channel(), marker).Err()
				})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				poll.Until(t, "the markers after DeleteAll", func() bool {
					got = rec.snapshot()[seen:]
					return !slices.ContainsFunc(masters, func(m string) bool { return !slices.Contains(got, m) })
				})
				seen += len(got)
				got = slices.DeleteFunc(got, func(e string) bool { return slices.Contains(masters, e) })
				if !slices.Equal(got, []string{"all"}) {
					t.Fatalf("DeleteAll: the watcher heard %q, want all (forget everything, stay up)", got)
				}

				stop()
				if got := rec.snapshot()[seen:]; !slices.Equal(got, []string{"down"}) {
					t.Fatalf("at the end of the watch the watcher heard %q, want down", got)
				}
			})
		}
	}
}

// publisherOf returns a client of the server that holds key: on a cluster,
// its master.
func publisherOf(t *testing.T, client redis.UniversalClient, key string) redis.UniversalClient {
	t.Helper()
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		return client
	}
	node, err := cc.MasterForKey(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// forEachServer calls f with a client of each server, one after the other:
// the one server, or every master of a cluster.
func forEachServer(t *testing.T, client redis.UniversalClient, f func(redis.UniversalClient) error) error {
	t.Helper()
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		return f(client)
	}
	var (
		mu    sync.Mutex
		nodes []*redis.Client
	)
	err := cc.ForEachMaster(t.Context(), func(_ context.Context, node *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, node)
		return nil
	})
	for _, node := range nodes {
		if err == nil {
			err = f(node)
		}
	}
	return err
}

// TestWatchChangesResubscribes: when the subscribed connection is closed
// (CLIENT KILL, as a failover or an operator would), the watcher is told
// Down, subscribes again on its own and is told Up, and hears changes
// again; on a cluster, whichever master it was subscribed on.
func TestWatchChangesResubscribes(t *testing.T) {
	const name = "redisstore-test-resubscribes"
	for deployment, c := range map[string]struct {
		client func(testing.TB, string) (redis.UniversalClient, string)
		addrs  func() []string
	}{
		"single":  {redistest.ClientNamed, func() []string { return []string{redistest.Addr()} }},
		"cluster": {cluster.ClientNamed, func() []string { return cluster.Addrs }},
	} {
		t.Run(deployment, func(t *testing.T) {
			client, prefix := c.client(t, name)
			s := mustNew(t, client, redisstore.Config{Prefix: prefix})
			rec, _ := watching(t, s)
			if n, err := redistest.KillPubSub(t.Context(), c.addrs(), name); err != nil || n != 1 {
				t.Fatalf("closed %d subscribed connections (%v), want 1", n, err)
			}
			poll.Until(t, "down, then up again", func() bool {
				return slices.Equal(rec.snapshot(), []string{"up", "down", "up"})
			})
			exp := time.Now().Add(time.Hour)
			if err := s.Create(t.Context(), "s1", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(t.Context(), "s1"); err != nil {
				t.Fatal(err)
			}
			poll.Until(t, "the delete's announcement", func() bool { return len(rec.snapshot()) == 4 })
			if got := rec.snapshot(); got[3] != sessionkit.ChangeKey("s1") {
				t.Fatalf("the watcher heard %q, want s1's change key last", got)
			}
		})
	}
}

// TestWatchChangesNoticesSilence: a subscribed connection that stops
// carrying anything without being closed (a network partition, a host gone)
// is noticed by the PING the watcher sends when it has heard nothing for a
// while: the watcher is told Down, and Up once the path is back.
func TestWatchChangesNoticesSilence(t *testing.T) {
	// Before watching: cleanups run last-in first out, so the watch has
	// stopped when the idle time is restored.
	t.Cleanup(redisstore.SetWatchIdle(200 * time.Millisecond))
	p := faultproxy.New(t, redistest.Addr())
	client := redis.NewClient(&redis.Options{Addr: p.Addr(), DB: redistest.DB()})
	t.Cleanup(func() { client.Close() })
	s := mustNew(t, client, redisstore.Config{Prefix: redistest.Prefix(t)})
	t.Cleanup(p.Thaw) // should the test fail frozen: before DeleteAll
	rec, _ := watching(t, s)
	// after waits for an event e after the first n events and returns its
	// index.
	after := func(n int, e, what string) int {
		t.Helper()
		i := -1
		poll.Until(t, what, func() bool {
			i = slices.Index(rec.snapshot()[n:], e)
			return i >= 0
		})
		return n + i
	}
	frozen := len(rec.snapshot())
	p.Freeze()
	down := after(frozen, "down", "the watcher down while the connection is silent")
	p.Thaw()
	after(down, "up", "the watcher up again once the connection carries again")
	exp := time.Now().Add(time.Hour)
	if err := s.Create(t.Context(), "s1", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "s1"); err != nil {
		t.Fatal(err)
	}
	after(down, sessionkit.ChangeKey("s1"), "the delete's announcement")
}

// TestChangesNeedChannelPermission: a Redis user without the permission to
// publish on the store's channel gets an error from Update and Delete, and
// the session is left as it was: the announcement goes first in each script,
// since Redis does not undo a failing script's earlier writes, and a MULTI
// holding it is refused whole.
func TestChangesNeedChannelPermission(t *testing.T) {
	for name, layout := range map[string]redisstore.Layout{"native": redisstore.LayoutNative, "connect-redis": redisstore.LayoutConnectRedis} {
		t.Run(name, func(t *testing.T) {
			admin, prefix := redistest.Client(t)
			ctx := t.Context()
			user := "sktest-" + prefix[len("sktest:"):len(prefix)-1]
			if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~"+prefix+"*", "+@all", "resetchannels").Err(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", user) })
			client := redis.NewClient(&redis.Options{Addr: redistest.Addr(), DB: redistest.DB(), Username: user, Password: "pw"})
			t.Cleanup(func() { client.Close() })
			s, err := redisstore.New(client, redisstore.Config{Prefix: prefix, Layout: layout})
			if err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Hour)
			if err := s.Create(ctx, "s1", sessionkit.Record{Values: map[string]json.RawMessage{"k": json.RawMessage(`1`)}, Expiry: exp}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(ctx, "s1", sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}}); err == nil {
				t.Fatal("Update without the channel's permission: no error")
			}
			if err := s.Delete(ctx, "s1"); err == nil {
				t.Fatal("Delete without the channel's permission: no error")
			}
			rec, found, err := s.Load(ctx, "s1")
			if err != nil || !found || string(rec.Values["k"]) != "1" {
				t.Fatalf("after the refused Update and Delete: Load = %+v, %v, %v; want the session unchanged", rec, found, err)
			}
		})
	}
}

// TestNoAnnounce: a store with Config.NoAnnounce changes sessions as any
// other (patch, delete, DeleteAll) and announces none of it, on both
// layouts, on a single server and on a cluster: a watcher on the same
// channel hears only the marker published after the writes.
func TestNoAnnounce(t *testing.T) {
	for _, layout := range []redisstore.Layout{redisstore.LayoutNative, redisstore.LayoutConnectRedis} {
		for name, client := range deployments() {
			t.Run(fmt.Sprintf("layout %d/%s", layout, name), func(t *testing.T) {
				client, prefix := client(t)
				quiet := mustNew(t, client, redisstore.Config{Layout: layout, Prefix: prefix, NoAnnounce: true})
				watched := mustNew(t, client, redisstore.Config{Layout: layout, Prefix: prefix})
				ctx := t.Context()
				rec, _ := watching(t, watched)
				seen := len(rec.snapshot())
				exp := time.Now().Add(time.Hour)
				if err := quiet.Create(ctx, "s1", sessionkit.Record{Values: map[string]json.RawMessage{"k": json.RawMessage(`1`)}, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				if found, err := quiet.Update(ctx, "s1", sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}, Expiry: exp.Add(time.Hour)}); err != nil || !found {
					t.Fatalf("Update = %v, %v", found, err)
				}
				if rec, found, err := watched.Load(ctx, "s1"); err != nil || !found || string(rec.Values["k"]) != "2" {
					t.Fatalf("the patch was not made: %v %v %s", found, err, rec.Values["k"])
				}
				if err := quiet.Delete(ctx, "s1"); err != nil {
					t.Fatal(err)
				}
				if _, found, _ := watched.Load(ctx, "s1"); found {
					t.Fatal("the delete was not made")
				}
				if err := quiet.Create(ctx, "s2", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: exp}); err != nil {
					t.Fatal(err)
				}
				if n, err := quiet.DeleteAll(ctx); err != nil || n != 1 {
					t.Fatalf("DeleteAll = %d, %v", n, err)
				}
				// Markers from the node of s1's key and from every master
				// come after anything the writes could have announced.
				var markers []string
				err := forEachServer(t, client, func(node redis.UniversalClient) error {
					markers = append(markers, fmt.Sprint("marker-", len(markers)))
					return node.Publish(ctx, watched.Channel(), markers[len(markers)-1]).Err()
				})
				if err == nil {
					markers = append(markers, "marker-key")
					err = publisherOf(t, client, watched.Key("s1")).Publish(ctx, watched.Channel(), "marker-key").Err()
				}
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				poll.Until(t, "the markers", func() bool {
					got = rec.snapshot()[seen:]
					return !slices.ContainsFunc(markers, func(m string) bool { return !slices.Contains(got, m) })
				})
				if got = slices.DeleteFunc(got, func(e string) bool { return slices.Contains(markers, e) }); len(got) != 0 {
					t.Fatalf("a NoAnnounce store's writes were heard: %q", got)
				}
			})
		}
	}
}

// BenchmarkAnnounce measures what the change announcements cost a patch
// (one session, one value) on a single server and on the package's
// three-master cluster, where each PUBLISH is copied to every node:
// announced, and with Config.NoAnnounce.
func BenchmarkAnnounce(b *testing.B) {
	for name, client := range deployments() {
		for _, quiet := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/NoAnnounce=%v", name, quiet), func(b *testing.B) {
				client, prefix := client(b)
				s, err := redisstore.New(client, redisstore.Config{Prefix: prefix, NoAnnounce: quiet})
				if err != nil {
					b.Fatal(err)
				}
				ctx := b.Context()
				if err := s.Create(ctx, "s", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
				p := sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`1`)}}
				for b.Loop() {
					if _, err := s.Update(ctx, "s", p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
