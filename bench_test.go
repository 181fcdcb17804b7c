package sessionkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pgtest"
	"github.com/sessionkit/sessionkit/pgstore"
)

// The figures and the command that produces them are in BENCHMARKS.md.

// discardWriter is a ResponseWriter that allocates nothing, so allocs/op
// counts only what the middleware adds.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkNoCookie(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	m, _ := newManager(b, memStore(b), nil)
	for _, bench := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"sessionkit", m.Middleware(bare)}} {
		b.Run(bench.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/healthz", nil)
			w := &discardWriter{h: http.Header{}}
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

func BenchmarkLoggedInRead(b *testing.B) {
	m, pool, counter, cookie := benchPG(b)
	id := idOf(b, cookie)
	// bare is a plain net/http handler that runs the same primary-key SELECT
	// the store runs, with the id it was given: the floor for a session read.
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess []byte
		var created, expire any
		err := pool.QueryRow(r.Context(), "SELECT sess, created_at, expire FROM sessions WHERE sid = $1 AND expire > now()", id).
			Scan(&sess, &created, &expire)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(200)
	})
	read := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if user, err := s.GetString("user"); err != nil || user != "ada" {
			http.Error(w, "not authenticated", 401)
			return
		}
		w.WriteHeader(200)
	}))
	for _, bench := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"sessionkit", read}} {
		b.Run(bench.name, func(b *testing.B) {
			before, writes := counter.n.Load(), m.Stats()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/api/user", nil)
				r.AddCookie(cookie)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					bench.h.ServeHTTP(w, r)
				}
			})
			after := m.Stats()
			b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64(after.Saves+after.Touches+after.Creates-writes.Saves-writes.Touches-writes.Creates)/float64(b.N), "writes/op")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func BenchmarkWriteOneKey(b *testing.B) {
	m, _, counter, cookie := benchPG(b)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Put("lastPage", r.URL.Path); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(200)
	}))
	before := counter.n.Load()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("POST", "/page/1", nil)
		r.AddCookie(cookie)
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
	b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "roundtrips/op")
}
