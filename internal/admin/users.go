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
	ID           int64
	Email        string
	PasswordHash string
	Created      time.Time
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
	if db.pool != nil {
		err = db.pool.QueryRow(ctx, `INSERT INTO "users" (email, password_hash) VALUES ($1, $2)
			ON CONFLICT (email) DO NOTHING RETURNING id, created_at`, email, hash).Scan(&u.ID, &u.Created)
		if errors.Is(err, pgx.ErrNoRows) {
			return User{}, fmt.Errorf("%w: %s", ErrDuplicateUser, email)
		}
	} else {
		now := time.Now()
		err = db.lite.DB().QueryRowContext(ctx, `INSERT INTO "users" (email, password_hash, created_at) VALUES (?, ?, ?)
			ON CONFLICT (email) DO NOTHING RETURNING id`, email, hash, now.UnixMilli()).Scan(&u.ID)
		u.Created = time.UnixMilli(now.UnixMilli())
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, fmt.Errorf("%w: %s", ErrDuplicateUser, email)
		}
	}
	if err != nil {
		return User{}, fmt.Errorf("admin: add user: %w", hint(err))
	}
	return u, nil
}

// UserByEmail returns the user with this (normalized) email; found is false
// when there is none.
func (db *DB) UserByEmail(ctx context.Context, email string) (u User, found bool, err error) {
	return db.userBy(ctx, "email", email)
}

// UserByID returns the user with this id; found is false when there is none.
func (db *DB) UserByID(ctx context.Context, id int64) (u User, found bool, err error) {
	return db.userBy(ctx, "id", id)
}

func (db *DB) userBy(ctx context.Context, column string, v any) (User, bool, error) {
	var u User
	var err error
	if db.pool != nil {
		err = db.pool.QueryRow(ctx, `SELECT id, email, password_hash, created_at FROM "users" WHERE `+column+` = $1`, v).
			Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Created)
		if errors.Is(err, pgx.ErrNoRows) {
			return User{}, false, nil
		}
	} else {
		var created int64
		err = db.lite.DB().QueryRowContext(ctx, `SELECT id, email, password_hash, created_at FROM "users" WHERE `+column+` = ?`, v).
			Scan(&u.ID, &u.Email, &u.PasswordHash, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, false, nil
		}
		u.Created = time.UnixMilli(created)
	}
	if err != nil {
		return User{}, false, fmt.Errorf("admin: find user: %w", hint(err))
	}
	return u, true, nil
}

// ListUsers returns every user, by id.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	if db.pool != nil {
		rows, err := db.pool.Query(ctx, `SELECT id, email, created_at FROM "users" ORDER BY id`)
		if err != nil {
			return nil, fmt.Errorf("admin: list users: %w", hint(err))
		}
		defer rows.Close()
		for rows.Next() {
			var u User
			if err := rows.Scan(&u.ID, &u.Email, &u.Created); err != nil {
				return nil, fmt.Errorf("admin: list users: %w", err)
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("admin: list users: %w", err)
		}
		return users, nil
	}
	rows, err := db.lite.DB().QueryContext(ctx, `SELECT id, email, created_at FROM "users" ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("admin: list users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.ID, &u.Email, &created); err != nil {
			return nil, fmt.Errorf("admin: list users: %w", err)
		}
		u.Created = time.UnixMilli(created)
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("admin: list users: %w", err)
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
		err = db.removeSQLiteUser(ctx, email, &sessionsEnded)
	}
	if err != nil && !errors.Is(err, ErrNoUser) {
		err = fmt.Errorf("admin: remove user: %w", err)
	}
	return sessionsEnded, err
}

func (db *DB) removeSQLiteUser(ctx context.Context, email string, ended *int) error {
	tx, err := db.lite.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	var id int64
	err = tx.QueryRowContext(ctx, `DELETE FROM "users" WHERE email = ? RETURNING id`, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNoUser, email)
	}
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM "sessions" WHERE json_extract(sess, '$.`+SessionUserIDKey+`') = ?`, id)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	*ended = int(n)
	return tx.Commit()
}
