package pruneloop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestJitterStaysWithinAFifth(t *testing.T) {
	const d = 10 * time.Second
	lo, hi := d, d
	for range 10000 {
		j := Jitter(d)
		if j < d-d/5 || j > d+d/5 {
			t.Fatalf("Jitter(%v) = %v, outside ±20%%", d, j)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	if hi-lo < d/5 {
		t.Fatalf("Jitter hardly varies: %v..%v", lo, hi)
	}
	if Jitter(1) != 1 {
		t.Fatal("a duration too small to spread changed")
	}
}

func TestLoopRunsUntilClose(t *testing.T) {
	var calls atomic.Int64
	ran := make(chan struct{}, 100)
	l := Start(time.Millisecond, nil, "test", func(ctx context.Context) error {
		calls.Add(1)
		ran <- struct{}{}
		return errors.New("failures are retried, not fatal")
	})
	deadline := time.After(10 * time.Second)
	for range 3 {
		select {
		case <-ran:
		case <-deadline:
			t.Fatal("the loop did not run three times")
		}
	}
	l.Close()
	l.Close() // idempotent
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != after {
		t.Fatal("the loop ran after Close returned")
	}
	var none *Loop
	none.Close()
}

func TestCloseCancelsARunningPrune(t *testing.T) {
	started := make(chan struct{})
	l := Start(time.Millisecond, nil, "test", func(ctx context.Context) error {
		close(started)
		<-ctx.Done() // a prune that only stops when cancelled
		return ctx.Err()
	})
	<-started
	l.Close() // returns only because the prune's context was cancelled
}
