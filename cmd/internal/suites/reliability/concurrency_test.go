package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/pgstore"
)

const (
	concurrentWrites = 100
	concurrentRounds = 3
)

// TestConcurrentWritesOneSession sends 100 concurrent requests carrying one
// session, each writing its own key, round-robin across three instances:
// every key is kept. The reference server has no endpoint that writes an
// arbitrary key, so the instances here are the library itself
// (sessionkit.New on pgstore, each with its own pool on the shared schema,
// as separate processes would have) behind the same balancer.
func TestConcurrentWritesOneSession(t *testing.T) {
	rep := newReport(t, "Concurrent writes to one session",
		fmt.Sprintf("%d rounds × %d concurrent requests on one session, each writing its own key, across 3 library instances", concurrentRounds, concurrentWrites),
		"none: the race itself")
	concurrentWritesOneSession(t, rep, false)
}

// TestConcurrentWritesOneSessionCached is the same race with the session
// cache on in every instance, each holding the session before the writes,
// which go to two of the three: a patch is applied to the stored row, never
// to a cached copy, so no key is lost, and once every instance heard of
// every write (the announcements are awaited, not a clock) all three read
// every key back, the one that wrote nothing included.
func TestConcurrentWritesOneSessionCached(t *testing.T) {
	rep := newReport(t, "Concurrent writes to one session (session cache on)",
		fmt.Sprintf("%d rounds × %d concurrent requests on one session, each writing its own key, on 2 of 3 library instances with the cache on, all 3 read back", concurrentRounds, concurrentWrites),
		"none: the race itself")
	concurrentWritesOneSession(t, rep, true)
}

func concurrentWritesOneSession(t *testing.T, rep *scenarioReport, cache bool) {
	db := newDatabase(t)
	cacheEntries := 0
	if cache {
		cacheEntries = 100
	}
	lb := newBalancer(t)
	var managers []*sessionkit.Manager
	var urls []string
	for i := range 3 {
		pool, err := pgxpool.New(context.Background(), db.url+"&pool_max_conns=4")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		store, err := pgstore.New(context.Background(), pool, pgstore.Config{PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(store.Close)
		m, err := sessionkit.New(sessionkit.Config{
			Store:          store,
			Secrets:        []string{secretA},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
			Logger:         slog.New(slog.DiscardHandler),
			Cookie:         sessionkit.CookieConfig{Name: cookieName, Secure: true},
			Cache:          sessionkit.CacheConfig{Entries: cacheEntries},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		managers = append(managers, m)
		srv := httptest.NewServer(m.Middleware(keyHandler()))
		t.Cleanup(srv.Close)
		lb.add(fmt.Sprintf("library-%d", i), srv.URL)
		urls = append(urls, srv.URL)
	}
	for i, m := range managers {
		if cache && !eventually(10*time.Second, func() bool { return m.Stats().CacheUp }) {
			t.Fatalf("library-%d: the cache's change feed never came up", i)
		}
	}
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var errs errorf
	var statuses tally
	var lat latencies
	kept, want := 0, 0
	for round := range concurrentRounds {
		owner := &browser{n: round, base: lb.URL(), client: client}
		if ex := owner.do(ctx, http.MethodPost, "/start", nil); ex.status != http.StatusOK || ex.setCookie == "" {
			t.Fatalf("round %d: start: status %d, err %v", round, ex.status, ex.err)
		}
		cookie := owner.cookie
		readBacks := 1
		if cache {
			// Every instance caches the session before the writes (the
			// balancer goes round robin: a miss, then a hit on each), and
			// every instance is read back after them.
			readBacks = len(managers)
			for range 2 * len(managers) {
				if ex := owner.do(ctx, http.MethodGet, "/keys", nil); ex.status != http.StatusOK {
					t.Fatalf("round %d: keys before the writes: status %d, err %v", round, ex.status, ex.err)
				}
			}
		}
		var ready, wg sync.WaitGroup
		gate := make(chan struct{})
		for k := range concurrentWrites {
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := lb.URL()
				if cache {
					// Only library-0 and library-1 write: library-2 drops
					// its cached copy only on hearing the announcements.
					base = urls[k%2]
				}
				b := &browser{n: k, base: base, client: client, cookie: cookie}
				ready.Done()
				<-gate // all 100 leave together
				ex := b.do(ctx, http.MethodPost, fmt.Sprintf("/put?key=k%03d", k), nil)
				statuses.inc(outcome(ex))
				lat.add(ex.dur)
				if ex.err != nil || ex.status != http.StatusOK || ex.setCookie != "" || ex.cleared {
					errs.add("round %d write %d: status %d, cookie changed %t, err %v", round, k, ex.status, ex.setCookie != "" || ex.cleared, ex.err)
				}
			}()
		}
		ready.Wait()
		close(gate)
		poll.Wait(t, "the concurrent writers", &wg)
		if cache {
			// Every write is announced to every instance, its writer's
			// listener included.
			want := uint64((round + 1) * concurrentWrites)
			for i, m := range managers {
				if !eventually(10*time.Second, func() bool { return m.Stats().CacheInvalidations >= want }) {
					t.Fatalf("round %d: library-%d heard %d announcements, want %d", round, i, m.Stats().CacheInvalidations, want)
				}
			}
		}

		// Read back through the instances and straight from the table.
		var inTable int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM sessions, jsonb_object_keys(sess) WHERE sid = $1`, sessionkit.HashID(sessionID(cookie))).Scan(&inTable); err != nil {
			t.Fatal(err)
		}
		fewest := inTable
		for range readBacks {
			ex := owner.do(ctx, http.MethodGet, "/keys", nil)
			var keys []string
			if err := json.Unmarshal(ex.body, &keys); err != nil || ex.status != http.StatusOK {
				t.Fatalf("round %d: keys: status %d: %v", round, ex.status, err)
			}
			fewest = min(fewest, len(keys))
			if len(keys) != concurrentWrites+1 || inTable != concurrentWrites+1 {
				t.Errorf("round %d: %d keys through %s, %d in the row; want %d (owner + %d writes)", round, len(keys), ex.backend, inTable, concurrentWrites+1, concurrentWrites)
			}
		}
		want += concurrentWrites + 1
		kept += fewest
	}
	errs.check(t)
	var saves []string
	var total uint64
	for i, m := range managers {
		s := m.Stats()
		saves = append(saves, fmt.Sprintf("library-%d %d", i, s.Saves))
		total += s.Saves
	}
	if total != concurrentRounds*concurrentWrites {
		t.Errorf("%d saves, want %d (one patch per write)", total, concurrentRounds*concurrentWrites)
	}

	if cache {
		var hits, misses, heard uint64
		for _, m := range managers {
			s := m.Stats()
			hits, misses, heard = hits+s.CacheHits, misses+s.CacheMisses, heard+s.CacheInvalidations
		}
		if hits == 0 {
			t.Errorf("no cache hit in %d reads: is the cache on?", misses)
		}
		rep.addf("cache hits / misses / announcements heard (all instances)", "%d / %d / %d", hits, misses, heard)
	}
	rep.add("responses", statuses.String())
	rep.addf("keys kept", "%d of %d", kept, want)
	rep.addf("saves (patches) per instance", "%v", saves)
	rep.add("latency", lat.summary())
	rep.setLost("%d of %d keys", want-kept, want)
}

// keyHandler is the application of the library instances: POST /start
// creates the session, POST /put?key=K writes its own key, GET /keys lists
// the session's keys.
func keyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessionkit.From(r)
		if err == nil {
			err = sess.Put("owner", "reliability")
		}
		answer(w, err, nil)
	})
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessionkit.From(r)
		if err == nil {
			k := r.URL.Query().Get("key")
			err = sess.Put(k, k)
		}
		answer(w, err, nil)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessionkit.From(r)
		var keys []string
		if err == nil {
			keys, err = sess.Keys()
		}
		sort.Strings(keys)
		answer(w, err, keys)
	})
	return mux
}

func answer(w http.ResponseWriter, err error, v any) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
