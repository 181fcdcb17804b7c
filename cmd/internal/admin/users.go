package admin

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
)

// Errors callers branch on.
var (
	// ErrDuplicateUser is returned by AddUser when the email is taken.
	ErrDuplicateUser = errors.New("a user with this email already exists")
	// ErrNoUser is returned by RemoveUser, DisableUser, EnableUser,
	// SetPassword and UserSessions when there is no such user.
	ErrNoUser = errors.New("no user with this email")
	// ErrBadEmail is returned for an email address that cannot be one.
	ErrBadEmail = errors.New("not an email address")
	// ErrBadPassword is returned for a password bcrypt cannot take or that is
	// too short to be worth hashing.
	ErrBadPassword = errors.New("password must be 8 to 72 bytes")
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

// MaxEmailLength is the longest email, in bytes, that NormalizeEmail
// accepts (RFC 5321's limit on a path, less its angle brackets).
const MaxEmailLength = 254

// NormalizeEmail trims and lower-cases an address, so that Ada@Example.com
// and ada@example.com are one user, and rejects what cannot be an address.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(e, '@')
	if len(e) > MaxEmailLength || at < 1 || at == len(e)-1 || strings.Count(e, "@") != 1 ||
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
		return "", fmt.Errorf("bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
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
		return User{}, fmt.Errorf("add user: %w", hint(err))
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
		return User{}, false, fmt.Errorf("find user: %w", hint(err))
	}
	return u, true, nil
}

// ListUsers returns every user, by id, without their password hashes.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, done, err := db.query(ctx, `SELECT id, email, created_at FROM "users" ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", hint(err))
	}
	defer done()
	var users []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.Email, createdAt{&u.Created}); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", hint(err))
	}
	return users, nil
}

// UserKey is the user a session is bound to (sessionkit.Session.Authenticate)
// for the user with this id.
func UserKey(id int64) string { return strconv.FormatInt(id, 10) }

// disabledMark prefixes the password hash of a disabled user: no bcrypt
// hash starts with it, so no password matches, and removing it restores the
// old password.
const disabledMark = "!"

// Disabled reports whether the user was disabled (DisableUser): no password
// logs them in.
func (u User) Disabled() bool { return strings.HasPrefix(u.PasswordHash, disabledMark) }

// RemoveUser deletes the user with this email and then ends their sessions
// (found through the session store's user index), and reports how many
// sessions it ended. No such user gives ErrNoUser.
func (db *DB) RemoveUser(ctx context.Context, email string) (sessionsEnded int, err error) {
	return db.changeUser(ctx, "remove user", email, `DELETE FROM "users" WHERE email = $1 RETURNING id`)
}

// DisableUser makes the user with this email unable to log in, keeping the
// account (EnableUser undoes it), and ends all their sessions (ASVS 7.4.2).
// It reports how many sessions it ended. No such user gives ErrNoUser.
func (db *DB) DisableUser(ctx context.Context, email string) (sessionsEnded int, err error) {
	return db.changeUser(ctx, "disable user", email, `UPDATE "users" SET password_hash = CASE
		WHEN password_hash LIKE '`+disabledMark+`%' THEN password_hash ELSE '`+disabledMark+`' || password_hash END
		WHERE email = $1 RETURNING id`)
}

// EnableUser undoes DisableUser: the old password works again. No such user
// gives ErrNoUser.
func (db *DB) EnableUser(ctx context.Context, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	var id int64
	err = db.queryRow(ctx, `UPDATE "users" SET password_hash = CASE
		WHEN password_hash LIKE '`+disabledMark+`%' THEN substr(password_hash, 2) ELSE password_hash END
		WHERE email = $1 RETURNING id`, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNoUser, email)
	}
	if err != nil {
		return fmt.Errorf("enable user: %w", hint(err))
	}
	return nil
}

// changeUser runs stmt, which changes the user with this email and returns
// its id, then ends all the user's sessions. The sessions are ended after the
// change, so a log-in racing it either fails or makes a session that the
// sweep finds.
func (db *DB) changeUser(ctx context.Context, what, email, stmt string) (int, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.queryRow(ctx, stmt, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %s", ErrNoUser, email)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, hint(err))
	}
	n, err := db.EndSessions(ctx, id)
	if err != nil {
		return n, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// SetPassword replaces the password of the user with this id by a bcrypt
// hash of password at cost (0 means DefaultBcryptCost). It does not end any
// session: the caller decides which (the server ends all but the current).
func (db *DB) SetPassword(ctx context.Context, id int64, password string, cost int) error {
	hash, err := HashPassword(password, cost)
	if err != nil {
		return err
	}
	var got int64
	err = db.queryRow(ctx, `UPDATE "users" SET password_hash = $1 WHERE id = $2 RETURNING id`, hash, id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: id %d", ErrNoUser, id)
	}
	if err != nil {
		return fmt.Errorf("set password: %w", hint(err))
	}
	return nil
}

// UpgradePassword replaces the hash of the user with this id by a bcrypt
// hash of password at cost, if the stored hash is still old (a password
// changed meanwhile stays). It is for a password just verified against old
// at log-in, so the new-password rules (length) do not apply: an imported
// user keeps the password they have. A password over MaxPasswordLength
// bytes cannot be bcrypt-hashed, and keeps its old hash.
func (db *DB) UpgradePassword(ctx context.Context, id int64, old, password string, cost int) error {
	if len(password) > MaxPasswordLength {
		return nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return fmt.Errorf("upgrade password: %w", err)
	}
	var exec func() error
	if db.pool != nil {
		exec = func() error {
			_, err := db.pool.Exec(ctx, `UPDATE "users" SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, string(hash), id, old)
			return err
		}
	} else {
		exec = func() error {
			_, err := db.lite.DB().ExecContext(ctx, `UPDATE "users" SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, string(hash), id, old)
			return err
		}
	}
	if err := exec(); err != nil {
		return fmt.Errorf("upgrade password: %w", hint(err))
	}
	return nil
}

// UserSessions lists the live sessions of the user with this email, newest
// first, through the session store's user index. No such user gives
// ErrNoUser.
func (db *DB) UserSessions(ctx context.Context, email string) (User, []sessionkit.SessionInfo, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, nil, err
	}
	u, found, err := db.UserByEmail(ctx, email)
	if err != nil {
		return User{}, nil, err
	}
	if !found {
		return User{}, nil, fmt.Errorf("%w: %s", ErrNoUser, email)
	}
	m, err := db.sessionManager()
	if err != nil {
		return User{}, nil, err
	}
	defer m.Close()
	list, err := m.ListSessions(ctx, UserKey(u.ID))
	if err != nil {
		return User{}, nil, fmt.Errorf("list sessions: %w", err)
	}
	return u, list, nil
}

// EndSessions ends every session of the user with this id and reports how
// many (ASVS 7.4.5: an operator ends one user's sessions).
func (db *DB) EndSessions(ctx context.Context, id int64) (int, error) {
	m, err := db.sessionManager()
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return m.EndAllSessions(ctx, UserKey(id))
}

// sessionManager returns a Manager on the session store, for the user-session
// operations, which live on the Manager only. An operator's command issues no
// cookie, so the Manager signs with a random secret of its own, and its
// start-up line (the secret's fingerprint) is not logged: it would name a
// secret no server holds.
func (db *DB) sessionManager() (*sessionkit.Manager, error) {
	secret := make([]byte, sessionkit.MinSecretLength)
	rand.Read(secret)
	return sessionkit.New(sessionkit.Config{
		Store:   db.Sessions(),
		Secrets: []string{string(secret)},
		Logger:  slog.New(slog.DiscardHandler),
	})
}

// EndAllSessions ends every session of every user (ASVS 7.4.5: after a
// breach, or a change of what a session may hold), and reports how many.
func (db *DB) EndAllSessions(ctx context.Context) (int64, error) {
	if db.redis != nil {
		// DeleteAll announces sessionkit.AllSessionsChanged once it has deleted: the
		// session caches of running servers forget every session.
		n, err := db.redis.store.DeleteAll(ctx)
		if err != nil {
			return n, fmt.Errorf("end all sessions: %w", err)
		}
		return n, nil
	}
	if db.pg != nil {
		// Through the store, which announces the delete in the same
		// statement: the session caches of running servers forget every
		// session once it commits.
		n, err := db.pg.DeleteAll(ctx)
		if err != nil {
			return 0, fmt.Errorf("end all sessions: %w", hint(err))
		}
		return n, nil
	}
	// SQLite announces in process only: a server running in another
	// process hears of this within its SESSION_CACHE_MAX_AGE (docs/cache.md).
	res, err := db.lite.DB().ExecContext(ctx, "DELETE FROM "+db.SessionTable())
	if err != nil {
		return 0, fmt.Errorf("end all sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
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
		return fmt.Errorf("created_at holds %T, not a time or Unix milliseconds", src)
	}
	return nil
}
