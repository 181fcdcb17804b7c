// Package admin opens the reference server's database — PostgreSQL when a
// URL is given, otherwise the embedded SQLite file — and holds what the
// `sessionkit` subcommands do with it: the schema (migrate), the users table
// (users add, list, remove) and pruning expired sessions (prune). The server
// uses the same DB for its session store, so every command and the server
// agree on tables and file locations.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/cli"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// Names shared by the server and the commands.
const (
	// DefaultDataDir is where the embedded SQLite database (and the generated
	// development secret) live when no data directory is configured.
	DefaultDataDir = "data"
	// SQLiteFile is the embedded database's file name inside the data
	// directory.
	SQLiteFile = "sessionkit.db"
	// SessionsTable and UsersTable are the tables the server uses, found
	// through the connection's search_path on PostgreSQL.
	SessionsTable = "sessions"
	UsersTable    = "users"
	// SessionUserIDKey and SessionEmailKey are the session keys the server
	// stores at log-in, next to binding the session to UserKey(id), by which
	// RemoveUser and DisableUser find the user's sessions.
	SessionUserIDKey = "userId"
	SessionEmailKey  = "email"
)

// Backend names, as DB.Backend reports them.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// Config says which database to open.
type Config struct {
	// DatabaseURL is a PostgreSQL URL (postgres://…) or key=value string.
	// Zero: the embedded SQLite database DataDir/sessionkit.db.
	DatabaseURL string
	// DataDir holds the SQLite database when DatabaseURL is empty; it is
	// created (mode 0700) if missing. Zero: DefaultDataDir ("data", relative
	// to the working directory).
	DataDir string
	// RedisURL, when set, keeps the sessions in Redis while users stay in
	// the database: redis://[user:password@]host:port[/db], rediss:// for
	// TLS, or a Redis Cluster by its seed nodes,
	// redis+cluster://[user:password@]host1:port1,host2:port2
	// (rediss+cluster:// for TLS), or a primary found through its
	// Sentinels, redis+sentinel://[user:password@]s1:26379,s2:26379/<master>[/db]
	// (rediss+sentinel:// for TLS); go-redis's query parameters apply. Zero:
	// sessions live in the database.
	RedisURL string
	// RedisPrefix starts every session key in Redis. Zero: "sessionkit:"
	// (redisstore.DefaultPrefix), or connect-redis's "sess:" in its layout;
	// it must not contain '{' or '}'.
	RedisPrefix string
	// RedisLayout is the sessions' layout in Redis: redisstore.LayoutNative
	// (zero) or redisstore.LayoutConnectRedis, to share them with an
	// express-session app on connect-redis.
	RedisLayout redisstore.Layout
	// RedisReplicas and RedisTimeout are redisstore.Config's Replicas and
	// ReplicaTimeout: how many replicas must acknowledge each write that
	// must not be lost, and for how long it waits. Zero: none; 1 s.
	RedisReplicas int
	RedisTimeout  time.Duration
	// RedisQuiet is redisstore.Config.NoAnnounce: no change announcements,
	// for fleets where no process caches sessions.
	RedisQuiet bool
	// PruneInterval is how often the session store deletes expired sessions
	// in the background. Zero: the store's default (one hour); negative: no
	// background pruning, which is what one-shot commands want.
	PruneInterval time.Duration
	// Logger receives the session store's background reports. Nil discards.
	Logger *slog.Logger
	// SessionTable names the PostgreSQL sessions table, "name" or
	// "schema.name" (SESSION_TABLE). It may be a connect-pg-simple table,
	// used as it is (see DB.SessionLayout). Zero: SessionsTable, through the
	// search_path. SQLite always uses SessionsTable.
	SessionTable string
}

// DB is an open database with its session store. It is safe for concurrent
// use. Close it when done.
type DB struct {
	pool *pgxpool.Pool      // PostgreSQL only
	pg   *pgstore.Store     // PostgreSQL only
	lite *sqlitestore.Store // SQLite only; it owns the file
	desc string
	// schema and table name the sessions table; schema is "" for the
	// search_path (always on SQLite).
	schema, table string
	// redis holds the sessions when Config.RedisURL is set; the database's
	// sessions table is then unused.
	redis *redisSessions
}

// Open opens the database cfg names and its session store, checking that the
// database answers. On SQLite it also creates the schema (sessions and users
// tables), since the server owns that file; on PostgreSQL it runs no DDL —
// call Migrate (or run `sessionkit migrate`).
func Open(ctx context.Context, cfg Config) (*DB, error) {
	var rs *redisSessions
	if cfg.RedisURL != "" {
		var err error
		if rs, err = openRedis(ctx, cfg); err != nil {
			return nil, err
		}
		// Redis expires sessions itself, and the database's sessions
		// table stays empty: nothing to prune there.
		cfg.PruneInterval = -1
	}
	open := openSQLite
	if cfg.DatabaseURL != "" {
		open = openPostgres
	}
	db, err := open(ctx, cfg)
	if err != nil {
		if rs != nil {
			rs.client.Close()
		}
		return nil, err
	}
	db.redis = rs
	return db, nil
}

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	desc := "PostgreSQL " + cli.RedactURL(cfg.DatabaseURL, "DATABASE_URL")
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// pgx's parse errors can quote the whole URL, password included.
		return nil, fmt.Errorf("%w: DATABASE_URL %s is not a valid PostgreSQL URL (expected postgres://user:password@host:5432/dbname)", ErrInvalidConfig, cli.RedactURL(cfg.DatabaseURL, "DATABASE_URL"))
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", desc, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach %s (check DATABASE_URL, or unset it for the embedded SQLite): %w", desc, err)
	}
	schema, table, err := ParseTable(cfg.SessionTable)
	if err != nil {
		pool.Close()
		return nil, err
	}
	store, err := pgstore.New(ctx, pool, pgstore.Config{
		Schema:        schema,
		Table:         table,
		PruneInterval: cfg.PruneInterval,
		Logger:        cfg.Logger,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool, pg: store, desc: desc, schema: schema, table: table}, nil
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = DefaultDataDir
	}
	if err := PrivateDir(dir, cfg.Logger); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, SQLiteFile)
	store, err := sqlitestore.Open(ctx, path, sqlitestore.Config{
		Table:         SessionsTable,
		PruneInterval: cfg.PruneInterval,
		Logger:        cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	db := &DB{lite: store, desc: "SQLite " + path, table: SessionsTable}
	if _, err := store.DB().ExecContext(ctx, sqliteUsersSQL); err != nil {
		store.Close()
		return nil, fmt.Errorf("create users table in %s: %w", path, err)
	}
	return db, nil
}

// ParseTable splits a SESSION_TABLE value, "name" or "schema.name", into
// its schema ("" for the search_path) and table; empty means SessionsTable.
// Names must be plain identifiers (pgstore.ErrInvalidName).
func ParseTable(s string) (schema, table string, err error) {
	table = strings.TrimSpace(s)
	if table == "" {
		return "", SessionsTable, nil
	}
	if i := strings.IndexByte(table, '.'); i >= 0 {
		schema, table = table[:i], table[i+1:]
	}
	if _, err := pgstore.SchemaSQL(schema, table); err != nil || table == "" || (schema == "" && strings.Contains(s, ".")) {
		return "", "", fmt.Errorf("SESSION_TABLE %q is not name or schema.name made of letters, digits and _", s)
	}
	return schema, table, nil
}

// SessionTable returns the sessions table as SQL: quoted and, when
// configured so, schema-qualified.
func (db *DB) SessionTable() string { return quotedTable(db.schema, db.table) }

// quotedTable returns table, schema-qualified unless schema is "", quoted.
func quotedTable(schema, table string) string {
	if schema == "" {
		return pgx.Identifier{table}.Sanitize()
	}
	return pgx.Identifier{schema, table}.Sanitize()
}

// SessionLayout returns the layout of the PostgreSQL sessions table as the
// store found it at Open (pgstore.LayoutConnectPgSimple for a table
// connect-pg-simple made, used as it is); on SQLite, the store's own.
func (db *DB) SessionLayout() pgstore.Layout {
	if db.pg != nil {
		return db.pg.Layout()
	}
	return pgstore.Layout{Name: pgstore.LayoutSessionkit, Exists: true}
}

// Backend returns Postgres or SQLite.
func (db *DB) Backend() string {
	if db.pool != nil {
		return Postgres
	}
	return SQLite
}

// String names the database for logs and messages, without any password.
func (db *DB) String() string { return db.desc }

// Sessions returns the session store: Redis's when Config.RedisURL is set,
// otherwise the database's. It stays owned by db: Close stops it.
func (db *DB) Sessions() sessionkit.Store {
	if db.redis != nil {
		return db.redis.store
	}
	if db.pg != nil {
		return db.pg
	}
	return db.lite
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if db.pool != nil {
		return db.pool.Ping(ctx)
	}
	return db.lite.DB().PingContext(ctx)
}

// Close stops the session store's background pruning (waiting for a pass in
// progress), then closes the Redis client, if any, and the pool or the SQLite
// file. It is safe to call
// more than once; later calls return the first call's result.
func (db *DB) Close() error {
	if db.redis != nil {
		// A second Close gets redis.ErrClosed, which is no news.
		db.redis.client.Close()
	}
	if db.pool != nil {
		db.pg.Close()
		db.pool.Close()
		return nil
	}
	return db.lite.Close()
}

// ErrInvalidConfig is wrapped by Open's errors for a setting that cannot work
// (a DATABASE_URL or REDIS_URL that does not parse): the fix is a setting,
// not a retry. Its text is not shown: the errors say which setting.
var ErrInvalidConfig = errors.New("invalid setting")

// PrivateDir makes dir, the data directory (DATA_DIR), if it is missing,
// and makes sure only its owner can enter it: it holds the SQLite database
// (password hashes, session ids) and the development secret. A directory
// that others may read or enter (mkdir's usual 0755) is tightened to 0700,
// with a warning naming it, rather than left open or refused: nothing but
// this server should be reading it.
func PrivateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s (DATA_DIR): %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s (DATA_DIR): %w", dir, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s (DATA_DIR) is mode %04o, open to other users, and cannot be tightened: %w; run chmod 700 %s", dir, perm, err, dir)
		}
		if log != nil {
			log.Warn(fmt.Sprintf("data directory %s (DATA_DIR) was mode %04o, readable by other users; "+
				"tightened to 0700, since it holds password hashes, session ids and the development secret", dir, perm))
		}
	}
	return nil
}
