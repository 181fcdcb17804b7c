package sessionkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/dbscclient"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// The figures and the command that produces them are in BENCHMARKS.md.

// boundSetup logs in on dbscApp(m) and registers key by hand, returning
// the session and bound cookies, the DBSC session identifier and the
// challenge for the first refresh.
func boundSetup(b *testing.B, h http.Handler, key *dbscclient.Key) (session, bound *http.Cookie, sid, challenge string) {
	w := do(h, "POST", "/login?user=ada")
	session = sessionCookie(w)
	regs, _ := dbscclient.ParseRegistration(w.Header().Get("Secure-Session-Registration"))
	if len(regs) != 1 {
		b.Fatalf("log-in offered no registration: %v", w.Header())
	}
	r := httptest.NewRequest("POST", "/dbsc/register", nil)
	r.AddCookie(session)
	r.Header.Set("Secure-Session-Response", key.Proof(regs[0].Challenge, true))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	challenge, sid, ok := dbscclient.ParseChallenge(w.Header().Get("Secure-Session-Challenge"))
	if w.Code != 200 || !ok {
		b.Fatalf("registration: %d %q", w.Code, w.Body.String())
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionkit.DefaultBoundCookieName {
			bound = c
		}
	}
	return session, bound, sid, challenge
}

// BenchmarkDeviceBoundRefresh is the server's cost of one refresh: a
// proof, signed by the browser over the challenge the previous answer
// sent, checked, its challenge marked used, a bound cookie and the next
// challenge issued. The browser's signing is outside the timer.
func BenchmarkDeviceBoundRefresh(b *testing.B) {
	for _, bench := range []struct {
		name, alg string
		pg        bool
	}{{"memstore/ES256", "ES256", false}, {"memstore/RS256", "RS256", false}, {"pgstore/ES256", "ES256", true}} {
		b.Run(bench.name, func(b *testing.B) {
			var (
				store   sessionkit.Store = memStore(b)
				counter *queryCounter
			)
			if bench.pg {
				store, counter = tracedPGStore(b)
			}
			clock := newTestClock()
			h := dbscApp(dbscManager(b, store, clock, nil))
			key := newDBSCKey(b, bench.alg)
			session, _, sid, challenge := boundSetup(b, h, key)
			before := int64(0)
			if counter != nil {
				before = counter.n.Load()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := httptest.NewRequest("POST", "/dbsc/refresh", nil)
				r.AddCookie(session)
				r.Header.Set("Sec-Secure-Session-Id", `"`+sid+`"`)
				r.Header.Set("Secure-Session-Response", `"`+key.Proof(challenge, false)+`"`)
				w := httptest.NewRecorder()
				b.StartTimer()
				h.ServeHTTP(w, r)
				b.StopTimer()
				next, _, ok := dbscclient.ParseChallenge(w.Header().Get("Secure-Session-Challenge"))
				if w.Code != 200 || !ok {
					b.Fatalf("refresh: %d %q", w.Code, w.Body.String())
				}
				challenge = next
				b.StartTimer()
			}
			if counter != nil {
				b.ReportMetric(float64(counter.n.Load()-before)/float64(b.N), "roundtrips/op")
			}
		})
	}
}

// BenchmarkDeviceBoundRead is a logged-in read of a device-bound session
// with its bound cookie, beside the same read of a session that is not
// bound: the bound cookie's check is what every request pays.
func BenchmarkDeviceBoundRead(b *testing.B) {
	clock := newTestClock()
	h := dbscApp(dbscManager(b, memStore(b), clock, nil))
	session, bound, _, _ := boundSetup(b, h, newDBSCKey(b, "ES256"))
	unbound := sessionCookie(do(h, "POST", "/login?user=ada"))
	for _, bench := range []struct {
		name    string
		cookies []*http.Cookie
	}{{"unbound", []*http.Cookie{unbound}}, {"bound", []*http.Cookie{session, bound}}} {
		b.Run(bench.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/user", nil)
			for _, c := range bench.cookies {
				r.AddCookie(c)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// tracedPGStore is a PostgreSQL store on a fresh schema whose pool counts
// the statements it sends.
func tracedPGStore(b *testing.B) (sessionkit.Store, *queryCounter) {
	_, url := pgtest.Schema(b)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
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
	return store, counter
}
