package server

import (
	"fmt"
	"testing"
	"time"
)

// TestLogThrottle: within an interval each event and client network gets
// its budget, each event across networks its larger one; the first line
// after the interval says how many were held back; keys do not hold each
// other back, and a spray of networks stays within maxThrottleKeys.
func TestLogThrottle(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := newLogThrottle(time.Minute)
	th.now = func() time.Time { return now }
	b := budget{perClient: 2, perEvent: 3}
	type step struct {
		advance       time.Duration
		event, client string
		ok            bool
		suppressed    int
	}
	for i, s := range []step{
		{0, "bad", "192.0.2.0/24", true, 0},
		{time.Second, "bad", "192.0.2.0/24", true, 0},
		{time.Second, "bad", "192.0.2.0/24", false, 0},
		{time.Second, "bad", "192.0.2.0/24", false, 0},
		{0, "malformed", "192.0.2.0/24", true, 0},
		{0, "bad", "198.51.100.0/24", true, 0},
		// The event's budget across networks is spent.
		{0, "bad", "203.0.113.0/24", false, 0},
		{time.Minute, "bad", "192.0.2.0/24", true, 2},
		{0, "bad", "203.0.113.0/24", true, 1},
	} {
		now = now.Add(s.advance)
		if ok, n := th.allow(s.event, s.client, b); ok != s.ok || n != s.suppressed {
			t.Fatalf("step %d (%s %s): allow = %v, %d; want %v, %d", i, s.event, s.client, ok, n, s.ok, s.suppressed)
		}
	}
	for i := range 3 * maxThrottleKeys {
		th.allow("bad", fmt.Sprint("net", i), budget{1, 1 << 30})
	}
	if n := len(th.keys); n > maxThrottleKeys {
		t.Fatalf("%d keys held, want at most %d", n, maxThrottleKeys)
	}
}
