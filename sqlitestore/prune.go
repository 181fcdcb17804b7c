package sqlitestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionkit/sessionkit/internal/pruneloop"
)

// Prune deletes at most limit expired sessions, oldest expiry first, and
// reports how many it deleted. A limit below one deletes nothing.
func (s *Store) Prune(ctx context.Context, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	if limit < 1 {
		// SQLite reads a negative LIMIT as "no limit"; never pass one.
		return 0, nil
	}
	release, err := s.lockWrite(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	defer release()
	res, err := s.db.ExecContext(ctx, s.q.prune, nowMilli(), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	s.trimJournal(ctx)
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: prune: %w", err)
	}
	return int(n), nil
}

// CountSessions returns how many sessions are live (Load would return them)
// and how many are expired but not yet pruned.
func (s *Store) CountSessions(ctx context.Context) (live, expired int, err error) {
	if err := s.db.QueryRowContext(ctx, s.q.counts, nowMilli()).Scan(&live, &expired); err != nil {
		return 0, 0, fmt.Errorf("sqlitestore: count sessions: %w", err)
	}
	return live, expired, nil
}

// pruneAll is the background pass: batches until one comes back short, taking
// the write turn per batch so requests interleave with a long cleanup. It
// also looks again for rows under a raw id, so that once they have expired
// or been converted the statements stop naming ids.
func (s *Store) pruneAll(ctx context.Context) error {
	_, err := pruneloop.Drain(ctx, s.batch, s.Prune, nil)
	return errors.Join(err, s.recheckRawIDs(ctx))
}
