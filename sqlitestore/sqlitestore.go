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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
	"github.com/sessionkit/sessionkit/internal/pruneloop"
	"github.com/sessionkit/sessionkit/internal/sqlname"

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

func checkTable(table string) error {
	if !sqlname.Valid(table) {
		return fmt.Errorf("sqlitestore: table name %q is not a plain identifier: "+
			"use 1 to 63 ASCII letters, digits and underscores, not starting with a digit (for example %q)",
			table, DefaultTable)
	}
	return nil
}

// userExpr is the SQL expression for the user a session is bound to
// (sessionkit.UserOf). The user index is on it, partial on it being not
// NULL, and UserSessions filters on exactly it, so SQLite uses the index.
const userExpr = `json_extract(sess, '$.` + sessionkit.MetaKey + `.user')`

// SchemaSQL returns the DDL that creates the sessions table named table, its
// expiry index, its user index (for Store.UserSessions) and its deletes
// journal ("<table>_changes", for other processes' caches), if they do not
// exist. It is what Open runs, and what a
// caller of New (or a migration tool) should run. An empty table means
// DefaultTable, as in Config; any other name that is not a plain identifier
// is an error.
func SchemaSQL(table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	if err := checkTable(table); err != nil {
		return "", err
	}
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS "%[1]s" (
	sid        TEXT PRIMARY KEY NOT NULL,
	sess       TEXT NOT NULL CHECK (json_type(sess) = 'object'),
	expire     INTEGER NOT NULL, -- Unix milliseconds
	created_at INTEGER NOT NULL  -- Unix milliseconds
);
CREATE INDEX IF NOT EXISTS "%[1]s_expire_idx" ON "%[1]s" (expire);
CREATE INDEX IF NOT EXISTS "%[1]s_user_idx" ON "%[1]s" (%[2]s) WHERE %[2]s IS NOT NULL;
`, table, userExpr) + journalSQL(table), nil
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

type queries struct {
	load, loadMany, exists, insert, touch, readSess, writeSess, del, delMany, prune, user, counts, rawIDs string
	// journal is the deletes journal's quoted name (journal.go).
	journal string
	// table is the sessions table's name, unquoted (HashStoredIDs).
	table string
}

func newQueries(table string) queries {
	t := `"` + table + `"`
	return queries{
		// Each id is looked for under its hash and, for a row written
		// before ids were hashed, as itself (see keysOf).
		load: `SELECT sess, expire, created_at FROM ` + t + ` WHERE sid IN (?, ?) AND expire >= ?`,
		// The ids come as one JSON array, so that one statement text serves
		// any number of them.
		loadMany: `SELECT sid, sess, expire, created_at FROM ` + t +
			` WHERE sid IN (SELECT value FROM json_each(?)) AND expire >= ?`,
		exists: `SELECT 1 FROM ` + t + ` WHERE sid IN (?, ?) AND expire >= ?`,
		insert: `INSERT INTO ` + t + ` (sid, sess, expire, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (sid) DO NOTHING`,
		// COALESCE keeps the expiry when the patch has none; the statement
		// doubles as the liveness check.
		touch:     `UPDATE ` + t + ` SET expire = COALESCE(?, expire) WHERE sid IN (?, ?) AND expire >= ?`,
		readSess:  `SELECT sess FROM ` + t + ` WHERE sid IN (?, ?)`,
		writeSess: `UPDATE ` + t + ` SET sess = ? WHERE sid IN (?, ?)`,
		del:       `DELETE FROM ` + t + ` WHERE sid IN (?, ?)`,
		delMany:   `DELETE FROM ` + t + ` WHERE sid IN (SELECT value FROM json_each(?))`,
		user:      `SELECT sid, sess, expire, created_at FROM ` + t + ` WHERE ` + userExpr + ` = ? AND expire >= ?`,
		// Live up to and including the expiry's millisecond, as in load.
		counts: `SELECT count(*) FILTER (WHERE expire >= ?1), count(*) FILTER (WHERE expire < ?1) FROM ` + t,
		prune: `DELETE FROM ` + t + ` WHERE sid IN (SELECT sid FROM ` + t +
			` WHERE expire < ? ORDER BY expire LIMIT ?)`,
		rawIDs:  `SELECT EXISTS (SELECT 1 FROM ` + t + ` WHERE substr(sid, 1, 7) <> 'sha256:' AND expire >= ?)`,
		journal: journalTable(table),
		table:   table,
	}
}

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

func decodeValues(sess string) (map[string]json.RawMessage, error) {
	m, err := jsonobject.Split([]byte(sess))
	if err != nil {
		return nil, fmt.Errorf("stored values are not a JSON object: %w", err)
	}
	if m == nil {
		m = make(map[string]json.RawMessage)
	}
	return m, nil
}

// Load returns the live session with this id; an expired or missing one is
// reported with found == false and a nil error.
func (s *Store) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	var (
		sess            string
		expire, created int64
	)
	key, raw := s.keysOf(id)
	err := s.db.QueryRowContext(ctx, s.q.load, key, raw, nowMilli()).Scan(&sess, &expire, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return sessionkit.Record{}, false, nil
	}
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("sqlitestore: load: %w", err)
	}
	values, err := decodeValues(sess)
	if err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("sqlitestore: load: %w", err)
	}
	return sessionkit.Record{
		Values:  values,
		Created: time.UnixMilli(created),
		Expiry:  time.UnixMilli(expire),
	}, true, nil
}

// LoadMany returns the live sessions among ids, by id, in one statement.
func (s *Store) LoadMany(ctx context.Context, ids []string) (map[string]sessionkit.Record, error) {
	byKey := make(map[string]string, 2*len(ids)) // key or raw id → id
	for _, id := range ids {
		key, raw := s.keysOf(id)
		byKey[key], byKey[raw] = id, id
	}
	list, err := json.Marshal(slices.Collect(maps.Keys(byKey)))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: load many: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q.loadMany, string(list), nowMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: load many: %w", err)
	}
	defer rows.Close()
	out := make(map[string]sessionkit.Record, len(ids))
	for rows.Next() {
		var (
			id, sess        string
			expire, created int64
		)
		if err := rows.Scan(&id, &sess, &expire, &created); err != nil {
			return nil, fmt.Errorf("sqlitestore: load many: %w", err)
		}
		values, err := decodeValues(sess)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: load many: %w", err)
		}
		out[byKey[id]] = sessionkit.Record{Values: values, Created: time.UnixMilli(created), Expiry: time.UnixMilli(expire)}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: load many: %w", err)
	}
	return out, nil
}

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

// UserSessions returns the live sessions bound to user (sessionkit.UserOf),
// in one query on the user index that SchemaSQL creates.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionkit.StoredSession, error) {
	rows, err := s.db.QueryContext(ctx, s.q.user, user, nowMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
	}
	defer rows.Close()
	var out []sessionkit.StoredSession
	for rows.Next() {
		var (
			id, sess        string
			expire, created int64
		)
		if err := rows.Scan(&id, &sess, &expire, &created); err != nil {
			return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
		}
		values, err := decodeValues(sess)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
		}
		out = append(out, sessionkit.StoredSession{ID: id, Record: sessionkit.Record{
			Values: values, Created: time.UnixMilli(created), Expiry: time.UnixMilli(expire)}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: user sessions: %w", err)
	}
	return out, nil
}

// WatchChanges implements sessionkit.ChangeFeed for the session cache
// (sessionkit.Config.Cache.Entries): it reports the updates and deletes made
// through this Store, in this process, as they commit, and the deletes made
// by other processes on the same file within ChangePollInterval (see
// journal.go).
func (s *Store) WatchChanges(ctx context.Context, w sessionkit.ChangeWatcher) {
	// The journal's starting point is read before the hub says Up, so that
	// no other process's delete after Up is missed.
	last, journaled := s.journalStart(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if journaled {
			s.pollJournal(ctx, w, last)
		}
	}()
	s.changes.WatchChanges(ctx, w)
	<-done
}
