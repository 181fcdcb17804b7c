package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/internal/testkit/faultproxy"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// limitStores open, for one test, each store the log-in limits can be
// shared through (nil: in memory only), from dbURL's address, or from a
// proxy's when via is given.
var limitStores = []struct {
	name string
	open func(t *testing.T, via func(addr string) string) *admin.DB
}{
	{"memory", nil},
	{"postgres", func(t *testing.T, via func(string) string) *admin.DB {
		_, dbURL := pgtest.Schema(t)
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		if via != nil {
			u.Host = via(u.Host)
			q := u.Query()
			q.Set("connect_timeout", "2")
			u.RawQuery = q.Encode()
		}
		db := openLimitDB(t, admin.Config{DatabaseURL: u.String()})
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		return db
	}},
	{"redis", func(t *testing.T, via func(string) string) *admin.DB {
		_, prefix := redistest.Client(t) // deletes the prefix's keys at the end
		addr, query := redistest.Addr(), ""
		if via != nil {
			addr, query = via(addr), "?dial_timeout=2s&max_retries=-1"
		}
		return openLimitDB(t, admin.Config{RedisURL: "redis://" + addr + query, RedisPrefix: prefix})
	}},
}

func openLimitDB(t *testing.T, cfg admin.Config) *admin.DB {
	t.Helper()
	cfg.DataDir, cfg.PruneInterval = t.TempDir(), -1
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := admin.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// clockedCount is a count of 3 attempts in 10 minutes on shared (nil: in
// memory only), timed by *now, reporting store failures to failed.
func clockedCount(shared admin.LimitCounts, now *time.Time, failed func(error)) *loginCount {
	l := newLimiter(10*time.Minute, 3)
	l.now = func() time.Time { return *now }
	return &loginCount{local: l, shared: shared, failed: failed}
}

// TestLoginCountOnEachStore: a count behaves as limiter does (sliding
// window, attempts counted from acquire, release once, note past the
// limit, reset) on each store, and on a shared store three instances'
// counts are one: a limit of 3 is 3 attempts in all, whichever instance
// takes them.
func TestLoginCountOnEachStore(t *testing.T) {
	for _, st := range limitStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			var shared admin.LimitCounts
			if st.open != nil {
				shared = st.open(t, nil).LoginLimits()
			}
			now := time.Now().Truncate(time.Second)
			step := func(d time.Duration) { now = now.Add(d) }
			newCount := func() *loginCount {
				return clockedCount(shared, &now, func(err error) { t.Errorf("store call failed: %v", err) })
			}
			c := newCount()
			in := []*loginCount{c, c, c}
			if shared != nil {
				in = []*loginCount{c, newCount(), newCount()}
			}
			ctx, k := t.Context(), keyOf("t", "k")
			expectWait := func(i int, want time.Duration, what string) {
				t.Helper()
				if w := in[i].wait(ctx, k); w != want {
					t.Fatalf("%s: instance %d waits %v, want %v", what, i, w, want)
				}
			}

			var releases []func()
			for i := range 3 { // at 0, 1 and 2 minutes
				release, w := in[i].acquire(ctx, k)
				if release == nil || w != 0 {
					t.Fatalf("attempt %d under the limit refused: %v", i+1, w)
				}
				releases = append(releases, release)
				step(time.Minute)
			}
			for i := range in {
				if release, w := in[i].acquire(ctx, k); release != nil || w != 7*time.Minute {
					t.Fatalf("a fourth attempt on instance %d: let through %v, wait %v; want refused for 7m", i, release != nil, w)
				}
			}
			if w := in[2].wait(ctx, keyOf("t", "other")); w != 0 {
				t.Fatalf("another key waits %v", w)
			}
			releases[2]()
			releases[2]() // once only
			expectWait(0, 0, "after one release")
			if release, w := in[0].acquire(ctx, k); release == nil || w != 0 { // at 3 minutes
				t.Fatalf("refused after a release: %v", w)
			}
			expectWait(1, 7*time.Minute, "full again")
			step(7 * time.Minute) // the attempt at 0 leaves the window
			expectWait(2, 0, "once the oldest left")
			in[1].acquire(ctx, k) // 1, 3, 10
			expectWait(0, time.Minute, "sliding, not fixed, window")
			in[2].note(ctx, k) // past the limit: 3, 10, 10
			expectWait(1, 3*time.Minute, "after a note")
			in[0].reset(ctx, k)
			for i := range in {
				expectWait(i, 0, "after a reset")
			}
		})
	}
}

// TestLoginLimitsStoreOutage: when the store of the shared limits stops
// answering, a count falls back to its instance's own mirror of what it
// recorded, so guesses stay limited (the two taken before the outage
// still count: one more, then 429) and log-ins are not all refused; the
// failures leave one log line, not one per call. Once the store is back,
// its counts are as they were.
func TestLoginLimitsStoreOutage(t *testing.T) {
	for _, st := range limitStores[1:] {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			var proxy *faultproxy.Proxy
			db := st.open(t, func(addr string) string {
				proxy = faultproxy.New(t, addr)
				return proxy.Addr()
			})
			logs := &lockedBuffer{}
			s := &Server{log: slog.New(slog.NewJSONHandler(logs, nil)), logs: newLogThrottle(time.Minute)}
			now := time.Now()
			newCount := func() *loginCount { return clockedCount(db.LoginLimits(), &now, s.limitsFailed) }
			c, ctx, k := newCount(), t.Context(), keyOf("t", "k")
			for range 2 {
				if release, w := c.acquire(ctx, k); release == nil || w != 0 {
					t.Fatalf("refused under the limit: %v", w)
				}
			}
			if logs.String() != "" {
				t.Fatalf("logged with the store up: %s", logs)
			}

			proxy.Cut()
			if release, w := c.acquire(ctx, k); release == nil || w != 0 {
				t.Fatalf("the third attempt during the outage refused: %v", w)
			}
			for range 3 {
				if release, w := c.acquire(ctx, k); release != nil || w == 0 {
					t.Fatal("a fourth attempt during the outage was let through")
				}
			}
			if w := c.wait(ctx, k); w == 0 {
				t.Fatal("wait during the outage says the key may try")
			}
			if lines := strings.Count(logs.String(), "\n"); lines != 1 || !strings.Contains(logs.String(), eventLimitsUnavailable) {
				t.Fatalf("the outage left %d log lines, want one %s line:\n%s", lines, eventLimitsUnavailable, logs)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(logs.String()), &line); err != nil || line["level"] != "WARN" {
				t.Fatalf("log line %s: %v, want JSON at WARN", logs, err)
			}

			proxy.Heal()
			// Another instance, with nothing in memory, sees the store's two.
			other := newCount()
			if release, w := other.acquire(ctx, k); release == nil || w != 0 {
				t.Fatalf("after the outage, the third attempt in the store refused: %v", w)
			}
			if release, w := other.acquire(ctx, k); release != nil || w == 0 {
				t.Fatal("after the outage, a fourth attempt in the store was let through")
			}
		})
	}
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
