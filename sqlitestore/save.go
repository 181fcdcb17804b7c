package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
)

// Create saves a new session, setting Created to now when it is zero. An
// existing id, live or expired but not yet pruned, gives an error wrapping
// sessionkit.ErrExists.
func (s *Store) Create(ctx context.Context, id string, rec sessionkit.Record) error {
	sess, err := jsonobject.Join(rec.Values)
	if err != nil {
		return fmt.Errorf("sqlitestore: create: values: %w", err)
	}
	created := rec.Created
	if created.IsZero() {
		created = time.Now()
	}
	release, err := s.lockWrite(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: create: %w", err)
	}
	defer release()
	res, err := s.db.ExecContext(ctx, s.q.insert, sessionkit.HashID(id), sess, rec.Expiry.UnixMilli(), created.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlitestore: create: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: create: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: create: %w", sessionkit.ErrExists)
	}
	return nil
}

// Update applies p to the live session with this id and reports whether
// there was one. Changing values is a read-modify-write in one transaction
// holding SQLite's write lock, so concurrent patches on different keys all
// survive. An empty patch only checks that the session is live.
func (s *Store) Update(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	now := nowMilli()
	if p.Empty() {
		var one int
		key, raw := s.keysOf(id)
		err := s.db.QueryRowContext(ctx, s.q.exists, key, raw, now).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("sqlitestore: update: %w", err)
		}
		return true, nil
	}
	var expiry any // nil keeps the stored expiry
	if !p.Expiry.IsZero() {
		expiry = p.Expiry.UnixMilli()
	}
	release, err := s.lockWrite(ctx)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: update: %w", err)
	}
	defer release()
	// Announced even when the write failed: whether it took is unknown.
	defer s.changes.Announce(id)

	if len(p.Set) == 0 && len(p.Delete) == 0 {
		// Only a new expiry: one statement, no transaction needed.
		key, raw := s.keysOf(id)
		res, err := s.db.ExecContext(ctx, s.q.touch, expiry, key, raw, now)
		if err != nil {
			return false, fmt.Errorf("sqlitestore: update: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return false, fmt.Errorf("sqlitestore: update: %w", err)
		}
		return n > 0, nil
	}

	found, err := s.patchValues(ctx, id, p, expiry, now)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: update: %w", err)
	}
	return found, nil
}

func (s *Store) patchValues(ctx context.Context, id string, p sessionkit.Patch, expiry any, now int64) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() // a no-op after Commit

	// The first statement writes, so the transaction takes the write lock
	// before it reads anything: upgrading a read transaction to a write one
	// can fail at once with SQLITE_BUSY instead of waiting. It also checks
	// liveness and applies the new expiry.
	key, raw := s.keysOf(id)
	res, err := tx.ExecContext(ctx, s.q.touch, expiry, key, raw, now)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	var sess string
	if err := tx.QueryRowContext(ctx, s.q.readSess, key, raw).Scan(&sess); err != nil {
		return false, err
	}
	values, err := decodeValues(sess)
	if err != nil {
		return false, err
	}
	// Deletes first, so a key in both Set and Delete ends up set. Keys are
	// map keys here, never JSON paths, so "a.b" or "$x" mean just that.
	for _, k := range p.Delete {
		delete(values, k)
	}
	for k, v := range p.Set {
		values[k] = v
	}
	if sess, err = jsonobject.Join(values); err != nil {
		return false, fmt.Errorf("values: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q.writeSess, sess, key, raw); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	return true, nil
}

// Delete removes the session with this id, live or expired. A missing id is
// not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	release, err := s.lockWrite(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete: %w", err)
	}
	defer release()
	defer s.changes.Announce(id)
	key, raw := s.keysOf(id)
	if _, err := s.db.ExecContext(ctx, s.q.del, key, raw); err != nil {
		return fmt.Errorf("sqlitestore: delete: %w", err)
	}
	s.journal(ctx, id)
	return nil
}

// DeleteMany removes the sessions with these ids, live or expired, in one
// statement. Missing ids are not an error.
func (s *Store) DeleteMany(ctx context.Context, ids []string) error {
	all := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		key, raw := s.keysOf(id)
		all = append(all, key)
		if raw != key {
			all = append(all, raw)
		}
	}
	list, err := json.Marshal(all)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete many: %w", err)
	}
	release, err := s.lockWrite(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete many: %w", err)
	}
	defer release()
	defer func() {
		for _, id := range ids {
			s.changes.Announce(id)
		}
	}()
	if _, err := s.db.ExecContext(ctx, s.q.delMany, string(list)); err != nil {
		return fmt.Errorf("sqlitestore: delete many: %w", err)
	}
	s.journal(ctx, ids...)
	return nil
}
