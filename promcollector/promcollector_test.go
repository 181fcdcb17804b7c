package promcollector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/promcollector"
)

type fixed sessionkit.Stats

func (f fixed) Stats() sessionkit.Stats { return sessionkit.Stats(f) }

func TestCollector(t *testing.T) {
	stats := sessionkit.Stats{
		Loads: 7, Creates: 2, Saves: 3, Touches: 1, Destroys: 1, BadSignatures: 4, MalformedCookies: 5,
		DroppedSaves: 6, StoreErrors: 8,
		CacheHits: 11, CacheMisses: 12, CacheInvalidations: 13, CacheBypassed: 1500 * time.Millisecond, CacheEntries: 14, CacheUp: true,
		BoundRefused: 15, BoundCookies: 16, BoundProofsRefused: 17,
		StoreLatency: sessionkit.Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{5, 9}, Count: 10, Sum: 0.5},
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(promcollector.New(fixed(stats)))
	want := `
# HELP sessionkit_rejected_cookies_total Session cookies treated as no session: bad_signature (signed with a secret this instance does not hold) or malformed.
# TYPE sessionkit_rejected_cookies_total counter
sessionkit_rejected_cookies_total{reason="bad_signature"} 4
sessionkit_rejected_cookies_total{reason="malformed"} 5
# HELP sessionkit_store_operations_total Session store operations by kind: load, create, save (keys changed), touch (expiry only), destroy.
# TYPE sessionkit_store_operations_total counter
sessionkit_store_operations_total{op="create"} 2
sessionkit_store_operations_total{op="destroy"} 1
sessionkit_store_operations_total{op="load"} 7
sessionkit_store_operations_total{op="save"} 3
sessionkit_store_operations_total{op="touch"} 1
# HELP sessionkit_store_errors_total Session store calls that failed.
# TYPE sessionkit_store_errors_total counter
sessionkit_store_errors_total 8
# HELP sessionkit_dropped_saves_total Changes not saved because another request destroyed or regenerated the session meanwhile.
# TYPE sessionkit_dropped_saves_total counter
sessionkit_dropped_saves_total 6
# HELP sessionkit_store_duration_seconds Session store call latency.
# TYPE sessionkit_store_duration_seconds histogram
sessionkit_store_duration_seconds_bucket{le="0.001"} 5
sessionkit_store_duration_seconds_bucket{le="0.01"} 9
sessionkit_store_duration_seconds_bucket{le="+Inf"} 10
sessionkit_store_duration_seconds_sum 0.5
sessionkit_store_duration_seconds_count 10
# HELP sessionkit_cache_lookups_total Session reads with the session cache on, by result: hit (no store call) or miss (read from the store, also while the cache is bypassed).
# TYPE sessionkit_cache_lookups_total counter
sessionkit_cache_lookups_total{result="hit"} 11
sessionkit_cache_lookups_total{result="miss"} 12
# HELP sessionkit_cache_invalidations_total Session change announcements the cache received.
# TYPE sessionkit_cache_invalidations_total counter
sessionkit_cache_invalidations_total 13
# HELP sessionkit_cache_bypassed_seconds_total Time the session cache was bypassed because its change feed was down.
# TYPE sessionkit_cache_bypassed_seconds_total counter
sessionkit_cache_bypassed_seconds_total 1.5
# HELP sessionkit_cache_entries Sessions in the session cache.
# TYPE sessionkit_cache_entries gauge
sessionkit_cache_entries 14
# HELP sessionkit_cache_up 1 when the session cache's change feed is up and the cache in use, else 0.
# TYPE sessionkit_cache_up gauge
sessionkit_cache_up 1
# HELP sessionkit_dbsc_events_total Device-bound session events: refused_request (a bound session's request without a valid bound cookie), bound_cookie (issued by registration or refresh), refused_proof.
# TYPE sessionkit_dbsc_events_total counter
sessionkit_dbsc_events_total{event="bound_cookie"} 16
sessionkit_dbsc_events_total{event="refused_proof"} 17
sessionkit_dbsc_events_total{event="refused_request"} 15
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
