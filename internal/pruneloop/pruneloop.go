// Package pruneloop runs a store's pruning: Drain removes a backlog in bounded
// batches, and Start runs it in the background on an interval
// with jitter, so that many instances started together do not prune in step,
// owned by the store that starts it and stopped by its Close.
package pruneloop

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultBatch is how many expired sessions one prune statement deletes
// unless configured otherwise: every store's default and the prune command's,
// small enough to bound each statement's locks and WAL.
const DefaultBatch = 1000

// Loop calls a prune function periodically until Close.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start calls prune every interval, each wait shortened or lengthened by up to
// a fifth at random. Errors are logged, not fatal: the next tick tries again.
// A nil logger discards. Start panics on a non-positive interval, which is a
// programmer error (callers turn "disabled" into not calling Start).
func Start(interval time.Duration, logger *slog.Logger, name string, prune func(context.Context) error) *Loop {
	if interval <= 0 {
		panic("pruneloop: interval must be positive")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			t := time.NewTimer(Jitter(interval))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if err := prune(ctx); err != nil && ctx.Err() == nil {
				logger.Warn(name+": prune failed; will retry", "err", err)
			}
		}
	}()
	return l
}

// Jitter returns d changed by a random amount of up to ±20%.
func Jitter(d time.Duration) time.Duration {
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(rand.Int64N(2*spread+1))
}

// Close stops the loop and waits for a prune in progress to return. It is
// safe to call more than once and on a nil Loop.
func (l *Loop) Close() {
	if l == nil {
		return
	}
	l.once.Do(l.cancel)
	<-l.done
}

// Drain calls prune with limit batch until a call deletes fewer than batch
// rows, so a large backlog is removed in bounded statements, and returns the
// total. progress, which may be nil, gets the running total after each call.
func Drain(ctx context.Context, batch int, prune func(ctx context.Context, limit int) (int, error), progress func(deleted int)) (int, error) {
	total := 0
	for {
		n, err := prune(ctx, batch)
		total += n
		if err != nil {
			return total, err
		}
		if progress != nil {
			progress(total)
		}
		if n < batch {
			return total, nil
		}
	}
}
