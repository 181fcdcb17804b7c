package sqlitestore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit"
)

// hashBatch is how many rows one transaction of HashStoredIDs converts.
const hashBatch = 1000

// HashStoredIDs converts the rows that still hold a raw session id, written
// before the store kept hashes, to hold its hash, and reports how many it
// converted. Each row is renamed in place (an UPDATE of its sid), in
// transactions of 1000 rows that take the store's write turn, so a reader
// finds the session under one key or the other at every moment (the store
// looks sessions up under both): it is safe while servers run, and running
// it again converts nothing more. Without it such rows keep working until
// they expire. When it leaves none, the store's statements stop carrying
// raw ids (in other processes, at their next background prune).
func (s *Store) HashStoredIDs(ctx context.Context) (int, error) {
	total, after := 0, ""
	for {
		n, last, err := s.hashBatch(ctx, after)
		total += n
		if err != nil {
			return total, fmt.Errorf("sqlitestore: hash stored ids: %w", err)
		}
		if last == "" {
			// Rows written meanwhile by an older version keep the raw ids
			// in the statements.
			return total, s.recheckRawIDs(ctx)
		}
		after = last
	}
}

// hashBatch converts up to hashBatch live raw-id rows whose sid sorts after
// after, and returns how many it converted and the last sid it looked at
// ("" when there was none).
func (s *Store) hashBatch(ctx context.Context, after string) (n int, last string, err error) {
	release, err := s.lockWrite(ctx)
	if err != nil {
		return 0, "", err
	}
	defer release()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, "", err
	}
	defer tx.Rollback() // a no-op after Commit
	t := `"` + s.q.table + `"`
	rows, err := tx.QueryContext(ctx, `SELECT sid FROM `+t+
		` WHERE substr(sid, 1, 7) <> 'sha256:' AND sid > ? AND expire >= ? ORDER BY sid LIMIT ?`, after, nowMilli(), hashBatch)
	if err != nil {
		return 0, "", err
	}
	var raw []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, "", err
		}
		raw = append(raw, id)
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	if len(raw) == 0 {
		return 0, "", nil
	}
	for _, id := range raw {
		// The hash is never taken (no id contains its ':'); if it were, the
		// row is left for its own expiry rather than made an error.
		res, err := tx.ExecContext(ctx, `UPDATE `+t+` SET sid = ?1 WHERE sid = ?2 AND NOT EXISTS (SELECT 1 FROM `+t+` WHERE sid = ?1)`,
			sessionkit.HashID(id), id)
		if err != nil {
			return 0, "", err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, "", err
		}
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, "", err
	}
	return n, raw[len(raw)-1], nil
}
