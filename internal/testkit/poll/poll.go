// Package poll waits, in tests, for something that happens asynchronously:
// an announcement crossing to another instance, a listener coming back.
package poll

import (
	"testing"
	"time"
)

// Limit is how long Until waits: a bound for a loaded machine, not a
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
