package crossstore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// The figures and the command that produces them are in BENCHMARKS.md.

func BenchmarkNoCookie(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	m, _ := newManager(b, sessiontest.MemStore(b), nil)
	for _, bench := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"sessionkit", m.Middleware(bare)}} {
		b.Run(bench.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/healthz", nil)
			w := &sessiontest.DiscardWriter{H: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				bench.h.ServeHTTP(w, r)
			}
		})
	}
}

// queryCounter counts the statements pgx sends: store round trips.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// benchPG returns a manager on a traced pool with one logged-in session.
func benchPG(b *testing.B) (*sessionkit.Manager, *pgxpool.Pool, *queryCounter, *http.Cookie) {
	_, url := pgtest.Schema(b)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	store, err := pgstore.New(context.Background(), pool, pgstore.Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	m, _ := newManager(b, store, nil)
	return m, pool, counter, login(b, app(m), "ada")
}

// readHandlers returns the two handlers the read benchmarks compare: bare
// is a plain net/http handler that runs a primary-key SELECT of the row the
// store keeps for the id it was given, under the id's hash (the floor for a
// session read); read is sessionkit's middleware around a handler that
// reads the logged-in user.
func readHandlers(m *sessionkit.Manager, pool *pgxpool.Pool, id string) (bare, read http.Handler) {
	bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess []byte
		var created, expire time.Time
		err := pool.QueryRow(r.Context(), "SELECT sess, created_at, expire FROM sessions WHERE sid = $1 AND expire > now()", sessionkit.HashID(id)).
			Scan(&sess, &created, &expire)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(200)
	})
	return bare, readUser(m)
}

// readUser is sessionkit's middleware around a handler that reads the
// logged-in user.
func readUser(m *sessionkit.Manager) http.Handler {
	return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if user, err := s.GetString("user"); err != nil || user != "ada" {
			http.Error(w, "not authenticated", 401)
			return
		}
		w.WriteHeader(200)
	}))
}

// BenchmarkLoggedInRead calls each handler directly, in parallel, for
// allocations, store round trips and writes per request.
func BenchmarkLoggedInRead(b *testing.B) {
	m, pool, counter, cookie := benchPG(b)
	bare, read := readHandlers(m, pool, sessiontest.IDOf(b, cookie))
	// bound is a session logged in with Authenticate, as the reference
	// server's are: bound to its user for the session list, so that every
	// read also checks whether its coarse last-seen time is due.
	bound := sessionCookie(do(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if s.Authenticate("ada") != nil || s.Put("user", "ada") != nil {
			http.Error(w, "log-in failed", 503)
		}
	})), "POST", "/login"))
	benchReads(b, m, counter.n.Load, []readBench{{"bare", bare, cookie}, {"sessionkit", read, cookie}, {"sessionkit-bound", read, bound}})
}

// readBench is one handler a read benchmark calls, with the cookie it sends.
type readBench struct {
	name   string
	h      http.Handler
	cookie *http.Cookie
}

// benchReads calls each handler directly, in parallel, reporting store
// round trips (roundTrips reads the store's counter) and writes per request.
func benchReads(b *testing.B, m *sessionkit.Manager, roundTrips func() int64, benches []readBench) {
	for _, bench := range benches {
		b.Run(bench.name, func(b *testing.B) {
			before, writes := roundTrips(), m.Stats()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/api/user", nil)
				r.AddCookie(bench.cookie)
				w := &sessiontest.DiscardWriter{H: http.Header{}}
				for pb.Next() {
					bench.h.ServeHTTP(w, r)
				}
			})
			after := m.Stats()
			b.ReportMetric(float64(roundTrips()-before)/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64(after.Saves+after.Touches+after.Creates-writes.Saves-writes.Touches-writes.Creates)/float64(b.N), "writes/op")
		})
	}
}

// BenchmarkLoggedInReadHTTP serves both handlers over real HTTP on loopback
// and sends them requests in alternating rounds, so that whatever else the
// machine does falls on both alike, and reports each one's requests/s and
// sessionkit's share of the bare handler's: the ratio comes from one run.
// An op is one request to each.
func BenchmarkLoggedInReadHTTP(b *testing.B) {
	m, pool, counter, cookie := benchPG(b)
	bare, read := readHandlers(m, pool, sessiontest.IDOf(b, cookie))
	compareHTTP(b, bare, read, cookie, counter.n.Load)
}

// compareHTTP is BenchmarkLoggedInReadHTTP's measurement, for any store:
// roundTrips reads the store's round-trip counter.
func compareHTTP(b *testing.B, bare, read http.Handler, cookie *http.Cookie, roundTrips func() int64) {
	const workers, round = 8, 400
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	var elapsed [2]time.Duration
	var served [2]int
	var failed atomic.Int64
	urls := [2]string{}
	for i, h := range []http.Handler{bare, read} {
		srv := httptest.NewServer(h)
		b.Cleanup(srv.Close)
		urls[i] = srv.URL + "/api/user"
	}
	send := func(url string, n int) {
		var wg sync.WaitGroup
		per := (n + workers - 1) / workers
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					req, _ := http.NewRequest("GET", url, nil)
					req.AddCookie(cookie)
					resp, err := client.Do(req)
					if err != nil || resp.StatusCode != 200 {
						failed.Add(1)
						if err == nil {
							resp.Body.Close()
						}
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		poll.Wait(b, "the benchmark clients", &wg)
	}
	send(urls[0], workers) // warm the connections and statement caches
	send(urls[1], workers)
	before := roundTrips()
	b.ResetTimer()
	for remaining := b.N; remaining > 0; remaining -= round {
		n := min(round, remaining)
		for i := range urls {
			start := time.Now()
			send(urls[i], n)
			elapsed[i] += time.Since(start)
			served[i] += (n + workers - 1) / workers * workers
		}
	}
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	bareRPS := float64(served[0]) / elapsed[0].Seconds()
	kitRPS := float64(served[1]) / elapsed[1].Seconds()
	b.ReportMetric(bareRPS, "bare-req/s")
	b.ReportMetric(kitRPS, "sessionkit-req/s")
	b.ReportMetric(100*kitRPS/bareRPS, "%-of-bare")
	b.ReportMetric(float64(roundTrips()-before)/float64(served[0]+served[1]), "roundtrips/req")
}

func BenchmarkWriteOneKey(b *testing.B) {
	m, _, counter, cookie := benchPG(b)
	benchWriteOneKey(b, m, cookie, counter.n.Load)
}

// benchWriteOneKey is BenchmarkWriteOneKey's measurement, for any store.
func benchWriteOneKey(b *testing.B, m *sessionkit.Manager, cookie *http.Cookie, roundTrips func() int64) {
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Put("lastPage", r.URL.Path); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(200)
	}))
	before := roundTrips()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("POST", "/page/1", nil)
		r.AddCookie(cookie)
		w := &sessiontest.DiscardWriter{H: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
	b.ReportMetric(float64(roundTrips()-before)/float64(b.N), "roundtrips/op")
}

// BenchmarkManySignedCookies is a logged-in read whose Cookie header holds
// 200 validly signed session cookies, 199 of them of dead sessions (an
// attacker's collection: signatures never expire), next to the same read
// with its one cookie. It reports store round trips and session loads per
// request.
func BenchmarkManySignedCookies(b *testing.B) {
	m, _, counter, cookie := benchPG(b)
	read := readUser(m)
	dead := deadCookies(b, 199)
	for _, bench := range []struct {
		name, header string
		want         int
	}{
		{"one-cookie", sessiontest.Pair(cookie), 200},
		{"200-cookies-live-last", strings.Join(append(dead[:199:199], sessiontest.Pair(cookie)), "; "), 401},
		{"200-cookies-live-first", strings.Join(append([]string{sessiontest.Pair(cookie)}, dead...), "; "), 200},
	} {
		b.Run(bench.name, func(b *testing.B) {
			before, loads := counter.n.Load(), m.Stats().Loads
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/api/user", nil)
				r.Header.Set("Cookie", bench.header)
				for pb.Next() {
					w := httptest.NewRecorder()
					read.ServeHTTP(w, r)
					if w.Code != bench.want {
						b.Errorf("status %d, want %d", w.Code, bench.want)
						return
					}
				}
			})
			b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64(m.Stats().Loads-loads)/float64(b.N), "loads/op")
		})
	}
}
