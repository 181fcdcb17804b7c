package sqlitestore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/sqlitestore"
	"github.com/sessionkit/sessionkit/storetest"
)

// logConnector opens connections of the "sqlite" driver and keeps the text
// and arguments of every statement run through them, as a statement trace
// would.
type logConnector struct {
	drv driver.Driver
	dsn string
	mu  sync.Mutex
	log strings.Builder
}

func (c *logConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &logConn{Conn: conn, c: c}, nil
}

func (c *logConnector) Driver() driver.Driver { return c.drv }

func (c *logConnector) note(query string, args []driver.NamedValue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(&c.log, "%s", query)
	for _, a := range args {
		fmt.Fprintf(&c.log, " %v", a.Value)
	}
	c.log.WriteByte('\n')
}

func (c *logConnector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// logConn notes every statement before the driver's connection runs it.
type logConn struct {
	driver.Conn
	c *logConnector
}

func (l *logConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	l.c.note(query, args)
	return l.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (l *logConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	l.c.note(query, args)
	return l.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (l *logConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return l.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// loggedStore is a store (New) on the database at path, with the schema
// created, whose statements log keeps.
func loggedStore(t *testing.T, path string) (*sqlitestore.Store, *logConnector) {
	t.Helper()
	plain, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	drv := plain.Driver()
	plain.Close()
	log := &logConnector{drv: drv, dsn: "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"}
	db := sql.OpenDB(log)
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
	return s, log
}

// insertRaw writes a live session under its id itself, as the store did
// before it kept hashes.
func insertRaw(t *testing.T, db *sql.DB, id string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO sessions (sid, sess, expire, created_at) VALUES (?, '{}', ?, 0)`,
		id, time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
}

// TestNoRawIDInStatements: once HashStoredIDs found or converted every row
// under a raw id, no statement the store runs names a session id, so a
// trace of statements with their arguments names no session a cookie
// could carry; before that, a raw-id row is still found.
func TestNoRawIDInStatements(t *testing.T) {
	for _, migrated := range []bool{false, true} {
		t.Run(fmt.Sprintf("migrated=%v", migrated), func(t *testing.T) {
			s, log := loggedStore(t, tempPath(t))
			old := storetest.NewID()
			if migrated {
				insertRaw(t, s.DB(), old)
				if _, found, err := s.Load(t.Context(), old); !found || err != nil {
					t.Fatalf("Load of a raw-id row: %v, %v", found, err)
				}
			}
			want := 0
			if migrated {
				want = 1
			}
			if n, err := s.HashStoredIDs(t.Context()); n != want || err != nil {
				t.Fatalf("HashStoredIDs: %d, %v; want %d", n, err, want)
			}
			if s.LooksForRawIDs() {
				t.Fatal("after HashStoredIDs the store still sends raw ids")
			}
			if _, found, err := s.Load(t.Context(), old); found != migrated || err != nil {
				t.Fatalf("Load of the converted session: %v, %v; want %v", found, err, migrated)
			}
			storetest.NoRawIDSent(t, s, log.String)
		})
	}
}

// TestRawIDLookupEnds: Open looks for rows under a raw id at once, and the
// background prune lets the lookup go once the last such row expired.
func TestRawIDLookupEnds(t *testing.T) {
	path := tempPath(t)
	if s := open(t, path, sqlitestore.Config{}); s.LooksForRawIDs() {
		t.Fatal("a store opened on a fresh file sends raw ids")
	}
	first := open(t, path, sqlitestore.Config{})
	id := storetest.NewID()
	insertRaw(t, first.DB(), id)
	s := open(t, path, sqlitestore.Config{})
	if !s.LooksForRawIDs() {
		t.Fatal("a store opened on a live raw-id row does not look for raw ids")
	}
	if err := s.PruneAll(t.Context()); err != nil || !s.LooksForRawIDs() {
		t.Fatalf("after a prune with the raw row live: looking %v, %v; want true", s.LooksForRawIDs(), err)
	}
	if _, err := s.DB().ExecContext(t.Context(), `UPDATE sessions SET expire = ? WHERE sid = ?`, time.Now().Add(-time.Second).UnixMilli(), id); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneAll(t.Context()); err != nil || s.LooksForRawIDs() {
		t.Fatalf("after the raw row expired and a prune: looking %v, %v; want false", s.LooksForRawIDs(), err)
	}
}
