package server

import (
	"fmt"
	"testing"
	"time"
)

// TestEventThrottle: one event per key and interval gets through, the next
// one after the interval says how many were held back, keys do not hold
// each other back, and a spray of keys stays within maxThrottleKeys.
func TestEventThrottle(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	th := newEventThrottle(time.Minute)
	th.now = func() time.Time { return now }
	type step struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed int
	}
	for i, s := range []step{
		{0, "bad 192.0.2.0/24", true, 0},
		{time.Second, "bad 192.0.2.0/24", false, 0},
		{time.Second, "bad 192.0.2.0/24", false, 0},
		{0, "bad 198.51.100.0/24", true, 0},
		{0, "malformed 192.0.2.0/24", true, 0},
		{time.Minute, "bad 192.0.2.0/24", true, 2},
		{0, "bad 192.0.2.0/24", false, 0},
	} {
		now = now.Add(s.advance)
		if ok, n := th.allow(s.key); ok != s.ok || n != s.suppressed {
			t.Fatalf("step %d (%s): allow = %v, %d; want %v, %d", i, s.key, ok, n, s.ok, s.suppressed)
		}
	}
	for i := range 3 * maxThrottleKeys {
		th.allow(fmt.Sprint("bad net", i))
	}
	if n := len(th.keys); n > maxThrottleKeys {
		t.Fatalf("%d keys held, want at most %d", n, maxThrottleKeys)
	}
}
