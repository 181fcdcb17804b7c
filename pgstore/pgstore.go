// Package pgstore is sessionkit's PostgreSQL store, on pgx v5.
//
// Sessions live in one table (sid, sess jsonb, expire, created_at — the
// columns of connect-pg-simple plus created_at). Every store method is one SQL
// statement, so one round trip once pgx's statement cache is warm. Reads
// filter expired rows, so an expired session is gone at once even before it is
// pruned; a background pruner deletes expired rows in batches, under a
// PostgreSQL advisory lock so that only one of many instances prunes at a
// time.
//
// In its own layout the store keeps the hash of each session id
// (sessionkit.HashID) in sid, never the id, so that a copy of the table (a
// backup, a replica) names no session a cookie could carry; a row an
// earlier version wrote under the id itself is found by it until it
// expires, or until HashStoredIDs renames it (Layout.HashedIDs). Only while
// such a row may exist do the statements carry the id beside its hash: New
// looks for one, and the pruner and HashStoredIDs look again until none is
// left; from then on no statement names an id, so a log of them with their
// parameters names no session either.
//
// The store also works, as it is, on a table connect-pg-simple (Node's
// express-session store) made: sid varchar, sess json, expire timestamp
// without time zone. New reads the table's columns from the catalog and
// adapts its SQL (see Layout); it never alters the table, and keeps raw ids
// in it, since Node looks sessions up by the id. Node and Go then share the
// sessions, with the limits docs/moving-from-node.md lists ("What cannot be
// shared").
//
// The store does not own the pool it is given and never runs DDL unless
// Config.CreateTable asks for it; SchemaSQL gives the same DDL as text for a
// migration tool.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/jsonobject"
	"github.com/sessionkit/sessionkit/internal/pruneloop"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultPruneInterval = time.Hour
	DefaultPruneBatch    = pruneloop.DefaultBatch
)

// Config configures a Store. The zero value is usable: table "sessions" found
// through the search_path, no DDL, hourly background pruning in batches of
// 1000, no logging.
type Config struct {
	// Schema qualifies the table name. Zero: the name is left unqualified and
	// PostgreSQL resolves it through the connection's search_path. Must be a
	// plain identifier (see ErrInvalidName); it is quoted, so case is kept.
	Schema string
	// Table is the sessions table. Zero means "sessions" (DefaultTable). Must
	// be a plain identifier (see ErrInvalidName); it is quoted, so case is
	// kept. It may be a table connect-pg-simple made, which the store uses
	// as it is (see Layout).
	Table string
	// CreateTable makes New create the table and its expiry index if they are
	// missing, running SchemaSQL's text. Zero (false): New runs no DDL at all
	// and the table must already exist — create it with your migrations.
	CreateTable bool
	// PruneInterval is how often the background pruner deletes expired
	// sessions (each wait varies by ±20% so instances started together do not
	// prune in step). Zero means one hour (DefaultPruneInterval); a negative
	// value disables the background pruner, for when a cron job calls
	// PruneExpired instead.
	PruneInterval time.Duration
	// PruneBatch is how many expired rows one DELETE removes at most, which
	// bounds lock time and WAL per statement. Zero means 1000
	// (DefaultPruneBatch); negative is an error.
	PruneBatch int
	// Logger receives the background pruner's reports (at Info when it deleted
	// rows, Warn when it failed). Nil discards them.
	Logger *slog.Logger
}

// Store is a sessionkit.Store backed by a PostgreSQL table. It is safe for
// concurrent use by many goroutines and many processes sharing the table.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	table  string
	batch  int
	logger *slog.Logger
	loop   *pruneloop.Loop
	layout Layout
	load   loadPlan
	// rawIDs is true while the table may hold a live row under a raw id
	// (see keysOf). It only ever turns off: the store writes hashes.
	rawIDs atomic.Bool

	// SQL text, built once from the validated, quoted table name.
	qLoad, qLoadMany, qExists, qCreate, qUpdate, qDelete, qDeleteMany, qPrune, qCount, qCounts, qUser, qRawIDs string
	// On a json column only: Update's fallback for a "\u0000" (textpatch.go).
	qLoadText, qUpdateText string
}

var (
	_ sessionkit.Store      = (*Store)(nil)
	_ sessionkit.BatchStore = (*Store)(nil)
	_ sessionkit.UserIndex  = (*Store)(nil)
	_ sessionkit.ChangeFeed = (*Store)(nil)
)

// Layout returns the table layout New found.
func (s *Store) Layout() Layout { return s.layout }

// New returns a store on pool, which the application keeps owning: Close
// never closes it. It validates cfg and returns an error (ErrInvalidName for a
// bad schema or table name) before any SQL is run. With cfg.CreateTable it
// creates the table and index, using ctx. It then reads the table's layout
// from the catalog (DetectLayout: one read-only query, so New fails when the
// database cannot be reached) and logs it at Info: its own, or
// connect-pg-simple's, which it uses as it is. A missing table is assumed to
// be the store's own, created later by a migration. In its own layout New
// then asks whether a live row still holds a raw id (one EXISTS query,
// which reads every live row when none does). Unless
// cfg.PruneInterval is negative it starts the background pruner; call Close
// to stop it.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New: nil pool")
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if err := checkNames(cfg.Schema, table); err != nil {
		return nil, err
	}
	batch := cfg.PruneBatch
	switch {
	case batch == 0:
		batch = DefaultPruneBatch
	case batch < 0:
		return nil, fmt.Errorf("pgstore: New: PruneBatch must not be negative, got %d", batch)
	}
	interval := cfg.PruneInterval
	if interval == 0 {
		interval = DefaultPruneInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	s := &Store{
		pool:   pool,
		schema: cfg.Schema,
		table:  table,
		batch:  batch,
		logger: logger,
	}
	if cfg.CreateTable {
		if err := s.createTable(ctx); err != nil {
			return nil, err
		}
	}
	layout, err := DetectLayout(ctx, pool, cfg.Schema, table)
	if err != nil {
		return nil, err
	}
	s.layout = layout
	s.buildStatements(qualified(cfg.Schema, table), layout)
	s.load = newLoadPlan(pool, s.qLoad)
	s.rawIDs.Store(layout.HashedIDs && layout.Exists)
	if err := s.recheckRawIDs(ctx); err != nil {
		return nil, err
	}
	s.announceChanges()
	if layout.Exists {
		logger.Info("pgstore: using table "+qualified(cfg.Schema, table)+" in the "+layout.Name+" layout", "columns", layout.Columns)
	} else {
		logger.Info("pgstore: table "+qualified(cfg.Schema, table)+" not found: assuming the sessionkit layout (create it with SchemaSQL or Config.CreateTable)", "columns", layout.Columns)
	}
	if interval > 0 {
		s.loop = pruneloop.Start(interval, logger, "pgstore", s.backgroundPrune)
	}
	return s, nil
}

// createTable runs the DDL inside a transaction holding LockSchema's lock,
// because two instances starting at once can both pass CREATE TABLE IF NOT
// EXISTS and one then fails on a catalog unique violation.
func (s *Store) createTable(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := LockSchema(ctx, tx, s.schema, s.table); err != nil {
			return err
		}
		// No arguments: pgx uses the simple protocol, which allows the two
		// statements in one string.
		_, err := tx.Exec(ctx, schemaSQL(s.schema, s.table))
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: create table: %w", err)
	}
	return nil
}

// LockSchema takes, in tx, the transaction-level advisory lock that New holds
// while Config.CreateTable creates the table (schema and table as Config
// names them; an empty table means DefaultTable). A migration that runs
// SchemaSQL in its own transaction takes it first, so that it never races
// another migration or an instance starting with CreateTable on the same
// table. PostgreSQL releases it when tx ends.
func LockSchema(ctx context.Context, tx pgx.Tx, schema, table string) error {
	if table == "" {
		table = DefaultTable
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey(schema, table)); err != nil {
		return fmt.Errorf("pgstore: lock schema of %s: %w", qualified(schema, table), err)
	}
	return nil
}

// Close stops the background pruner and waits for a prune in progress to
// finish. It does not close the pool. It is safe to call more than once; the
// store's methods keep working after it, only the background pruning stops.
func (s *Store) Close() {
	s.loop.Close()
}

// storable reports whether a PostgreSQL text column can hold id: valid UTF-8
// without NUL bytes. No row has any other id, so Load, Update and Delete answer
// "not found" for one without asking the server, which would refuse the
// parameter (SQLSTATE 22021) with an error that reads like a store failure.
func storable(id string) bool {
	return utf8.ValidString(id) && strings.IndexByte(id, 0) < 0
}

// keysOf is the argument that names the session with this id in the
// store's statements: the id itself on a table Node reads
// (LayoutConnectPgSimple); otherwise the keys it may be stored under, its
// hash (sessionkit.HashID), under which Create stores every session, and,
// while a row may still hold one (s.rawIDs), the id, under which a session
// created before ids were hashed stays until it expires. No cookie's id can
// equal a hash, so the second key never finds a hashed row for a cookie;
// given a hash (a StoredSession.ID), the array holds just it.
func (s *Store) keysOf(id string) any {
	if !s.layout.HashedIDs {
		return id
	}
	h := sessionkit.HashID(id)
	if h != id && s.rawIDs.Load() {
		return []string{h, id}
	}
	return []string{h}
}

// recheckRawIDs turns s.rawIDs off when no live row holds a raw id. A row
// that expires with one is never looked for again, so only live rows count.
func (s *Store) recheckRawIDs(ctx context.Context) error {
	if !s.rawIDs.Load() {
		return nil
	}
	var found bool
	if err := s.pool.QueryRow(ctx, s.qRawIDs).Scan(&found); err != nil {
		return fmt.Errorf("pgstore: look for rows under a raw id: %w", err)
	}
	if !found {
		s.rawIDs.Store(false)
	}
	return nil
}

// storedID is the sid Create gives the session with this id.
func (s *Store) storedID(id string) string {
	if !s.layout.HashedIDs {
		return id
	}
	return sessionkit.HashID(id)
}

// Create inserts a new session. It never overwrites: an id that exists, live
// or expired but not yet pruned, gives an error wrapping sessionkit.ErrExists.
// A zero rec.Created is set from the database clock. On a table without
// created_at (connect-pg-simple's layout) Created is not kept, and Load
// reports it zero.
func (s *Store) Create(ctx context.Context, id string, rec sessionkit.Record) error {
	sess, err := jsonobject.Join(rec.Values)
	if err != nil {
		return fmt.Errorf("pgstore: create: values: %w", err)
	}
	args := []any{s.storedID(id), sess, rec.Expiry}
	if s.layout.HasCreated {
		var created any // NULL makes the statement use now()
		if !rec.Created.IsZero() {
			created = rec.Created
		}
		args = append(args, created)
	}
	tag, err := s.pool.Exec(ctx, s.qCreate, args...)
	if err != nil {
		return fmt.Errorf("pgstore: create: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: create: %w", sessionkit.ErrExists)
	}
	return nil
}

// Update applies p to the live session with this id in one statement, so
// concurrent patches to different keys both survive, and reports whether a
// live session was there. It never inserts a row. An empty patch is a
// read-only existence check.
func (s *Store) Update(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	if !storable(id) {
		return false, nil
	}
	if p.Empty() {
		// An UPDATE that changes nothing would still write a new row version;
		// a touch-free check should not bloat the table.
		var found bool
		if err := s.pool.QueryRow(ctx, s.qExists, s.keysOf(id)).Scan(&found); err != nil {
			return false, fmt.Errorf("pgstore: update: %w", err)
		}
		return found, nil
	}
	set, err := jsonobject.Join(p.Set)
	if err != nil {
		return false, fmt.Errorf("pgstore: update: values: %w", err)
	}
	del := p.Delete
	if del == nil {
		// A nil slice would be sent as NULL, and jsonb - NULL is NULL.
		del = []string{}
	}
	var expiry any // NULL keeps the current expiry
	if !p.Expiry.IsZero() {
		expiry = p.Expiry
	}
	var changed int64
	if err := s.pool.QueryRow(ctx, s.qUpdate, s.keysOf(id), del, set, expiry, sessionkit.ChangeKey(id)).Scan(&changed); err != nil {
		if s.qUpdateText != "" && untranslatable(err) {
			return s.updateText(ctx, id, p, expiry)
		}
		return false, fmt.Errorf("pgstore: update: %w", err)
	}
	return changed == 1, nil
}

// Delete removes the session with this id, live or expired. A missing id is
// not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, s.qDelete, s.keysOf(id), sessionkit.ChangeKey(id)); err != nil {
		return fmt.Errorf("pgstore: delete: %w", err)
	}
	return nil
}

// DeleteMany removes the sessions with these ids, live or expired, and
// announces each, in one statement. Missing ids are not an error.
func (s *Store) DeleteMany(ctx context.Context, ids []string) error {
	ids = storableOnly(ids)
	if len(ids) == 0 {
		return nil
	}
	stored, announced := s.storedKeys(ids), make([]string, len(ids))
	for i, id := range ids {
		announced[i] = sessionkit.ChangeKey(id)
	}
	if _, err := s.pool.Exec(ctx, s.qDeleteMany, slices.Collect(maps.Keys(stored)), announced); err != nil {
		return fmt.Errorf("pgstore: delete many: %w", err)
	}
	return nil
}

// storedKeys maps every key under which one of ids may be stored (see
// keysOf) to that id; a raw id only while a row may hold one.
func (s *Store) storedKeys(ids []string) map[string]string {
	out := make(map[string]string, 2*len(ids))
	raw := !s.layout.HashedIDs || s.rawIDs.Load()
	for _, id := range ids {
		if raw {
			out[id] = id
		}
		if s.layout.HashedIDs {
			out[sessionkit.HashID(id)] = id
		}
	}
	return out
}

// storableOnly returns the ids a row can have (see storable).
func storableOnly(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if storable(id) {
			out = append(out, id)
		}
	}
	return out
}

// UserSessions returns the live sessions bound to user (sessionkit.UserOf),
// in one query on the user index that SchemaSQL creates. Without that index
// (a table made before it existed, and not migrated since) it still answers,
// by scanning the table.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionkit.StoredSession, error) {
	if !storable(user) {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, s.qUser, user)
	if err != nil {
		return nil, fmt.Errorf("pgstore: user sessions: %w", err)
	}
	defer rows.Close()
	var out []sessionkit.StoredSession
	for rows.Next() {
		var (
			st      sessionkit.StoredSession
			raw     []byte
			created pgtype.Timestamptz
		)
		if err := rows.Scan(&st.ID, &raw, &created, &st.Record.Expiry); err != nil {
			return nil, fmt.Errorf("pgstore: user sessions: %w", err)
		}
		st.Record.Created = created.Time
		if st.Record.Values, err = jsonobject.Split(raw); err != nil {
			return nil, fmt.Errorf("pgstore: user sessions: decode sess: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: user sessions: %w", err)
	}
	return out, nil
}
