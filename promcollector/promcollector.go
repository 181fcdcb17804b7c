// Package promcollector exposes a sessionkit Manager's counters to
// Prometheus. Register it with the application's registry:
//
//	reg.MustRegister(promcollector.New(manager))
package promcollector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
)

// StatsSource is what the collector reads; *sessionkit.Manager satisfies it.
type StatsSource interface {
	Stats() sessionkit.Stats
}

// Collector is a prometheus.Collector for a Manager's Stats.
type Collector struct {
	src     StatsSource
	ops     *prometheus.Desc
	cookies *prometheus.Desc
	dropped *prometheus.Desc
	errors  *prometheus.Desc
	latency *prometheus.Desc
	cache   cacheDescs
	dbsc    *prometheus.Desc
}

// cacheDescs describe the session cache's figures (Config.Cache.Entries).
type cacheDescs struct {
	lookups, invalidations, bypassed, entries, up *prometheus.Desc
}

// New returns a collector reading src at every scrape.
func New(src StatsSource) *Collector {
	return &Collector{
		src: src,
		ops: prometheus.NewDesc("sessionkit_store_operations_total",
			"Session store operations by kind: load, create, save (keys changed), touch (expiry only), destroy.", []string{"op"}, nil),
		cookies: prometheus.NewDesc("sessionkit_rejected_cookies_total",
			"Session cookies treated as no session: bad_signature (signed with a secret this instance does not hold) or malformed.", []string{"reason"}, nil),
		dropped: prometheus.NewDesc("sessionkit_dropped_saves_total",
			"Changes not saved because another request destroyed or regenerated the session meanwhile.", nil, nil),
		errors: prometheus.NewDesc("sessionkit_store_errors_total",
			"Session store calls that failed.", nil, nil),
		latency: prometheus.NewDesc("sessionkit_store_duration_seconds",
			"Session store call latency.", nil, nil),
		dbsc: prometheus.NewDesc("sessionkit_dbsc_events_total",
			"Device-bound session events: refused_request "+
				"(a bound session's request without a valid bound cookie), bound_cookie "+
				"(issued by registration or refresh), refused_proof.",
			[]string{"event"}, nil),
		cache: cacheDescs{
			lookups: prometheus.NewDesc("sessionkit_cache_lookups_total",
				"Session reads with the session cache on, by result: hit (no store call) or miss "+
					"(read from the store, also while the cache is bypassed).", []string{"result"}, nil),
			invalidations: prometheus.NewDesc("sessionkit_cache_invalidations_total",
				"Session change announcements the cache received.", nil, nil),
			bypassed: prometheus.NewDesc("sessionkit_cache_bypassed_seconds_total",
				"Time the session cache was bypassed because its change feed was down.", nil, nil),
			entries: prometheus.NewDesc("sessionkit_cache_entries",
				"Sessions in the session cache.", nil, nil),
			up: prometheus.NewDesc("sessionkit_cache_up",
				"1 when the session cache's change feed is up and the cache in use, else 0.", nil, nil),
		},
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ops
	ch <- c.cookies
	ch <- c.dropped
	ch <- c.errors
	ch <- c.latency
	ch <- c.cache.lookups
	ch <- c.cache.invalidations
	ch <- c.cache.bypassed
	ch <- c.cache.entries
	ch <- c.cache.up
	ch <- c.dbsc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	for _, op := range []struct {
		name string
		v    uint64
	}{{"load", s.Loads}, {"create", s.Creates}, {"save", s.Saves}, {"touch", s.Touches}, {"destroy", s.Destroys}} {
		ch <- prometheus.MustNewConstMetric(c.ops, prometheus.CounterValue, float64(op.v), op.name)
	}
	ch <- prometheus.MustNewConstMetric(c.cookies, prometheus.CounterValue, float64(s.BadSignatures), "bad_signature")
	ch <- prometheus.MustNewConstMetric(c.cookies, prometheus.CounterValue, float64(s.MalformedCookies), "malformed")
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.DroppedSaves))
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(s.StoreErrors))
	buckets := make(map[float64]uint64, len(s.StoreLatency.Bounds))
	for i, b := range s.StoreLatency.Bounds {
		buckets[b] = s.StoreLatency.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, s.StoreLatency.Count, s.StoreLatency.Sum, buckets)
	ch <- prometheus.MustNewConstMetric(c.cache.lookups, prometheus.CounterValue, float64(s.CacheHits), "hit")
	ch <- prometheus.MustNewConstMetric(c.cache.lookups, prometheus.CounterValue, float64(s.CacheMisses), "miss")
	ch <- prometheus.MustNewConstMetric(c.cache.invalidations, prometheus.CounterValue, float64(s.CacheInvalidations))
	ch <- prometheus.MustNewConstMetric(c.cache.bypassed, prometheus.CounterValue, s.CacheBypassed.Seconds())
	ch <- prometheus.MustNewConstMetric(c.cache.entries, prometheus.GaugeValue, float64(s.CacheEntries))
	up := 0.0
	if s.CacheUp {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.cache.up, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(c.dbsc, prometheus.CounterValue, float64(s.BoundRefused), "refused_request")
	ch <- prometheus.MustNewConstMetric(c.dbsc, prometheus.CounterValue, float64(s.BoundCookies), "bound_cookie")
	ch <- prometheus.MustNewConstMetric(c.dbsc, prometheus.CounterValue, float64(s.BoundProofsRefused), "refused_proof")
}
