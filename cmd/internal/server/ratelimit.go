package server

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// limitKey names what a limiter counts (an email, a client, an email from a
// client) by a hash of it, so that an entry costs the same few bytes
// whatever the client sent: a 60 KiB "email" must not be kept as a 60 KiB
// key for the whole window.
type limitKey [16]byte

// keyOf returns the limitKey of kind ("email", "addr", "pair") and parts.
// The parts are length-prefixed, so no two lists hash alike by shifting a
// separator.
func keyOf(kind string, parts ...string) limitKey {
	h := sha256.New()
	h.Write([]byte("sessionkit login limit\x00" + kind))
	for _, p := range parts {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	var k limitKey
	copy(k[:], h.Sum(nil))
	return k
}

// maxLimiterKeys bounds a limiter's memory under a spray of distinct emails
// or addresses; past it, stale keys are swept and then arbitrary ones
// evicted.
const maxLimiterKeys = 100_000

// limiter counts failed attempts per key in a sliding window: a key is
// blocked while it has max failures within the last window. An attempt
// counts as a failure from the moment acquire lets it through until it is
// released, so attempts sent all at once cannot all pass the check before
// any of them has failed. It is in-process: on its own it counts one
// instance's attempts. loginCount shares the counts through the store and
// keeps a limiter as its mirror and fallback.
type limiter struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu sync.Mutex
	// failures holds, per key, the times of its last max failures, oldest
	// first; older ones cannot matter.
	failures  map[limitKey][]time.Time
	lastSweep time.Time
}

func newLimiter(window time.Duration, max int) *limiter {
	return &limiter{window: window, max: max, now: time.Now, failures: make(map[limitKey][]time.Time)}
}

// wait returns how long key must wait before its next attempt; zero means
// it may try now. It records nothing: it is the cheap early refusal, and
// acquire is the check that counts.
func (l *limiter) wait(key limitKey) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waitLocked(key, l.now())
}

func (l *limiter) waitLocked(key limitKey, now time.Time) time.Duration {
	f := l.failures[key]
	if len(f) < l.max {
		return 0
	}
	// The oldest of the last max failures leaves the window at this time.
	return max(0, f[0].Add(l.window).Sub(now))
}

// acquire lets key make one attempt when it is under its limit, recording
// the attempt as a failure at once, and returns release, which takes the
// attempt back for when it turns out not to have failed (the password was
// right, or it could not be checked); calling it again does nothing. Over
// the limit, it records nothing and returns how long key must wait.
func (l *limiter) acquire(key limitKey) (release func(), wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if wait := l.waitLocked(key, now); wait > 0 {
		return nil, wait
	}
	return l.takeLocked(key, now), 0
}

// take records an attempt of key at now whether or not key is over its
// limit, and returns its release, as acquire's.
func (l *limiter) take(key limitKey, now time.Time) (release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.takeLocked(key, now)
}

func (l *limiter) takeLocked(key limitKey, now time.Time) (release func()) {
	l.record(key, now)
	released := false
	return func() { l.forget(key, now, &released) }
}

// forget removes one failure of key recorded at t, once however often it
// is called, if a reset, a sweep or newer failures have not removed it
// already.
func (l *limiter) forget(key limitKey, t time.Time, released *bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *released {
		return
	}
	*released = true
	f := l.failures[key]
	i := slices.IndexFunc(f, t.Equal)
	switch {
	case i < 0:
	case len(f) == 1:
		delete(l.failures, key)
	default:
		l.failures[key] = slices.Delete(f, i, i+1)
	}
}

// note records a failure of key now, as an acquire that is never released
// would, but whether or not key is over its limit.
func (l *limiter) note(key limitKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.record(key, l.now())
}

// record adds a failure of key at now, keeping the last max. l.mu is held.
func (l *limiter) record(key limitKey, now time.Time) {
	l.sweep(now)
	f := append(l.failures[key], now)
	if len(f) > l.max {
		f = append(f[:0], f[len(f)-l.max:]...)
	}
	l.failures[key] = f
}

// reset forgets key's failures (after a successful log-in).
func (l *limiter) reset(key limitKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}

// sweep drops keys whose last failure left the window, at most once a
// window unless the map is over its bound.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.window && len(l.failures) < maxLimiterKeys {
		return
	}
	l.lastSweep = now
	for k, f := range l.failures {
		if now.Sub(f[len(f)-1]) >= l.window {
			delete(l.failures, k)
		}
	}
	for k := range l.failures {
		if len(l.failures) < maxLimiterKeys*9/10 {
			break
		}
		delete(l.failures, k)
	}
}

// clientKey names a client for rate limiting by the address the session
// manager derives (X-Forwarded-For believed only from trusted proxies, see
// sessionkit.TrustedProxies.ClientAddr). IPv6 clients are keyed by /64, since one
// host commonly holds a whole /64.
func clientKey(addr netip.Addr) string {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + addr.String()
}

// knownFor is how long an address an email logged in from stays known to
// the log-in limits (see admitPassword): the known count holds, per (email,
// address), the last log-in for that long. Like every count, it holds at
// most maxLimiterKeys in memory; past it, forgotten owners count as fresh
// addresses, which costs them nothing unless their email is attacked.
const knownFor = 30 * 24 * time.Hour
