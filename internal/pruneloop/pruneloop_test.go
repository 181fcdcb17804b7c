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
		// Never blocks: a prune stuck on a full channel would make Close
		// wait for ever, and the test hang instead of failing.
		select {
		case ran <- struct{}{}:
		default:
		}
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
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop never started its prune")
	}
	closed := make(chan struct{})
	go func() {
		l.Close() // returns only because the prune's context was cancelled
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: it did not cancel the running prune")
	}
}

func TestDrainStopsAtAShortBatch(t *testing.T) {
	backlog := 25
	var calls, reported []int
	total, err := Drain(context.Background(), 10, func(_ context.Context, limit int) (int, error) {
		n := min(limit, backlog)
		backlog -= n
		calls = append(calls, n)
		return n, nil
	}, func(d int) { reported = append(reported, d) })
	if err != nil || total != 25 || len(calls) != 3 || backlog != 0 {
		t.Fatalf("Drain = %d, %v after batches %v", total, err, calls)
	}
	if len(reported) != 3 || reported[2] != 25 {
		t.Fatalf("progress %v", reported)
	}
	boom := errors.New("store down")
	total, err = Drain(context.Background(), 10, func(context.Context, int) (int, error) { return 4, boom }, nil)
	if !errors.Is(err, boom) || total != 4 {
		t.Fatalf("Drain with a failing batch = %d, %v", total, err)
	}
}
