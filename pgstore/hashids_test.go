package pgstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
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
	s, pool := newStore(t)
	for _, direct := range []bool{true, false} {
		s.load.direct = direct
		id := storetest.NewID()
		insertRaw(t, pool, id)
		storetest.RawIDSession(t, s, id, "ada", direct)
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
