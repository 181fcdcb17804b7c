package sessionkit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/dbscclient"
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
	for _, bench := range []struct{ name, alg string }{{"memstore/ES256", "ES256"}, {"memstore/RS256", "RS256"}} {
		b.Run(bench.name, func(b *testing.B) {
			store := memStore(b)
			clock := newTestClock()
			h := dbscApp(dbscManager(b, store, clock, nil))
			key := newDBSCKey(b, bench.alg)
			session, _, sid, challenge := boundSetup(b, h, key)
			before := store.Calls()
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
			b.ReportMetric(float64(store.Calls()-before)/float64(b.N), "storecalls/op")
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
			w := &discardWriter{H: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
