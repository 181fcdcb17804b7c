package admin

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit/internal/pruneloop"
)

// SessionCounts is how many rows the sessions table holds.
type SessionCounts struct {
	// Live counts the rows a store would return.
	Live int
	// Expired counts the rows past their expiry that are not yet pruned.
	Expired int
}

// CountSessions counts live and expired (not yet pruned) session rows, or
// the sessions in Redis (all live).
func (db *DB) CountSessions(ctx context.Context) (SessionCounts, error) {
	var c SessionCounts
	var err error
	switch {
	case db.redis != nil:
		// Redis deletes expired sessions itself: all it holds are live.
		var n int64
		n, err = db.redis.store.Count(ctx)
		c.Live = int(n)
	case db.pg != nil:
		c.Live, c.Expired, err = db.pg.CountSessions(ctx)
	default:
		c.Live, c.Expired, err = db.lite.CountSessions(ctx)
	}
	if err != nil {
		return c, fmt.Errorf("count sessions: %w", hint(err))
	}
	return c, nil
}

// PruneResult is what one Prune run did.
type PruneResult struct {
	// Deleted is how many expired sessions were removed.
	Deleted int
	// Expired is how many were expired when the run started.
	Expired int
	// Skipped is true when another process held PostgreSQL's prune lock, so
	// this run deleted nothing.
	Skipped bool
}

// Prune deletes every expired session now, batch rows per statement (batch <
// 1 means pruneloop.DefaultBatch), calling progress (which may be nil) after each
// batch with the running total and the number expired at the start. On
// PostgreSQL it takes the store's advisory lock, like the background pruner,
// so two prunes of one table never run at once.
func (db *DB) Prune(ctx context.Context, batch int, progress func(deleted, expired int)) (PruneResult, error) {
	if batch < 1 {
		batch = pruneloop.DefaultBatch
	}
	var res PruneResult
	counts, err := db.CountSessions(ctx)
	if err != nil {
		return res, err
	}
	res.Expired = counts.Expired
	report := func(deleted int) {
		if progress != nil {
			progress(deleted, res.Expired)
		}
	}
	if db.pg != nil {
		n, ran, err := db.pg.PruneExpired(ctx, batch, report)
		res.Deleted, res.Skipped = n, !ran
		return res, err
	}
	res.Deleted, err = pruneloop.Drain(ctx, batch, db.lite.Prune, report)
	return res, err
}
