package reliability

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// The load of the fault scenarios: browsers that read, log out and log in
// again, so that there are writes to lose. Each browser tracks what it was
// told, and the table is checked against every acknowledged write.

// state is what a browser believes about its session.
type state int

const (
	// loggedOut: no session cookie.
	loggedOut state = iota
	// loggedIn: a log-in was acknowledged with 200 and nothing since said
	// otherwise; a 401 now would be a lost session.
	loggedIn
	// unsure: a log-out was sent but not acknowledged (503, or the instance
	// died), so the session may or may not have been deleted.
	unsure
)

// writeLoad drives browsers and records every acknowledged write.
type writeLoad struct {
	browsers []*browser
	states   []state

	// fault classifies an exchange that did not succeed: it returns true
	// when the scenario's fault explains it, false for a defect. It is
	// called from the workers.
	fault func(op string, b *browser, ex exchange) bool
	// observe, when set, sees every exchange of the load (not of verify).
	observe func(op string, ex exchange)
	// cached is set when the instances run the session cache: a read
	// answered 200 right after a log-out whose answer was lost may come
	// from a cache the log-out's announcement has not reached yet, so it
	// does not prove the log-out did not happen.
	cached bool

	errs     errorf
	statuses tally
	lat      latencies

	mu sync.Mutex
	// acked maps the session id of every log-in acknowledged with 200 to
	// its browser; loggedOut holds the ids whose log-out was acknowledged.
	acked     map[string]int
	ackedOut  map[string]bool
	lost401   atomic.Int64
	newDuring atomic.Int64 // cookies set by a response the fault explains
}

func newWriteLoad(browsers []*browser, fault func(op string, b *browser, ex exchange) bool) *writeLoad {
	return &writeLoad{
		browsers: browsers,
		states:   make([]state, len(browsers)),
		fault:    fault,
		acked:    map[string]int{},
		ackedOut: map[string]bool{},
	}
}

// loginAll logs every browser in before the load starts.
func (w *writeLoad) loginAll(t *testing.T, ctx context.Context, workers int) {
	t.Helper()
	parallel(workers, len(w.browsers), func(i int) { w.step(ctx, i, "login") })
	for i, s := range w.states {
		if s != loggedIn {
			t.Fatalf("browser %d could not log in before the fault", i)
		}
	}
}

// run drives the browsers on workers goroutines, each owning every
// workers-th browser, until stop is closed (or maxRounds passes).
func (w *writeLoad) run(ctx context.Context, workers int, stop <-chan struct{}) {
	const maxRounds = 10000
	rngs := make([]*rand.Rand, workers) // one per worker: rand.Rand is not safe for concurrent use
	for k := range rngs {
		rngs[k] = rand.New(rand.NewPCG(uint64(k), 42))
	}
	untilStopped(stop, workers, len(w.browsers), maxRounds, func(k, i int) {
		op := "user"
		switch w.states[i] {
		case loggedOut:
			op = "login"
		case loggedIn:
			if rngs[k].IntN(100) < 8 {
				op = "logout"
			}
		}
		w.step(ctx, i, op)
	})
}

// step performs one operation for browser i and updates its state.
func (w *writeLoad) step(ctx context.Context, i int, op string) {
	b := w.browsers[i]
	before := w.states[i]
	sentID := sessionID(b.cookie)
	var ex exchange
	switch op {
	case "login":
		ex = b.login(ctx)
	case "logout":
		ex = b.logout(ctx)
	default:
		ex = b.user(ctx)
	}
	w.statuses.inc(op + " " + outcome(ex))
	w.lat.add(ex.dur)
	if w.observe != nil {
		w.observe(op, ex)
	}
	ok := ex.err == nil && ex.status == http.StatusOK
	if !ok && ex.setCookie != "" {
		w.newDuring.Add(1)
		w.errs.add("browser %d %s: a failed response (%d) set a session cookie", i, op, ex.status)
	}
	switch op {
	case "login":
		if ok && ex.setCookie != "" {
			w.mu.Lock()
			w.acked[sessionID(ex.setCookie)] = i
			w.mu.Unlock()
			w.states[i] = loggedIn
			return
		}
		b.cookie = "" // a failed log-in leaves the browser logged out
		if !w.fault(op, b, ex) {
			w.errs.add("browser %d log-in: status %d, err %v: %s", i, ex.status, ex.err, ex.body)
		}
	case "logout":
		if ok {
			if !ex.cleared {
				w.errs.add("browser %d: log-out acknowledged without clearing the cookie", i)
			}
			w.mu.Lock()
			w.ackedOut[sentID] = true
			w.mu.Unlock()
			w.states[i] = loggedOut
			b.cookie = ""
			return
		}
		w.states[i] = unsure
		if !w.fault(op, b, ex) {
			w.errs.add("browser %d log-out: status %d, err %v: %s", i, ex.status, ex.err, ex.body)
		}
	default:
		switch {
		case ok && userEmail(ex.body) == b.email && before == unsure && w.cached:
			// Still unsure: see cached.
		case ok && userEmail(ex.body) == b.email:
			w.states[i] = loggedIn
		case ex.err == nil && ex.status == http.StatusUnauthorized && before == unsure:
			w.states[i] = loggedOut // the unacknowledged log-out did happen
			b.cookie = ""
		case ex.err == nil && ex.status == http.StatusUnauthorized:
			w.lost401.Add(1)
			w.errs.add("browser %d: 401 while logged in (session %.6s…): logged out", i, sentID)
		case !w.fault(op, b, ex):
			w.errs.add("browser %d read: status %d, err %v: %s", i, ex.status, ex.err, ex.body)
		}
	}
}

// verify checks, after the fault has healed, that every browser that
// believes it is logged in still is (retrying answers the fault explains
// while the instances recover), and that the table holds every
// acknowledged log-in and none of the acknowledged log-outs. It returns the
// number of acknowledged writes checked and lost, and the orphan rows
// (sessions no browser holds: log-ins whose answer was lost).
func (w *writeLoad) verify(t *testing.T, ctx context.Context, db *database) (checked, lost, retries, orphans int) {
	t.Helper()
	var retried atomic.Int64
	var errs errorf
	parallel(16, len(w.browsers), func(i int) {
		b := w.browsers[i]
		if w.states[i] == loggedOut {
			return
		}
		for attempt := 0; ; attempt++ {
			ex := b.user(ctx)
			switch {
			case ex.err == nil && ex.status == http.StatusOK && userEmail(ex.body) == b.email:
				w.states[i] = loggedIn
				return
			case ex.err == nil && ex.status == http.StatusUnauthorized && w.states[i] == unsure:
				w.states[i] = loggedOut
				b.cookie = ""
				return
			case ex.err == nil && ex.status == http.StatusUnauthorized:
				errs.add("browser %d: logged out after the fault (session %.6s…)", i, sessionID(b.cookie))
				return
			case attempt < 50 && w.fault("user", b, ex):
				retried.Add(1)
				time.Sleep(100 * time.Millisecond)
			default:
				errs.add("browser %d after the fault: status %d, err %v", i, ex.status, ex.err)
				return
			}
		}
	})
	errs.check(t)

	ids := db.sessionIDs(t)
	w.mu.Lock()
	defer w.mu.Unlock()
	for sid, i := range w.acked {
		checked++
		_, present := ids[sessionkit.HashID(sid)]
		switch {
		case w.ackedOut[sid] && present:
			lost++
			t.Errorf("browser %d: acknowledged log-out of %.6s… but the row is still there", i, sid)
		case !w.ackedOut[sid] && !present && sessionID(w.browsers[i].cookie) == sid:
			lost++
			t.Errorf("browser %d: acknowledged log-in %.6s… has no row", i, sid)
		}
	}
	checked += len(w.ackedOut)
	held := map[string]bool{}
	for i, b := range w.browsers {
		if w.states[i] == loggedIn {
			held[sessionkit.HashID(sessionID(b.cookie))] = true
		}
	}
	for sid := range ids {
		if !held[sid] {
			orphans++
		}
	}
	return checked, lost, int(retried.Load()), orphans
}
