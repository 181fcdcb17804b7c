// Package reconnect keeps a connection-bound loop going: the stores' change
// feeds (pgstore's LISTEN, redisstore's SUBSCRIBE) run one connection until
// it fails, then wait and start another, backing off while attempts keep
// failing.
package reconnect

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is how long Run waits between attempts: Min after an attempt that
// got going, twice the last wait after one that did not, up to Max. Each
// wait is jittered ±20%, so that instances that lost their connections
// together do not reconnect in step.
type Backoff struct {
	Min, Max time.Duration
}

// Run calls attempt until ctx ends. attempt runs one connection and
// returns once it is over, reporting whether it got going (so that the
// next failure waits Min again) and why it ended. Unless ctx has ended,
// failed is then called with that error and the wait before the next
// attempt.
func (b Backoff) Run(ctx context.Context, attempt func(context.Context) (started bool, err error), failed func(err error, wait time.Duration)) {
	wait := b.Min
	for ctx.Err() == nil {
		started, err := attempt(ctx)
		if started {
			wait = b.Min
		}
		if ctx.Err() != nil {
			return
		}
		jittered := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		failed(err, jittered)
		select {
		case <-ctx.Done():
			return
		case <-time.After(jittered):
		}
		wait = min(2*wait, b.Max)
	}
}
