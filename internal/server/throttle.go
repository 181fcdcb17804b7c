package server

import (
	"sync"
	"time"
)

// eventThrottle lets a security event through at most once per interval for
// each key (the event and the client's network), and counts what it held
// back, for events a client repeats on every request: a browser holding a
// cookie signed with a retired secret sends it until it expires, and an
// attacker can send forged ones at request rate. Without it, either fills
// the log. The zero value is not usable; see newEventThrottle.
type eventThrottle struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*throttled
}

type throttled struct {
	last       time.Time
	suppressed int
}

// maxThrottleKeys bounds the throttle's memory under a spray of client
// networks; past it, keys idle for an interval are dropped, and if none
// is, all are (their next event is then logged at once).
const maxThrottleKeys = 10_000

func newEventThrottle(interval time.Duration) *eventThrottle {
	return &eventThrottle{interval: interval, now: time.Now, keys: map[string]*throttled{}}
}

// allow reports whether an event for key may be logged now and, if so, how
// many were held back for key since the last one logged.
func (t *eventThrottle) allow(key string) (ok bool, suppressed int) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keys[key]
	if k == nil {
		if len(t.keys) >= maxThrottleKeys {
			t.sweep(now)
		}
		t.keys[key] = &throttled{last: now}
		return true, 0
	}
	if now.Sub(k.last) < t.interval {
		k.suppressed++
		return false, 0
	}
	suppressed, k.suppressed, k.last = k.suppressed, 0, now
	return true, suppressed
}

// sweep drops keys idle for an interval, or every key if none is.
func (t *eventThrottle) sweep(now time.Time) {
	for key, k := range t.keys {
		if now.Sub(k.last) >= t.interval {
			delete(t.keys, key)
		}
	}
	if len(t.keys) >= maxThrottleKeys {
		clear(t.keys)
	}
}
