package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionkit/sessionkit/internal/pruneloop"
)

// execer is what one prune statement needs: the pool or one connection.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// lockKey is the key of the advisory lock PruneExpired holds on one table: a
// stable hash, so every instance and every version of this package derives the
// same key. PruneExpired resolves an empty schema to the connection's current
// schema.
func lockKey(schema, table string) int64 { return hashKey("sessionkit:", schema, table) }

// ddlLockKey is the key LockSchema takes (New, while it creates the table). It differs from
// lockKey so that an instance starting up does not wait for another one's
// whole prune run.
func ddlLockKey(schema, table string) int64 { return hashKey("sessionkit-ddl:", schema, table) }

func hashKey(purpose, schema, table string) int64 {
	h := fnv.New64a()
	h.Write([]byte(purpose + schema + "." + table))
	return int64(h.Sum64())
}

// Prune deletes at most limit expired sessions in one statement and reports
// how many it deleted; callers loop until it returns fewer than limit. Rows
// locked by a concurrent prune are skipped, not waited for. It takes no
// advisory lock; PruneExpired is the whole run that does. A limit below 1
// deletes nothing and runs no statement, as in every store: the contract keeps
// errors for a store that cannot answer.
func (s *Store) Prune(ctx context.Context, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pgstore: prune: %w", err)
	}
	if limit < 1 {
		return 0, nil // PostgreSQL would refuse a negative LIMIT
	}
	n, err := s.pruneBatch(ctx, s.pool, limit)
	if err != nil {
		return n, fmt.Errorf("pgstore: prune: %w", err)
	}
	return n, nil
}

// pruneBatch runs one prune statement on db (the pool, or PruneExpired's
// locked connection); limit is at least 1.
func (s *Store) pruneBatch(ctx context.Context, db execer, limit int) (int, error) {
	tag, err := db.Exec(ctx, s.qPrune, limit)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// PruneExpired deletes all expired sessions, batch rows per statement (batch
// < 1 means Config.PruneBatch), until a batch comes back short. The run holds
// a PostgreSQL advisory lock keyed on the schema and table, on one connection
// taken from the pool for the run, so that only one instance prunes a table
// at a time: when another holds the lock it returns at once with ran ==
// false. progress, which may be nil, is called after each batch with the
// running total. deleted counts the rows removed even when err is not nil.
//
// The lock is a session-level advisory lock, which a transaction-pooling
// proxy (PgBouncer in transaction mode) does not keep on one server session;
// behind one, disable the background pruner and run PruneExpired from a
// single scheduled job.
func (s *Store) PruneExpired(ctx context.Context, batch int, progress func(deleted int)) (deleted int, ran bool, err error) {
	if batch < 1 {
		batch = s.batch
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("pgstore: prune expired: %w", err)
	}
	defer conn.Release()

	key := lockKey(s.schema, s.table)
	if s.schema == "" {
		// An unqualified table is whatever the search_path finds: key the
		// lock on the schema it resolves to, so that tables of the same
		// name in different schemas do not block each other's pruning.
		var schema string
		if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return 0, false, fmt.Errorf("pgstore: prune expired: %w", err)
		}
		key = lockKey(schema, s.table)
	}
	// Past this point no path may hand conn back to the pool holding the lock,
	// or it would stay there and stop every instance from pruning.
	var locked bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&locked); err != nil {
		// The call failed (ctx ending mid-call, say) and whether the server
		// took the lock first is unknown: a session-level lock outlives a
		// failed statement. Ending the session frees whatever it holds.
		endSession(ctx, conn)
		return 0, false, fmt.Errorf("pgstore: prune expired: lock: %w", err)
	}
	if !locked {
		return 0, false, nil
	}
	defer func() {
		// Unlock even when ctx has ended.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released bool
		uerr := conn.QueryRow(uctx, "SELECT pg_advisory_unlock($1)", key).Scan(&released)
		if uerr == nil && !released {
			uerr = errors.New("lock was not held")
		}
		if uerr != nil {
			endSession(ctx, conn)
			if err == nil {
				err = fmt.Errorf("pgstore: prune expired: unlock: %w", uerr)
			}
		}
	}()

	deleted, err = pruneloop.Drain(ctx, batch, func(ctx context.Context, limit int) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return s.pruneBatch(ctx, conn, limit)
	}, progress)
	if err != nil {
		return deleted, true, fmt.Errorf("pgstore: prune expired: %w", err)
	}
	return deleted, true, nil
}

// endSession closes conn, which ends its server session and so frees every
// advisory lock the session holds; the deferred Release then drops the closed
// connection from the pool. It runs even when ctx has ended.
func endSession(ctx context.Context, conn *pgxpool.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = conn.Conn().Close(cctx)
}

// CountExpired returns how many expired sessions are waiting to be pruned, so
// a command can report "deleted / expired total".
func (s *Store) CountExpired(ctx context.Context) (int, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, s.qCount).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count expired: %w", err)
	}
	return int(n), nil
}

// CountSessions returns how many sessions are live (Load would return them)
// and how many are expired but not yet pruned, in one scan of the table.
func (s *Store) CountSessions(ctx context.Context) (live, expired int, err error) {
	var l, e int64
	if err := s.pool.QueryRow(ctx, s.qCounts).Scan(&l, &e); err != nil {
		return 0, 0, fmt.Errorf("pgstore: count sessions: %w", err)
	}
	return int(l), int(e), nil
}

// backgroundPrune is one tick of the background pruner. It also looks
// again for rows under a raw id, so that once they have expired or been
// converted the statements stop naming ids.
func (s *Store) backgroundPrune(ctx context.Context) error {
	n, ran, err := s.PruneExpired(ctx, s.batch, nil)
	err = errors.Join(err, s.recheckRawIDs(ctx))
	switch {
	case !ran && err == nil:
		s.logger.Debug("pgstore: prune skipped: another instance holds the lock", "table", s.table)
	case n > 0:
		s.logger.Info("pgstore: pruned expired sessions", "table", s.table, "deleted", n)
	}
	return err
}
