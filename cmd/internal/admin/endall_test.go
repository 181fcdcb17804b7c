package admin_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestEndAllSessionsReachesCaches: `sessionkit users revoke --all`, run in
// its own process against PostgreSQL, or with the sessions in Redis, empties
// the session cache of a running server, so the sessions it ended are
// refused there once the announcement arrived, not only after the cache's
// maximum age.
func TestEndAllSessionsReachesCaches(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		_, url := pgtest.Schema(t)
		testEndAllSessionsReachesCaches(t, admin.Config{DatabaseURL: url, PruneInterval: -1})
	})
	t.Run("redis", func(t *testing.T) {
		_, url := pgtest.Schema(t)
		_, prefix := redistest.Client(t)
		testEndAllSessionsReachesCaches(t, admin.Config{DatabaseURL: url, PruneInterval: -1, RedisURL: redistest.URL(), RedisPrefix: prefix})
	})
}

func testEndAllSessionsReachesCaches(t *testing.T, cfg admin.Config) {
	server, operator := open(t, cfg), open(t, cfg)
	if err := operator.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	m, err := sessionkit.New(sessionkit.Config{
		Store:   server.Sessions(),
		Secrets: []string{"a secret of at least thirty-two bytes for the test"},
		// so that only the announcement can empty the cache
		Logger: slog.New(slog.DiscardHandler),
		Cache:  sessionkit.CacheConfig{Entries: 10, MaxAge: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if r.Method == http.MethodPost {
			if err := s.Put("user", "ada"); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
			return
		}
		if name, err := s.GetString("user"); err != nil || name == "" {
			http.Error(w, "logged out", http.StatusUnauthorized)
		}
	}))
	do := func(method string, c *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "https://example.com/", nil)
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
		}
	}
	waitFor("the cache's change feed is up", func() bool { return m.Stats().CacheUp })

	w := do(http.MethodPost, nil)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusOK || len(cookies) != 1 {
		t.Fatalf("log-in: %d %q, %d cookies", w.Code, w.Body.String(), len(cookies))
	}
	cookie := cookies[0]
	for range 2 { // a miss that fills the cache, then a hit
		if w := do(http.MethodGet, cookie); w.Code != http.StatusOK {
			t.Fatalf("read before revoke: %d %q", w.Code, w.Body.String())
		}
	}
	if st := m.Stats(); st.CacheHits == 0 || st.CacheEntries != 1 {
		t.Fatalf("stats before revoke = %+v, want the session cached and read from the cache", st)
	}

	n, err := operator.EndAllSessions(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("EndAllSessions = %d, %v; want 1 session ended", n, err)
	}
	waitFor("the server's cache hears of the revocation", func() bool {
		st := m.Stats()
		return st.CacheUp && st.CacheEntries == 0
	})
	if w := do(http.MethodGet, cookie); w.Code != http.StatusUnauthorized {
		t.Fatalf("read after revoke --all: %d %q, want 401", w.Code, w.Body.String())
	}
}
