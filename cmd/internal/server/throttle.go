package server

import (
	"sync"
	"time"
)

// logThrottle is the one gate every security log line of the server passes
// (securityEvent): a client can repeat a refused log-in, a forged cookie or
// a planted one at request rate, and without it each request would write a
// line. Within each interval it lets through, for each event and client
// network, at most a budget of lines, and for each event across all
// networks at most a larger one (so rotating addresses do not flood the log
// either); what it holds back is counted, and the next line let through for
// that event and network says how many. The zero value is not usable; see
// newLogThrottle.
type logThrottle struct {
	interval time.Duration
	now      func() time.Time

	mu sync.Mutex
	// keys is per event and client network; events per event.
	keys   map[string]*window
	events map[string]*window
}

// window counts one key's lines in the current interval.
type window struct {
	start      time.Time
	lines      int
	suppressed int
}

// budget is how many lines one event may write in an interval: from one
// client network, and from all of them together.
type budget struct{ perClient, perEvent int }

// Budgets by what a client must have to repeat the event: a refusal costs
// nothing, so one line a minute per network (and 60 in all) says it is
// happening; a success needs a password or a live session, so more get
// through, and a busy office behind one address still leaves a trace of
// each of its users' log-ins in a minute.
var (
	refusalBudget = budget{perClient: 1, perEvent: 60}
	successBudget = budget{perClient: 30, perEvent: 6000}
)

// maxThrottleKeys bounds the throttle's memory under a spray of client
// networks; past it, keys whose interval is over are dropped, and if none
// is, all are (their next event is then logged at once).
const maxThrottleKeys = 10_000

func newLogThrottle(interval time.Duration) *logThrottle {
	return &logThrottle{interval: interval, now: time.Now, keys: map[string]*window{}, events: map[string]*window{}}
}

// allow reports whether a line for event from client may be written now
// under b and, if so, how many lines of that event and client were held
// back since the last one written.
func (t *logThrottle) allow(event, client string, b budget) (ok bool, suppressed int) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.get(t.keys, event+" "+client, now)
	e := t.get(t.events, event, now)
	if k.lines >= b.perClient || e.lines >= b.perEvent {
		k.suppressed++
		return false, 0
	}
	k.lines++
	e.lines++
	suppressed, k.suppressed = k.suppressed, 0
	return true, suppressed
}

// get returns m's window for key, starting a new one when the last is
// over. t.mu is held.
func (t *logThrottle) get(m map[string]*window, key string, now time.Time) *window {
	w := m[key]
	if w == nil {
		if len(m) >= maxThrottleKeys {
			t.sweep(m, now)
		}
		w = &window{start: now}
		m[key] = w
	}
	if now.Sub(w.start) >= t.interval {
		w.start, w.lines = now, 0
	}
	return w
}

// sweep drops m's keys whose interval is over and that hold nothing back,
// or every key if that frees nothing.
func (t *logThrottle) sweep(m map[string]*window, now time.Time) {
	for key, w := range m {
		if now.Sub(w.start) >= t.interval && w.suppressed == 0 {
			delete(m, key)
		}
	}
	if len(m) >= maxThrottleKeys {
		clear(m)
	}
}
