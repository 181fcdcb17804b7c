package memstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// TestDumpHoldsNoSessionID creates sessions, bound and anonymous, and dumps
// everything the store holds (its map keys, its user index, the values):
// no session id appears, only hashes, and every session is still found by
// its id.
func TestDumpHoldsNoSessionID(t *testing.T) {
	s := New(Config{CleanupInterval: -1})
	ctx := context.Background()
	meta := json.RawMessage(`{"user":"ada","auth":1764500000}`)
	var ids []string
	for i := range 4 {
		var b [32]byte
		_, _ = rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:]) // as sessionkit makes them
		values := map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))}
		if i%2 == 0 {
			values[sessionkit.MetaKey] = meta
		}
		if err := s.Create(ctx, id, sessionkit.Record{Values: values, Expiry: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	dump := Dump(s)
	for _, id := range ids {
		if strings.Contains(dump, id) {
			t.Fatalf("the dump holds session id %s…:\n%s", id[:6], dump)
		}
		if !strings.Contains(dump, sessionkit.HashID(id)) {
			t.Fatalf("the dump does not hold the hash of %s…", id[:6])
		}
		if _, found, err := s.Load(ctx, id); !found || err != nil {
			t.Fatalf("Load by id: %v, %v", found, err)
		}
	}
}
