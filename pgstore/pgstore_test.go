package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// testCtx bounds every test's database work so a hang fails instead of
// stalling the suite.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newStore returns a store on a fresh schema with the table created and the
// background pruner off, plus its pool.
func newStore(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	_, pool := pgtest.Pool(t)
	s, err := New(testCtx(t), pool, Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, pool
}

// countTracer counts the queries and statement preparations pgx runs.
type countTracer struct {
	queries, prepares atomic.Int64
}

func (c *countTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries.Add(1)
	return ctx
}
func (c *countTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *countTracer) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	c.prepares.Add(1)
	return ctx
}
func (c *countTracer) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func (c *countTracer) reset() { c.queries.Store(0); c.prepares.Store(0) }

// tracedPool is a one-connection pool on a fresh schema whose queries tr counts.
func tracedPool(t *testing.T, tr *countTracer) *pgxpool.Pool {
	t.Helper()
	_, url := pgtest.Schema(t)
	return poolWith(t, url, func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = tr
		c.MaxConns = 1 // one connection, so one statement cache to warm
	})
}

func vals(kv ...string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

// jsonEqual compares value maps by their compact JSON (jsonb normalises
// whitespace).
func jsonEqual(t *testing.T, got, want map[string]json.RawMessage) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	gb, _ := json.Marshal(gv)
	wb, _ := json.Marshal(wv)
	if string(gb) != string(wb) {
		t.Fatalf("values = %s, want %s", gb, wb)
	}
}

func mustLoad(t *testing.T, s *Store, id string) sessionkit.Record {
	t.Helper()
	rec, found, err := s.Load(testCtx(t), id)
	if err != nil || !found {
		t.Fatalf("Load(%q) = found %v, err %v; want a live session", id, found, err)
	}
	return rec
}

func TestConfigDefaults(t *testing.T) {
	_, pool := pgtest.Pool(t)
	s, err := New(testCtx(t), pool, Config{CreateTable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.table != "sessions" || s.batch != DefaultPruneBatch || s.loop == nil {
		t.Fatalf("defaults: table %q batch %d loop %v", s.table, s.batch, s.loop)
	}
	if _, err := New(testCtx(t), pool, Config{PruneBatch: -1}); err == nil {
		t.Fatal("negative PruneBatch accepted")
	}
	if _, err := New(testCtx(t), nil, Config{}); err == nil {
		t.Fatal("nil pool accepted")
	}
	off, err := New(testCtx(t), pool, Config{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if off.loop != nil {
		t.Fatal("negative PruneInterval started the pruner")
	}
	off.Close()
}

func TestContract(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	future := time.Now().Add(time.Hour)
	past := time.Now().Add(-time.Hour)

	// Missing: not an error.
	if _, found, err := s.Load(ctx, "missing"); found || err != nil {
		t.Fatalf("Load(missing) = %v, %v", found, err)
	}
	if found, err := s.Update(ctx, "missing", sessionkit.Patch{Set: vals("a", "1")}); found || err != nil {
		t.Fatalf("Update(missing) = %v, %v", found, err)
	}
	if _, found, _ := s.Load(ctx, "missing"); found {
		t.Fatal("Update created a row")
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Fatalf("Delete(missing) = %v", err)
	}

	// Create and Load round-trip; a given Created is kept.
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	if err := s.Create(ctx, "a", sessionkit.Record{Values: vals("user", `"ann"`, "n", "42"), Created: created, Expiry: future}); err != nil {
		t.Fatal(err)
	}
	rec := mustLoad(t, s, "a")
	jsonEqual(t, rec.Values, vals("user", `"ann"`, "n", "42"))
	if !rec.Created.Equal(created) {
		t.Fatalf("Created = %v, want %v", rec.Created, created)
	}
	if d := rec.Expiry.Sub(future); d > time.Microsecond || d < -time.Microsecond {
		t.Fatalf("Expiry = %v, want %v", rec.Expiry, future)
	}

	// Create never overwrites.
	if err := s.Create(ctx, "a", sessionkit.Record{Values: vals("user", `"eve"`), Expiry: future}); !errors.Is(err, sessionkit.ErrExists) ||
		!strings.HasPrefix(err.Error(), "pgstore: create: ") {
		t.Fatalf("Create(existing) = %v, want ErrExists wrapped with the package name", err)
	}
	jsonEqual(t, mustLoad(t, s, "a").Values, vals("user", `"ann"`, "n", "42"))

	// Zero Created comes from the database clock; nil Values load as empty.
	if err := s.Create(ctx, "b", sessionkit.Record{Expiry: future}); err != nil {
		t.Fatal(err)
	}
	rb := mustLoad(t, s, "b")
	if d := time.Since(rb.Created); d < -time.Minute || d > time.Minute {
		t.Fatalf("Created = %v, want about now", rb.Created)
	}
	if rb.Values == nil || len(rb.Values) != 0 {
		t.Fatalf("Values = %v, want empty map", rb.Values)
	}

	// Update: set, delete, set wins over delete, expiry kept unless given.
	found, err := s.Update(ctx, "a", sessionkit.Patch{
		Set:    vals("n", "43", "k", `{"x":[1,2]}`),
		Delete: []string{"user", "k", "absent"},
	})
	if err != nil || !found {
		t.Fatalf("Update = %v, %v", found, err)
	}
	rec2 := mustLoad(t, s, "a")
	jsonEqual(t, rec2.Values, vals("n", "43", "k", `{"x":[1,2]}`))
	if !rec2.Expiry.Equal(rec.Expiry) || !rec2.Created.Equal(created) {
		t.Fatalf("Update without Expiry changed times: %v %v", rec2.Expiry, rec2.Created)
	}
	later := future.Add(time.Hour).Truncate(time.Microsecond)
	if found, err := s.Update(ctx, "a", sessionkit.Patch{Expiry: later}); err != nil || !found {
		t.Fatalf("Update(expiry) = %v, %v", found, err)
	}
	rec3 := mustLoad(t, s, "a")
	if !rec3.Expiry.Equal(later) {
		t.Fatalf("Expiry = %v, want %v", rec3.Expiry, later)
	}
	jsonEqual(t, rec3.Values, rec2.Values)

	// Empty patch: existence check.
	if found, err := s.Update(ctx, "a", sessionkit.Patch{}); err != nil || !found {
		t.Fatalf("Update(empty, live) = %v, %v", found, err)
	}
	if found, err := s.Update(ctx, "nope", sessionkit.Patch{}); err != nil || found {
		t.Fatalf("Update(empty, missing) = %v, %v", found, err)
	}

	// Expired means not found for every method, and Create still refuses it.
	if err := s.Create(ctx, "old", sessionkit.Record{Values: vals("a", "1"), Expiry: past}); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Load(ctx, "old"); found || err != nil {
		t.Fatalf("Load(expired) = %v, %v", found, err)
	}
	for _, p := range []sessionkit.Patch{{}, {Set: vals("a", "2")}, {Expiry: future}} {
		if found, err := s.Update(ctx, "old", p); found || err != nil {
			t.Fatalf("Update(expired, %+v) = %v, %v", p, found, err)
		}
	}
	if err := s.Create(ctx, "old", sessionkit.Record{Expiry: future}); !errors.Is(err, sessionkit.ErrExists) {
		t.Fatalf("Create(expired, unpruned) = %v, want ErrExists", err)
	}
	if n, err := s.CountExpired(ctx); err != nil || n != 1 {
		t.Fatalf("CountExpired = %d, %v; want 1", n, err)
	}
	if err := s.Delete(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountExpired(ctx); n != 0 {
		t.Fatalf("Delete left the expired row: %d", n)
	}

	// Delete removes a live session.
	if err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Load(ctx, "b"); found {
		t.Fatal("deleted session still loads")
	}
}

func TestInvalidNamesRunNoSQL(t *testing.T) {
	tr := &countTracer{}
	pool := tracedPool(t, tr)
	long := strings.Repeat("a", 64)
	cases := []struct{ schema, table string }{
		{"", "a-b"},
		{"", "1abc"},
		{"", long},
		{"", `sessions"; DROP TABLE x; --`},
		{"", "séance"},
		{"", "two words"},
		{"public.x", "sessions"},
		{"bad-schema", "sessions"},
		{long, "sessions"},
		{`"`, "sessions"},
	}
	for _, c := range cases {
		_, err := New(testCtx(t), pool, Config{Schema: c.schema, Table: c.table, CreateTable: true})
		if !errors.Is(err, ErrInvalidName) {
			t.Errorf("New(schema %q, table %q) = %v, want ErrInvalidName", c.schema, c.table, err)
		} else if !strings.Contains(err.Error(), "^[A-Za-z_][A-Za-z0-9_]{0,62}$") {
			t.Errorf("error %q does not name the rule", err)
		}
		if _, err := SchemaSQL(c.schema, c.table); !errors.Is(err, ErrInvalidName) {
			t.Errorf("SchemaSQL(%q, %q) = %v, want ErrInvalidName", c.schema, c.table, err)
		}
	}
	if n := tr.queries.Load(); n != 0 {
		t.Fatalf("%d queries ran for invalid names", n)
	}
	// Valid edge cases are accepted.
	for _, name := range []string{"_", "Sessions", "s_2", strings.Repeat("z", 63)} {
		if _, err := SchemaSQL(name, name); err != nil {
			t.Errorf("SchemaSQL(%q) = %v", name, err)
		}
	}
}

func TestSchemaSQL(t *testing.T) {
	schema, pool := pgtest.Pool(t)
	ctx := testCtx(t)
	const table = "web_sessions"
	ddl, err := SchemaSQL(schema, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`CREATE TABLE IF NOT EXISTS "` + schema + `"."web_sessions"`,
		`CREATE INDEX IF NOT EXISTS "web_sessions_expire_idx" ON "` + schema + `"."web_sessions" (expire)`,
	} {
		if !strings.Contains(ddl, want) {
			t.Fatalf("DDL lacks %q:\n%s", want, ddl)
		}
	}
	if def, _ := SchemaSQL("", ""); !strings.Contains(def, `CREATE TABLE IF NOT EXISTS "sessions" (`) {
		t.Fatalf("default DDL:\n%s", def)
	}
	for i := range 2 { // re-running is harmless
		if _, err := pool.Exec(ctx, ddl); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var name, typ, null string
		if err := rows.Scan(&name, &typ, &null); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, name+" "+typ+" "+null)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "sid text NO|sess jsonb NO|expire timestamp with time zone NO|created_at timestamp with time zone NO"
	if got := strings.Join(cols, "|"); got != want {
		t.Fatalf("columns = %s\nwant      %s", got, want)
	}
}

// expireIndexes lists the indexes on table's expire column.
func expireIndexes(t *testing.T, pool *pgxpool.Pool, schema, table string) []string {
	t.Helper()
	rows, err := pool.Query(testCtx(t), `SELECT indexname FROM pg_indexes
		WHERE schemaname = $1 AND tablename = $2 AND indexdef LIKE '%(expire)'`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestCreateTable(t *testing.T) {
	schema, _ := pgtest.Schema(t)
	ctx := testCtx(t)
	// A pool whose search_path does not include the schema: the qualified
	// name must be used everywhere.
	pool, err := pgxpool.New(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	long := strings.Repeat("L", 63)
	for _, table := range []string{"sessions", "MixedCase", long} {
		t.Run(table[:min(len(table), 10)], func(t *testing.T) {
			for range 2 { // CreateTable on an existing table is harmless
				s, err := New(ctx, pool, Config{Schema: schema, Table: table, CreateTable: true, PruneInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
			}
			if idx := expireIndexes(t, pool, schema, table); len(idx) != 1 {
				t.Fatalf("expire indexes = %v, want one", idx)
			}
			s, err := New(ctx, pool, Config{Schema: schema, Table: table, PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Create(ctx, "x", sessionkit.Record{Values: vals("a", "1"), Expiry: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			mustLoad(t, s, "x")
		})
	}
	if a, b := ExpireIndexName(long), ExpireIndexName(strings.Repeat("L", 62)+"M"); len(a) > 63 || a == b {
		t.Fatalf("long index names %q, %q: want distinct and at most 63 bytes", a, b)
	}
}

func TestCreateTableConcurrently(t *testing.T) {
	_, pool := pgtest.Pool(t)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := New(ctx, pool, Config{CreateTable: true, PruneInterval: -1})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	poll.Wait(t, "the concurrent CreateTable calls", &wg)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent CreateTable: %v", err)
		}
	}
}

func TestMissingTableWithoutCreateTable(t *testing.T) {
	tr := &countTracer{}
	pool := tracedPool(t, tr)
	ctx := testCtx(t)
	s, err := New(ctx, pool, Config{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := tr.queries.Load(); n != 1 {
		t.Fatalf("New without CreateTable ran %d queries, want 1 (reading the layout)", n)
	}
	if l := s.Layout(); l.Exists || l.Name != LayoutSessionkit {
		t.Fatalf("layout of a missing table = %+v, want the store's own, not existing", l)
	}
	checkAllFail(t, s)
	var reg *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('sessions')::text").Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		t.Fatalf("table %s was created without CreateTable", *reg)
	}
}

// checkAllFail calls every method and wants an error from each.
func checkAllFail(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := sessionkit.Record{Values: vals("a", "1"), Expiry: time.Now().Add(time.Hour)}
	calls := map[string]func() error{
		"Load":         func() error { _, _, err := s.Load(ctx, "id"); return err },
		"Create":       func() error { return s.Create(ctx, "id", rec) },
		"Update":       func() error { _, err := s.Update(ctx, "id", sessionkit.Patch{Set: vals("a", "2")}); return err },
		"Update/empty": func() error { _, err := s.Update(ctx, "id", sessionkit.Patch{}); return err },
		"Delete":       func() error { return s.Delete(ctx, "id") },
		"Prune":        func() error { _, err := s.Prune(ctx, 10); return err },
		"PruneExpired": func() error { _, _, err := s.PruneExpired(ctx, 10, nil); return err },
		"CountExpired": func() error { _, err := s.CountExpired(ctx); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if errors.Is(err, sessionkit.ErrExists) || !strings.HasPrefix(err.Error(), "pgstore: ") {
			t.Errorf("%s: error %q, want a wrapped pgstore error", name, err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	_, closed := pgtest.Pool(t)
	closed.Close()

	for name, pool := range map[string]*pgxpool.Pool{"refused": down, "closed": closed} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(testCtx(t), pool, Config{CreateTable: true}); err == nil {
				t.Fatal("New with CreateTable succeeded on an unreachable database")
			}
			// Without DDL, New still reads the table's layout.
			if _, err := New(testCtx(t), pool, Config{PruneInterval: -1}); err == nil || !strings.HasPrefix(err.Error(), "pgstore: ") {
				t.Fatalf("New on an unreachable database: %v, want a pgstore error", err)
			}
		})
	}
	// A store whose database goes away fails every method.
	_, pool := pgtest.Pool(t)
	s, err := New(testCtx(t), pool, Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool.Close()
	checkAllFail(t, s)
}

func TestOneRoundTripEach(t *testing.T) {
	tr := &countTracer{}
	pool := tracedPool(t, tr)
	ctx := testCtx(t)
	s, err := New(ctx, pool, Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	future := time.Now().Add(time.Hour)
	var seq int
	ops := []struct {
		name string
		op   func() error
	}{
		{"Create", func() error {
			seq++
			return s.Create(ctx, fmt.Sprint("id", seq), sessionkit.Record{Values: vals("a", "1"), Expiry: future})
		}},
		{"Create/exists", func() error {
			if err := s.Create(ctx, "id1", sessionkit.Record{Expiry: future}); !errors.Is(err, sessionkit.ErrExists) {
				return fmt.Errorf("want ErrExists, got %v", err)
			}
			return nil
		}},
		{"Load", func() error {
			_, found, err := s.Load(ctx, "id1")
			if err == nil && !found {
				err = errors.New("not found")
			}
			return err
		}},
		{"Update", func() error {
			found, err := s.Update(ctx, "id1", sessionkit.Patch{Set: vals("b", "2"), Delete: []string{"a"}, Expiry: future})
			if err == nil && !found {
				err = errors.New("not found")
			}
			return err
		}},
		{"Update/empty", func() error {
			found, err := s.Update(ctx, "id1", sessionkit.Patch{})
			if err == nil && !found {
				err = errors.New("not found")
			}
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, "id2") }},
		{"Prune", func() error { _, err := s.Prune(ctx, 100); return err }},
	}
	for _, o := range ops {
		for range 2 { // warm the statement cache
			if err := o.op(); err != nil {
				t.Fatalf("%s warm-up: %v", o.name, err)
			}
		}
		tr.reset()
		if err := o.op(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if q, p := tr.queries.Load(), tr.prepares.Load(); q != 1 || p != 0 {
			t.Errorf("%s: %d queries, %d prepares; want 1 and 0", o.name, q, p)
		}
	}
}

// insertRows adds n sessions expiring at the given offset from now, in one
// statement.
func insertRows(t *testing.T, pool *pgxpool.Pool, table, prefix string, n int, offset time.Duration) {
	t.Helper()
	_, err := pool.Exec(testCtx(t), "INSERT INTO "+pgx.Identifier{table}.Sanitize()+
		` (sid, sess, expire) SELECT $1 || g, '{"a":1}', now() + $3::interval FROM generate_series(1, $2) g`,
		prefix, n, offset)
	if err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, pool *pgxpool.Pool, where string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(testCtx(t), "SELECT count(*) FROM sessions WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPrune(t *testing.T) {
	s, pool := newStore(t)
	ctx := testCtx(t)
	insertRows(t, pool, "sessions", "old", 25, -time.Hour)
	insertRows(t, pool, "sessions", "live", 5, time.Hour)
	for _, want := range []int{10, 10, 5, 0} {
		if n, err := s.Prune(ctx, 10); err != nil || n != want {
			t.Fatalf("Prune(10) = %d, %v; want %d", n, err, want)
		}
	}
	if n := countRows(t, pool, "true"); n != 5 {
		t.Fatalf("%d rows left, want the 5 live", n)
	}
	// A limit below 1 deletes nothing, even with an expired row waiting, and
	// is no error (PostgreSQL itself would refuse LIMIT -1).
	insertRows(t, pool, "sessions", "old2-", 1, -time.Hour)
	for _, limit := range []int{0, -1} {
		if n, err := s.Prune(ctx, limit); err != nil || n != 0 {
			t.Fatalf("Prune(%d) = %d, %v; want 0, nil", limit, n, err)
		}
	}
	if n, _ := s.CountExpired(ctx); n != 1 {
		t.Fatalf("%d expired rows after Prune(0) and Prune(-1), want 1", n)
	}
}

// tryLock takes an advisory lock on a connection of its own, as another
// instance would.
func tryLock(t *testing.T, pool *pgxpool.Pool, key int64) (unlock func(), ok bool) {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		t.Fatal(err)
	}
	if !ok {
		conn.Release()
		return nil, false
	}
	return func() {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			t.Error(err)
		}
		conn.Release()
	}, true
}

func TestPruneExpiredOneInstanceAtATime(t *testing.T) {
	schema, pool := pgtest.Pool(t)
	ctx := testCtx(t)
	newS := func(table string) *Store {
		s, err := New(ctx, pool, Config{Table: table, CreateTable: true, PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	a, b := newS("sessions"), newS("sessions")
	other := newS("other_sessions")
	const expired, live, batch = 20000, 50, 3000
	insertRows(t, pool, "sessions", "old", expired, -time.Hour)
	insertRows(t, pool, "sessions", "live", live, time.Hour)

	// Someone else holds the table's lock: neither store prunes, and a store
	// on another table is not blocked.
	unlock, ok := tryLock(t, pool, lockKey(schema, "sessions"))
	if !ok {
		t.Fatal("could not take the lock")
	}
	for name, s := range map[string]*Store{"a": a, "b": b} {
		n, ran, err := s.PruneExpired(ctx, batch, nil)
		if err != nil || ran || n != 0 {
			t.Fatalf("%s.PruneExpired while locked = %d, %v, %v; want 0, false, nil", name, n, ran, err)
		}
	}
	if _, ran, err := other.PruneExpired(ctx, batch, nil); err != nil || !ran {
		t.Fatalf("other table's prune = %v, %v; want it to run", ran, err)
	}
	unlock()
	if n, _ := a.CountExpired(ctx); n != expired {
		t.Fatalf("CountExpired = %d, want %d", n, expired)
	}

	// a is mid-run (paused in its progress callback, lock held): b is
	// refused, deterministically.
	paused, resume := make(chan struct{}), make(chan struct{})
	var progress []int
	type result struct {
		n   int
		ran bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, ran, err := a.PruneExpired(ctx, batch, func(total int) {
			progress = append(progress, total)
			if len(progress) == 1 {
				close(paused)
				<-resume
			}
		})
		done <- result{n, ran, err}
	}()
	select {
	case <-paused:
	case r := <-done:
		t.Fatalf("a finished without pausing: %+v", r)
	case <-ctx.Done():
		t.Fatal("a never reported progress")
	}
	n, ran, err := b.PruneExpired(ctx, batch, func(int) { t.Error("b ran a batch") })
	if err != nil || ran || n != 0 {
		t.Fatalf("b.PruneExpired during a's run = %d, %v, %v; want 0, false, nil", n, ran, err)
	}
	if _, ok := tryLock(t, pool, lockKey(schema, "sessions")); ok {
		t.Fatal("lock free while a is pruning")
	}
	close(resume)
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("a never finished")
	}
	if r.err != nil || !r.ran || r.n != expired {
		t.Fatalf("a.PruneExpired = %+v; want %d deleted", r, expired)
	}
	// Batches of 3000 until one comes back short: 6 full, then 2000.
	want := []int{3000, 6000, 9000, 12000, 15000, 18000, 20000}
	if fmt.Sprint(progress) != fmt.Sprint(want) {
		t.Fatalf("progress = %v, want %v", progress, want)
	}
	if n, _ := a.CountExpired(ctx); n != 0 {
		t.Fatalf("%d expired rows left", n)
	}
	if n := countRows(t, pool, "expire > now()"); n != live {
		t.Fatalf("%d live rows left, want %d", n, live)
	}

	// The lock was released: b can run now, finding nothing.
	progress = nil
	n, ran, err = b.PruneExpired(ctx, batch, func(total int) { progress = append(progress, total) })
	if err != nil || !ran || n != 0 || fmt.Sprint(progress) != "[0]" {
		t.Fatalf("b.PruneExpired after = %d, %v, %v, progress %v", n, ran, err, progress)
	}
}

func TestPruneExpiredUnlocksWhenCancelled(t *testing.T) {
	s, pool := newStore(t)
	insertRows(t, pool, "sessions", "old", 50, -time.Hour)
	ctx, cancel := context.WithCancel(testCtx(t))
	n, ran, err := s.PruneExpired(ctx, 10, func(int) { cancel() })
	if !errors.Is(err, context.Canceled) || !ran || n != 10 {
		t.Fatalf("PruneExpired cancelled = %d, %v, %v; want 10, true, context.Canceled", n, ran, err)
	}
	var schema string
	if err := pool.QueryRow(testCtx(t), "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	unlock, ok := tryLock(t, pool, lockKey(schema, "sessions"))
	if !ok {
		t.Fatal("lock still held after a cancelled run")
	}
	unlock()
	// Batch < 1 means the configured batch (1000): one short batch.
	n, ran, err = s.PruneExpired(testCtx(t), 0, nil)
	if err != nil || !ran || n != 40 {
		t.Fatalf("PruneExpired(batch 0) = %d, %v, %v; want 40", n, ran, err)
	}
}

func TestBackgroundPrunerAndClose(t *testing.T) {
	_, pool := pgtest.Pool(t)
	ctx := testCtx(t)
	s, err := New(ctx, pool, Config{CreateTable: true, PruneInterval: 10 * time.Millisecond, PruneBatch: 7})
	if err != nil {
		t.Fatal(err)
	}
	insertRows(t, pool, "sessions", "old", 100, -time.Hour)
	insertRows(t, pool, "sessions", "live", 5, time.Hour)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := s.CountExpired(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background pruner left %d expired rows", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Close()
	s.Close() // idempotent

	// After Close the pruner is gone: new expired rows stay through many
	// would-be ticks. The pool is the application's and still works.
	insertRows(t, pool, "sessions", "old2-", 10, -time.Hour)
	time.Sleep(200 * time.Millisecond)
	if n := countRows(t, pool, "expire <= now()"); n != 10 {
		t.Fatalf("%d expired rows after Close, want 10 (pruner still running?)", n)
	}
	if n := countRows(t, pool, "expire > now()"); n != 5 {
		t.Fatalf("%d live rows, want 5", n)
	}
	// Methods still work after Close.
	if _, err := s.CountExpired(ctx); err != nil {
		t.Fatalf("store unusable after Close: %v", err)
	}
}

// TestCreateTableDoesNotWaitForAPrune starts a store with CreateTable while
// another instance is in the middle of a PruneExpired run on the same table.
// The DDL is serialised under an advisory lock of its own: were it the prune
// lock, a starting instance would wait for the other's whole run.
func TestCreateTableDoesNotWaitForAPrune(t *testing.T) {
	schema, pool := pgtest.Pool(t)
	ctx := testCtx(t)
	pruner, err := New(ctx, pool, Config{Schema: schema, CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer pruner.Close()
	insertRows(t, pool, "sessions", "old", 5, -time.Hour)
	paused, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := pruner.PruneExpired(ctx, 1, func(deleted int) {
			if deleted == 1 {
				close(paused)
				<-resume // hold the prune lock until the starts below are done
			}
		})
		done <- err
	}()
	select {
	case <-paused:
	case err := <-done:
		t.Fatalf("the prune finished without pausing: %v", err)
	}
	for _, cfgSchema := range []string{schema, ""} { // qualified, and through the search_path
		// The bound only stops a wait for the lock from hanging the test.
		startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := New(startCtx, pool, Config{Schema: cfgSchema, CreateTable: true, PruneInterval: -1})
		cancel()
		if err != nil {
			close(resume)
			t.Fatalf("New(Schema %q, CreateTable) during another instance's prune: %v", cfgSchema, err)
		}
		s.Close()
	}
	close(resume)
	if err := poll.Receive(t, "the prune to return", done); err != nil {
		t.Fatalf("PruneExpired: %v", err)
	}
}
