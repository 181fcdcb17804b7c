package promcollector_test

import (
	"strings"
	"testing"

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
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
