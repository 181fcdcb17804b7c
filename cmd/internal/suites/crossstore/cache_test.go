package crossstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
	"github.com/sessionkit/sessionkit/storetest"
)

// cached returns a manager with the session cache on over store, closed at
// the end of the test, once its change feed is up.
func cached(t *testing.T, store sessionkit.Store, edit func(*sessionkit.Config)) *sessionkit.Manager {
	t.Helper()
	m, _ := newManager(t, store, func(c *sessionkit.Config) {
		c.Cache.Entries = 100
		if edit != nil {
			edit(c)
		}
	})
	t.Cleanup(m.Close)
	poll.Until(t, "the cache's change feed is up", func() bool { return m.Stats().CacheUp })
	return m
}

func expectUser(t *testing.T, h http.Handler, c *http.Cookie, code int) {
	t.Helper()
	if w := do(h, "GET", "/user", c); w.Code != code {
		t.Fatalf("GET /user = %d %q, want %d", w.Code, w.Body.String(), code)
	}
}

// TestCacheNeedsChangeFeed: a cache that would hear of no log-out is refused.
func TestCacheNeedsChangeFeed(t *testing.T) {
	_, err := sessionkit.New(sessionkit.Config{Store: noFeed{memstore.New(memstore.Config{})}, Secrets: []string{sessiontest.SecretA}, Cache: sessionkit.CacheConfig{Entries: 10}})
	if !errors.Is(err, sessionkit.ErrNoChangeFeed) {
		t.Fatalf("New = %v, want ErrNoChangeFeed", err)
	}
}

type noFeed struct{ sessionkit.Store }

// TestCacheAcrossInstances: two managers (instances) with their own caches
// on one store. A cached read makes no store call; a log-out, a patch and a
// revocation on one instance reach the other's cache through the store's
// change feed: in process on memstore, by NOTIFY on PostgreSQL, by PUBLISH
// on Redis and on a Redis Cluster.
func TestCacheAcrossInstances(t *testing.T) {
	stores := map[string]func(t *testing.T) sessionkit.Store{
		"memstore": func(t *testing.T) sessionkit.Store { return memstore.New(memstore.Config{}) },
		"postgres": func(t *testing.T) sessionkit.Store { s, _ := pgStore(t); return s.Store },
		"redis":    func(t *testing.T) sessionkit.Store { s, _ := redisStore(t, false, ""); return s },
		"cluster":  func(t *testing.T) sessionkit.Store { s, _ := redisStore(t, true, ""); return s },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			counter := &storetest.Counter{Store: open(t)}
			a, b := cached(t, counter, nil), cached(t, counter, nil)
			ha, hb := app(a), app(b)

			c := login(t, ha, "ada")
			expectUser(t, hb, c, 200)
			loads := counter.Loads.Load()
			for range 3 {
				expectUser(t, hb, c, 200)
			}
			if got := counter.Loads.Load() - loads; got != 0 {
				t.Fatalf("cached reads made %d store loads, want 0", got)
			}
			if st := b.Stats(); st.CacheHits != 3 || st.CacheEntries != 1 {
				t.Fatalf("stats = %+v, want 3 hits and 1 entry", st)
			}

			// A patch on a: b reads the new value once told.
			heard := b.Stats().CacheInvalidations
			if w := do(ha, "POST", "/put?k=color&v=blue", c); w.Code != 200 {
				t.Fatalf("put: %d", w.Code)
			}
			poll.Until(t, "b hears of the patch", func() bool { return b.Stats().CacheInvalidations > heard })
			if w := do(hb, "GET", "/get?k=color", c); w.Body.String() != "blue" {
				t.Fatalf("b reads color %q after a's patch", w.Body.String())
			}

			// A log-out on a: refused by b once told.
			expectUser(t, hb, c, 200)
			heard = b.Stats().CacheInvalidations
			if w := do(ha, "POST", "/logout", c); w.Code != 200 {
				t.Fatalf("logout: %d", w.Code)
			}
			poll.Until(t, "b hears of the log-out", func() bool { return b.Stats().CacheInvalidations > heard })
			expectUser(t, hb, c, 401)
		})
	}
}

// TestCacheBounds: the cache holds at most CacheEntries sessions, serves an
// entry no longer than Cache.MaxAge, and never past the session's expiry.
func TestCacheBounds(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		m := cached(t, memstore.New(memstore.Config{}), func(c *sessionkit.Config) { c.Cache.Entries = 2 })
		h := app(m)
		for i := range 5 {
			expectUser(t, h, login(t, h, fmt.Sprint("user", i)), 200)
		}
		if n := m.Stats().CacheEntries; n != 2 {
			t.Fatalf("%d entries, want 2", n)
		}
	})
	t.Run("max age", func(t *testing.T) {
		counter := &storetest.Counter{Store: memstore.New(memstore.Config{})}
		m := cached(t, counter, func(c *sessionkit.Config) { c.Cache.MaxAge = time.Nanosecond })
		h := app(m)
		c := login(t, h, "ada")
		expectUser(t, h, c, 200)
		loads := counter.Loads.Load()
		expectUser(t, h, c, 200)
		if counter.Loads.Load() == loads || m.Stats().CacheHits != 0 {
			t.Fatalf("an entry older than Cache.MaxAge was served: %+v", m.Stats())
		}
	})
	t.Run("expiry", func(t *testing.T) {
		const lifetime = 500 * time.Millisecond
		m := cached(t, memstore.New(memstore.Config{}), func(c *sessionkit.Config) { c.Expiry.Lifetime = lifetime })
		h := app(m)
		// The session must be read (and cached) before it expires; on a
		// loaded machine the read may come too late, and a new session
		// is tried rather than a timing assumed.
		var c *http.Cookie
		var read time.Time
		for try := 0; ; try++ {
			start := time.Now()
			c = login(t, h, "ada")
			w := do(h, "GET", "/user", c)
			if read = time.Now(); read.Sub(start) < lifetime {
				if w.Code != 200 || m.Stats().CacheEntries == 0 {
					t.Fatalf("GET /user before expiry = %d, stats %+v; want 200 and the session cached", w.Code, m.Stats())
				}
				break
			}
			if try == 20 {
				t.Fatalf("no read within %s of a log-in in %d tries", lifetime, try)
			}
		}
		// Expired by now, however long the log-in and the read took.
		time.Sleep(time.Until(read.Add(lifetime + 10*time.Millisecond)))
		expectUser(t, h, c, 401)
	})
}

// TestCacheListenerKilled: closing the connection the change feed listens
// on (as a failover or an operator would: pg_terminate_backend of the
// LISTENing backend on PostgreSQL, CLIENT KILL of the subscribed connection
// on Redis, on every master of a cluster) makes the cache bypass the store
// until the feed reconnects, and the reconnection flushes what was cached,
// since changes made meanwhile were not heard of.
func TestCacheListenerKilled(t *testing.T) {
	// Each backend gives a store and a way to close its listeners, which
	// reports how many it closed.
	backends := map[string]func(t *testing.T) (sessionkit.Store, func() (int, error)){
		"postgres": func(t *testing.T) (sessionkit.Store, func() (int, error)) {
			counter, pool := pgStore(t)
			return counter.Store, func() (int, error) {
				channel, err := counter.Store.(*pgstore.Store).Channel(context.Background())
				if err != nil {
					return 0, err
				}
				var killed int
				err = pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE application_name = $1 AND query = 'LISTEN "' || $2 || '"'`, pgstore.ListenerApplicationName, channel).Scan(&killed)
				return killed, err
			}
		},
		"redis":   redisKillable(false),
		"cluster": redisKillable(true),
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			store, kill := open(t)
			a, b := cached(t, store, nil), cached(t, store, nil)
			ha, hb := app(a), app(b)
			c, untouched := login(t, ha, "ada"), login(t, ha, "eve")
			expectUser(t, hb, c, 200)
			expectUser(t, hb, c, 200)
			expectUser(t, hb, untouched, 200)
			if st := b.Stats(); st.CacheEntries != 2 || st.CacheHits != 1 {
				t.Fatalf("stats = %+v, want both sessions cached", st)
			}
			bypassed := b.Stats().CacheBypassed
			if killed, err := kill(); err != nil || killed != 2 {
				t.Fatalf("closed %d listeners (%v), want 2 (one per instance)", killed, err)
			}
			// A log-out on a while the listeners may be down: b must
			// refuse the session once its listener is back, whether it
			// heard of the log-out or flushed its cache on reconnecting.
			if w := do(ha, "POST", "/logout", c); w.Code != 200 {
				t.Fatalf("logout: %d", w.Code)
			}
			poll.Until(t, "b's cache bypassed", func() bool { return b.Stats().CacheBypassed > bypassed })
			poll.Until(t, "b's listener back", func() bool { return b.Stats().CacheUp })
			if st := b.Stats(); st.CacheEntries != 0 {
				t.Fatalf("stats = %+v: the reconnection did not flush the cache (eve's session is still there)", st)
			}
			expectUser(t, hb, c, 401)
			// And the cache works again.
			c = login(t, ha, "bob")
			expectUser(t, hb, c, 200)
			hits := b.Stats().CacheHits
			expectUser(t, hb, c, 200)
			if b.Stats().CacheHits != hits+1 {
				t.Fatalf("no cache hit after the reconnection: %+v", b.Stats())
			}
		})
	}
}

// redisKillable returns a Redis store (on the machine's server, or on the
// package's cluster) and a way to close its subscribed connections.
func redisKillable(onCluster bool) func(t *testing.T) (sessionkit.Store, func() (int, error)) {
	return func(t *testing.T) (sessionkit.Store, func() (int, error)) {
		name := redistest.Prefix(t) // unique to this test
		store, addrs := redisStore(t, onCluster, name)
		return store, func() (int, error) { return redistest.KillPubSub(context.Background(), addrs, name) }
	}
}
