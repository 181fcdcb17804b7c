package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testkit/faultproxy"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

const (
	outageBrowsers = 150
	outageWorkers  = 24
	outageCut      = 2 * time.Second
)

// TestPostgresOutage cuts every connection between the instances and
// PostgreSQL (a TCP proxy the test closes and reopens) while browsers read,
// log out and log in. During the cut the answer is 503, never 401 and never
// a new session; after it heals every browser is still logged in, and every
// log-in and log-out acknowledged with 200 is in the table.
func TestPostgresOutage(t *testing.T) {
	rep := newReport(t, "PostgreSQL outage",
		fmt.Sprintf("3 instances; %d browsers reading, logging out (8%%) and in again, %d workers", outageBrowsers, outageWorkers),
		fmt.Sprintf("every PostgreSQL connection cut for %s (TCP proxy: connections reset, new ones refused)", outageCut))
	postgresOutage(t, rep, newDatabase(t))
}

// postgresOutage runs the PostgreSQL outage scenario on db.
func postgresOutage(t *testing.T, rep *scenarioReport, db *database) {
	t.Helper()
	pg, err := url.Parse(db.url)
	if err != nil {
		t.Fatal(err)
	}
	fp := faultproxy.New(t, pg.Host)
	outage(t, rep, db, fp, "database", map[string]string{"DATABASE_URL": withHost(t, db.url, fp.Addr())})
}

// TestRedisOutage is TestPostgresOutage with the sessions in Redis
// (REDIS_URL) and every Redis connection cut; PostgreSQL, which holds the
// users, stays up, and /healthz names redis.
func TestRedisOutage(t *testing.T) {
	rep := newReport(t, "Redis outage (sessions in Redis)",
		fmt.Sprintf("3 instances, sessions in Redis, users in PostgreSQL; %d browsers reading, logging out (8%%) and in again, %d workers", outageBrowsers, outageWorkers),
		fmt.Sprintf("every Redis connection cut for %s (TCP proxy: connections reset, new ones refused)", outageCut))
	db := newRedisDatabase(t)
	fp := faultproxy.New(t, redistest.Addr())
	outage(t, rep, db, fp, "redis", map[string]string{"REDIS_URL": redistest.URLFor(fp.Addr())})
}

// outage runs the outage scenario: fp stands between the instances
// (started with db's environment plus extra) and the store, and /healthz
// must name down while it is cut.
func outage(t *testing.T, rep *scenarioReport, db *database, fp *faultproxy.Proxy, down string, extra map[string]string) {
	t.Helper()
	emails := db.addUsers(t, outageBrowsers)
	c := startCluster(t, db, 3, extra)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var cutAt, healAt atomic.Int64 // unix nanoseconds; 0 while unset
	var during503, duringOther, duringCached atomic.Int64
	inCut := func(ex exchange) bool {
		c, h := cutAt.Load(), healAt.Load()
		return c != 0 && ex.start.UnixNano() > c && (h == 0 || ex.start.Add(ex.dur).UnixNano() < h)
	}
	w := newWriteLoad(newBrowsers(client, c.lb.URL(), emails), func(op string, b *browser, ex exchange) bool {
		// The outage explains a 503 saying the store is unavailable,
		// and nothing else.
		var body struct{ Error string }
		_ = json.Unmarshal(ex.body, &body)
		return ex.err == nil && ex.status == http.StatusServiceUnavailable && body.Error == "session store unavailable"
	})
	w.cached = db.cache
	w.loginAll(t, ctx, outageWorkers)
	before := len(db.sessionIDs(t))

	// Watch every answer given entirely inside the cut.
	w.observe = func(op string, ex exchange) {
		if inCut(ex) {
			switch {
			case ex.err == nil && ex.status == http.StatusServiceUnavailable:
				during503.Add(1)
			case db.cache && op == "user" && ex.err == nil && ex.status == http.StatusOK:
				// A cache hit before the instance's listener saw its
				// connection cut (the cache is bypassed from then on).
				duringCached.Add(1)
			default:
				duringOther.Add(1)
			}
		}
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { w.run(ctx, outageWorkers, stop); close(done) }()
	time.Sleep(time.Second)
	fp.Cut()
	cutAt.Store(time.Now().UnixNano())
	time.Sleep(outageCut / 2)
	// Health checks name the dependency that is down.
	resp, err := http.Get(c.instances[0].url + "/healthz")
	var health []byte
	healthStatus := 0
	if err == nil {
		health, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		healthStatus = resp.StatusCode
	}
	time.Sleep(outageCut / 2)
	healAt.Store(time.Now().UnixNano())
	fp.Heal()
	healed := time.Now()
	c.waitHealthy(t, 30*time.Second)
	recovery := time.Since(healed)
	time.Sleep(time.Second)
	close(stop)
	poll.Receive(t, "the load to stop", done)
	w.errs.check(t)

	if healthStatus != http.StatusServiceUnavailable || !json.Valid(health) || !strings.Contains(string(health), `"`+down+`"`) {
		t.Errorf("/healthz during the cut: %d %s; want 503 naming %s", healthStatus, health, down)
	}
	for _, in := range c.instances {
		// Every line goes through the server's structured log: go-redis's
		// own logger would print "redis: …pool.go:…" lines beside it.
		if n := in.logs.count("pool.go:"); n > 0 && in.logs.count("msg=\"go-redis: ") == 0 {
			t.Errorf("%s printed %d unstructured go-redis lines", in.name, n)
		}
	}
	if during503.Load() == 0 {
		t.Errorf("no request was answered inside the cut: the fault was not exercised")
	}
	if duringOther.Load() != 0 {
		t.Errorf("%d requests inside the cut were answered with something else than 503", duringOther.Load())
	}
	checked, lost, retries, orphans := w.verify(t, ctx, db)

	rep.add("responses", w.statuses.String())
	rep.addf("answered inside the cut", "%d × 503, %d × 200 from the session cache, %d other", during503.Load(), duringCached.Load(), duringOther.Load())
	rep.add("401 to logged-in browsers", w.lost401.Load())
	rep.add("new sessions set by failed responses", w.newDuring.Load())
	rep.addf("/healthz during the cut", "%d %s", healthStatus, trimJSON(health))
	rep.addf("connections reset / refused by the fault proxy", "%d accepted in all, %d refused during the cut", fp.Accepted(), fp.Refused())
	rep.addf("time from heal to every /healthz 200", "%s", recovery.Round(time.Millisecond))
	rep.add("503s retried after the heal before 200", retries)
	rep.addf("acknowledged writes checked", "%d (log-ins and log-outs)", checked)
	rep.addf("rows before / orphans after", "%d / %d (orphans: log-ins committed whose answer was a 503)", before, orphans)
	rep.add("latency (all requests)", w.lat.summary())
	rep.setLost("%d of %d acknowledged writes; %d sessions logged out", lost, checked, w.lost401.Load())
}

// trimJSON returns a JSON body on one line.
func trimJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
