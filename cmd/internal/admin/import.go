package admin

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrBadImport is returned by ImportUsers for a file it refuses; the
// error names the line and the reason, and nothing was imported.
var ErrBadImport = errors.New("bad import file")

// ImportOptions says how ImportUsers treats its rows.
type ImportOptions struct {
	// DryRun checks the file and the database and reports what would be
	// done, changing nothing.
	DryRun bool
	// Update replaces the email and password hash of users whose id
	// exists. Zero: such rows are reported and left unchanged.
	Update bool
}

// ImportReport is what ImportUsers did (or, on a dry run, would do).
type ImportReport struct {
	// Added are the ids of the new users, in file order.
	Added []int64
	// Existing are the ids already in the users table, in file order:
	// left unchanged, or replaced under ImportOptions.Update.
	Existing []int64
	// Updated is whether Existing were replaced.
	Updated bool
}

// importRow is one parsed line of the file.
type importRow struct {
	line  int
	id    int64
	email string
	hash  string
}

// ImportUsers imports users from CSV with the header id,email,password_hash
// (in any order; other columns are refused), keeping their ids, so that
// sessions naming those ids (express-session's userId, passport's user) name
// the same users here. A hash must be bcrypt ($2a$, $2b$, $2y$) or argon2id
// (PHC); the server verifies it at log-in and re-hashes it with its own
// bcrypt cost then. Emails are normalized like AddUser's. It is one
// transaction: a bad line, a duplicate id or email in the file, or an
// email that another user already has, is an ErrBadImport naming the line,
// and nothing is imported.
func (db *DB) ImportUsers(ctx context.Context, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rows, err := parseImport(r)
	if err != nil {
		return ImportReport{}, err
	}
	var rep ImportReport
	apply := func(q querier) error {
		rep = ImportReport{Updated: opts.Update}
		for _, row := range rows {
			var email string
			err := q.QueryRow(ctx, `SELECT email FROM "users" WHERE id = $1`, row.id).Scan(&email)
			exists := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("line %d: %w", row.line, hint(err))
			}
			var other int64
			err = q.QueryRow(ctx, `SELECT id FROM "users" WHERE email = $1 AND id <> $2`, row.email, row.id).Scan(&other)
			if err == nil {
				return fmt.Errorf("%w: line %d: %s is already user %d's email", ErrBadImport, row.line, row.email, other)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("line %d: %w", row.line, hint(err))
			}
			err = nil
			switch {
			case exists:
				rep.Existing = append(rep.Existing, row.id)
				if opts.Update {
					err = q.Exec(ctx, `UPDATE "users" SET email = $1, password_hash = $2 WHERE id = $3`, row.email, row.hash, row.id)
				}
			case q.sqlite():
				err = q.Exec(ctx, `INSERT INTO "users" (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)`,
					row.id, row.email, row.hash, time.Now().UnixMilli())
				rep.Added = append(rep.Added, row.id)
			default:
				err = q.Exec(ctx, `INSERT INTO "users" (id, email, password_hash) VALUES ($1, $2, $3)`, row.id, row.email, row.hash)
				rep.Added = append(rep.Added, row.id)
			}
			if err != nil {
				return fmt.Errorf("line %d: %w", row.line, hint(err))
			}
		}
		if !q.sqlite() && len(rep.Added) > 0 {
			// The identity must hand out ids above the imported ones, or
			// the next `users add` collides with one. (SQLite's
			// AUTOINCREMENT follows the largest id by itself.)
			err := q.Exec(ctx, `SELECT setval(pg_get_serial_sequence('"users"', 'id'), (SELECT max(id) FROM "users"))`)
			if err != nil {
				return fmt.Errorf("advance the users id: %w", hint(err))
			}
		}
		if opts.DryRun {
			return errRollback
		}
		return nil
	}
	err = db.inTx(ctx, apply)
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil {
		return ImportReport{}, fmt.Errorf("import users: %w", err)
	}
	return rep, nil
}

// errRollback ends a transaction without committing it (a dry run).
var errRollback = errors.New("roll back")

// parseImport reads and checks the whole file before any database work.
func parseImport(r io.Reader) ([]importRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, to name the line
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty; want the header id,email,password_hash", ErrBadImport)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadImport, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	_, hasID := col["id"]
	_, hasEmail := col["email"]
	_, hasHash := col["password_hash"]
	if len(header) != 3 || len(col) != 3 || !hasID || !hasEmail || !hasHash {
		return nil, fmt.Errorf("%w: line 1: the header is %q; want id,email,password_hash", ErrBadImport, strings.Join(header, ","))
	}
	var out []importRow
	ids, emails := map[int64]int{}, map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadImport, err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrBadImport, line, fmt.Sprintf(format, a...))
		}
		if len(rec) > 3 {
			return nil, bad("%d fields, want 3 (id,email,password_hash): quote a field that holds commas, such as an argon2id hash", len(rec))
		}
		if len(rec) != 3 {
			return nil, bad("%d fields, want 3 (id,email,password_hash)", len(rec))
		}
		id, err := strconv.ParseInt(strings.TrimSpace(rec[col["id"]]), 10, 64)
		if err != nil || id < 1 {
			return nil, bad("id %q is not a positive integer", rec[col["id"]])
		}
		email, err := NormalizeEmail(rec[col["email"]])
		if err != nil {
			return nil, bad("%v", err)
		}
		hash := strings.TrimSpace(rec[col["password_hash"]])
		if err := CheckHash(hash); err != nil {
			return nil, bad("password_hash: %v", err)
		}
		if prev, dup := ids[id]; dup {
			return nil, bad("id %d is also on line %d", id, prev)
		}
		if prev, dup := emails[email]; dup {
			return nil, bad("%s is also on line %d", email, prev)
		}
		ids[id], emails[email] = line, line
		out = append(out, importRow{line: line, id: id, email: email, hash: hash})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no users after the header", ErrBadImport)
	}
	return out, nil
}

// querier is a transaction on either database, with $n placeholders.
type querier interface {
	QueryRow(ctx context.Context, query string, args ...any) row
	Exec(ctx context.Context, query string, args ...any) error
	sqlite() bool
}

type pgTx struct{ tx pgx.Tx }

func (t pgTx) QueryRow(ctx context.Context, q string, args ...any) row {
	return t.tx.QueryRow(ctx, q, args...)
}

func (t pgTx) Exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.Exec(ctx, q, args...)
	return err
}

func (pgTx) sqlite() bool { return false }

type liteTx struct{ tx *sql.Tx }

func (t liteTx) QueryRow(ctx context.Context, q string, args ...any) row {
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t liteTx) Exec(ctx context.Context, q string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, q, args...)
	return err
}

func (liteTx) sqlite() bool { return true }

// inTx runs f in one transaction, committed when f returns nil.
func (db *DB) inTx(ctx context.Context, f func(querier) error) error {
	if db.pool != nil {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return f(pgTx{tx}) })
	}
	tx, err := db.lite.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(liteTx{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
