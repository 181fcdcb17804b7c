package reliability

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// sessionRedis is where a database's sessions live when they are in Redis
// (REDIS_URL): the machine's Redis, under a prefix of the test's own.
type sessionRedis struct {
	client redis.UniversalClient
	prefix string
	// url is the instances' REDIS_URL; "" for the machine's Redis.
	url string
}

// newRedisDatabase is newDatabase with the sessions in Redis: users in the
// PostgreSQL schema, sessions under a fresh key prefix, both cleaned up when
// t ends.
func newRedisDatabase(t *testing.T) *database {
	t.Helper()
	db := newDatabase(t)
	client, prefix := redistest.Client(t)
	db.redis = &sessionRedis{client: client, prefix: prefix}
	return db
}

// env adds the Redis settings to an instance's environment.
func (r *sessionRedis) env(env map[string]string) {
	env["REDIS_URL"] = redistest.URL()
	if r.url != "" {
		env["REDIS_URL"] = r.url
	}
	env["REDIS_PREFIX"] = r.prefix
}

// sessionIDs is database.sessionIDs for sessions in Redis: every session
// key under the prefix, and the userId its hash holds.
func (r *sessionRedis) sessionIDs(t *testing.T) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	for _, key := range r.keys(t) {
		sid := strings.TrimSuffix(strings.TrimPrefix(key, r.prefix+"{"), "}")
		v, err := r.client.HGet(ctx, key, "v.userId").Result()
		if err != nil && err != redis.Nil {
			t.Fatalf("read session %.6s…: %v", sid, err)
		}
		uid, _ := strconv.ParseInt(v, 10, 64)
		ids[sessionkit.HashID(sid)] = uid
	}
	return ids
}

// keys returns every session key under the prefix, from every master of a
// cluster.
func (r *sessionRedis) keys(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, r.prefix+"{*", 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			keys = append(keys, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, r.client)
	}
	if err != nil {
		t.Fatalf("scan sessions: %v", err)
	}
	return keys
}

// sessions is database.sessions for sessions in Redis: the number of session
// keys and a digest of every session's fields and expiry time.
func (r *sessionRedis) sessions(t *testing.T) tableState {
	t.Helper()
	ctx := context.Background()
	keys := r.keys(t)
	sort.Strings(keys)
	h := md5.New()
	for _, k := range keys {
		fields, err := r.client.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatalf("read session: %v", err)
		}
		names := make([]string, 0, len(fields))
		for f := range fields {
			names = append(names, f)
		}
		sort.Strings(names)
		fmt.Fprintf(h, "%s|", k)
		for _, f := range names {
			fmt.Fprintf(h, "%s=%s|", f, fields[f])
		}
		fmt.Fprintf(h, "%d\n", r.client.PExpireTime(ctx, k).Val())
	}
	return tableState{rows: len(keys), digest: hex.EncodeToString(h.Sum(nil))}
}
