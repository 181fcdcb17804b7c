package sqlitestore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/sqlitestore"
	"github.com/sessionkit/sessionkit/storetest"
)

// TestDumpHoldsNoSessionID creates sessions, bound and anonymous, dumps
// every row of the table, and finds no session id in it, only hashes; a
// row written before ids were hashed (keyed by the id itself) is still
// found, patched, listed and deleted by its id.
func TestDumpHoldsNoSessionID(t *testing.T) {
	path := tempPath(t)
	s := open(t, path, sqlitestore.Config{})
	ctx := t.Context()
	bound := map[string]json.RawMessage{sessionkit.MetaKey: json.RawMessage(`{"user":"ada"}`)}
	var ids []string
	for i := range 4 {
		rec := sessionkit.Record{Values: map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))}, Expiry: time.Now().Add(time.Hour)}
		if i%2 == 0 {
			rec.Values = bound
		}
		id := storetest.NewID()
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

	legacy := storetest.NewID()
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO sessions (sid, sess, expire, created_at) VALUES (?, ?, ?, ?)`,
		legacy, `{"sessionkit":{"user":"ada"}}`, time.Now().Add(time.Hour).UnixMilli(), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, sqlitestore.Config{}) // as an upgraded instance starts on old rows
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
	path := tempPath(t)
	s := open(t, path, sqlitestore.Config{})
	ctx := t.Context()
	const n = 1005 // more than one batch
	ids := make([]string, n)
	for i := range ids {
		ids[i] = storetest.NewID()
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO sessions (sid, sess, expire, created_at) VALUES (?, '{}', ?, 0)`,
			ids[i], time.Now().Add(time.Hour).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, path, sqlitestore.Config{}) // as an upgraded instance starts on old rows
	storetest.HashStoredIDs(t, s, ids, s.HashStoredIDs)
	d := dumpTable(t, s)
	for _, id := range ids {
		if strings.Contains(d, id) {
			t.Fatalf("after HashStoredIDs the dump still holds id %.6s…", id)
		}
	}
}
