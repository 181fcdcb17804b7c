package reconnect

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRun: waits double while attempts fail, drop back to Min after one
// that got going, stay within ±20% of the un-jittered wait and under Max,
// and Run returns once ctx ends, without reporting that last attempt.
func TestRun(t *testing.T) {
	b := Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond}
	started := []bool{false, false, false, false, true, false}
	want := []time.Duration{1, 2, 4, 4, 1, 2} // ×Min, before jitter
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	calls := 0
	b.Run(ctx, func(context.Context) (bool, error) {
		calls++
		if calls > len(started) {
			cancel()
			return false, errors.New("last")
		}
		return started[calls-1], errors.New("down")
	}, func(err error, wait time.Duration) {
		if err == nil || err.Error() != "down" {
			t.Errorf("failed got %v", err)
		}
		waits = append(waits, wait)
	})
	if len(waits) != len(want) {
		t.Fatalf("%d waits %v, want %d", len(waits), waits, len(want))
	}
	for i, w := range waits {
		base := want[i] * time.Millisecond
		if w < base*8/10 || w > base*12/10 {
			t.Errorf("wait %d = %v, want %v ±20%%", i, w, base)
		}
	}
}
