package redisstore_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
)

// newID returns an id as sessionkit makes them.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// writeRaw writes a session bound to ada as the native layout did before
// it hashed ids: under <prefix>{<id>}, with the id itself in ada's index.
func writeRaw(t *testing.T, client redis.UniversalClient, prefix, id string) {
	t.Helper()
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	key := prefix + "{" + id + "}"
	if err := client.HSet(ctx, key, "e", exp.UnixMilli(), "c", time.Now().UnixMilli(),
		"v."+sessionkit.MetaKey, `{"user":"ada"}`, "v.n", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.PExpireAt(ctx, key, exp).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ZAdd(ctx, prefix+"user:{ada}", redisZ(exp, id)).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRawKeysKeepWorking: sessions written before ids were hashed are
// found by their id through every method, listed, and ended by the id a
// listing gives, index member included.
func TestRawKeysKeepWorking(t *testing.T) {
	for name, client := range deployments() {
		t.Run(name, func(t *testing.T) {
			client, prefix := client(t)
			s := mustNew(t, client, redisstore.Config{Prefix: prefix})
			ctx := t.Context()
			id := newID()
			writeRaw(t, client, prefix, id)
			if _, found, err := s.Load(ctx, id); !found || err != nil {
				t.Fatalf("Load: %v, %v", found, err)
			}
			if found, err := s.Update(ctx, id, sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}}); !found || err != nil {
				t.Fatalf("Update: %v, %v", found, err)
			}
			if found, err := s.Update(ctx, id, sessionkit.Patch{}); !found || err != nil {
				t.Fatalf("Update (exists): %v, %v", found, err)
			}
			many, err := s.LoadMany(ctx, []string{id, newID()})
			if err != nil || len(many) != 1 || string(many[id].Values["k"]) != "2" {
				t.Fatalf("LoadMany: %v, %v", many, err)
			}
			list, err := s.UserSessions(ctx, "ada")
			if err != nil || len(list) != 1 || sessionkit.HashID(list[0].ID) != sessionkit.HashID(id) {
				t.Fatalf("UserSessions: %v, %v", list, err)
			}
			if err := s.Delete(ctx, list[0].ID); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := s.Load(ctx, id); found {
				t.Fatal("Delete left the raw key")
			}
			if n := client.ZCard(ctx, prefix+"user:{ada}").Val(); n != 0 {
				t.Fatalf("the index holds %d members after Delete, want 0", n)
			}
		})
	}
}

// TestHashStoredIDs moves raw-keyed sessions while a reader keeps loading
// and patching them: no read or write between the steps misses a session;
// afterwards no key or index member names a raw id, every session is
// still found and listed, and a second run moves nothing.
func TestHashStoredIDs(t *testing.T) {
	for name, client := range deployments() {
		t.Run(name, func(t *testing.T) {
			client, prefix := client(t)
			s := mustNew(t, client, redisstore.Config{Prefix: prefix})
			ctx := t.Context()
			const n = 40
			ids := make([]string, n)
			for i := range ids {
				ids[i] = newID()
				writeRaw(t, client, prefix, ids[i])
			}
			var (
				stop   atomic.Bool
				misses atomic.Int64
				wg     sync.WaitGroup
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					id := ids[i%n]
					if _, found, err := s.Load(ctx, id); !found || err != nil {
						misses.Add(1)
					}
					if found, err := s.Update(ctx, id, sessionkit.Patch{Set: map[string]json.RawMessage{"r": json.RawMessage(`1`)}}); !found || err != nil {
						misses.Add(1)
					}
				}
			}()
			moved, err := s.HashStoredIDs(ctx)
			stop.Store(true)
			wg.Wait()
			if err != nil || moved != n {
				t.Fatalf("HashStoredIDs: %d, %v; want %d", moved, err, n)
			}
			if m := misses.Load(); m != 0 {
				t.Errorf("%d reads or writes missed a session while it was moved", m)
			}
			dump := dumpOf(t, client, prefix)
			for _, id := range ids {
				if strings.Contains(dump, id) {
					t.Fatalf("after HashStoredIDs the dump still holds id %.6s…", id)
				}
				if _, found, err := s.Load(ctx, id); !found || err != nil {
					t.Fatalf("Load after moving: %v, %v", found, err)
				}
			}
			if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != n {
				t.Fatalf("UserSessions: %d, %v; want %d", len(list), err, n)
			}
			if again, err := s.HashStoredIDs(ctx); again != 0 || err != nil {
				t.Fatalf("second HashStoredIDs: %d, %v; want 0", again, err)
			}
		})
	}
}

// TestHashStoredIDsLeavesConnectRedis: connect-redis's keys stay named by
// the id, which Node looks them up by.
func TestHashStoredIDsLeavesConnectRedis(t *testing.T) {
	client, prefix := deployments()["single"](t)
	s := mustNew(t, client, redisstore.Config{Prefix: prefix, Layout: redisstore.LayoutConnectRedis})
	ctx := t.Context()
	if err := s.Create(ctx, "node-id", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.HashStoredIDs(ctx); n != 0 || err != nil {
		t.Fatalf("HashStoredIDs: %d, %v; want 0", n, err)
	}
	if n := client.Exists(ctx, prefix+"node-id").Val(); n != 1 {
		t.Fatal("the connect-redis key is gone")
	}
}
