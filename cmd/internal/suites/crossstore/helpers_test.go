package crossstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
	"github.com/sessionkit/sessionkit/sqlitestore"
	"github.com/sessionkit/sessionkit/storetest"
)

// The helpers these tests share with the root package's tests are written
// once, in sessiontest; the five every test here calls keep the short names
// they had when these tests lived in the root package.
var (
	newManager    = sessiontest.NewManager
	app           = sessiontest.App
	do            = sessiontest.Do
	login         = sessiontest.Login
	sessionCookie = sessiontest.SessionCookie
)

// pgStore returns a PostgreSQL store on a fresh schema, and the pool to
// inspect the table with.
func pgStore(t testing.TB) (*storetest.Counter, *pgxpool.Pool) {
	t.Helper()
	_, pool := pgtest.Pool(t)
	st, err := pgstore.New(context.Background(), pool, pgstore.Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &storetest.Counter{Store: st}, pool
}

// redisStore returns a Redis store under a fresh key prefix, on the
// machine's server or, with onCluster, on the package's cluster, whose
// connections are named name (redistest.KillPubSub finds them by it), and
// the addresses of the servers holding its data.
func redisStore(t testing.TB, onCluster bool, name string) (*redisstore.Store, []string) {
	t.Helper()
	var (
		client redis.UniversalClient
		prefix string
		addrs  = []string{redistest.Addr()}
	)
	if onCluster {
		c := cluster.Get(t)
		client, prefix = c.ClientNamed(t, name)
		addrs = c.Addrs
	} else {
		client, prefix = redistest.ClientNamed(t, name)
	}
	st, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return st, addrs
}

// cluster is the package's Redis Cluster, started by the first test that
// asks for it and stopped by TestMain.
var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func rowCount(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM sessions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// realStores are the stores every cross-store test runs on; a test adds
// Redis where its behaviour reaches it.
func realStores() map[string]func(t *testing.T) *storetest.Counter {
	return map[string]func(t *testing.T) *storetest.Counter{
		"memstore": func(t *testing.T) *storetest.Counter { return sessiontest.MemStore(t) },
		"sqlitestore": func(t *testing.T) *storetest.Counter {
			st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), sqlitestore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return &storetest.Counter{Store: st}
		},
		"pgstore": func(t *testing.T) *storetest.Counter { st, _ := pgStore(t); return st },
	}
}
