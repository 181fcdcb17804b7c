package doctor

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

// redactDBURL describes the database without its password.
func redactDBURL(cfg *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		return fmt.Sprintf("postgres://%s@[%s]:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	}
	return u.String()
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
	target := redactDBURL(cfg)
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

// sqlParts builds the jsonb expressions shared by examine's queries. The key
// paths are parameters $1..$n.
type sqlParts struct {
	args    []any
	conds   []string // per key: the row carries it
	logged  string   // any key
	userVal string   // the user's identity, for grouping
	from    string   // FROM clause yielding s (jsonb), e (timestamptz) and ca (created_at or NULL)
	empty   string
}

func newSQLParts(t sessTable, keys []string) sqlParts {
	p := sqlParts{}
	var vals []string
	for i, k := range keys {
		p.args = append(p.args, strings.Split(k, "."))
		n := i + 1
		p.conds = append(p.conds, fmt.Sprintf(`(s #> $%d::text[]) NOT IN ('null'::jsonb, '""'::jsonb, '{}'::jsonb)`, n))
		vals = append(vals, fmt.Sprintf(`NULLIF(NULLIF(s #> $%d::text[], 'null'::jsonb), '""'::jsonb)`, n))
	}
	// NOT IN on a NULL path gives NULL, which FILTER and OR treat as false.
	p.logged = "(" + strings.Join(p.conds, " OR ") + ")"
	p.userVal = "COALESCE(" + strings.Join(vals, ", ") + ")"
	ca := "NULL::timestamptz"
	if _, ok := t.cols["created_at"]; ok && strings.HasPrefix(t.cols["created_at"], "timestamp") {
		ca = "created_at::timestamptz"
	}
	p.from = fmt.Sprintf("(SELECT sess::jsonb AS s, expire::timestamptz AS e, %s AS ca FROM %s) AS t", ca, t.ident())
	p.empty = `(CASE WHEN jsonb_typeof(s) = 'object' THEN (s - 'cookie') = '{}'::jsonb ELSE s IS NULL OR s = 'null'::jsonb END)`
	return p
}

// examine measures one table and judges it.
func examine(ctx context.Context, tx pgx.Tx, t sessTable, keys []string) (*TableStats, []Finding, error) {
	st := &TableStats{Table: t.label(), Kind: t.kind(), UserKeys: map[string]int64{}}
	p := newSQLParts(t, keys)

	// Rows, expiry, logins.
	var keyCounts []string
	for _, c := range p.conds {
		keyCounts = append(keyCounts, "count(*) FILTER (WHERE "+c+")")
	}
	q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE e < now()), count(*) FILTER (WHERE NOT COALESCE(%s, false)),
  count(*) FILTER (WHERE %s),
  EXTRACT(EPOCH FROM now() - min(e) FILTER (WHERE e < now()))::float8,
  %s
FROM %s`, p.logged, p.empty, strings.Join(keyCounts, ", "), p.from)
	var oldestExpired *float64
	perKey := make([]int64, len(keys))
	dest := []any{&st.Rows, &st.Expired, &st.Anonymous, &st.Empty, &oldestExpired}
	for i := range perKey {
		dest = append(dest, &perKey[i])
	}
	if err := tx.QueryRow(ctx, q, p.args...).Scan(dest...); err != nil {
		return nil, nil, fmt.Errorf("doctor: count rows of %s: %w", t.label(), err)
	}
	for i, k := range keys {
		if perKey[i] > 0 {
			st.UserKeys[k] = perKey[i]
		}
	}

	// Sessions per user, among live sessions.
	if len(st.UserKeys) > 0 {
		q = fmt.Sprintf(`SELECT count(*), COALESCE(max(n), 0), COALESCE(avg(n), 0)::float8 FROM (
  SELECT count(*) AS n FROM %s WHERE e >= now() AND %s GROUP BY %s) AS g`, p.from, p.logged, p.userVal)
		if err := tx.QueryRow(ctx, q, p.args...).Scan(&st.Users, &st.MaxPerUser, &st.AvgPerUser); err != nil {
			return nil, nil, fmt.Errorf("doctor: sessions per user of %s: %w", t.label(), err)
		}
	}

	// Indexes.
	var expireIdx, sidIdx []string
	rows, err := tx.Query(ctx, `
SELECT ci.relname, i.indisvalid, i.indisunique, i.indnatts, i.indpred IS NOT NULL,
  COALESCE((SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]), '')
FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
WHERE i.indrelid = $1 ORDER BY ci.relname`, t.oid)
	if err != nil {
		return nil, nil, fmt.Errorf("doctor: indexes of %s: %w", t.label(), err)
	}
	for rows.Next() {
		var (
			name                   string
			valid, unique, partial bool
			natts                  int16
			first                  string
		)
		if err := rows.Scan(&name, &valid, &unique, &natts, &partial, &first); err != nil {
			return nil, nil, fmt.Errorf("doctor: indexes of %s: %w", t.label(), err)
		}
		switch {
		case first == "expire" && valid && !partial:
			expireIdx = append(expireIdx, name)
		case first == "sid" && valid && unique && natts == 1 && !partial:
			sidIdx = append(sidIdx, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("doctor: indexes of %s: %w", t.label(), err)
	}

	// Size and PostgreSQL's statistics.
	var (
		tupDel      int64
		lastAutovac *time.Time
	)
	if err := tx.QueryRow(ctx, `
SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid),
  COALESCE(s.n_live_tup, 0), COALESCE(s.n_dead_tup, 0), COALESCE(s.n_tup_del, 0),
  s.last_autovacuum
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = $1`, t.oid).Scan(&st.TotalBytes, &st.TableBytes, &st.IndexBytes, &st.LiveTuples, &st.DeadTuples, &tupDel, &lastAutovac); err != nil {
		return nil, nil, fmt.Errorf("doctor: size of %s: %w", t.label(), err)
	}

	// Creation times.
	created := ""
	switch {
	case t.cols["created_at"] != "" && strings.HasPrefix(t.cols["created_at"], "timestamp"):
		created, st.CreatedFrom = "ca", "created_at"
	default:
		var n int64
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE jsonb_typeof(s -> 'cookie' -> 'originalMaxAge') = 'number'`, p.from)).Scan(&n); err != nil {
			return nil, nil, fmt.Errorf("doctor: creation times of %s: %w", t.label(), err)
		}
		if n > 0 {
			created = `(CASE WHEN jsonb_typeof(s -> 'cookie' -> 'originalMaxAge') = 'number'
  THEN e - (s -> 'cookie' ->> 'originalMaxAge')::float8 * interval '1 millisecond' END)`
			st.CreatedFrom = "expire - cookie.originalMaxAge"
		}
	}
	if created != "" {
		q = fmt.Sprintf(`SELECT count(*) FILTER (WHERE c > now() - interval '1 hour'), count(*) FILTER (WHERE c > now() - interval '24 hours'),
  count(*) FILTER (WHERE c > now() - interval '24 hours' AND NOT COALESCE(l, false))
FROM (SELECT %s AS c, %s AS l FROM %s) AS x`, created, p.logged, p.from)
		if err := tx.QueryRow(ctx, q, p.args...).Scan(&st.CreatedLastHour, &st.CreatedLastDay, &st.CreatedLastDayAnonymous); err != nil {
			return nil, nil, fmt.Errorf("doctor: creation rate of %s: %w", t.label(), err)
		}
		if st.Hourly, err = hourly(ctx, tx, p, created); err != nil {
			return nil, nil, fmt.Errorf("doctor: sessions per hour of %s: %w", t.label(), err)
		}
	}

	// Which keys do anonymous rows carry? Helps pick --user-key.
	var topKeys []string
	if st.Anonymous > st.Rows/2 && st.Anonymous > st.Empty {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT k, count(*) FROM %s,
  jsonb_object_keys(CASE WHEN jsonb_typeof(s) = 'object' THEN s ELSE '{}'::jsonb END) AS k
WHERE NOT COALESCE(%s, false) AND k <> 'cookie' GROUP BY k ORDER BY 2 DESC, 1 LIMIT 8`, p.from, p.logged), p.args...)
		if err != nil {
			return nil, nil, fmt.Errorf("doctor: keys of %s: %w", t.label(), err)
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				return nil, nil, fmt.Errorf("doctor: keys of %s: %w", t.label(), err)
			}
			topKeys = append(topKeys, fmt.Sprintf("%s (%s)", k, plural(n, "row")))
		}
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("doctor: keys of %s: %w", t.label(), err)
		}
	}

	j := judge{t: t, st: st, sec: sectionOf(t)}
	j.rows()
	j.pruning(oldestExpired, tupDel)
	j.expireIndex(expireIdx)
	j.sidIndex(sidIdx)
	j.size(lastAutovac)
	j.anonymous(topKeys)
	j.perUser()
	j.creation()
	return st, j.out, nil
}

// hourly counts sessions created per UTC hour over the last week.
func hourly(ctx context.Context, tx pgx.Tx, p sqlParts, created string) ([]HourCount, error) {
	q := fmt.Sprintf(`SELECT date_trunc('hour', c AT TIME ZONE 'UTC'), count(*) FILTER (WHERE NOT COALESCE(l, false)), count(*) FILTER (WHERE l)
FROM (SELECT %s AS c, %s AS l FROM %s) AS x
WHERE c > now() - interval '7 days' AND c <= now()
GROUP BY 1 ORDER BY 1`, created, p.logged, p.from)
	rows, err := tx.Query(ctx, q, p.args...)
	if err != nil {
		return nil, err
	}
	byHour := map[time.Time]HourCount{}
	var first time.Time
	for rows.Next() {
		var h HourCount
		if err := rows.Scan(&h.Hour, &h.Anonymous, &h.LoggedIn); err != nil {
			return nil, err
		}
		h.Hour = h.Hour.UTC()
		if first.IsZero() {
			first = h.Hour
		}
		byHour[h.Hour] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT date_trunc('hour', now() AT TIME ZONE 'UTC')`).Scan(&now); err != nil {
		return nil, err
	}
	now = now.UTC()
	// At least the last 24 hours, so a quiet day still shows as one.
	if start := now.Add(-23 * time.Hour); first.IsZero() || start.Before(first) {
		first = start
	}
	var out []HourCount
	for h := first; !h.After(now); h = h.Add(time.Hour) {
		hc := byHour[h]
		hc.Hour = h
		out = append(out, hc)
	}
	return out, nil
}

// watch samples the tables' write counters twice, o.Watch apart, each in
// its own read-only transaction (statistics are a snapshot per transaction).
func watch(ctx context.Context, conn *pgx.Conn, tables []sessTable, stats []*TableStats, o DBOptions) error {
	type sample struct{ ins, upd, del int64 }
	take := func() ([]sample, time.Time, error) {
		tx, err := beginReadOnly(ctx, conn, o.StatementTimeout)
		if err != nil {
			return nil, time.Time{}, err
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		at := time.Now()
		out := make([]sample, len(tables))
		for i, t := range tables {
			err := tx.QueryRow(ctx, `SELECT COALESCE(sum(n_tup_ins), 0)::int8, COALESCE(sum(n_tup_upd), 0)::int8, COALESCE(sum(n_tup_del), 0)::int8
FROM pg_stat_user_tables WHERE relid = $1`, t.oid).Scan(&out[i].ins, &out[i].upd, &out[i].del)
			if err != nil {
				return nil, at, fmt.Errorf("doctor: watch %s: %w", t.label(), err)
			}
		}
		return out, at, tx.Commit(ctx)
	}
	a, t0, err := take()
	if err != nil {
		return err
	}
	timer := time.NewTimer(o.Watch)
	select {
	case <-ctx.Done():
		timer.Stop()
		return ctx.Err()
	case <-timer.C:
	}
	b, t1, err := take()
	if err != nil {
		return err
	}
	secs := t1.Sub(t0).Seconds()
	for i, st := range stats {
		ins := float64(b[i].ins-a[i].ins) / secs
		upd := float64(b[i].upd-a[i].upd) / secs
		del := float64(b[i].del-a[i].del) / secs
		st.InsertsPerSec, st.UpdatesPerSec, st.DeletesPerSec = &ins, &upd, &del
	}
	return nil
}

func writeRateFinding(t sessTable, st *TableStats, d time.Duration) Finding {
	ev := []string{
		fmt.Sprintf("over %s: %.2f inserts/s, %.2f updates/s, %.2f deletes/s (PostgreSQL's statistics, which lag up to a second or so)", d, *st.InsertsPerSec, *st.UpdatesPerSec, *st.DeletesPerSec),
		"inserts are new sessions; if they track your request rate, sessions are created per request (anonymous saves or cookies not sticking)",
		"updates close to your request rate mean a write on every request (express-session resave: true, or a touch per request without a threshold)",
	}
	return Finding{ID: "db.writes", Section: sectionOf(t), Status: Info, Title: fmt.Sprintf("%.2f inserts/s and %.2f updates/s", *st.InsertsPerSec, *st.UpdatesPerSec), Evidence: ev}
}

// judge turns a table's measurements into findings.
type judge struct {
	t   sessTable
	st  *TableStats
	sec string
	out []Finding
}

func (j *judge) add(id string, s Status, title string, ev []string, fix string) {
	if s == Pass || s == Info {
		fix = ""
	}
	if ev == nil {
		ev = []string{}
	}
	j.out = append(j.out, Finding{ID: id, Section: j.sec, Status: s, Title: title, Evidence: ev, Fix: fix})
}

func pct(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanAge(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.0f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.0f hours", d.Hours())
	default:
		return d.Round(time.Second).String()
	}
}

func (j *judge) rows() {
	st := j.st
	cols := make([]string, 0, len(j.t.cols))
	for _, c := range []string{"sid", "sess", "expire", "created_at"} {
		if ty, ok := j.t.cols[c]; ok {
			cols = append(cols, c+" "+ty)
		}
	}
	ev := []string{"recognised as " + st.Kind + " (" + strings.Join(cols, ", ") + ")"}
	if _, own := j.t.cols["created_at"]; !own {
		// pgstore's rule (pgstore.LayoutConnectPgSimple): no created_at.
		ev = append(ev, "sessionkit serve can share it with express-session as it is (no DDL): SESSION_TABLE="+j.t.label())
	}
	j.add("db.rows", Info, fmt.Sprintf("%s: %d live, %d expired", plural(st.Rows, "row"), st.Rows-st.Expired, st.Expired), ev, "")
}

func (j *judge) pruning(oldest *float64, tupDel int64) {
	st := j.st
	q := j.t.ident()
	fix := fmt.Sprintf("Run the store's pruning in a process that stays up: connect-pg-simple prunes every 15 minutes unless pruneSessionInterval is false (serverless functions never live long enough to run it); sessionkit: Config.PruneInterval. Or schedule it (cron, pg_cron):\nDELETE FROM %s WHERE expire < now();  -- in batches on a big table", q)
	if st.Expired == 0 {
		j.add("db.prune", Pass, "no expired rows: pruning keeps up", nil, "")
		return
	}
	age := 0.0
	if oldest != nil {
		age = *oldest
	}
	ev := []string{
		fmt.Sprintf("%d of %s (%.0f%%) are expired but still present; the oldest expired %s ago", st.Expired, plural(st.Rows, "row"), pct(st.Expired, st.Rows), humanAge(age)),
		fmt.Sprintf("rows deleted since statistics were reset: %d", tupDel),
	}
	switch {
	case age < 3600:
		j.add("db.prune", Pass, "expired rows are recent: within a normal pruning interval", ev, "")
	case age >= 24*3600 || st.Expired*2 >= st.Rows:
		j.add("db.prune", Fail, fmt.Sprintf("pruning is not running: %d expired rows, the oldest %s past expiry", st.Expired, humanAge(age)), ev, fix)
	default:
		j.add("db.prune", Warn, fmt.Sprintf("pruning lags: expired rows up to %s old", humanAge(age)), ev, fix)
	}
}

func (j *judge) expireIndex(names []string) {
	if len(names) > 0 {
		j.add("db.expire-index", Pass, "an index on expire exists ("+strings.Join(names, ", ")+")", nil, "")
		return
	}
	idx := pgx.Identifier{indexName(j.t.name)}.Sanitize()
	j.add("db.expire-index", Fail, "no index on expire: every prune (DELETE … WHERE expire < now()) scans the whole table",
		[]string{"no valid index whose first column is expire"},
		fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (expire);", idx, j.t.ident()))
}

// indexName is <table>_expire_idx, shortened to PostgreSQL's 63 bytes.
func indexName(table string) string {
	const suffix = "_expire_idx"
	if len(table)+len(suffix) > 63 {
		table = table[:63-len(suffix)]
	}
	return table + suffix
}

func (j *judge) sidIndex(names []string) {
	if len(names) > 0 {
		j.add("db.sid-index", Pass, "sid is unique ("+strings.Join(names, ", ")+")", nil, "")
		return
	}
	j.add("db.sid-index", Warn, "no unique index on sid: every session load scans the table and duplicate ids are possible", nil,
		fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (sid);", j.t.ident()))
}

func (j *judge) size(lastAutovac *time.Time) {
	st := j.st
	ev := []string{
		fmt.Sprintf("total %s: table %s, indexes %s", humanBytes(st.TotalBytes), humanBytes(st.TableBytes), humanBytes(st.IndexBytes)),
		fmt.Sprintf("PostgreSQL's estimates: %d live tuples, %d dead", st.LiveTuples, st.DeadTuples),
	}
	if lastAutovac != nil {
		ev = append(ev, "last autovacuum "+lastAutovac.UTC().Format(time.RFC3339))
	} else {
		ev = append(ev, "never autovacuumed since statistics were reset")
	}
	dead := st.DeadTuples
	if dead > 1000 && pct(dead, dead+st.LiveTuples) > 20 {
		j.add("db.bloat", Warn, fmt.Sprintf("%.0f%% of the table is dead tuples: writes outpace autovacuum", pct(dead, dead+st.LiveTuples)), ev,
			fmt.Sprintf("Stop writing the session on every request (express-session resave: false; touch only after part of the lifetime has passed) and let autovacuum catch up, or run VACUUM (ANALYZE) %s;", j.t.ident()))
		return
	}
	j.add("db.bloat", Pass, fmt.Sprintf("%s on disk, %s", humanBytes(st.TotalBytes), plural(dead, "dead tuple")), ev, "")
}

func (j *judge) anonymous(topKeys []string) {
	st := j.st
	if st.Rows == 0 {
		j.add("db.anonymous", Info, "the table is empty", nil, "")
		return
	}
	var found []string
	for _, k := range sortedKeys(st.UserKeys) {
		found = append(found, fmt.Sprintf("%s (%s)", k, plural(st.UserKeys[k], "row")))
	}
	keys := "none of the login keys (" + strings.Join(defaultUserKeys, ", ") + ") was found; name yours with --user-key"
	if len(found) > 0 {
		keys = "login marked by: " + strings.Join(found, ", ")
	}
	ev := []string{
		fmt.Sprintf("%d of %s (%.0f%%) carry no login; %d (%.0f%%) hold nothing but the cookie", st.Anonymous, plural(st.Rows, "row"), pct(st.Anonymous, st.Rows), st.Empty, pct(st.Empty, st.Rows)),
		keys,
	}
	if len(topKeys) > 0 {
		ev = append(ev, "keys in the rows without a login: "+strings.Join(topKeys, ", "))
	}
	switch {
	case pct(st.Empty, st.Rows) > 50:
		j.add("db.anonymous", Fail, fmt.Sprintf("%.0f%% of the sessions are empty: the server saves a session for every anonymous hit (saveUninitialized)", pct(st.Empty, st.Rows)), ev,
			"Create a session only when something is stored in it: express-session saveUninitialized: false; sessionkit does this by default. Keep health checks, bots and static files out of the session middleware. Then delete the empty rows:\nDELETE FROM "+j.t.ident()+" WHERE (sess::jsonb - 'cookie') = '{}'::jsonb;")
	case pct(st.Anonymous, st.Rows) > 50:
		j.add("db.anonymous", Warn, fmt.Sprintf("%.0f%% of the sessions carry no login", pct(st.Anonymous, st.Rows)), ev,
			"If anonymous sessions are deliberate (carts, consent), fine; otherwise create sessions only at login. If logins use another key, pass it with --user-key.")
	default:
		j.add("db.anonymous", Pass, fmt.Sprintf("%.0f%% of the sessions carry a login", 100-pct(st.Anonymous, st.Rows)), ev, "")
	}
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (j *judge) perUser() {
	st := j.st
	if st.Users == 0 {
		j.add("db.per-user", Info, "no live logged-in sessions to count per user", nil, "")
		return
	}
	ev := []string{fmt.Sprintf("live logged-in sessions belong to %s: %.1f per user on average, at most %d", plural(st.Users, "user"), st.AvgPerUser, st.MaxPerUser)}
	const fix = "Many sessions per user mean logins do not stick: the browser drops or never sends the cookie, or instances reject each other's (different secrets), so users log in again and again. Run `sessionkit doctor http` against the site; also destroy the session on logout."
	switch {
	case st.AvgPerUser > 20:
		j.add("db.per-user", Fail, fmt.Sprintf("%.0f sessions per user on average: logins are not sticking", st.AvgPerUser), ev, fix)
	case st.AvgPerUser > 5 || st.MaxPerUser > 25:
		j.add("db.per-user", Warn, fmt.Sprintf("up to %d sessions for one user (%.1f on average)", st.MaxPerUser, st.AvgPerUser), ev, fix)
	default:
		j.add("db.per-user", Pass, fmt.Sprintf("%.1f sessions per user on average, at most %d", st.AvgPerUser, st.MaxPerUser), ev, "")
	}
}

func (j *judge) creation() {
	st := j.st
	if st.CreatedFrom == "" {
		j.add("db.creation", Info, "creation rate cannot be known: no created_at column and no cookie.originalMaxAge in sess", nil, "")
		return
	}
	ev := []string{fmt.Sprintf("created in the last hour: %d; in the last 24 hours: %d (%.1f per hour)", st.CreatedLastHour, st.CreatedLastDay, float64(st.CreatedLastDay)/24)}
	if st.CreatedLastDay > 0 {
		ev = append(ev, fmt.Sprintf("of the last 24 hours' sessions: %d anonymous, %d logged in", st.CreatedLastDayAnonymous, st.CreatedLastDay-st.CreatedLastDayAnonymous))
	}
	if st.CreatedFrom != "created_at" {
		ev = append(ev, "estimated as expire minus the cookie's originalMaxAge: for sessions whose expiry is refreshed (rolling, touch) this is the last activity, not the creation")
	}
	j.add("db.creation", Info, fmt.Sprintf("%s created in the last hour, %d in the last 24 hours", plural(st.CreatedLastHour, "session"), st.CreatedLastDay), ev, "")
}
