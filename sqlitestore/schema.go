package sqlitestore

import (
	"fmt"

	"github.com/sessionkit/sessionkit/internal/sqlname"
)

func checkTable(table string) error {
	if !sqlname.Valid(table) {
		return fmt.Errorf("sqlitestore: table name %q is not a plain identifier: "+
			"use 1 to 63 ASCII letters, digits and underscores, not starting with a digit (for example %q)",
			table, DefaultTable)
	}
	return nil
}

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
