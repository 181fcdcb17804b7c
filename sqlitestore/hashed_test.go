package sqlitestore_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// TestDumpHoldsNoSessionID creates sessions, bound and anonymous, dumps
// every row of the table, and finds no session id in it, only hashes; a
// row written before ids were hashed (keyed by the id itself) is still
// found, patched, listed and deleted by its id.
func TestDumpHoldsNoSessionID(t *testing.T) {
	s := open(t, tempPath(t), sqlitestore.Config{})
	ctx := t.Context()
	bound := map[string]json.RawMessage{sessionkit.MetaKey: json.RawMessage(`{"user":"ada"}`)}
	var ids []string
	for i := range 4 {
		rec := sessionkit.Record{Values: map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))}, Expiry: time.Now().Add(time.Hour)}
		if i%2 == 0 {
			rec.Values = bound
		}
		id := newID()
		if err := s.Create(ctx, id, rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	d := dumpTable(t, s)
	for _, id := range ids {
		if strings.Contains(d, id) || !strings.Contains(d, sessionkit.HashID(id)) {
			t.Fatalf("the dump holds session id %s… or not its hash:\n%s", id[:6], d)
		}
		if _, found, err := s.Load(ctx, id); !found || err != nil {
			t.Fatalf("Load by id: %v, %v", found, err)
		}
	}

	legacy := newID()
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO sessions (sid, sess, expire, created_at) VALUES (?, ?, ?, ?)`,
		legacy, `{"sessionkit":{"user":"ada"}}`, time.Now().Add(time.Hour).UnixMilli(), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Load(ctx, legacy); !found || err != nil {
		t.Fatalf("Load of a row keyed by the id itself: %v, %v", found, err)
	}
	if found, err := s.Update(ctx, legacy, sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`1`)}}); !found || err != nil {
		t.Fatalf("Update of a row keyed by the id itself: %v, %v", found, err)
	}
	list, err := s.UserSessions(ctx, "ada")
	if err != nil || len(list) != 3 {
		t.Fatalf("UserSessions: %d sessions, %v; want 3", len(list), err)
	}
	if err := s.Delete(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.Load(ctx, legacy); found {
		t.Fatal("Delete left the row keyed by the id itself")
	}
}

// newID returns an id as sessionkit makes them.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// dumpTable is every row of s's sessions table, as text, as a backup of
// the file would hold them.
func dumpTable(t *testing.T, s *sqlitestore.Store) string {
	t.Helper()
	rows, err := s.DB().QueryContext(t.Context(), `SELECT sid, sess, expire, created_at FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var sid, sess string
		var expire, created int64
		if err := rows.Scan(&sid, &sess, &expire, &created); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, sid, sess, expire, created)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestHashStoredIDs converts raw-id rows while a reader keeps loading and
// patching them: every read between the steps finds the session, the
// table then holds only hashes, and a second run converts nothing.
func TestHashStoredIDs(t *testing.T) {
	s := open(t, tempPath(t), sqlitestore.Config{})
	ctx := t.Context()
	const n = 1005 // more than one batch
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID()
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO sessions (sid, sess, expire, created_at) VALUES (?, '{}', ?, 0)`,
			ids[i], time.Now().Add(time.Hour).UnixMilli()); err != nil {
			t.Fatal(err)
		}
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
	d := dumpTable(t, s)
	for _, id := range ids {
		if strings.Contains(d, id) {
			t.Fatalf("after HashStoredIDs the dump still holds id %.6s…", id)
		}
	}
	if _, found, err := s.Load(ctx, ids[n-1]); !found || err != nil {
		t.Fatalf("Load after converting: %v, %v", found, err)
	}
	if again, err := s.HashStoredIDs(ctx); again != 0 || err != nil {
		t.Fatalf("second HashStoredIDs: %d, %v; want 0", again, err)
	}
}
