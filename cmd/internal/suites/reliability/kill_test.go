package reliability

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testkit/poll"
)

const (
	killBrowsers = 150
	killWorkers  = 24
)

// TestKillInstance sends SIGKILL to one of three instances while browsers
// read, log out and log in through the balancer. The requests it was
// serving fail (the balancer answers 502 and then takes it out of
// rotation), the other two carry on without an error, and every write
// acknowledged before or after is in the table.
func TestKillInstance(t *testing.T) {
	rep := newReport(t, "kill -9 of an instance under load",
		fmt.Sprintf("3 instances; %d browsers reading, logging out (8%%) and in again, %d workers", killBrowsers, killWorkers),
		"SIGKILL to instance-1 mid-load; the balancer ejects it on the first refused connection")
	killInstance(t, rep, newDatabase(t))
}

// TestKillInstanceRedis is TestKillInstance with the sessions in Redis.
func TestKillInstanceRedis(t *testing.T) {
	rep := newReport(t, "kill -9 of an instance under load (sessions in Redis)",
		fmt.Sprintf("3 instances, sessions in Redis, users in PostgreSQL; %d browsers reading, logging out (8%%) and in again, %d workers", killBrowsers, killWorkers),
		"SIGKILL to instance-1 mid-load; the balancer ejects it on the first refused connection")
	killInstance(t, rep, newRedisDatabase(t))
}

// killInstance runs the kill scenario on db.
func killInstance(t *testing.T, rep *scenarioReport, db *database) {
	t.Helper()
	emails := db.addUsers(t, killBrowsers)
	c := startCluster(t, db, 3, nil)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const victim = 1
	var killedAt atomic.Int64
	var failedAfter atomic.Int64
	victimName := c.instances[victim].name
	w := newWriteLoad(newBrowsers(client, c.lb.URL(), emails), func(op string, b *browser, ex exchange) bool {
		// The kill explains a request that failed in flight once it has
		// happened: the balancer's 502, or a response cut short, from the
		// victim; anything else is a defect.
		k := killedAt.Load()
		if k != 0 && ex.err != nil && ex.start.Add(ex.dur).UnixNano() >= k && (ex.backend == "" || ex.backend == victimName) {
			failedAfter.Add(1)
			return true
		}
		return false
	})
	w.cached = db.cache
	w.loginAll(t, ctx, killWorkers)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { w.run(ctx, killWorkers, stop); close(done) }()
	time.Sleep(time.Second)
	vb := c.lb.backend(victim)
	inflight := vb.inflight.Load()
	servedBefore := vb.served.Load()
	killedAt.Store(time.Now().UnixNano())
	if err := syscall.Kill(-c.instances[victim].cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-c.instances[victim].done
	// Each condition is waited for, not a fixed time: on a loaded machine
	// the workers may send nothing for a second. The bound only ends a
	// test whose behaviour broke.
	ejected := eventually(30*time.Second, func() bool { return !c.lb.isUp(victim) })
	served := func() int64 { return c.lb.backend(0).served.Load() + c.lb.backend(2).served.Load() }
	othersBefore := served()
	othersServed := eventually(30*time.Second, func() bool { return served() > othersBefore })
	close(stop)
	poll.Receive(t, "the load to stop", done)
	w.errs.check(t)

	if !ejected {
		t.Errorf("the balancer never saw the killed instance refuse a connection")
	}
	for _, i := range []int{0, 2} {
		if f := c.lb.backend(i).failed.Load(); f != 0 {
			t.Errorf("%s, still running, had %d failed requests", c.instances[i].name, f)
		}
	}
	if !othersServed {
		t.Errorf("the surviving instances stopped serving after the kill")
	}
	checked, lost, retries, orphans := w.verify(t, ctx, db)

	rep.add("responses", w.statuses.String())
	rep.addf("in flight on the victim at the kill", "%d (it had served %d)", inflight, servedBefore)
	rep.addf("requests failed by the kill (502)", "%d (all on the victim: %d)", failedAfter.Load(), vb.failed.Load())
	rep.add("failed requests on the surviving instances", c.lb.backend(0).failed.Load()+c.lb.backend(2).failed.Load())
	rep.add("401 to logged-in browsers", w.lost401.Load())
	rep.add("retries needed after the kill", retries)
	rep.addf("acknowledged writes checked", "%d (log-ins and log-outs)", checked)
	rep.addf("orphan rows", "%d (log-ins committed by the victim whose answer never left it)", orphans)
	rep.add("latency (all requests)", w.lat.summary())
	rep.setLost("%d of %d acknowledged writes; %d sessions logged out", lost, checked, w.lost401.Load())
}

// eventually polls cond until it holds or limit passes, and reports
// whether it held.
func eventually(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
