package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit/cmd/internal/cli"
)

// DBOptions configures CheckDB. The zero value of every field but URL is
// usable.
type DBOptions struct {
	// URL is the database, as a postgres:// URL or a key=value string.
	// Required. It is never printed with its password.
	URL string
	// Table names the sessions table, optionally schema-qualified
	// ("public.session"); each part is taken literally (case-sensitive).
	// Empty means every table with sid, sess and expire columns.
	Table string
	// Schema limits the search for session tables to one schema. Empty
	// means every schema but PostgreSQL's own. Ignored when Table is set.
	Schema string
	// UserKeys are sess keys that mark a logged-in session, dotted for
	// nested keys ("passport.user"). They add to the detected defaults:
	// userId, user_id, uid, user, passport.user, email.
	UserKeys []string
	// Watch, when positive, samples PostgreSQL's insert, update and delete
	// counters for the tables twice, this far apart, and reports rates.
	Watch time.Duration
	// ConnectTimeout bounds the connection. Zero means 10 seconds.
	ConnectTimeout time.Duration
	// StatementTimeout bounds each query. Zero means 60 seconds.
	StatementTimeout time.Duration
}

// defaultUserKeys mark a login in the sess of common Node and Go apps.
var defaultUserKeys = []string{"userId", "user_id", "uid", "user", "passport.user", "email"}

// TableStats are doctor db's measurements of one sessions table.
type TableStats struct {
	// Table is schema.table.
	Table string `json:"table"`
	// Kind is "sessionkit", "connect-pg-simple" or "sid/sess/expire".
	Kind string `json:"kind"`
	// Rows counts all rows; Expired those whose expire has passed.
	Rows    int64 `json:"rows"`
	Expired int64 `json:"expired"`
	// Anonymous counts rows whose sess has no login key; Empty those whose
	// sess holds nothing but the cookie (saved for nobody).
	Anonymous int64 `json:"anonymous"`
	Empty     int64 `json:"empty"`
	// UserKeys maps each login key found to the number of rows carrying it.
	UserKeys map[string]int64 `json:"userKeys"`
	// Users, MaxPerUser and AvgPerUser describe live logged-in sessions per
	// user.
	Users      int64   `json:"users"`
	MaxPerUser int64   `json:"maxPerUser"`
	AvgPerUser float64 `json:"avgPerUser"`
	// Sizes in bytes, and PostgreSQL's live and dead tuple estimates.
	TotalBytes int64 `json:"totalBytes"`
	TableBytes int64 `json:"tableBytes"`
	IndexBytes int64 `json:"indexBytes"`
	LiveTuples int64 `json:"liveTuples"`
	DeadTuples int64 `json:"deadTuples"`
	// LoggedInSaved counts the live logged-in express-session rows last
	// saved over an hour ago, LoggedInUnread those of them never read since
	// (no touch moved their expire): the rows a dropped log-in cookie leaves.
	LoggedInSaved  int64 `json:"loggedInSaved"`
	LoggedInUnread int64 `json:"loggedInUnread"`
	// CreatedFrom says how creation times were known: "created_at",
	// "expire - cookie.originalMaxAge", or "" when they cannot be.
	CreatedFrom     string `json:"createdFrom"`
	CreatedLastHour int64  `json:"createdLastHour"`
	CreatedLastDay  int64  `json:"createdLastDay"`
	// CreatedLastDayAnonymous counts those of CreatedLastDay without a login.
	CreatedLastDayAnonymous int64 `json:"createdLastDayAnonymous"`
	// Hourly counts sessions created per hour (UTC), oldest first, up to a
	// week.
	Hourly []HourCount `json:"hourly"`
	// Rates per second over the --watch window; nil without --watch.
	InsertsPerSec *float64 `json:"insertsPerSec,omitempty"`
	UpdatesPerSec *float64 `json:"updatesPerSec,omitempty"`
	DeletesPerSec *float64 `json:"deletesPerSec,omitempty"`
}

// HourCount is the number of sessions created in one hour.
type HourCount struct {
	Hour      time.Time `json:"hour"`
	Anonymous int64     `json:"anonymous"`
	LoggedIn  int64     `json:"loggedIn"`
}

// sessTable is a table recognised as a sessions table.
type sessTable struct {
	oid          uint32
	schema, name string
	cols         map[string]string // column → type
}

func (t sessTable) ident() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

func (t sessTable) label() string { return t.schema + "." + t.name }

func (t sessTable) kind() string {
	switch {
	case t.cols["sess"] == "jsonb" && t.cols["expire"] == "timestamp with time zone" && t.cols["created_at"] != "":
		return "sessionkit"
	case t.cols["sess"] == "json" && strings.HasSuffix(t.cols["expire"], "without time zone"):
		return "connect-pg-simple"
	default:
		return "sid/sess/expire"
	}
}

// unusable says why the table cannot be read as a sessions table, or "".
func (t sessTable) unusable() string {
	for _, c := range []string{"sid", "sess", "expire"} {
		if t.cols[c] == "" {
			return "it has no " + c + " column"
		}
	}
	if s := t.cols["sess"]; s != "json" && s != "jsonb" {
		return "its sess column is " + s + ", not json or jsonb"
	}
	if !strings.HasPrefix(t.cols["expire"], "timestamp") {
		return "its expire column is " + t.cols["expire"] + ", not a timestamp"
	}
	return ""
}

// CheckDB reads the sessions tables of the database at o.URL, in read-only
// transactions, and reports on each. It returns an error wrapping ErrUsage
// for bad options or when no sessions table is found, and another error when
// the database cannot be reached; what is wrong with a table is a finding.
func CheckDB(ctx context.Context, o DBOptions) (*Report, error) {
	cfg, err := pgx.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: bad database URL: %v", ErrUsage, err)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 60 * time.Second
	}
	cfg.ConnectTimeout = o.ConnectTimeout
	target := cli.RedactURL(o.URL, "the database connection string")
	keys, err := userKeyPaths(o.UserKeys)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("doctor: connect to %s: %w", target, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	rep := &Report{Kind: "db", Target: target}
	tx, err := beginReadOnly(ctx, conn, o.StatementTimeout)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	tables, err := findTables(ctx, tx, o)
	if err != nil {
		return nil, err
	}
	var stats []*TableStats
	for _, t := range tables {
		// A savepoint per table: one table's error (dropped meanwhile, no
		// permission) must not abort the others.
		sp, err := tx.Begin(ctx)
		if err != nil {
			return nil, fmt.Errorf("doctor: savepoint: %w", err)
		}
		st, findings, err := examine(ctx, sp, t, keys)
		if err != nil {
			_ = sp.Rollback(ctx)
			rep.add(Finding{ID: "db.read", Section: sectionOf(t), Status: Fail, Title: "could not read the table",
				Evidence: []string{err.Error()}, Fix: "Check the table exists and the user may SELECT from it and read pg_stat_user_tables."})
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return nil, fmt.Errorf("doctor: release savepoint: %w", err)
		}
		for _, f := range findings {
			rep.add(f)
		}
		stats = append(stats, st)
	}
	if err := tx.Rollback(ctx); err != nil {
		return nil, fmt.Errorf("doctor: end transaction: %w", err)
	}
	if o.Watch > 0 && len(stats) > 0 {
		if err := watch(ctx, conn, tables, stats, o); err != nil {
			return nil, err
		}
		for i, st := range stats {
			rep.add(writeRateFinding(tables[i], st, o.Watch))
		}
		// Keep each table's findings together.
		rank := map[string]int{}
		for i, t := range tables {
			rank[sectionOf(t)] = i
		}
		sort.SliceStable(rep.Findings, func(a, b int) bool {
			return rank[rep.Findings[a].Section] < rank[rep.Findings[b].Section]
		})
	}
	for _, st := range stats {
		rep.Tables = append(rep.Tables, *st)
	}
	rep.finish()
	return rep, nil
}

func sectionOf(t sessTable) string { return tableSection(t.label(), t.kind()) }

// tableSection is the report section of a table's findings.
func tableSection(table, kind string) string { return table + " (" + kind + ")" }

func beginReadOnly(ctx context.Context, conn *pgx.Conn, timeout time.Duration) (pgx.Tx, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("doctor: begin read-only transaction: %w", err)
	}
	// set_config(..., true) is SET LOCAL with the value as a parameter.
	if _, err := tx.Exec(ctx, "SELECT set_config('statement_timeout', $1, true)", fmt.Sprint(timeout.Milliseconds())); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("doctor: set statement_timeout: %w", err)
	}
	return tx, nil
}

// userKeyPaths turns dotted keys into jsonb paths, defaults first.
func userKeyPaths(extra []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, k := range append(append([]string(nil), defaultUserKeys...), extra...) {
		k = strings.TrimSpace(k)
		if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			return nil, fmt.Errorf("%w: bad --user-key %q", ErrUsage, k)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

const tableColumnsSQL = `
SELECT c.oid, n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND `

// findTables returns the table named by o.Table, or every table that looks
// like a sessions table.
func findTables(ctx context.Context, tx pgx.Tx, o DBOptions) ([]sessTable, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if o.Table != "" {
		var ident pgx.Identifier
		if schema, name, ok := strings.Cut(o.Table, "."); ok {
			ident = pgx.Identifier{schema, name}
		} else {
			ident = pgx.Identifier{o.Table}
		}
		rows, err = tx.Query(ctx, tableColumnsSQL+`c.oid = to_regclass($1) ORDER BY a.attnum`, ident.Sanitize())
	} else {
		rows, err = tx.Query(ctx, tableColumnsSQL+`n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND ($1 = '' OR n.nspname = $1)
  AND EXISTS (SELECT 1 FROM pg_attribute s WHERE s.attrelid = c.oid AND s.attname = 'sess' AND NOT s.attisdropped)
ORDER BY n.nspname, c.relname, a.attnum`, o.Schema)
	}
	if err != nil {
		return nil, fmt.Errorf("doctor: list tables: %w", err)
	}
	var all []sessTable
	byOID := map[uint32]int{}
	for rows.Next() {
		var (
			oid                        uint32
			schema, name, col, coltype string
		)
		if err := rows.Scan(&oid, &schema, &name, &col, &coltype); err != nil {
			return nil, fmt.Errorf("doctor: list tables: %w", err)
		}
		i, ok := byOID[oid]
		if !ok {
			i = len(all)
			byOID[oid] = i
			all = append(all, sessTable{oid: oid, schema: schema, name: name, cols: map[string]string{}})
		}
		all[i].cols[col] = normalizeType(coltype)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("doctor: list tables: %w", err)
	}
	if o.Table != "" {
		if len(all) == 0 {
			return nil, fmt.Errorf("%w: table %s not found", ErrUsage, o.Table)
		}
		if why := all[0].unusable(); why != "" {
			return nil, fmt.Errorf("%w: %s is not a sessions table: %s", ErrUsage, all[0].label(), why)
		}
		return all, nil
	}
	var out []sessTable
	for _, t := range all {
		if t.unusable() == "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		where := "in any schema"
		if o.Schema != "" {
			where = "in schema " + o.Schema
		}
		return nil, fmt.Errorf("%w: no table with sid, sess (json or jsonb) and expire columns %s; name one with --table", ErrUsage, where)
	}
	return out, nil
}

// normalizeType drops a timestamp's precision: "timestamp(6) without time
// zone" → "timestamp without time zone".
func normalizeType(t string) string {
	if i := strings.Index(t, "("); i >= 0 && strings.HasPrefix(t, "timestamp") {
		if j := strings.Index(t[i:], ")"); j >= 0 {
			return t[:i] + t[i+j+1:]
		}
	}
	return t
}
