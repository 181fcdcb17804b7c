package pgstore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
)

// newID returns an id as sessionkit makes them.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

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
	ctx := testCtx(t)
	for _, direct := range []bool{true, false} {
		s.load.direct = direct
		id := newID()
		insertRaw(t, pool, id)
		if _, found, err := s.Load(ctx, id); !found || err != nil {
			t.Fatalf("Load (direct %v): %v, %v", direct, found, err)
		}
		if found, err := s.Update(ctx, id, sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}}); !found || err != nil {
			t.Fatalf("Update: %v, %v", found, err)
		}
		if found, err := s.Update(ctx, id, sessionkit.Patch{}); !found || err != nil {
			t.Fatalf("Update (exists): %v, %v", found, err)
		}
		many, err := s.LoadMany(ctx, []string{id, newID()})
		if err != nil || len(many) != 1 || string(many[id].Values["k"]) != "2" {
			t.Fatalf("LoadMany: %v, %v", many, err)
		}
		list, err := s.UserSessions(ctx, "ada")
		if err != nil || len(list) != 1 || sessionkit.HashID(list[0].ID) != sessionkit.HashID(id) {
			t.Fatalf("UserSessions: %v, %v", list, err)
		}
		// The listed id (raw here) ends the session, as a revocation would.
		if err := s.DeleteMany(ctx, []string{list[0].ID}); err != nil {
			t.Fatal(err)
		}
		if _, found, _ := s.Load(ctx, id); found {
			t.Fatal("DeleteMany left the row keyed by the id itself")
		}
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
		ids[i] = newID()
		rows[i] = []any{ids[i], `{"n":1}`, time.Now().Add(time.Hour)}
	}
	if _, err := pool.CopyFrom(ctx, []string{"sessions"}, []string{"sid", "sess", "expire"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	hashedNew := newID()
	if err := s.Create(ctx, hashedNew, sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var (
		stop   atomic.Bool
		misses atomic.Int64
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			id := ids[i%n]
			if _, found, err := s.Load(ctx, id); !found || err != nil {
				misses.Add(1)
			}
			if found, err := s.Update(ctx, id, sessionkit.Patch{Set: map[string]json.RawMessage{"r": json.RawMessage(`1`)}}); !found || err != nil {
				misses.Add(1)
			}
		}
	}()
	converted, err := s.HashStoredIDs(ctx)
	stop.Store(true)
	wg.Wait()
	if err != nil || converted != n {
		t.Fatalf("HashStoredIDs: %d, %v; want %d", converted, err, n)
	}
	if m := misses.Load(); m != 0 {
		t.Errorf("%d reads or writes missed a session while it was converted", m)
	}
	var raw int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE sid NOT LIKE 'sha256:%'`).Scan(&raw); err != nil || raw != 0 {
		t.Fatalf("%d rows still keyed by a raw id (%v)", raw, err)
	}
	for _, id := range []string{ids[0], ids[n-1], hashedNew} {
		if _, found, err := s.Load(ctx, id); !found || err != nil {
			t.Fatalf("Load after converting: %v, %v", found, err)
		}
	}
	if again, err := s.HashStoredIDs(ctx); again != 0 || err != nil {
		t.Fatalf("second HashStoredIDs: %d, %v; want 0", again, err)
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
