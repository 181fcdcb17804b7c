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
	db := newDatabase(t)
	lb := newBalancer(t)
	var managers []*sessionkit.Manager
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
			CookieName:     cookieName,
			Secure:         true,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")},
			Logger:         slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		managers = append(managers, m)
		srv := httptest.NewServer(m.Middleware(keyHandler()))
		t.Cleanup(srv.Close)
		lb.add(fmt.Sprintf("library-%d", i), srv.URL)
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
		var ready, wg sync.WaitGroup
		gate := make(chan struct{})
		for k := range concurrentWrites {
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := &browser{n: k, base: lb.URL(), client: client, cookie: cookie}
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
		wg.Wait()

		// Read back through an instance and straight from the table.
		ex := owner.do(ctx, http.MethodGet, "/keys", nil)
		var keys []string
		if err := json.Unmarshal(ex.body, &keys); err != nil || ex.status != http.StatusOK {
			t.Fatalf("round %d: keys: status %d: %v", round, ex.status, err)
		}
		var inTable int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM sessions, jsonb_object_keys(sess) WHERE sid = $1`, sessionID(cookie)).Scan(&inTable); err != nil {
			t.Fatal(err)
		}
		want += concurrentWrites + 1
		kept += min(len(keys), inTable)
		if len(keys) != concurrentWrites+1 || inTable != concurrentWrites+1 {
			t.Errorf("round %d: %d keys through the API, %d in the row; want %d (owner + %d writes)", round, len(keys), inTable, concurrentWrites+1, concurrentWrites)
		}
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
