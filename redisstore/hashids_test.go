package redisstore_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/storetest"
)

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
			for _, batch := range []bool{false, true} {
				id := storetest.NewID()
				writeRaw(t, client, prefix, id)
				storetest.RawIDSession(t, s, id, "ada", batch)
				if n := client.ZCard(t.Context(), prefix+"user:{ada}").Val(); n != 0 {
					t.Fatalf("the index holds %d members after deleting (batch %v), want 0", n, batch)
				}
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
				ids[i] = storetest.NewID()
				writeRaw(t, client, prefix, ids[i])
			}
			storetest.HashStoredIDs(t, s, ids, s.HashStoredIDs)
			dump := dumpOf(t, client, prefix)
			for _, id := range ids {
				if strings.Contains(dump, id) {
					t.Fatalf("after HashStoredIDs the dump still holds id %.6s…", id)
				}
			}
			if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != n {
				t.Fatalf("UserSessions: %d, %v; want %d", len(list), err, n)
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
