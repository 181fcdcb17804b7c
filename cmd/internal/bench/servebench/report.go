package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// comparison is one ratio the run reports when both its targets ran: of
// target's requests/s to base's, as the median over rounds of each round's
// ratio (the two turns of a round are seconds apart, so a machine whose load
// drifts over the run moves both sides alike).
type comparison struct {
	target, base string
	want         float64 // the target ratio (issue 23); 0: none, a figure only
	what         string
}

var comparisons = []comparison{
	{"serve-off-1", "floor-1", 0.95, "cache-off read on PostgreSQL / its floor"},
	{"serve-off-3", "floor-3", 0.95, "cache-off read on PostgreSQL / its floor, 3 instances"},
	{"redis-off-1", "redis-floor-1", 0.95, "cache-off read on Redis / its floor"},
	{"cluster-off-1", "cluster-floor-1", 0.95, "cache-off read on a Redis Cluster / its floor"},
	{"serve-on-1", "ceiling-1", 0.85, "cache on / the no-session ceiling"},
	{"serve-on-1", "floor-1", 1.5, "cache on / the PostgreSQL floor"},
	{"serve-on-3", "floor-3", 1.5, "cache on / the PostgreSQL floor, 3 instances"},
	{"cluster-off-3", "cluster-off-1", 0, "3 instances / 1 on a Redis Cluster (cache off)"},
	{"cluster-off-2", "cluster-off-1", 0, "2 instances / 1 on a Redis Cluster (cache off)"},
}

// report prints the run's markdown tables: each target's figures, then the
// comparisons whose targets ran.
func report(w io.Writer, o options, targets []*target) {
	fmt.Fprintf(w, "%d live filler rows in PostgreSQL + the benchmark session; %d rounds × %s per target; "+
		"%d connections; pool %d per server; %d CPUs; load average at the start %s, at the end %s\n\n",
		o.rows, o.rounds, o.dur, o.conns, o.pool, runtime.NumCPU(), o.loadStart, loadAverage())
	fmt.Fprintln(w, "| target | instances | req/s (median of rounds) | server CPU per request | "+
		"store CPU per request | p50 | p99 |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	byName := map[string]*target{}
	for _, t := range targets {
		byName[t.name] = t
		perReq := func(d time.Duration) string {
			if len(t.done) == 0 || d == 0 {
				return "–"
			}
			return (d / time.Duration(len(t.done))).Round(100 * time.Nanosecond).String()
		}
		sorted := slices.Clone(t.done)
		slices.Sort(sorted)
		p := func(q float64) string {
			if len(sorted) == 0 {
				return "–"
			}
			return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(10 * time.Microsecond).String()
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s |\n", t.name, len(t.urls), median(t.reqs),
			perReq(t.cpu), perReq(t.storeCPU), p(0.5), p(0.99))
	}
	fmt.Fprintln(w, "\n| comparison | ratio (median of rounds) | rounds' range | target | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, c := range comparisons {
		t, b := byName[c.target], byName[c.base]
		if t == nil || b == nil {
			continue
		}
		ratios := make([]float64, len(t.reqs))
		for i := range ratios {
			ratios[i] = t.reqs[i] / b.reqs[i]
		}
		med := median(ratios)
		want, verdict := "–", "–"
		if c.want > 0 {
			want, verdict = fmt.Sprintf("≥ %.2f×", c.want), "met"
			if med < c.want {
				verdict = "NOT met"
			}
		}
		fmt.Fprintf(w, "| %s: %s / %s | %.2f× | %.2f–%.2f× | %s | %s |\n", c.what, c.target, c.base, med,
			slices.Min(ratios), slices.Max(ratios), want, verdict)
	}
}

// loadAverage returns the one-minute load average (Linux), or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}
