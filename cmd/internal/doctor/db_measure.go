package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

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

// measurement is what measure reads of one table: its TableStats and the
// facts only the judge needs.
type measurement struct {
	stats          *TableStats
	oldestExpired  *float64 // seconds since the oldest expired row expired; nil if none
	rowsDeleted    int64    // n_tup_del since statistics were reset
	lastAutovacuum *time.Time
	expireIndexes  []string // valid, non-partial indexes whose first column is expire
	sidIndexes     []string // valid unique indexes on sid alone
	anonymousKeys  []string // the commonest keys of rows without a login, "key (n rows)"
	expressRows    bool     // live logged-in rows with express-session's cookie (countUnread)
}

// examine measures one table and judges it.
func examine(ctx context.Context, tx pgx.Tx, t sessTable, keys []string) (*TableStats, []Finding, error) {
	m, err := measure(ctx, tx, t, keys)
	if err != nil {
		return nil, nil, err
	}
	return m.stats, judgeTable(t, m), nil
}

// measure reads one table's rows, indexes, size and statistics; it judges
// nothing.
func measure(ctx context.Context, tx pgx.Tx, t sessTable, keys []string) (*measurement, error) {
	m := &measurement{stats: &TableStats{Table: t.label(), Kind: t.kind(), UserKeys: map[string]int64{}}}
	p := newSQLParts(t, keys)
	if err := m.countRows(ctx, tx, t, p, keys); err != nil {
		return nil, err
	}
	if err := m.countPerUser(ctx, tx, t, p); err != nil {
		return nil, err
	}
	if err := m.readIndexes(ctx, tx, t); err != nil {
		return nil, err
	}
	if err := m.readSize(ctx, tx, t); err != nil {
		return nil, err
	}
	if err := m.countCreated(ctx, tx, t, p); err != nil {
		return nil, err
	}
	if err := m.readAnonymousKeys(ctx, tx, t, p); err != nil {
		return nil, err
	}
	if err := m.countUnread(ctx, tx, t, p); err != nil {
		return nil, err
	}
	return m, nil
}

// countRows counts rows, expired rows, rows without a login, empty rows and
// rows per login key.
func (m *measurement) countRows(ctx context.Context, tx pgx.Tx, t sessTable, p sqlParts, keys []string) error {
	st := m.stats
	var keyCounts []string
	for _, c := range p.conds {
		keyCounts = append(keyCounts, "count(*) FILTER (WHERE "+c+")")
	}
	q := fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE e < now()), count(*) FILTER (WHERE NOT COALESCE(%s, false)),
  count(*) FILTER (WHERE %s),
  EXTRACT(EPOCH FROM now() - min(e) FILTER (WHERE e < now()))::float8,
  %s
FROM %s`, p.logged, p.empty, strings.Join(keyCounts, ", "), p.from)
	perKey := make([]int64, len(keys))
	dest := []any{&st.Rows, &st.Expired, &st.Anonymous, &st.Empty, &m.oldestExpired}
	for i := range perKey {
		dest = append(dest, &perKey[i])
	}
	if err := tx.QueryRow(ctx, q, p.args...).Scan(dest...); err != nil {
		return fmt.Errorf("doctor: count rows of %s: %w", t.label(), err)
	}
	for i, k := range keys {
		if perKey[i] > 0 {
			st.UserKeys[k] = perKey[i]
		}
	}
	return nil
}

// countPerUser counts live sessions per user, when logins were found.
func (m *measurement) countPerUser(ctx context.Context, tx pgx.Tx, t sessTable, p sqlParts) error {
	st := m.stats
	if len(st.UserKeys) == 0 {
		return nil
	}
	q := fmt.Sprintf(`SELECT count(*), COALESCE(max(n), 0), COALESCE(avg(n), 0)::float8 FROM (
  SELECT count(*) AS n FROM %s WHERE e >= now() AND %s GROUP BY %s) AS g`, p.from, p.logged, p.userVal)
	if err := tx.QueryRow(ctx, q, p.args...).Scan(&st.Users, &st.MaxPerUser, &st.AvgPerUser); err != nil {
		return fmt.Errorf("doctor: sessions per user of %s: %w", t.label(), err)
	}
	return nil
}

// readIndexes finds the indexes that serve pruning (on expire) and loading
// (unique on sid).
func (m *measurement) readIndexes(ctx context.Context, tx pgx.Tx, t sessTable) error {
	rows, err := tx.Query(ctx, `
SELECT ci.relname, i.indisvalid, i.indisunique, i.indnatts, i.indpred IS NOT NULL,
  COALESCE((SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = i.indkey[0]), '')
FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
WHERE i.indrelid = $1 ORDER BY ci.relname`, t.oid)
	if err != nil {
		return fmt.Errorf("doctor: indexes of %s: %w", t.label(), err)
	}
	for rows.Next() {
		var (
			name                   string
			valid, unique, partial bool
			natts                  int16
			first                  string
		)
		if err := rows.Scan(&name, &valid, &unique, &natts, &partial, &first); err != nil {
			return fmt.Errorf("doctor: indexes of %s: %w", t.label(), err)
		}
		switch {
		case first == "expire" && valid && !partial:
			m.expireIndexes = append(m.expireIndexes, name)
		case first == "sid" && valid && unique && natts == 1 && !partial:
			m.sidIndexes = append(m.sidIndexes, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("doctor: indexes of %s: %w", t.label(), err)
	}
	return nil
}

// readSize reads the table's size and PostgreSQL's statistics about it.
func (m *measurement) readSize(ctx context.Context, tx pgx.Tx, t sessTable) error {
	st := m.stats
	if err := tx.QueryRow(ctx, `
SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), pg_indexes_size(c.oid),
  COALESCE(s.n_live_tup, 0), COALESCE(s.n_dead_tup, 0), COALESCE(s.n_tup_del, 0),
  s.last_autovacuum
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = $1`, t.oid).Scan(&st.TotalBytes, &st.TableBytes, &st.IndexBytes, &st.LiveTuples, &st.DeadTuples, &m.rowsDeleted, &m.lastAutovacuum); err != nil {
		return fmt.Errorf("doctor: size of %s: %w", t.label(), err)
	}
	return nil
}

// countCreated counts sessions created lately, from a created_at column or,
// for express-session rows, from expire minus cookie.originalMaxAge.
func (m *measurement) countCreated(ctx context.Context, tx pgx.Tx, t sessTable, p sqlParts) error {
	st := m.stats
	created := ""
	switch {
	case t.cols["created_at"] != "" && strings.HasPrefix(t.cols["created_at"], "timestamp"):
		created, st.CreatedFrom = "ca", "created_at"
	default:
		var n int64
		if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE jsonb_typeof(s -> 'cookie' -> 'originalMaxAge') = 'number'`, p.from)).Scan(&n); err != nil {
			return fmt.Errorf("doctor: creation times of %s: %w", t.label(), err)
		}
		if n > 0 {
			created = `(CASE WHEN jsonb_typeof(s -> 'cookie' -> 'originalMaxAge') = 'number'
  THEN e - (s -> 'cookie' ->> 'originalMaxAge')::float8 * interval '1 millisecond' END)`
			st.CreatedFrom = "expire - cookie.originalMaxAge"
		}
	}
	if created == "" {
		return nil
	}
	q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE c > now() - interval '1 hour'), count(*) FILTER (WHERE c > now() - interval '24 hours'),
  count(*) FILTER (WHERE c > now() - interval '24 hours' AND NOT COALESCE(l, false))
FROM (SELECT %s AS c, %s AS l FROM %s) AS x`, created, p.logged, p.from)
	if err := tx.QueryRow(ctx, q, p.args...).Scan(&st.CreatedLastHour, &st.CreatedLastDay, &st.CreatedLastDayAnonymous); err != nil {
		return fmt.Errorf("doctor: creation rate of %s: %w", t.label(), err)
	}
	var err error
	if st.Hourly, err = hourly(ctx, tx, p, created); err != nil {
		return fmt.Errorf("doctor: sessions per hour of %s: %w", t.label(), err)
	}
	return nil
}

// readAnonymousKeys lists which keys rows without a login carry, when they
// are most of the table: it helps pick --user-key.
func (m *measurement) readAnonymousKeys(ctx context.Context, tx pgx.Tx, t sessTable, p sqlParts) error {
	st := m.stats
	if st.Anonymous <= st.Rows/2 || st.Anonymous <= st.Empty {
		return nil
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT k, count(*) FROM %s,
  jsonb_object_keys(CASE WHEN jsonb_typeof(s) = 'object' THEN s ELSE '{}'::jsonb END) AS k
WHERE NOT COALESCE(%s, false) AND k <> 'cookie' GROUP BY k ORDER BY 2 DESC, 1 LIMIT 8`, p.from, p.logged), p.args...)
	if err != nil {
		return fmt.Errorf("doctor: keys of %s: %w", t.label(), err)
	}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return fmt.Errorf("doctor: keys of %s: %w", t.label(), err)
		}
		m.anonymousKeys = append(m.anonymousKeys, fmt.Sprintf("%s (%s)", k, plural(n, "row")))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("doctor: keys of %s: %w", t.label(), err)
	}
	return nil
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
