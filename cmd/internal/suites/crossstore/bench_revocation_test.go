package crossstore_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// BenchmarkRevocationWindow measures how long a log-out on one instance
// leaves the session served from another instance's cache: the time from
// the log-out's answer to the first 401 on the other instance, polled
// without pause. ns/op is the mean; p50-ms, p99-ms and max-ms the spread.
//
//	go test -run XXX -bench RevocationWindow -benchtime 200x .
func BenchmarkRevocationWindow(b *testing.B) {
	for _, tc := range []struct {
		name  string
		store func(b *testing.B) sessionkit.Store
	}{
		{"postgres", func(b *testing.B) sessionkit.Store { s, _ := pgStore(b); return s.Store }},
		{"redis", func(b *testing.B) sessionkit.Store { s, _ := redisStore(b, false, ""); return s }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			store := tc.store(b)
			instance := func() http.Handler {
				m, _ := newManager(b, store, func(c *sessionkit.Config) { c.Cache.Entries = 1000 })
				b.Cleanup(m.Close)
				deadline := time.Now().Add(time.Minute)
				for !m.Stats().CacheUp {
					if time.Now().After(deadline) {
						b.Fatal("the change feed did not come up")
					}
					time.Sleep(time.Millisecond)
				}
				return app(m)
			}
			a, other := instance(), instance()
			windows := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				c := login(b, a, "ada")
				if w := do(other, "GET", "/user", c); w.Code != 200 { // now cached there
					b.Fatalf("read on the other instance: %d", w.Code)
				}
				b.StartTimer()
				if w := do(a, "POST", "/logout", c); w.Code != 200 {
					b.Fatalf("logout: %d", w.Code)
				}
				start := time.Now()
				for do(other, "GET", "/user", c).Code != http.StatusUnauthorized {
					if time.Since(start) > time.Minute {
						b.Fatal("the other instance still served the session a minute after the log-out")
					}
				}
				windows = append(windows, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(windows)
			ms := func(q float64) float64 {
				return float64(windows[int(q*float64(len(windows)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(ms(1), "max-ms")
		})
	}
}
