package reliability

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
)

// Load sizes from the issue.
const (
	loadBrowsers       = 500
	loadRequests       = 20
	loadAnonymous      = 5000
	loadInstances      = 3
	loadWorkers        = 48
	loadAnonWorkers    = 16
	loadScenarioBudget = 3 * time.Minute
)

// TestLoadSharedSessions: three instances behind a round-robin proxy that
// says X-Forwarded-Proto: https; 500 browsers log in and make 20 requests
// each, every request landing on another instance than the one before,
// while 5000 anonymous hits (health checks, bots, first page loads) arrive.
// Nobody gets a 401, there is exactly one row per logged-in browser, and the
// anonymous hits add no row and no cookie.
func TestLoadSharedSessions(t *testing.T) {
	rep := newReport(t, "Load: shared sessions across instances",
		fmt.Sprintf("%d instances; %d browsers × (login + %d × GET /api/user); %d anonymous hits", loadInstances, loadBrowsers, loadRequests, loadAnonymous),
		"none")
	loadShared(t, rep, newDatabase(t))
}

// TestLoadSharedSessionsRedis is TestLoadSharedSessions with the sessions in
// Redis: one key per logged-in browser, none for the anonymous hits.
func TestLoadSharedSessionsRedis(t *testing.T) {
	rep := newReport(t, "Load: shared sessions across instances (sessions in Redis)",
		fmt.Sprintf("%d instances, sessions in Redis, users in PostgreSQL; %d browsers × (login + %d × GET /api/user); %d anonymous hits", loadInstances, loadBrowsers, loadRequests, loadAnonymous),
		"none")
	loadShared(t, rep, newRedisDatabase(t))
}

// loadShared runs the shared-sessions load on db.
func loadShared(t *testing.T, rep *scenarioReport, db *database) {
	t.Helper()
	emails := db.addUsers(t, loadBrowsers)
	c := startCluster(t, db, loadInstances, nil)
	client := newClient(t)
	browsers := newBrowsers(client, c.lb.URL(), emails)
	ctx, cancel := context.WithTimeout(context.Background(), loadScenarioBudget)
	defer cancel()

	var (
		errs      errorf
		statuses  tally // logged-in browsers' responses
		anon      tally // anonymous responses
		lat       latencies
		unauth    int
		unauthMu  sync.Mutex
		anonSetCk int
		anonMu    sync.Mutex
	)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		parallel(loadWorkers, len(browsers), func(i int) {
			b := browsers[i]
			ex := b.login(ctx)
			statuses.inc("login " + outcome(ex))
			lat.add(ex.dur)
			if ex.err != nil || ex.status != http.StatusOK || ex.setCookie == "" {
				errs.add("browser %d login: status %d, cookie %t, err %v, body %s", i, ex.status, ex.setCookie != "", ex.err, ex.body)
				return
			}
			for r := range loadRequests {
				ex := b.user(ctx)
				statuses.inc("user " + outcome(ex))
				lat.add(ex.dur)
				switch {
				case ex.err != nil:
					errs.add("browser %d request %d: %v", i, r, ex.err)
				case ex.status == http.StatusUnauthorized:
					unauthMu.Lock()
					unauth++
					unauthMu.Unlock()
					errs.add("browser %d request %d: 401 (logged out)", i, r)
				case ex.status != http.StatusOK:
					errs.add("browser %d request %d: status %d: %s", i, r, ex.status, ex.body)
				case userEmail(ex.body) != b.email:
					errs.add("browser %d request %d: got user %q, want %q", i, r, userEmail(ex.body), b.email)
				case ex.setCookie != "" || ex.cleared:
					errs.add("browser %d request %d: a read changed the cookie", i, r)
				}
			}
		})
	}()
	// Anonymous traffic: what bots, uptime checks and first page loads send.
	anonHits := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/user", http.StatusUnauthorized},
		{http.MethodGet, "/", http.StatusOK}, // the account page: static, no session
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodPost, "/api/logout", http.StatusOK},
		{http.MethodGet, "/api/_debug/session", http.StatusNotFound}, // off in production
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		parallel(loadAnonWorkers, loadAnonymous, func(i int) {
			hit := anonHits[i%len(anonHits)]
			b := &browser{base: c.lb.URL(), client: client}
			ex := b.do(ctx, hit.method, hit.path, nil)
			anon.inc(hit.path + " " + outcome(ex))
			if ex.err != nil || ex.status != hit.want {
				errs.add("anonymous %s %s: status %d, err %v", hit.method, hit.path, ex.status, ex.err)
			}
			if ex.setCookie != "" {
				anonMu.Lock()
				anonSetCk++
				anonMu.Unlock()
				errs.add("anonymous %s %s set a session cookie", hit.method, hit.path)
			}
		})
	}()
	poll.Wait(t, "the shared-session load", &wg)
	elapsed := time.Since(start)
	errs.check(t)

	// Exactly one row per logged-in browser: the ids in the table are the
	// ids the browsers hold, each holding its own user.
	ids := db.sessionIDs(t)
	userIDs := map[string]int64{}
	rows, err := db.pool.Query(context.Background(), `SELECT email, id FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		var id int64
		if err := rows.Scan(&e, &id); err != nil {
			t.Fatal(err)
		}
		userIDs[e] = id
	}
	rows.Close()
	held := 0
	for _, b := range browsers {
		id := sessionID(b.cookie)
		if id == "" {
			continue
		}
		held++
		uid, ok := ids[sessionkit.HashID(id)]
		if !ok {
			t.Errorf("browser %d holds session %.6s… which has no row", b.n, id)
		} else if uid != userIDs[b.email] {
			t.Errorf("browser %d: row holds user %d, want %d", b.n, uid, userIDs[b.email])
		}
	}
	all := db.sessions(t)
	if held != loadBrowsers || all.rows != loadBrowsers || len(ids) != loadBrowsers {
		t.Errorf("rows: %d in the table (%d live), %d browsers hold a session; want exactly %d of each", all.rows, len(ids), held, loadBrowsers)
	}
	creates, perCreates := c.metric(t, `sessionkit_store_operations_total{op="create"}`)
	writes := c.storeWrites(t)
	if creates != loadBrowsers || writes != loadBrowsers {
		t.Errorf("store writes: %v creates, %v writes in all; want exactly %d creates (one per log-in) and nothing else", creates, writes, loadBrowsers)
	}
	var spread []string
	for i, in := range c.instances {
		be := c.lb.backend(i)
		spread = append(spread, fmt.Sprintf("%s %d", in.name, be.served.Load()))
		if total := float64(be.served.Load()); total < float64(loadBrowsers*(loadRequests+1)+loadAnonymous)/float64(2*loadInstances) {
			t.Errorf("%s served only %v requests: the load was not spread", in.name, total)
		}
	}

	// The instances believed the balancer's X-Forwarded-Proto: none warned
	// that it set a Secure cookie on a request it took for plain HTTP.
	insecure := 0
	for _, in := range c.instances {
		insecure += in.logs.count("request that is not HTTPS")
	}
	if insecure != 0 {
		t.Errorf("%d instances warned of Secure cookies over plain HTTP: TRUSTED_PROXIES was not honoured", insecure)
	}

	total := loadBrowsers*(1+loadRequests) + loadAnonymous
	rep.add("requests", total)
	rep.addf("wall time", "%s (%.0f req/s through the proxy)", elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	rep.add("logged-in responses", statuses.String())
	rep.add("401 to logged-in browsers", unauth)
	rep.add("anonymous responses", anon.String())
	rep.add("anonymous responses setting a cookie", anonSetCk)
	rep.addf("session rows", "%d (one per browser: %d)", all.rows, loadBrowsers)
	rep.addf("store creates (per instance)", "%v (%s)", creates, floats(perCreates))
	rep.add("store writes other than log-in creates", writes-creates)
	rep.add("requests per instance", strings.Join(spread, ", "))
	rep.add("instances warning of Secure cookies over plain HTTP", insecure)
	rep.add("latency (all requests)", lat.summary())
	rep.setLost("0 sessions lost expected; %d browsers logged out", unauth)

	// The doctor sees a healthy cluster as one: no thrash through the same
	// balancer that the misconfigured cluster of TestThrashDifferentSecrets
	// is caught behind.
	res := doctorHTTP(t, db, c.lb.URL(), emails[0])
	if f := res.finding("persist.thrash"); f == nil || f.Status != "PASS" {
		t.Errorf("doctor http on the healthy cluster: persist.thrash = %+v, want PASS:\n%s", f, res.raw)
	} else {
		rep.addf("doctor http persist.thrash", "%s: %s", f.Status, f.Title)
	}
}

// floats formats per-instance values.
func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, "/")
}
