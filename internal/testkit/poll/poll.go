// Package poll waits, in tests, for something that happens asynchronously:
// an announcement crossing to another instance, a listener coming back.
package poll

import (
	"sync"
	"testing"
	"time"
)

// Limit is how long Until, Wait and Receive wait: a bound for a loaded machine, not a
// timing assertion.
const Limit = time.Minute

// Until polls cond every few milliseconds until it holds, and fails tb,
// naming what it waited for, if it does not within Limit.
func Until(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(Limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Wait waits for wg, and fails tb, naming what it waited for, if the group
// is not done within Limit: a stuck goroutine fails the test instead of
// hanging it.
func Wait(tb testing.TB, what string, wg *sync.WaitGroup) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	Receive(tb, what, done)
}

// Receive returns the next value from ch (the zero value once ch is
// closed), and fails tb, naming what it waited for, if none comes within
// Limit.
func Receive[T any](tb testing.TB, what string, ch <-chan T) T {
	tb.Helper()
	timer := time.NewTimer(Limit)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		tb.Fatalf("gave up waiting: %s", what)
		var zero T
		return zero
	}
}
