package pgstore

import (
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit"

	"github.com/sessionkit/sessionkit/internal/sqlname"
)

// ErrInvalidName is returned (wrapped) by New and SchemaSQL when a schema or
// table name is not a plain identifier. Names are never spliced into SQL
// unchecked; callers can branch on it with errors.Is.
var ErrInvalidName = errors.New("pgstore: schema and table names must match " + sqlname.Pattern)

// DefaultTable is the table used when Config.Table is empty.
const DefaultTable = "sessions"

// maxIdent is PostgreSQL's NAMEDATALEN-1: longer names are truncated.
const maxIdent = 63

// checkNames validates schema (may be empty) and table (must not be).
func checkNames(schema, table string) error {
	if schema != "" && !sqlname.Valid(schema) {
		return fmt.Errorf("%w: invalid schema name", ErrInvalidName)
	}
	if !sqlname.Valid(table) {
		return fmt.Errorf("%w: invalid table name", ErrInvalidName)
	}
	return nil
}

// qualified returns the quoted, optionally schema-qualified table name.
// Names are validated before this is called; quoting is defence in depth and
// keeps mixed-case names as written.
func qualified(schema, table string) string {
	if schema == "" {
		return pgx.Identifier{table}.Sanitize()
	}
	return pgx.Identifier{schema, table}.Sanitize()
}

// ExpireIndexName is the name of the expiry index SchemaSQL creates on table:
// <table>_expire_idx. For a long table name that would exceed 63 bytes,
// PostgreSQL would truncate it — possibly to the table's own name, and then
// CREATE INDEX IF NOT EXISTS would skip the index without a word — so the
// table part is shortened and a hash of the full name keeps it distinct.
// Tools that suggest the index (sessionkit doctor db) use this name, so that
// the store's own migration later finds it and creates no second one.
func ExpireIndexName(table string) string { return suffixedName(table, "_expire_idx") }

// userIndexName is <table>_user_idx, shortened like ExpireIndexName.
func userIndexName(table string) string { return suffixedName(table, "_user_idx") }

// userExpr is the SQL expression for the user a session is bound to
// (sessionkit.UserOf): the user index is on it, and UserSessions filters on
// exactly it so that the planner matches the two. It reads json as well as
// jsonb.
const userExpr = "(sess -> '" + sessionkit.MetaKey + "' ->> 'user')"

func suffixedName(table, suffix string) string {
	if len(table)+len(suffix) <= maxIdent {
		return table + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	tag := fmt.Sprintf("_%08x", h.Sum32())
	return table[:maxIdent-len(suffix)-len(tag)] + tag + suffix
}

// SchemaSQL returns the DDL that creates the sessions table, its expiry
// index and its user index (for Store.UserSessions), for a migration tool
// or a `migrate --print` command. New runs this same text when
// Config.CreateTable is set. Every statement uses IF NOT EXISTS, so running
// it again is harmless. An empty schema leaves the table
// name unqualified (resolved by the connection's search_path); an empty table
// means DefaultTable. Names that are not plain identifiers give
// ErrInvalidName.
//
// The columns match connect-pg-simple's (sid, sess, expire) plus created_at.
func SchemaSQL(schema, table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	if err := checkNames(schema, table); err != nil {
		return "", err
	}
	return schemaSQL(schema, table), nil
}

// UserIndexSQL returns the one statement that adds the user index (which
// Store.UserSessions reads: a user's session list, "log out everywhere") to
// an existing sessions table, for a migration on a table this package did
// not create, such as connect-pg-simple's: an index on an expression of
// sess, which works on json as on jsonb, adds no column and changes no row,
// so Node's reads and writes go on as before. It is CREATE INDEX
// CONCURRENTLY, which does not block writers; run it outside a transaction.
// Without the index UserSessions still answers, by scanning the table.
// Names that are not plain identifiers give ErrInvalidName.
func UserIndexSQL(schema, table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	if err := checkNames(schema, table); err != nil {
		return "", err
	}
	return "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + pgx.Identifier{userIndexName(table)}.Sanitize() +
		" ON " + qualified(schema, table) + " (" + userExpr + ") WHERE " + userExpr + " IS NOT NULL", nil
}

func schemaSQL(schema, table string) string {
	t := qualified(schema, table)
	return "CREATE TABLE IF NOT EXISTS " + t + " (\n" +
		"\tsid text PRIMARY KEY,\n" +
		"\tsess jsonb NOT NULL,\n" +
		"\texpire timestamptz NOT NULL,\n" +
		"\tcreated_at timestamptz NOT NULL DEFAULT now()\n" +
		");\n" +
		// The pruner's "WHERE expire <= now() LIMIT n" needs this index; without
		// it every prune scans the whole table.
		"CREATE INDEX IF NOT EXISTS " + pgx.Identifier{ExpireIndexName(table)}.Sanitize() +
		" ON " + t + " (expire);\n" +
		// UserSessions (a user's session list, log out everywhere) needs
		// this one. Partial: anonymous sessions stay out of it and cost it
		// nothing.
		"CREATE INDEX IF NOT EXISTS " + pgx.Identifier{userIndexName(table)}.Sanitize() +
		" ON " + t + " (" + userExpr + ") WHERE " + userExpr + " IS NOT NULL;\n"
}
