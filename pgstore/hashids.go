package pgstore

import (
	"context"
	"fmt"

	"github.com/sessionkit/sessionkit"
)

// hashBatch is how many rows one statement of HashStoredIDs converts.
const hashBatch = 1000

// HashStoredIDs converts the rows that still hold a raw session id, written
// before the store kept hashes (Layout.HashedIDs), to hold its hash, and
// reports how many it converted. Each row is renamed in place by an UPDATE
// of its sid, in batches of 1000 rows per statement, so a reader finds the
// session under one key or the other at every moment (the store looks
// sessions up under both) and nothing else about it changes: it is safe
// while servers run, and running it again converts nothing more. Without it
// such rows keep working until they expire. When it leaves none, the
// store's statements stop carrying raw ids (on other instances, at their
// next background prune). On a table Node reads
// (LayoutConnectPgSimple) it does nothing.
func (s *Store) HashStoredIDs(ctx context.Context) (int, error) {
	if !s.layout.HashedIDs {
		return 0, nil
	}
	t := qualified(s.schema, s.table)
	// The hashed key is never taken (no id contains its ':'), but a row a
	// concurrent run just converted is skipped rather than an error.
	update := "UPDATE " + t + " AS s SET sid = v.hashed FROM unnest($1::text[], $2::text[]) AS v(raw, hashed)" +
		" WHERE s.sid = v.raw AND NOT EXISTS (SELECT 1 FROM " + t + " WHERE sid = v.hashed)"
	// Only live rows: expired ones are about to be pruned anyway.
	pick := "SELECT sid FROM " + t + " WHERE sid NOT LIKE 'sha256:%' AND sid > $1 AND expire > now() ORDER BY sid LIMIT $2"
	total, after := 0, ""
	for {
		rows, err := s.pool.Query(ctx, pick, after, hashBatch)
		if err != nil {
			return total, fmt.Errorf("pgstore: hash stored ids: %w", err)
		}
		var raw []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, fmt.Errorf("pgstore: hash stored ids: %w", err)
			}
			raw = append(raw, id)
		}
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("pgstore: hash stored ids: %w", err)
		}
		if len(raw) == 0 {
			// Rows written meanwhile by an instance of an older version
			// keep the raw ids in the statements.
			return total, s.recheckRawIDs(ctx)
		}
		hashed := make([]string, len(raw))
		for i, id := range raw {
			hashed[i] = sessionkit.HashID(id)
		}
		tag, err := s.pool.Exec(ctx, update, raw, hashed)
		if err != nil {
			return total, fmt.Errorf("pgstore: hash stored ids: %w", err)
		}
		total += int(tag.RowsAffected())
		after = raw[len(raw)-1]
	}
}
