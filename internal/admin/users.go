package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"
)

// Errors callers branch on.
var (
	// ErrDuplicateUser is returned by AddUser when the email is taken.
	ErrDuplicateUser = errors.New("admin: a user with this email already exists")
	// ErrNoUser is returned by RemoveUser when no user has the email.
	ErrNoUser = errors.New("admin: no user with this email")
	// ErrBadEmail is returned for an email address that cannot be one.
	ErrBadEmail = errors.New("admin: not an email address")
	// ErrBadPassword is returned for a password bcrypt cannot take or that is
	// too short to be worth hashing.
	ErrBadPassword = errors.New("admin: password must be 8 to 72 bytes")
)

// Password limits: bcrypt reads at most 72 bytes, and refuses more rather
// than silently ignoring the rest.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 72
	// DefaultBcryptCost is the work factor for new password hashes.
	DefaultBcryptCost = 12
)

// User is one row of the users table.
type User struct {
	// ID is never handed out again, even after the user is removed.
	ID int64
	// Email is normalized (NormalizeEmail) and unique.
	Email string
	// PasswordHash is the bcrypt hash; ListUsers leaves it empty.
	PasswordHash string
	// Created is when the user was added (to the millisecond on SQLite).
	Created time.Time
}

// NormalizeEmail trims and lower-cases an address, so that Ada@Example.com
// and ada@example.com are one user, and rejects what cannot be an address.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(e, '@')
	if len(e) > 254 || at < 1 || at == len(e)-1 || strings.Count(e, "@") != 1 ||
		strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fmt.Errorf("%w: %q", ErrBadEmail, s)
	}
	return e, nil
}

// HashPassword checks the password's length and returns its bcrypt hash at
// cost (0 means DefaultBcryptCost).
func HashPassword(password string, cost int) (string, error) {
	if len(password) < MinPasswordLength || len(password) > MaxPasswordLength {
		return "", fmt.Errorf("%w (got %d bytes)", ErrBadPassword, len(password))
	}
	if cost == 0 {
		cost = DefaultBcryptCost
	}
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return "", fmt.Errorf("admin: bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("admin: hash password: %w", err)
	}
	return string(h), nil
}

// AddUser stores a new user with a bcrypt hash of password at cost (0 means
// DefaultBcryptCost). A taken email gives ErrDuplicateUser.
func (db *DB) AddUser(ctx context.Context, email, password string, cost int) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	hash, err := HashPassword(password, cost)
	if err != nil {
		return User{}, err
	}
	u := User{Email: email, PasswordHash: hash}
	// ON CONFLICT … DO NOTHING RETURNING gives no row for a duplicate on both
	// databases, without parsing driver-specific error codes.
	var r row
	if db.pool != nil {
		r = db.pool.QueryRow(ctx, `INSERT INTO "users" (email, password_hash) VALUES ($1, $2)
			ON CONFLICT (email) DO NOTHING RETURNING id, created_at`, email, hash)
	} else {
		// SQLite has no time type: Unix milliseconds, from Go's clock.
		r = db.lite.DB().QueryRowContext(ctx, `INSERT INTO "users" (email, password_hash, created_at) VALUES (?, ?, ?)
			ON CONFLICT (email) DO NOTHING RETURNING id, created_at`, email, hash, time.Now().UnixMilli())
	}
	err = r.Scan(&u.ID, createdAt{&u.Created})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: %s", ErrDuplicateUser, email)
	}
	if err != nil {
		return User{}, fmt.Errorf("admin: add user: %w", hint(err))
	}
	return u, nil
}

// UserByEmail returns the user with this (normalized) email; found is false
// when there is none.
func (db *DB) UserByEmail(ctx context.Context, email string) (u User, found bool, err error) {
	return db.userBy(ctx, `SELECT id, email, password_hash, created_at FROM "users" WHERE email = $1`, email)
}

// UserByID returns the user with this id; found is false when there is none.
func (db *DB) UserByID(ctx context.Context, id int64) (u User, found bool, err error) {
	return db.userBy(ctx, `SELECT id, email, password_hash, created_at FROM "users" WHERE id = $1`, id)
}

func (db *DB) userBy(ctx context.Context, query string, arg any) (User, bool, error) {
	var u User
	err := db.queryRow(ctx, query, arg).Scan(&u.ID, &u.Email, &u.PasswordHash, createdAt{&u.Created})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("admin: find user: %w", hint(err))
	}
	return u, true, nil
}

// ListUsers returns every user, by id, without their password hashes.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, done, err := db.query(ctx, `SELECT id, email, created_at FROM "users" ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("admin: list users: %w", hint(err))
	}
	defer done()
	var users []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Email, createdAt{&u.Created}); err != nil {
			return nil, fmt.Errorf("admin: list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("admin: list users: %w", hint(err))
	}
	return users, nil
}

// RemoveUser deletes the user with this email and ends their sessions (the
// rows whose SessionUserIDKey is the user's id), in one transaction, and
// reports how many sessions it ended. No such user gives ErrNoUser.
func (db *DB) RemoveUser(ctx context.Context, email string) (sessionsEnded int, err error) {
	email, err = NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	if db.pool != nil {
		err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var id int64
			err := tx.QueryRow(ctx, `DELETE FROM "users" WHERE email = $1 RETURNING id`, email).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrNoUser, email)
			}
			if err != nil {
				return hint(err)
			}
			tag, err := tx.Exec(ctx, `DELETE FROM "sessions" WHERE sess -> '`+SessionUserIDKey+`' = to_jsonb($1::bigint)`, id)
			sessionsEnded = int(tag.RowsAffected())
			return err
		})
	} else {
		sessionsEnded, err = db.removeSQLiteUser(ctx, email)
	}
	if err != nil && !errors.Is(err, ErrNoUser) {
		err = fmt.Errorf("admin: remove user: %w", err)
	}
	return sessionsEnded, err
}

func (db *DB) removeSQLiteUser(ctx context.Context, email string) (sessionsEnded int, err error) {
	tx, err := db.lite.DB().BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() // a no-op after Commit
	var id int64
	err = tx.QueryRowContext(ctx, `DELETE FROM "users" WHERE email = ? RETURNING id`, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %s", ErrNoUser, email)
	}
	if err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM "sessions" WHERE json_extract(sess, '$.`+SessionUserIDKey+`') = ?`, id)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return int(n), tx.Commit()
}

// row is what a one-row query gives on either database: pgx.Row or
// *sql.Row. A missing row is sql.ErrNoRows on both (pgx.ErrNoRows wraps it).
type row interface {
	Scan(dest ...any) error
}

// rows is what a query gives on either database: pgx.Rows or *sql.Rows.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// queryRow runs a one-row query on whichever database db holds. The SQL
// uses $1-style placeholders, which SQLite reads as well.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) row {
	if db.pool != nil {
		return db.pool.QueryRow(ctx, query, args...)
	}
	return db.lite.DB().QueryRowContext(ctx, query, args...)
}

// query runs query on whichever database db holds, like queryRow; call
// done when finished with the rows.
func (db *DB) query(ctx context.Context, query string, args ...any) (_ rows, done func(), _ error) {
	if db.pool != nil {
		r, err := db.pool.Query(ctx, query, args...)
		if err != nil {
			return nil, nil, err
		}
		return r, r.Close, nil
	}
	r, err := db.lite.DB().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	return r, func() { r.Close() }, nil
}

// createdAt scans users.created_at from either database into t:
// PostgreSQL's timestamptz, or SQLite's Unix milliseconds. Both drivers
// hand a sql.Scanner the column's plain Go value.
type createdAt struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c createdAt) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*c.t = v
	case int64:
		*c.t = time.UnixMilli(v)
	default:
		return fmt.Errorf("admin: created_at holds %T, not a time or Unix milliseconds", src)
	}
	return nil
}
