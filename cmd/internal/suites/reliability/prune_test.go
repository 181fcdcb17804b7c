package reliability

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	pruneExpired  = 1_000_000
	pruneBrowsers = 60
	pruneWorkers  = 16
	// pruneBaseline is how long browsers read before the prune, for the
	// latency to compare with.
	pruneBaseline = 3 * time.Second
)

// pruneSummaryRE matches the summary line of `sessionkit prune`: "prune:
// deleted N of M expired sessions from <database> in <duration>".
var pruneSummaryRE = regexp.MustCompile(`deleted (\d+) of (\d+) expired sessions from .* in (\S+)`)

// TestPruneUnderLoad fills the table with a million expired sessions and
// runs `sessionkit prune` while browsers keep reading through three
// instances: no read fails, every expired row goes and every live one stays.
// The read latency during the prune is reported next to the latency just
// before it (a figure, not an assertion). Skipped with -short.
func TestPruneUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the million-row prune")
	}
	rep := newReport(t, "Prune a million expired rows under load",
		fmt.Sprintf("3 instances; %d browsers reading on %d workers", pruneBrowsers, pruneWorkers),
		fmt.Sprintf("%d expired rows, `sessionkit prune` (batches of 1000) during the reads", pruneExpired))
	db := newDatabase(t)
	emails := db.addUsers(t, pruneBrowsers)
	c := startCluster(t, db, 3, nil)
	client := newClient(t)
	browsers := newBrowsers(client, c.lb.URL(), emails)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var errs errorf
	parallel(pruneWorkers, len(browsers), func(i int) {
		if ex := browsers[i].login(ctx); ex.err != nil || ex.status != http.StatusOK {
			errs.add("browser %d login: %d %v", i, ex.status, ex.err)
		}
	})
	errs.check(t)
	if t.Failed() {
		return
	}

	start := time.Now()
	_, err := db.pool.Exec(ctx, `INSERT INTO sessions (sid, sess, expire, created_at)
		SELECT 'expired-' || g, '{"userId": 1, "email": "user0@example.com"}'::jsonb,
		       now() - interval '1 hour' - g * interval '1 second', now() - interval '8 days'
		FROM generate_series(1, $1::int) g`, pruneExpired)
	if err != nil {
		t.Fatalf("insert expired rows: %v", err)
	}
	insertTime := time.Since(start)
	if _, err := db.pool.Exec(ctx, `ANALYZE sessions`); err != nil {
		t.Fatal(err)
	}

	// read keeps every browser reading until stop, recording latencies.
	read := func(lat *latencies, statuses *tally, stop <-chan struct{}) {
		untilStopped(stop, pruneWorkers, len(browsers), 100000, func(_, i int) {
			b := browsers[i]
			ex := b.user(ctx)
			statuses.inc(outcome(ex))
			lat.add(ex.dur)
			if ex.err != nil || ex.status != http.StatusOK || userEmail(ex.body) != b.email {
				errs.add("browser %d: status %d, err %v", i, ex.status, ex.err)
			}
		})
	}

	var baseLat, pruneLat latencies
	var baseStatuses, pruneStatuses tally
	stop := make(chan struct{})
	time.AfterFunc(pruneBaseline, func() { close(stop) })
	read(&baseLat, &baseStatuses, stop)

	stop = make(chan struct{})
	var out cmdResult
	var pruneErr error
	var pruneTime time.Duration
	go func() {
		defer close(stop)
		start := time.Now()
		out, pruneErr = db.run(nil, "", "prune")
		pruneTime = time.Since(start)
	}()
	read(&pruneLat, &pruneStatuses, stop)
	errs.check(t)
	if pruneErr != nil {
		t.Fatal(pruneErr)
	}

	summary := strings.TrimSpace(out.stdout)
	if out.code != 0 {
		t.Fatalf("sessionkit prune: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	if m := pruneSummaryRE.FindStringSubmatch(summary); m == nil || m[1] != fmt.Sprint(pruneExpired) || m[2] != fmt.Sprint(pruneExpired) {
		t.Errorf("prune summary %q: want %d of %d deleted", summary, pruneExpired, pruneExpired)
	}
	var expired, live int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE expire <= now()), count(*) FILTER (WHERE expire > now()) FROM sessions`).Scan(&expired, &live); err != nil {
		t.Fatal(err)
	}
	if expired != 0 || live != pruneBrowsers {
		t.Errorf("after the prune: %d expired and %d live rows; want 0 and %d", expired, live, pruneBrowsers)
	}

	rep.addf("insert of the expired rows", "%s (generate_series)", insertTime.Round(time.Millisecond))
	if m := pruneSummaryRE.FindStringSubmatch(summary); m != nil {
		summary = fmt.Sprintf("deleted %s of %s expired sessions in %s", m[1], m[2], m[3])
	}
	rep.addf("sessionkit prune", "%s wall; it reported: %s", pruneTime.Round(time.Millisecond), summary)
	rep.addf("reads before the prune", "%s; %s", baseStatuses.String(), baseLat.summary())
	rep.addf("reads during the prune", "%s; %s", pruneStatuses.String(), pruneLat.summary())
	rep.addf("rows left", "%d expired, %d live (of %d)", expired, live, pruneBrowsers)
	rep.setLost("%d of %d live sessions; %d failed reads", pruneBrowsers-live, pruneBrowsers,
		pruneStatuses.get("error")+baseStatuses.get("error")+pruneStatuses.get("503")+pruneStatuses.get("401"))
}
