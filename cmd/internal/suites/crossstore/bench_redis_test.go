package crossstore_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// The same measurements as bench_test.go's, on redisstore and the machine's
// Redis (127.0.0.1:6379); figures in BENCHMARKS.md.

// commandCounter is a go-redis hook counting round trips: one per command,
// one per pipeline.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchRedis returns a manager on redisstore, a counted client and one
// logged-in session.
func benchRedis(b *testing.B) (*sessionkit.Manager, redis.UniversalClient, *redisstore.Store, *commandCounter, *http.Cookie) {
	client, prefix := redistest.Client(b)
	counter := &commandCounter{}
	client.AddHook(counter)
	store, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	m, _ := newManager(b, store, nil)
	return m, client, store, counter, login(b, app(m), "ada")
}

// redisReadHandlers are readHandlers' pair on Redis: bare runs the store's
// own HGETALL with the id it was given.
func redisReadHandlers(m *sessionkit.Manager, client redis.UniversalClient, key string) (bare, read http.Handler) {
	bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := client.HGetAll(r.Context(), key).Err(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(200)
	})
	return bare, readUser(m)
}

func BenchmarkRedisLoggedInRead(b *testing.B) {
	m, client, store, counter, cookie := benchRedis(b)
	bare, read := redisReadHandlers(m, client, store.Key(sessiontest.IDOf(b, cookie)))
	benchReads(b, m, counter.n.Load, []readBench{{"bare", bare, cookie}, {"sessionkit", read, cookie}})
}

func BenchmarkRedisLoggedInReadHTTP(b *testing.B) {
	m, client, store, counter, cookie := benchRedis(b)
	bare, read := redisReadHandlers(m, client, store.Key(sessiontest.IDOf(b, cookie)))
	compareHTTP(b, bare, read, cookie, counter.n.Load)
}

func BenchmarkRedisWriteOneKey(b *testing.B) {
	m, _, _, counter, cookie := benchRedis(b)
	benchWriteOneKey(b, m, cookie, counter.n.Load)
}
