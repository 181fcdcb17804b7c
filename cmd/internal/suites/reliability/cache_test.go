package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// The scenarios with the session cache on (SESSION_CACHE=on in every
// instance): the same load, outage and kill -9 must lose nothing and log
// nobody out, and log-outs must reach every instance's cache.

// newCachedDatabase is newDatabase whose instances run with the cache on.
func newCachedDatabase(t *testing.T) *database {
	db := newDatabase(t)
	db.cache = true
	return db
}

func TestLoadSharedSessionsCached(t *testing.T) {
	rep := newReport(t, "Load: shared sessions across instances (session cache on)",
		fmt.Sprintf("%d instances with SESSION_CACHE=on; %d browsers × (login + %d × GET /api/user); %d anonymous hits", loadInstances, loadBrowsers, loadRequests, loadAnonymous),
		"none")
	loadShared(t, rep, newCachedDatabase(t))
}

func TestPostgresOutageCached(t *testing.T) {
	rep := newReport(t, "PostgreSQL outage (session cache on)",
		fmt.Sprintf("3 instances with SESSION_CACHE=on; %d browsers reading, logging out (8%%) and in again, %d workers", outageBrowsers, outageWorkers),
		fmt.Sprintf("every PostgreSQL connection, the listeners' too, cut for %s", outageCut))
	postgresOutage(t, rep, newCachedDatabase(t))
}

func TestKillInstanceCached(t *testing.T) {
	rep := newReport(t, "kill -9 of an instance under load (session cache on)",
		fmt.Sprintf("3 instances with SESSION_CACHE=on; %d browsers reading, logging out (8%%) and in again, %d workers", killBrowsers, killWorkers),
		"SIGKILL to instance-1 mid-load")
	killInstance(t, rep, newCachedDatabase(t))
}

// Log-out replay sizes.
const (
	replayTrials      = 150
	replayWorkers     = 6
	replayLoad        = 60 // browsers reading through the balancer meanwhile
	replayLoadWorkers = 6
)

// TestLogOutReplay: a browser logs in on instance A and reads on B (which,
// with the cache on, caches its session); it logs out on A, and a copy of
// the old cookie is replayed on B until B refuses it, then once on C. With
// the cache off the first replay is refused; with it on, every replay is
// refused once B heard of the log-out, and the window from the log-out's
// answer to B's first refusal is the figure. Other browsers read through a
// balancer meanwhile, so the announcements travel under load.
func TestLogOutReplay(t *testing.T) {
	for _, cache := range []bool{false, true} {
		name := "cache off"
		if cache {
			name = "cache on"
		}
		t.Run(name, func(t *testing.T) {
			rep := newReport(t, "Log-out on one instance, replay on another ("+name+")",
				fmt.Sprintf("3 instances; %d log-in/read/log-out/replay trials on %d workers, each on a different pair of instances; %d browsers reading through the balancer meanwhile", replayTrials, replayWorkers, replayLoad),
				"replayed cookies after log-out")
			db := newDatabase(t)
			db.cache = cache
			logOutReplay(t, rep, db)
		})
	}
}

func logOutReplay(t *testing.T, rep *scenarioReport, db *database) {
	emails := db.addUsers(t, replayTrials+replayLoad)
	c := startCluster(t, db, 3, nil)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var errs errorf
	readers := newBrowsers(client, c.lb.URL(), emails[replayTrials:])
	parallel(replayLoadWorkers, len(readers), func(i int) {
		if ex := readers[i].login(ctx); ex.status != http.StatusOK {
			errs.add("reader %d login: %d %v", i, ex.status, ex.err)
		}
	})
	var loadReads tally
	stopReaders := readUntilStopped(ctx, readers, &loadReads, &errs)

	var windows latencies
	var replays, immediate tally
	parallel(replayWorkers, replayTrials, func(i int) {
		a, b, k := c.instances[i%3], c.instances[(i+1)%3], c.instances[(i+2)%3]
		on := func(in *instance, cookie string) *browser {
			return &browser{n: i, email: emails[i], base: in.url, client: client, cookie: cookie}
		}
		user := on(a, "")
		if ex := user.login(ctx); ex.status != http.StatusOK {
			errs.add("trial %d login: %d %v", i, ex.status, ex.err)
			return
		}
		for range 2 { // the second read is a cache hit when the cache is on
			if ex := on(b, user.cookie).user(ctx); ex.status != http.StatusOK {
				errs.add("trial %d read on %s before log-out: %d", i, b.name, ex.status)
				return
			}
		}
		stolen := user.cookie
		if ex := user.logout(ctx); ex.status != http.StatusOK {
			errs.add("trial %d logout: %d %v", i, ex.status, ex.err)
			return
		}
		loggedOut := time.Now()
		for n := 0; ; n++ {
			ex := on(b, stolen).user(ctx)
			replays.inc(fmt.Sprint(ex.status))
			if ex.status == http.StatusUnauthorized {
				if n == 0 {
					immediate.inc("first replay refused")
				} else if !db.cache {
					errs.add("trial %d: with the cache off, %s accepted %d replays after the log-out", i, b.name, n)
				}
				windows.add(max(0, ex.start.Sub(loggedOut)))
				break
			}
			if ex.status != http.StatusOK || time.Since(loggedOut) > 10*time.Second {
				errs.add("trial %d: replay on %s after log-out: %d %v (after %s)", i, b.name, ex.status, ex.err, time.Since(loggedOut))
				return
			}
			time.Sleep(time.Millisecond)
		}
		if ex := on(k, stolen).user(ctx); ex.status != http.StatusUnauthorized {
			errs.add("trial %d: replay on %s after %s refused it: %d", i, k.name, b.name, ex.status)
		}
	})
	stopReaders()

	rep.add("replays (status=count)", replays.String())
	rep.add("trials whose first replay was refused", fmt.Sprintf("%d of %d", immediate.get("first replay refused"), replayTrials))
	rep.add("window: log-out answered on A → first refusal on B", windows.summary())
	rep.add("reads by the other browsers meanwhile", loadReads.String())
	if db.cache {
		hits, _ := c.metric(t, `sessionkit_cache_lookups_total{result="hit"}`)
		misses, _ := c.metric(t, `sessionkit_cache_lookups_total{result="miss"}`)
		heard, _ := c.metric(t, `sessionkit_cache_invalidations_total`)
		rep.add("cache hits / misses / announcements heard (all instances)", fmt.Sprintf("%.0f / %.0f / %.0f", hits, misses, heard))
	}
	rep.setLost("0 replays accepted after the refusal; %d trials", replayTrials)
	errs.check(t)
}

// TestListenerTerminated: with the cache on and browsers reading, every
// instance's listening connection is killed with pg_terminate_backend. The
// caches are bypassed (reads go to PostgreSQL, nobody gets an error or a
// 401), the listeners reconnect, the caches are flushed and used again; a
// log-out made while they were down is refused everywhere afterwards.
func TestListenerTerminated(t *testing.T) {
	rep := newReport(t, "Listener killed (pg_terminate_backend), session cache on",
		fmt.Sprintf("3 instances with SESSION_CACHE=on; %d browsers reading through the balancer", replayLoad),
		"pg_terminate_backend of every instance's LISTEN connection")
	db := newCachedDatabase(t)
	listenerKilled(t, rep, db, nil, func(ctx context.Context) (int, error) {
		var channel string
		if err := db.pool.QueryRow(ctx, `SELECT 'sessionkit_' || to_regclass('sessions')::oid`).Scan(&channel); err != nil {
			return 0, err
		}
		var killed int
		err := db.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE application_name = 'sessionkit-listener' AND query = 'LISTEN "' || $1 || '"'`, channel).Scan(&killed)
		return killed, err
	})
}

// listenerKilled runs the listener-killed scenario on db, whose instances
// get extra in their environment: kill closes every instance's listening
// (subscribed) connection and reports how many it closed.
func listenerKilled(t *testing.T, rep *scenarioReport, db *database, extra map[string]string, kill func(ctx context.Context) (int, error)) {
	t.Helper()
	emails := db.addUsers(t, replayLoad+1)
	c := startCluster(t, db, 3, extra)
	client := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs errorf
	readers := newBrowsers(client, c.lb.URL(), emails[:replayLoad])
	parallel(replayLoadWorkers, len(readers), func(i int) {
		if ex := readers[i].login(ctx); ex.status != http.StatusOK {
			errs.add("reader %d login: %d %v", i, ex.status, ex.err)
		}
	})
	victim := newBrowsers(client, c.instances[0].url, emails[replayLoad:])[0]
	if ex := victim.login(ctx); ex.status != http.StatusOK {
		t.Fatalf("login: %d %v", ex.status, ex.err)
	}
	stolen := victim.cookie
	for _, in := range c.instances { // cached everywhere
		for range 2 {
			if ex := (&browser{base: in.url, client: client, cookie: stolen}).user(ctx); ex.status != http.StatusOK {
				t.Fatalf("read on %s: %d", in.name, ex.status)
			}
		}
	}

	var reads tally
	stopReaders := readUntilStopped(ctx, readers, &reads, &errs)

	killed, err := kill(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ex := victim.logout(ctx); ex.status != http.StatusOK { // while the listeners may be down
		errs.add("logout: %d", ex.status)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, in := range c.instances {
		for scrape(t, in.url, "sessionkit_cache_up") != 1 || scrape(t, in.url, "sessionkit_cache_bypassed_seconds_total") == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the listener did not come back (or was never down)", in.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // reads after the reconnection, cached again
	stopReaders()
	for _, in := range c.instances {
		if ex := (&browser{base: in.url, client: client, cookie: stolen}).user(ctx); ex.status != http.StatusUnauthorized {
			errs.add("%s accepted the logged-out cookie after reconnecting: %d", in.name, ex.status)
		}
	}
	_, bypassed := c.metric(t, "sessionkit_cache_bypassed_seconds_total")
	hits, _ := c.metric(t, `sessionkit_cache_lookups_total{result="hit"}`)
	misses, _ := c.metric(t, `sessionkit_cache_lookups_total{result="miss"}`)
	rep.add("listeners terminated", killed)
	rep.add("bypass per instance (s)", fmt.Sprintf("%.3f", bypassed))
	rep.add("reads meanwhile", reads.String())
	rep.add("cache hits / misses (all instances)", fmt.Sprintf("%.0f / %.0f", hits, misses))
	rep.setLost("0 browsers logged out; the log-out made meanwhile refused by all 3 instances")
	if killed != 3 {
		errs.add("terminated %d listeners, want 3", killed)
	}
	errs.check(t)
}

// readUntilStopped has the logged-in readers read /api/user over and over
// on replayLoadWorkers workers, counting the outcomes in reads and any
// answer but 200 in errs, until the returned stop is called (which waits).
func readUntilStopped(ctx context.Context, readers []*browser, reads *tally, errs *errorf) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		untilStopped(done, replayLoadWorkers, len(readers), 1<<30, func(_, i int) {
			ex := readers[i].user(ctx)
			reads.inc(outcome(ex))
			if ex.status != http.StatusOK {
				errs.add("reader %d: %d %v %s", i, ex.status, ex.err, ex.body)
			}
		})
	}()
	return func() { close(done); wg.Wait() }
}
