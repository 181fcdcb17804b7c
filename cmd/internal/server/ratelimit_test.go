package server

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiterSlidingWindow(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiter(10*time.Minute, 3)
	l.now = func() time.Time { return now }
	step := func(d time.Duration) { now = now.Add(d) }

	for range 3 {
		if w := l.wait(keyOf("t", "k")); w != 0 {
			t.Fatalf("blocked after fewer than 3 failures: %v", w)
		}
		if release, w := l.acquire(keyOf("t", "k")); release == nil || w != 0 {
			t.Fatalf("acquire refused after fewer than 3 failures: %v", w)
		}
		step(time.Minute)
	}
	// Failures at 0, 1 and 2 minutes; now is 3 minutes: the first leaves the
	// window at 10 minutes.
	if w := l.wait(keyOf("t", "k")); w != 7*time.Minute {
		t.Fatalf("wait = %v, want 7m", w)
	}
	if w := l.wait(keyOf("t", "other")); w != 0 {
		t.Fatalf("another key is blocked: %v", w)
	}
	step(7 * time.Minute)
	if w := l.wait(keyOf("t", "k")); w != 0 {
		t.Fatalf("still blocked once the oldest failure left the window: %v", w)
	}
	// One more failure blocks again until the next oldest (1 minute) leaves.
	l.acquire(keyOf("t", "k"))
	if w := l.wait(keyOf("t", "k")); w != time.Minute {
		t.Fatalf("wait = %v, want 1m (sliding, not fixed, window)", w)
	}
	l.reset(keyOf("t", "k"))
	if w := l.wait(keyOf("t", "k")); w != 0 {
		t.Fatalf("blocked after reset: %v", w)
	}
}

// TestLimiterAcquire: an attempt counts from the moment it is let
// through, so the attempts in flight together never exceed the limit, and
// one released (it did not fail) no longer counts.
func TestLimiterAcquire(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiter(10*time.Minute, 2)
	l.now = func() time.Time { return now }
	first, w := l.acquire(keyOf("t", "k"))
	if first == nil || w != 0 {
		t.Fatalf("first attempt refused: %v", w)
	}
	second, _ := l.acquire(keyOf("t", "k")) // at the same instant as the first
	if second == nil {
		t.Fatal("second attempt refused under a limit of 2")
	}
	if release, w := l.acquire(keyOf("t", "k")); release != nil || w != 10*time.Minute {
		t.Fatalf("third attempt while two are in flight: release %v, wait %v; want refused for the window", release != nil, w)
	}
	first()
	first() // releasing twice takes back one attempt only
	if n := len(l.failures[keyOf("t", "k")]); n != 1 {
		t.Fatalf("after one release %d attempts count, want 1", n)
	}
	if release, w := l.acquire(keyOf("t", "k")); release == nil || w != 0 {
		t.Fatalf("refused after a release: %v", w)
	}
	if _, w := l.acquire(keyOf("t", "k")); w == 0 {
		t.Fatal("a third attempt passed")
	}
	second()
	l.reset(keyOf("t", "k"))
	second() // after a reset, releasing is a no-op
	if _, ok := l.failures[keyOf("t", "k")]; ok {
		t.Fatal("a release after reset recorded something")
	}
}

func TestLimiterSweepsStaleKeys(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiter(time.Minute, 2)
	l.now = func() time.Time { return now }
	l.acquire(keyOf("t", "old"))
	now = now.Add(2 * time.Minute)
	l.acquire(keyOf("t", "new"))
	if _, ok := l.failures[keyOf("t", "old")]; ok {
		t.Fatal("a key whose failures left the window was kept")
	}
	if _, ok := l.failures[keyOf("t", "new")]; !ok {
		t.Fatal("a live key was swept")
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1":            "addr:192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "addr:2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "addr:2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "addr:2001:db8:1:3::/64",
	} {
		if got := clientKey(netip.MustParseAddr(addr)); got != want {
			t.Errorf("clientKey(%s) = %q, want %q", addr, got, want)
		}
	}
}
