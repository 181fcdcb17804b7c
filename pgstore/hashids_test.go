package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/storetest"
)

// insertRaw writes a session bound to ada under its id itself, as the store
// did before it kept hashes.
func insertRaw(t *testing.T, pool *pgxpool.Pool, id string) {
	t.Helper()
	if _, err := pool.Exec(testCtx(t), `INSERT INTO sessions (sid, sess, expire, created_at) VALUES ($1, $2, $3, now())`,
		id, `{"sessionkit":{"user":"ada"},"n":1}`, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestRawIDRowsKeepWorking: rows written before ids were hashed are found
// by their id through every method, until they end.
func TestRawIDRowsKeepWorking(t *testing.T) {
	t.Parallel()
	_, pool := newStore(t)
	for _, direct := range []bool{true, false} {
		id := storetest.NewID()
		insertRaw(t, pool, id)
		s := reopen(t, pool) // as an upgraded instance starts on old rows
		s.load.direct = direct
		storetest.RawIDSession(t, s, id, "ada", direct)
	}
}

// reopen returns another store on pool's table, which New looks at afresh.
func reopen(t *testing.T, pool *pgxpool.Pool) *Store {
	t.Helper()
	s, err := New(testCtx(t), pool, Config{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// logTracer keeps the text and arguments of every query pgx runs, as a
// server's log of statements with their parameters would.
type logTracer struct {
	mu  sync.Mutex
	log strings.Builder
}

func (l *logTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.log, "%s %v\n", d.SQL, d.Args)
	return ctx
}
func (l *logTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (l *logTracer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.String()
}

// TestNoRawIDInStatements: on a fresh table, and on one whose raw-id rows
// HashStoredIDs converted, no statement the store sends names a session
// id, on either load path, so a log of statements with their parameters
// (log_statement, auto_explain) names no session a cookie could carry.
func TestNoRawIDInStatements(t *testing.T) {
	t.Parallel()
	for _, migrated := range []bool{false, true} {
		for _, direct := range []bool{true, false} {
			t.Run(fmt.Sprintf("migrated=%v,direct=%v", migrated, direct), func(t *testing.T) {
				t.Parallel()
				tr := &logTracer{}
				_, url := pgtest.Schema(t)
				pool := poolWith(t, url, func(c *pgxpool.Config) { c.ConnConfig.Tracer = tr })
				s, err := New(testCtx(t), pool, Config{CreateTable: true, PruneInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				if migrated {
					old := storetest.NewID()
					insertRaw(t, pool, old)
					s = reopen(t, pool)
					if !s.rawIDs.Load() {
						t.Fatal("a store opened on a raw-id row does not look for raw ids")
					}
					if n, err := s.HashStoredIDs(testCtx(t)); n != 1 || err != nil {
						t.Fatalf("HashStoredIDs: %d, %v; want 1", n, err)
					}
					if _, found, err := s.Load(testCtx(t), old); !found || err != nil {
						t.Fatalf("Load of the converted session: %v, %v", found, err)
					}
				}
				s.load.direct = direct
				storetest.NoRawIDSent(t, s, tr.String)
			})
		}
	}
}

// TestRawIDLookupEnds: the store stops sending raw ids once no live row
// holds one: a raw row already expired at New is not looked for, and one
// that expires later is let go at the next background prune.
func TestRawIDLookupEnds(t *testing.T) {
	t.Parallel()
	_, pool := newStore(t)
	ctx := testCtx(t)
	id := storetest.NewID()
	insertRaw(t, pool, id)
	s := reopen(t, pool)
	if !s.rawIDs.Load() {
		t.Fatal("a store opened on a live raw-id row does not look for raw ids")
	}
	if err := s.backgroundPrune(ctx); err != nil || !s.rawIDs.Load() {
		t.Fatalf("after a prune with the raw row live: looking %v, %v; want true", s.rawIDs.Load(), err)
	}
	if _, err := pool.Exec(ctx, `UPDATE sessions SET expire = now() - interval '1 second' WHERE sid = $1`, id); err != nil {
		t.Fatal(err)
	}
	if s := reopen(t, pool); s.rawIDs.Load() {
		t.Error("a store opened on an expired raw-id row looks for raw ids")
	}
	if err := s.backgroundPrune(ctx); err != nil || s.rawIDs.Load() {
		t.Fatalf("after the raw row expired and a prune: looking %v, %v; want false", s.rawIDs.Load(), err)
	}
}

// TestHashStoredIDs converts raw-id rows while a reader keeps loading and
// patching them: every read between the steps finds the session, the
// table then holds only hashes, and a second run converts nothing.
func TestHashStoredIDs(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := testCtx(t)
	const n = hashBatch + 5 // more than one batch
	ids := make([]string, n)
	rows := make([][]any, n)
	for i := range ids {
		ids[i] = storetest.NewID()
		rows[i] = []any{ids[i], `{"n":1}`, time.Now().Add(time.Hour)}
	}
	if _, err := pool.CopyFrom(ctx, []string{"sessions"}, []string{"sid", "sess", "expire"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, pool) // as an upgraded instance starts on old rows
	hashedNew := storetest.NewID()
	if err := s.Create(ctx, hashedNew, sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	storetest.HashStoredIDs(t, s, ids, s.HashStoredIDs)
	var raw int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE sid NOT LIKE 'sha256:%'`).Scan(&raw); err != nil || raw != 0 {
		t.Fatalf("%d rows still keyed by a raw id (%v)", raw, err)
	}
	if _, found, err := s.Load(ctx, hashedNew); !found || err != nil {
		t.Fatalf("Load of a session created hashed: %v, %v", found, err)
	}
}

// TestHashStoredIDsLeavesNodeTable: connect-pg-simple's rows stay keyed by
// the id, which Node looks them up by.
func TestHashStoredIDsLeavesNodeTable(t *testing.T) {
	t.Parallel()
	s, pool, _ := connectPgSimpleStore(t, "")
	ctx := testCtx(t)
	if err := s.Create(ctx, "node-id", sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.HashStoredIDs(ctx); n != 0 || err != nil {
		t.Fatalf("HashStoredIDs: %d, %v; want 0", n, err)
	}
	var sid string
	if err := pool.QueryRow(ctx, `SELECT sid FROM "session"`).Scan(&sid); err != nil || sid != "node-id" {
		t.Fatalf("sid %q (%v), want the id itself", sid, err)
	}
}
