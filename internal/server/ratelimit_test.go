package server

import (
	"net/http/httptest"
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
		if w := l.wait("k"); w != 0 {
			t.Fatalf("blocked after fewer than 3 failures: %v", w)
		}
		l.fail("k")
		step(time.Minute)
	}
	// Failures at 0, 1 and 2 minutes; now is 3 minutes: the first leaves the
	// window at 10 minutes.
	if w := l.wait("k"); w != 7*time.Minute {
		t.Fatalf("wait = %v, want 7m", w)
	}
	if w := l.wait("other"); w != 0 {
		t.Fatalf("another key is blocked: %v", w)
	}
	step(7 * time.Minute)
	if w := l.wait("k"); w != 0 {
		t.Fatalf("still blocked once the oldest failure left the window: %v", w)
	}
	// One more failure blocks again until the next oldest (1 minute) leaves.
	l.fail("k")
	if w := l.wait("k"); w != time.Minute {
		t.Fatalf("wait = %v, want 1m (sliding, not fixed, window)", w)
	}
	l.reset("k")
	if w := l.wait("k"); w != 0 {
		t.Fatalf("blocked after reset: %v", w)
	}
}

func TestLimiterSweepsStaleKeys(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiter(time.Minute, 2)
	l.now = func() time.Time { return now }
	l.fail("old")
	now = now.Add(2 * time.Minute)
	l.fail("new")
	if _, ok := l.failures["old"]; ok {
		t.Fatal("a key whose failures left the window was kept")
	}
	if _, ok := l.failures["new"]; !ok {
		t.Fatal("a live key was swept")
	}
}

func TestClientKey(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:5000", "", "addr:192.0.2.1"},
		{"192.0.2.1:5000", "198.51.100.9", "addr:192.0.2.1"}, // untrusted peer: header ignored
		{"10.0.0.2:5000", "198.51.100.9", "addr:198.51.100.9"},
		{"10.0.0.2:5000", "6.6.6.6, 198.51.100.9, 10.0.0.7", "addr:198.51.100.9"},
		{"10.0.0.2:5000", "", "addr:10.0.0.2"},
		{"10.0.0.2:5000", "garbage", "addr:10.0.0.2"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "", "addr:2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:5000", "", "addr:192.0.2.1"},
	} {
		r := httptest.NewRequest("POST", "/api/login", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientKey(r, trusted); got != tc.want {
			t.Errorf("clientKey(%s, XFF %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}
