package sqlitestore_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
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
	newID := func() string {
		var b [32]byte
		_, _ = rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:]) // as sessionkit makes them
	}
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
	dump := func() string {
		rows, err := s.DB().QueryContext(ctx, `SELECT sid, sess, expire, created_at FROM sessions`)
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
		return b.String()
	}
	d := dump()
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
