package sqlitestore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/sqlitestore"
	"github.com/sessionkit/sessionkit/storetest"
)

// When helperPathEnv is set, this test binary is a helper process for
// TestConcurrentProcessesOnOneFile instead of running tests: it opens the
// store at that path and patches helperKeys keys named by helperPrefixEnv.
const (
	helperPathEnv   = "SQLITESTORE_TEST_HELPER_PATH"
	helperPrefixEnv = "SQLITESTORE_TEST_HELPER_PREFIX"
	helperKeys      = 25
)

func TestMain(m *testing.M) {
	if path := os.Getenv(helperPathEnv); path != "" {
		if err := helperProcess(path, os.Getenv(helperPrefixEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helperProcess(path, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Config{PruneInterval: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	return patchKeys(ctx, s, prefix, helperKeys)
}

// patchKeys sets count keys of session s1, one concurrent Update per key.
func patchKeys(ctx context.Context, s *sqlitestore.Store, prefix string, count int) error {
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint(prefix, i)
			found, err := s.Update(ctx, "s1", sessionkit.Patch{Set: map[string]json.RawMessage{key: json.RawMessage(`true`)}})
			if err == nil && !found {
				err = errors.New("not found")
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", key, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// open opens a store on a fresh file with background pruning off (the
// conformance suite counts what Prune deletes).
func open(t *testing.T, path string, cfg sqlitestore.Config) *sqlitestore.Store {
	t.Helper()
	if cfg.PruneInterval == 0 {
		cfg.PruneInterval = -1
	}
	s, err := sqlitestore.Open(t.Context(), path, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func tempPath(t *testing.T) string { return filepath.Join(t.TempDir(), "sessions.db") }

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			return open(t, tempPath(t), sqlitestore.Config{})
		},
		Dump: func(t *testing.T, st sessionkit.Store) string {
			return dumpTable(t, st.(*sqlitestore.Store))
		},
		NewNamed: func(t *testing.T, table string) error {
			s, err := sqlitestore.Open(t.Context(), tempPath(t), sqlitestore.Config{Table: table, PruneInterval: -1})
			if err == nil {
				s.Close()
			}
			return err
		},
	})
}

// TestConformanceNew runs the suite through New, on a caller-owned *sql.DB
// whose schema the caller created with SchemaSQL, under a non-default table.
func TestConformanceNew(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			db, err := sql.Open("sqlite", "file:"+tempPath(t)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			ddl, err := sqlitestore.SchemaSQL("app_sessions")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), ddl); err != nil {
				t.Fatal(err)
			}
			s, err := sqlitestore.New(db, sqlitestore.Config{Table: "app_sessions", PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}

var (
	values = map[string]json.RawMessage{"user": json.RawMessage(`42`)}
	later  = func() time.Time { return time.Now().Add(time.Hour) }
)

func TestReopenKeepsSessions(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	s, err := sqlitestore.Open(ctx, path, sqlitestore.Config{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	exp := later()
	if err := s.Create(ctx, "s1", sessionkit.Record{Values: values, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, sqlitestore.Config{})
	rec, found, err := s.Load(ctx, "s1")
	if err != nil || !found {
		t.Fatalf("Load after reopen: found=%v err=%v", found, err)
	}
	if string(rec.Values["user"]) != "42" || rec.Expiry.UnixMilli() != exp.UnixMilli() {
		t.Fatalf("after reopen: values %s, expiry %v; want user 42, expiry %v", rec.Values["user"], rec.Expiry, exp)
	}
}

func TestOpenSettings(t *testing.T) {
	s := open(t, tempPath(t), sqlitestore.Config{})
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
	}
	// Pragmas are per connection: check several pooled connections, held at
	// once so that each is a different one, not the first one again.
	const conns = 4
	for i := range conns {
		conn, err := s.DB().Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, tc := range tests {
			var got string
			if err := conn.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, tc.pragma, err)
			}
			if !strings.EqualFold(got, tc.want) {
				t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, tc.pragma, got, tc.want)
			}
		}
	}
	if n := s.DB().Stats().OpenConnections; n < conns {
		t.Fatalf("%d open connections, want at least %d distinct ones checked", n, conns)
	}
	var idx int
	err := s.DB().QueryRowContext(t.Context(),
		`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND sql LIKE '%expire%'`).Scan(&idx)
	if err != nil || idx != 1 {
		t.Fatalf("expiry index: count=%d err=%v, want 1", idx, err)
	}
}

func TestExpireStoredInMilliseconds(t *testing.T) {
	s := open(t, tempPath(t), sqlitestore.Config{})
	ctx := t.Context()
	exp := time.UnixMilli(4102444800123) // 2100-01-01T00:00:00.123Z
	created := time.UnixMilli(1700000000456)
	if err := s.Create(ctx, "s1", sessionkit.Record{Values: values, Created: created, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	var gotExp, gotCreated int64
	var sess string
	err := s.DB().QueryRowContext(ctx, `SELECT expire, created_at, sess FROM sessions WHERE sid = ?`, sessionkit.HashID("s1")).
		Scan(&gotExp, &gotCreated, &sess)
	if err != nil {
		t.Fatal(err)
	}
	if gotExp != exp.UnixMilli() || gotCreated != created.UnixMilli() || sess != `{"user":42}` {
		t.Fatalf("row = (%d, %d, %s), want (%d, %d, {\"user\":42})", gotExp, gotCreated, sess, exp.UnixMilli(), created.UnixMilli())
	}
}

func TestPathNeedsNoEscapingByCaller(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?#% dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s?.db")
	s := open(t, path, sqlitestore.Config{})
	if err := s.Create(t.Context(), "s1", sessionkit.Record{Values: values, Expiry: later()}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		path string
		cfg  sqlitestore.Config
		want string // a fragment of the error that points at the fix
	}{
		{"bad table", "x.db", sqlitestore.Config{Table: "a;b"}, "plain identifier"},
		{"negative batch", "x.db", sqlitestore.Config{PruneBatch: -1}, "PruneBatch"},
		{"memory", ":memory:", sqlitestore.Config{}, "memstore"},
		{"empty path", "", sqlitestore.Config{}, "file system path"},
		{"uri", "file:x.db", sqlitestore.Config{}, "file system path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.path
			if path == "x.db" {
				path = filepath.Join(dir, path)
			}
			s, err := sqlitestore.Open(t.Context(), path, tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			// A rejected configuration must not have created anything.
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("rejected Open left files behind: %v", entries)
			}
		})
	}
	if _, err := sqlitestore.New(nil, sqlitestore.Config{}); err == nil {
		t.Fatal("New(nil) succeeded, want an error")
	}
	db, err := sql.Open("sqlite", tempPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlitestore.New(db, sqlitestore.Config{Table: "1x"}); err == nil {
		t.Fatal("New with table 1x succeeded, want an error")
	}
}

func TestSchemaSQL(t *testing.T) {
	ddl, err := sqlitestore.SchemaSQL("my_sessions")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`CREATE TABLE IF NOT EXISTS "my_sessions"`, "sid", "sess", "expire", "created_at", `ON "my_sessions" (expire)`} {
		if !strings.Contains(ddl, want) {
			t.Errorf("SchemaSQL lacks %q:\n%s", want, ddl)
		}
	}
	if _, err := sqlitestore.SchemaSQL(`x"; DROP TABLE y; --`); err == nil {
		t.Fatal("SchemaSQL accepted an injection attempt")
	}
	// An empty name means the default table, as Config.Table's zero value does.
	if def, err := sqlitestore.SchemaSQL(""); err != nil || !strings.Contains(def, `CREATE TABLE IF NOT EXISTS "sessions"`) {
		t.Fatalf("SchemaSQL(\"\") = %v:\n%s\nwant the DDL of %q", err, def, sqlitestore.DefaultTable)
	}
	// Running it twice is harmless: it is what Open does on every start.
	db, err := sql.Open("sqlite", tempPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		if _, err := db.ExecContext(t.Context(), ddl); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	s, err := sqlitestore.Open(t.Context(), tempPath(t), sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	// Open's store owns the db: after Close it cannot answer.
	if _, _, err := s.Load(t.Context(), "x"); err == nil {
		t.Fatal("Load after Close succeeded; the owned db should be closed")
	}
}

func TestNewDoesNotCloseCallersDB(t *testing.T) {
	db, err := sql.Open("sqlite", tempPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := sqlitestore.New(db, sqlitestore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.DB() != db {
		t.Fatal("DB() is not the db given to New")
	}
	s.Close()
	s.Close()
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("caller's db closed by Store.Close: %v", err)
	}
}

func TestNewWithoutSchemaFails(t *testing.T) {
	db, err := sql.Open("sqlite", tempPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := sqlitestore.New(db, sqlitestore.Config{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, found, err := s.Load(t.Context(), "x")
	if err == nil || found {
		t.Fatalf("Load without a table: found=%v err=%v, want an error (New runs no DDL)", found, err)
	}
}

func TestBackgroundPrune(t *testing.T) {
	s := open(t, tempPath(t), sqlitestore.Config{PruneInterval: time.Millisecond, PruneBatch: 2})
	ctx := t.Context()
	for i := range 5 {
		if err := s.Create(ctx, fmt.Sprint("dead", i), sessionkit.Record{Values: values, Expiry: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Create(ctx, "live", sessionkit.Record{Values: values, Expiry: later()}); err != nil {
		t.Fatal(err)
	}
	// Bounded wait for the loop; no timing is asserted.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background prune left %d rows, want only the live one", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, found, err := s.Load(ctx, "live"); err != nil || !found {
		t.Fatalf("live session after prune: found=%v err=%v", found, err)
	}
}

// TestConcurrentStoresOnOneFile has two stores (as two processes would) write
// one file at once: each patches its own keys of one session while also
// creating, deleting and pruning sessions of its own. They do not share the
// in-process write queue, so this exercises SQLite's own locking: every writer
// must wait, none fail with SQLITE_BUSY, and no key may be lost. It runs for
// stores from Open and for stores from New on a caller's *sql.DB opened
// without _txlock=immediate, where Update's first statement being a write is
// what keeps a transaction from failing to upgrade its read lock.
func TestConcurrentStoresOnOneFile(t *testing.T) {
	openers := map[string]func(t *testing.T, path string) *sqlitestore.Store{
		"Open": func(t *testing.T, path string) *sqlitestore.Store {
			return open(t, path, sqlitestore.Config{})
		},
		"New": func(t *testing.T, path string) *sqlitestore.Store {
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			ddl, _ := sqlitestore.SchemaSQL("")
			if _, err := db.ExecContext(t.Context(), ddl); err != nil {
				t.Fatal(err)
			}
			s, err := sqlitestore.New(db, sqlitestore.Config{PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, openStore := range openers {
		t.Run(name, func(t *testing.T) {
			path := tempPath(t)
			a, b := openStore(t, path), openStore(t, path)
			ctx := t.Context()
			if err := a.Create(ctx, "s1", sessionkit.Record{Values: values, Expiry: later()}); err != nil {
				t.Fatal(err)
			}
			const perStore = 25
			var wg sync.WaitGroup
			errs := make(chan error, 4*perStore)
			for si, s := range []*sqlitestore.Store{a, b} {
				for i := range perStore {
					wg.Add(2)
					go func() {
						defer wg.Done()
						key := fmt.Sprintf("s%d_k%d", si, i)
						found, err := s.Update(ctx, "s1", sessionkit.Patch{Set: map[string]json.RawMessage{key: json.RawMessage(`true`)}})
						if err == nil && !found {
							err = errors.New("not found")
						}
						if err != nil {
							errs <- fmt.Errorf("%s: %w", key, err)
						}
					}()
					go func() { // other writes to the same file meanwhile
						defer wg.Done()
						id := fmt.Sprintf("other%d_%d", si, i)
						err := s.Create(ctx, id, sessionkit.Record{Values: values, Expiry: time.Now().Add(-time.Hour)})
						if err == nil {
							_, err = s.Prune(ctx, 1)
						}
						if err == nil {
							err = s.Delete(ctx, id)
						}
						if err != nil {
							errs <- fmt.Errorf("%s: %w", id, err)
						}
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			rec, found, err := b.Load(ctx, "s1")
			if err != nil || !found {
				t.Fatalf("Load: found=%v err=%v", found, err)
			}
			if len(rec.Values) != 1+2*perStore {
				t.Fatalf("got %d keys, want %d: concurrent patches were lost", len(rec.Values), 1+2*perStore)
			}
		})
	}
}

// TestConcurrentProcessesOnOneFile patches one session from this process and
// from two helper processes (this test binary, re-run as a helper) at once.
// Across processes only SQLite's file locks and busy timeout keep writers
// apart: none may fail, and no key may be lost.
func TestConcurrentProcessesOnOneFile(t *testing.T) {
	path := tempPath(t)
	s := open(t, path, sqlitestore.Config{})
	ctx := t.Context()
	if err := s.Create(ctx, "s1", sessionkit.Record{Values: values, Expiry: later()}); err != nil {
		t.Fatal(err)
	}
	var helpers []*exec.Cmd
	var outputs []*strings.Builder
	for _, prefix := range []string{"p1_", "p2_"} {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperPathEnv+"="+path, helperPrefixEnv+"="+prefix)
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		helpers, outputs = append(helpers, cmd), append(outputs, out)
	}
	if err := patchKeys(ctx, s, "p0_", helperKeys); err != nil {
		t.Error(err)
	}
	for i, cmd := range helpers {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v\n%s", i+1, err, outputs[i])
		}
	}
	rec, found, err := s.Load(ctx, "s1")
	if err != nil || !found {
		t.Fatalf("Load: found=%v err=%v", found, err)
	}
	if len(rec.Values) != 1+3*helperKeys {
		t.Fatalf("got %d keys, want %d: concurrent patches from other processes were lost", len(rec.Values), 1+3*helperKeys)
	}
}
