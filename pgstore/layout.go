package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Layout names, as Layout.Name reports them.
const (
	// LayoutSessionkit is this package's own table (SchemaSQL): sid, sess
	// jsonb, expire timestamptz, created_at timestamptz.
	LayoutSessionkit = "sessionkit"
	// LayoutConnectPgSimple is a table as connect-pg-simple creates it: sid
	// varchar, sess json, expire timestamp(6) without time zone, and no
	// creation time.
	LayoutConnectPgSimple = "connect-pg-simple"
)

// Layout is the shape of a sessions table as New found it in the catalog.
// The store adapts its SQL to it and never alters the table.
type Layout struct {
	// Name is LayoutSessionkit for a table with a created_at column and
	// LayoutConnectPgSimple for one without (whatever the types of sess and
	// expire).
	Name string
	// Columns lists the columns the store uses with their types, as the
	// catalog gives them ("sid character varying, sess json, expire
	// timestamp(6) without time zone"), for logs and diagnostics.
	Columns string
	// Exists is false when the table was missing at New: the store then
	// assumes its own layout, which CreateTable or a migration creates.
	Exists bool
	// SessJSONB is true when sess is jsonb, false when it is json.
	SessJSONB bool
	// ExpireTimeZone is true when expire is timestamptz. False means
	// timestamp without time zone, connect-pg-simple's type, whose values
	// are the wall-clock time in the connection's TimeZone setting: the
	// store converts in SQL, as connect-pg-simple's to_timestamp does, so
	// Node and Go agree as long as their connections share one TimeZone.
	ExpireTimeZone bool
	// HasCreated is true when the table has sessionkit's created_at column.
	// Without it the store cannot keep a session's creation time, and
	// Record.Created is zero on Load.
	HasCreated bool
	// HashedIDs is true in LayoutSessionkit: the store keeps the hash of
	// each session id (sessionkit.HashID) in sid, never the id, and finds a
	// row written before that by its id too, until it expires or
	// Store.HashStoredIDs converts it; once no such row is left, its
	// statements carry only hashes. False in LayoutConnectPgSimple, whose
	// rows connect-pg-simple looks up by the id itself.
	HashedIDs bool
}

// ownLayout is the layout SchemaSQL creates.
var ownLayout = Layout{
	Name:           LayoutSessionkit,
	Columns:        "sid text, sess jsonb, expire timestamp with time zone, created_at timestamp with time zone",
	SessJSONB:      true,
	ExpireTimeZone: true,
	HasCreated:     true,
	HashedIDs:      true,
}

// DetectLayout reads from the catalog the layout of the table schema.table
// (an empty schema: the one the connection's search_path finds), with one
// read-only query. A missing table gives the store's own layout with Exists
// false. A table that lacks sid, sess or expire, or whose sess or expire
// column has a type the store cannot use, is an error naming the column.
func DetectLayout(ctx context.Context, pool *pgxpool.Pool, schema, table string) (Layout, error) {
	if table == "" {
		table = DefaultTable
	}
	if err := checkNames(schema, table); err != nil {
		return Layout{}, err
	}
	rows, err := pool.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, qualified(schema, table))
	if err != nil {
		return Layout{}, fmt.Errorf("pgstore: read the columns of %s: %w", qualified(schema, table), err)
	}
	types := map[string]string{} // column → base type name
	formatted := map[string]string{}
	for rows.Next() {
		var name, format, typ string
		if err := rows.Scan(&name, &format, &typ); err != nil {
			rows.Close()
			return Layout{}, fmt.Errorf("pgstore: read the columns of %s: %w", qualified(schema, table), err)
		}
		types[name], formatted[name] = typ, format
	}
	if err := rows.Err(); err != nil {
		return Layout{}, fmt.Errorf("pgstore: read the columns of %s: %w", qualified(schema, table), err)
	}
	if len(types) == 0 {
		return ownLayout, nil
	}
	l := Layout{Exists: true}
	var cols []string
	for _, c := range []string{"sid", "sess", "expire", "created_at"} {
		if f, ok := formatted[c]; ok {
			cols = append(cols, c+" "+f)
		} else if c != "created_at" {
			return Layout{}, fmt.Errorf("pgstore: table %s has no %s column: it is not a sessions table sessionkit or connect-pg-simple made (sid, sess, expire)", qualified(schema, table), c)
		}
	}
	l.Columns = strings.Join(cols, ", ")
	switch types["sess"] {
	case "jsonb":
		l.SessJSONB = true
	case "json":
	default:
		return Layout{}, fmt.Errorf("pgstore: table %s: sess is %s; the store needs json or jsonb", qualified(schema, table), formatted["sess"])
	}
	switch types["expire"] {
	case "timestamptz":
		l.ExpireTimeZone = true
	case "timestamp":
	default:
		return Layout{}, fmt.Errorf("pgstore: table %s: expire is %s; the store needs timestamp or timestamptz", qualified(schema, table), formatted["expire"])
	}
	_, l.HasCreated = types["created_at"]
	l.Name = LayoutConnectPgSimple
	if l.HasCreated {
		l.Name, l.HashedIDs = LayoutSessionkit, true
	}
	return l, nil
}

// jsonPatch is Update's new sess on a json column (connect-pg-simple's):
// the object rebuilt from its members as text, so that every member the
// patch does not touch keeps the text Node wrote, nested key order and
// escapes included (a round trip through jsonb reorders keys). PostgreSQL's
// JSON functions refuse a "\u0000" in a string of the row, as jsonb does:
// such a session is patched in Go (textpatch.go). A member the patch sets keeps its place, as a
// JavaScript assignment to an existing key does; new ones come after, in
// the patch's order; deleted ones go, unless the patch also sets them.
// The object is written compact, as JSON.stringify writes it.
const jsonPatch = `(SELECT COALESCE('{' || string_agg(to_json(k)::text || ':' || v::text, ',' ORDER BY o) || '}', '{}')::json FROM (
		SELECT e.key AS k, COALESCE(p.value, e.value) AS v, e.ord AS o
		FROM json_each(sess) WITH ORDINALITY AS e(key, value, ord)
		LEFT JOIN json_each($3::json) AS p ON p.key = e.key
		WHERE p.key IS NOT NULL OR e.key <> ALL($2::text[])
		UNION ALL
		SELECT p.key, p.value, 1e9 + p.ord
		FROM json_each($3::json) WITH ORDINALITY AS p(key, value, ord)
		WHERE NOT EXISTS (SELECT 1 FROM json_each(sess) AS e WHERE e.key = p.key)
	) AS members)`

// buildStatements sets the store's SQL for table t in layout l.
func (s *Store) buildStatements(t string, l Layout) {
	sessType := "jsonb"
	// Keys are removed first and then the Set object merged in, so a key in
	// both Set and Delete ends up set, as the contract says.
	patched := "(sess - $2::text[]) || $3::jsonb"
	if !l.SessJSONB {
		sessType, patched = "json", jsonPatch
	}
	// A timestamptz parameter assigned to a timestamp column is converted to
	// the connection's TimeZone, and a timestamp column read as timestamptz
	// is converted back the same way: what connect-pg-simple's
	// to_timestamp does, so both sides agree under any TimeZone. now() is
	// timestamptz, and PostgreSQL compares it with either type (using the
	// expiry index).
	expire := "expire"
	if !l.ExpireTimeZone {
		expire = "expire::timestamptz"
	}
	created := "created_at"
	if !l.HasCreated {
		created = "NULL::timestamptz"
	}

	// In the hashed layout $1 is the array of keysOf (one or two keys): a
	// session is found under its hash or, written before ids were hashed,
	// its id; with one key the second element is NULL, which matches no
	// row. The two elements are named one by one: for "sid = ANY($1)"
	// the generic plan of a prepared statement guesses ten rows and scans
	// the whole table, while two expressions make it an index scan.
	sidIs := "sid = $1"
	if l.HashedIDs {
		sidIs = "sid IN (($1::text[])[1], ($1::text[])[2])"
	}
	s.qLoad = "SELECT sess, " + created + ", " + expire + " FROM " + t + " WHERE " + sidIs + " AND expire > now()"
	s.qLoadMany = "SELECT sid, sess, " + created + ", " + expire + " FROM " + t + " WHERE sid = ANY($1) AND expire > now()"
	s.qExists = "SELECT EXISTS (SELECT 1 FROM " + t + " WHERE " + sidIs + " AND expire > now())"
	if l.HasCreated {
		s.qCreate = "INSERT INTO " + t + " (sid, sess, expire, created_at)" +
			" VALUES ($1, $2::" + sessType + ", $3::timestamptz, COALESCE($4::timestamptz, now()))" +
			" ON CONFLICT (sid) DO NOTHING"
	} else {
		s.qCreate = "INSERT INTO " + t + " (sid, sess, expire)" +
			" VALUES ($1, $2::" + sessType + ", $3::timestamptz)" +
			" ON CONFLICT (sid) DO NOTHING"
	}
	s.qUpdate = "UPDATE " + t + " SET sess = " + patched + "," +
		" expire = COALESCE($4::timestamptz, " + expire + ")" +
		" WHERE " + sidIs + " AND expire > now()"
	if !l.SessJSONB {
		s.qLoadText = "SELECT sess::text FROM " + t + " WHERE " + sidIs + " AND expire > now()"
		s.qUpdateText = "UPDATE " + t + " SET sess = $2::json, expire = COALESCE($4::timestamptz, " + expire + ")" +
			" WHERE " + sidIs + " AND expire > now() AND sess::text = $3"
	}
	s.qDelete = "DELETE FROM " + t + " WHERE " + sidIs
	s.qDeleteMany = "DELETE FROM " + t + " WHERE sid = ANY($1)"
	// SKIP LOCKED lets a prune run next to one started by hand (or a
	// concurrent Prune call) without waiting on the same rows; ctid makes
	// the outer delete a TID scan of the rows the subquery picked.
	s.qPrune = "DELETE FROM " + t + " WHERE ctid = ANY (ARRAY(SELECT ctid FROM " + t +
		" WHERE expire <= now() LIMIT $1 FOR UPDATE SKIP LOCKED))"
	s.qCount = "SELECT count(*) FROM " + t + " WHERE expire <= now()"
	s.qRawIDs = "SELECT EXISTS (SELECT 1 FROM " + t + " WHERE sid NOT LIKE 'sha256:%' AND expire > now())"
	s.qCounts = "SELECT count(*) FILTER (WHERE expire > now()), count(*) FILTER (WHERE expire <= now()) FROM " + t
	// The user index is on userExpr, and is partial on it being not NULL,
	// which "= $1" implies: the planner uses it.
	s.qUser = "SELECT sid, sess, " + created + ", " + expire + " FROM " + t + " WHERE " + userExpr + " = $1 AND expire > now()"
}
