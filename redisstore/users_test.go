package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestUserIndexMembers: the user's set is a sorted set scored by expiry.
// A member whose session is missing (being created: its id is indexed
// before its hash exists) stays through a listing and is listed once its
// session exists; Delete and DeleteMany take the id out; an index written as a plain set
// by an earlier version is listed as it is and converted on the next add.
func TestUserIndexMembers(t *testing.T) {
	client, prefix := redistest.Client(t)
	s := mustNew(t, client, redisstore.Config{Prefix: prefix})
	ctx := t.Context()
	index := prefix + "user:{ada}"
	exp := time.Now().Add(time.Hour)

	// A pending create: indexed, no hash yet.
	if err := client.ZAdd(ctx, index, redisZ(exp, "pending")).Err(); err != nil {
		t.Fatal(err)
	}
	if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != 0 {
		t.Fatalf("UserSessions = %v, %v; want none yet", list, err)
	}
	if err := client.ZScore(ctx, index, "pending").Err(); err != nil {
		t.Fatalf("the listing dropped the pending member: %v", err)
	}
	if err := client.HSet(ctx, s.Key("pending"), "e", exp.UnixMilli(), "c", time.Now().UnixMilli(), "v."+sessionkit.MetaKey, `{"user":"ada"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != 1 {
		t.Fatalf("UserSessions after the hash = %v, %v; want the pending session", list, err)
	}

	// A member whose score has passed is dropped.
	if err := client.ZAdd(ctx, index, redisZ(time.Now().Add(-time.Minute), "dead")).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserSessions(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	if err := client.ZScore(ctx, index, "dead").Err(); err == nil {
		t.Fatal("a member past its score was kept")
	}

	// Delete takes the id out.
	if err := s.Delete(ctx, "pending"); err != nil {
		t.Fatal(err)
	}
	if n := client.ZCard(ctx, index).Val(); n != 0 {
		t.Fatalf("index holds %d members after Delete, want 0", n)
	}
	for _, id := range []string{"m1", "m2"} {
		if err := s.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteMany(ctx, []string{"m1", "m2", "missing"}); err != nil {
		t.Fatal(err)
	}
	if n := client.ZCard(ctx, index).Val(); n != 0 {
		t.Fatalf("index holds %d members after DeleteMany, want 0", n)
	}

	// An index from an earlier version: a plain set.
	if err := client.Del(ctx, index).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "old", sessionkit.Record{Values: bound("ada"), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := client.Del(ctx, index).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.SAdd(ctx, index, "old").Err(); err != nil {
		t.Fatal(err)
	}
	client.PExpireAt(ctx, index, exp)
	if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != 1 {
		t.Fatalf("UserSessions on a plain set = %v, %v; want its session", list, err)
	}
	if err := s.Create(ctx, "new", sessionkit.Record{Values: bound("ada"), Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if typ := client.Type(ctx, index).Val(); typ != "zset" {
		t.Fatalf("index type after an add = %q, want zset", typ)
	}
	if list, err := s.UserSessions(ctx, "ada"); err != nil || len(list) != 2 {
		t.Fatalf("UserSessions after the conversion = %v, %v; want both sessions", list, err)
	}
}

func redisZ(at time.Time, member string) redis.Z {
	return redis.Z{Score: float64(at.UnixMilli()), Member: member}
}
