// Package sqlitestore is a sessionkit.Store on SQLite through the pure-Go
// driver modernc.org/sqlite (driver name "sqlite"): no cgo and no server, the
// embedded default for a single machine.
//
// Open owns its database file: it sets WAL journal mode, a busy timeout and
// foreign keys, and creates the sessions table and its expiry index if they
// are missing. Because the store owns the file, creating its own schema is
// expected rather than a surprise. New wraps a *sql.DB the caller owns and runs
// no DDL; create the table first with SchemaSQL.
//
// Each session is one row:
//
//	sid        TEXT PRIMARY KEY  the hash of the session id (sessionkit.HashID)
//	sess       TEXT              the values, as one JSON object
//	expire     INTEGER           expiry, in Unix milliseconds
//	created_at INTEGER           creation time, in Unix milliseconds
//
// Expiry is always compared against the Go clock (time.Now), never SQLite's,
// so every method agrees on what is live. A session is live up to and
// including its expiry millisecond.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pruneloop"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Defaults used when the matching Config field is zero.
const (
	DefaultTable         = "sessions"
	DefaultPruneInterval = time.Hour
	DefaultPruneBatch    = pruneloop.DefaultBatch
	// BusyTimeout is how long a connection made by Open waits for another
	// writer (another process, or other code on the same file) before
	// SQLite gives up with SQLITE_BUSY.
	BusyTimeout = 5 * time.Second
)

// Config configures Open and New. The zero value is valid.
type Config struct {
	// Table is the sessions table's name. Empty means DefaultTable
	// ("sessions"). It must be a plain identifier matching
	// ^[A-Za-z_][A-Za-z0-9_]{0,62}$ (the rule pgstore applies too); anything
	// else is rejected, since the name is written into SQL text.
	Table string
	// PruneInterval is how often a background loop deletes expired sessions,
	// with ±20% jitter. Zero means DefaultPruneInterval (one hour); a negative
	// value disables the loop (expired sessions are still never served, and
	// Prune can be called directly).
	PruneInterval time.Duration
	// PruneBatch is the most rows one DELETE of the background loop removes;
	// the loop repeats until a batch comes back short, so the write lock is
	// never held for one huge delete. Zero means DefaultPruneBatch (1000);
	// negative is an error.
	PruneBatch int
	// Logger receives background prune failures and start-up warnings. Nil
	// discards them.
	Logger *slog.Logger
}

// Store is a sessionkit.Store on SQLite, safe for concurrent use.
type Store struct {
	db     *sql.DB
	ownsDB bool
	batch  int
	q      queries

	// writeSem serialises this store's writes within the process, so that
	// goroutines queue in Go (honouring their contexts) instead of spinning
	// in SQLite's busy handler; busy_timeout still covers other processes.
	writeSem chan struct{}

	// changes announces every update and delete made through this store,
	// for the session cache. Writers in other processes are not heard of.
	changes sessionkit.ChangeHub

	// rawIDs is true while the table may hold a live row under a raw id
	// (see keysOf). It only ever turns off: the store writes hashes.
	rawIDs atomic.Bool

	loop      *pruneloop.Loop
	closeOnce sync.Once
	closeErr  error
}

var (
	_ sessionkit.Store      = (*Store)(nil)
	_ sessionkit.BatchStore = (*Store)(nil)
	_ sessionkit.UserIndex  = (*Store)(nil)
	_ sessionkit.ChangeFeed = (*Store)(nil)
)

// Open opens (creating if needed) the SQLite database file at path with WAL
// journal mode, a busy timeout of BusyTimeout and foreign keys on, creates the
// sessions table and index if missing, and starts the background pruning.
// The store owns the database: Close closes it. path is a file system path;
// ":memory:" is rejected, because each pooled connection would get its own
// empty database (use memstore for an in-memory store).
func Open(ctx context.Context, path string, cfg Config) (*Store, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open: path %q must be a file system path "+
			"(use memstore for an in-memory store)", path)
	}
	dsn, err := dsnFor(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// Connections are cheap to keep and dear to remake (each reopens the
	// file and reruns the pragmas), so keep a few idle ones.
	db.SetMaxIdleConns(8)
	fail := func(what string, err error) (*Store, error) {
		db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %s: %w", path, what, err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fail("read journal mode", err)
	}
	if !strings.EqualFold(mode, "wal") && cfg.Logger != nil {
		// Some file systems cannot do WAL; SQLite then keeps the old mode.
		// The store still works, with readers and writers blocking each other.
		cfg.Logger.Warn("sqlitestore: WAL journal mode not available; readers will wait for writers", "journal_mode", mode)
	}
	ddl, _ := SchemaSQL(cfg.Table) // table already validated
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return fail("create schema", err)
	}
	s := start(db, true, cfg)
	if err := s.recheckRawIDs(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

// dsnFor builds a SQLite URI for path. The path is made absolute (so a path
// starting with "//" cannot be read as a URI authority) and the characters a
// URI gives meaning to are escaped.
func dsnFor(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(abs))
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate",
		esc, BusyTimeout.Milliseconds()), nil
}

// New returns a store on a *sql.DB opened by the caller with the "sqlite"
// driver, and starts the background pruning. It runs no DDL: the table must
// already exist (run SchemaSQL). Close stops the pruning but leaves db open,
// since the caller owns it. Open db with a busy timeout (for example
// "?_pragma=busy_timeout(5000)") so that writers from other connections wait
// instead of failing. Having no context to query with, New assumes rows
// written under raw ids before ids were hashed may exist, and the store
// sends each id beside its hash until the first background prune or
// HashStoredIDs finds none; Open asks at once.
func New(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlitestore: New: db is nil")
	}
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	return start(db, false, cfg), nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if err := checkTable(cfg.Table); err != nil {
		return cfg, err
	}
	if cfg.PruneInterval == 0 {
		cfg.PruneInterval = DefaultPruneInterval
	}
	if cfg.PruneBatch == 0 {
		cfg.PruneBatch = DefaultPruneBatch
	}
	if cfg.PruneBatch < 0 {
		return cfg, fmt.Errorf("sqlitestore: PruneBatch is %d; use a positive number or 0 for the default (%d)",
			cfg.PruneBatch, DefaultPruneBatch)
	}
	return cfg, nil
}

func start(db *sql.DB, owns bool, cfg Config) *Store {
	s := &Store{
		db:       db,
		ownsDB:   owns,
		batch:    cfg.PruneBatch,
		q:        newQueries(cfg.Table),
		writeSem: make(chan struct{}, 1),
	}
	s.rawIDs.Store(true) // until recheckRawIDs finds none
	if cfg.PruneInterval > 0 {
		s.loop = pruneloop.Start(cfg.PruneInterval, cfg.Logger, "sqlitestore", s.pruneAll)
	}
	return s
}

// DB returns the underlying database, so that an application can keep its
// own tables in the same file. With Open the store still owns it: do not
// close it yourself; Close the store instead.
func (s *Store) DB() *sql.DB { return s.db }

// Close stops the background pruning, waiting for a pass in progress, and
// closes the database if Open opened it. It is safe to call more than once;
// later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.loop.Close()
		if s.ownsDB {
			if err := s.db.Close(); err != nil {
				s.closeErr = fmt.Errorf("sqlitestore: close: %w", err)
			}
		}
	})
	return s.closeErr
}

// lockWrite waits for this store's write turn or for ctx to end.
func (s *Store) lockWrite(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.writeSem <- struct{}{}:
		return func() { <-s.writeSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func nowMilli() int64 { return time.Now().UnixMilli() }

// keysOf returns the keys under which the session with this id may be
// stored: its hash (sessionkit.HashID), under which Create stores every
// session, and, while a row may still hold one (s.rawIDs), the id itself,
// under which sessions created before ids were hashed stay until they
// expire; otherwise both are the hash, so that no statement names the id.
// No cookie's id can equal a hash, so the second key never finds a hashed
// row for a cookie; given a hash (a StoredSession.ID), both are the hash.
func (s *Store) keysOf(id string) (key, raw string) {
	key = sessionkit.HashID(id)
	if s.rawIDs.Load() {
		return key, id
	}
	return key, key
}

// recheckRawIDs turns s.rawIDs off when no live row holds a raw id. A row
// that expires with one is never looked for again, so only live rows count.
func (s *Store) recheckRawIDs(ctx context.Context) error {
	if !s.rawIDs.Load() {
		return nil
	}
	var found bool
	if err := s.db.QueryRowContext(ctx, s.q.rawIDs, nowMilli()).Scan(&found); err != nil {
		return fmt.Errorf("sqlitestore: look for rows under a raw id: %w", err)
	}
	if !found {
		s.rawIDs.Store(false)
	}
	return nil
}
