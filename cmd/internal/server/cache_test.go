package server_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestSessionCache: serve with SESSION_CACHE on, on every backend (changes
// announced in process on SQLite, by NOTIFY on PostgreSQL, by PUBLISH on
// Redis and a Redis Cluster): a repeated logged-in read is answered from the
// cache, and a log-out, a revocation and a user's removal still end the
// session at once on this instance.
func TestSessionCache(t *testing.T) {
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			configure(&cfg, b.Setup(t))
			cfg.SessionCache = 100
			// Far longer than the test: no entry ages out, so only an
			// announcement can end a cached session.
			cfg.SessionCacheMaxAge = time.Hour
			h := start(t, cfg)
			stats := h.srv.Manager().Stats
			poll.Until(t, "the cache's change feed to come up", func() bool { return stats().CacheUp })
			h.addUser(testEmail, testPassword)

			c := h.login(testEmail, testPassword, nil)
			for range 3 {
				expectStatus(t, h.do("GET", "/api/user", "", c), 200, `{"id":1,"email":"ada@example.com"}`)
			}
			if st := stats(); st.CacheHits < 2 {
				t.Fatalf("stats = %+v: repeated reads did not hit the cache", st)
			}
			expectStatus(t, h.do("POST", "/api/logout", "", c), 200, "")
			expectStatus(t, h.do("GET", "/api/user", "", c), 401, `{"error":"not authenticated"}`)

			phone, laptop := h.login(testEmail, testPassword, nil), h.login(testEmail, testPassword, nil)
			expectStatus(t, h.do("GET", "/api/user", "", phone), 200, "")
			expectStatus(t, h.do("POST", "/api/sessions/revoke-others", "", laptop), 200, "")
			expectStatus(t, h.do("GET", "/api/user", "", phone), 401, "")

			// The announcements of this instance's own changes above may
			// still be on their way; one arriving late would evict the
			// laptop's entry below, and the removal's announcement would
			// go untested. Announcing every session is a barrier once the
			// listener has applied it (flushing the cache, which
			// CacheFlushes counts): PostgreSQL delivers in commit order, and
			// a Redis server in the order it ran the commands; on a
			// cluster each master's announcements reach the subscriber in
			// that master's order, so the barrier is sent from each
			// master in turn.
			barrier := func(announce func() error) {
				t.Helper()
				flushes := stats().CacheFlushes
				if err := announce(); err != nil {
					t.Fatal(err)
				}
				poll.Until(t, "the listener to apply the barrier announcement", func() bool {
					st := stats()
					return st.CacheUp && st.CacheFlushes != flushes
				})
			}
			switch store := h.srv.DB().Sessions().(type) {
			case *pgstore.Store:
				barrier(func() error { return store.AnnounceAll(t.Context()) })
			case *redisstore.Store:
				addrs := []string{redistest.Addr()}
				if b.Name == "redis-cluster" {
					addrs = cluster.Get(t).Addrs
				}
				for _, addr := range addrs {
					barrier(func() error {
						c := redis.NewClient(&redis.Options{Addr: addr})
						defer c.Close()
						return c.Publish(t.Context(), store.Channel(), sessionkit.AllSessionsChanged).Err()
					})
				}
			}
			expectStatus(t, h.do("GET", "/api/user", "", laptop), 200, "")
			hits := stats().CacheHits
			expectStatus(t, h.do("GET", "/api/user", "", laptop), 200, "")
			if st := stats(); st.CacheHits == hits {
				t.Fatalf("stats = %+v: the laptop's session was not cached before the removal", st)
			}
			heard := stats().CacheInvalidations
			if _, err := h.srv.DB().RemoveUser(t.Context(), testEmail); err != nil {
				t.Fatal(err)
			}
			if b.Name != admin.SQLite {
				// The removal's sweep goes through the store, not this
				// instance's manager: it arrives as an announcement.
				poll.Until(t, "the removal's announcement", func() bool { return stats().CacheInvalidations != heard })
			}
			expectStatus(t, h.do("GET", "/api/user", "", laptop), 401, "")
		})
	}
}
