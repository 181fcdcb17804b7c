package storetest

import (
	"testing"

	"github.com/sessionkit/sessionkit"
)

// batchTests check sessionkit.BatchStore; Run runs them for every store that
// implements it.
var batchTests = []struct {
	name string
	fn   func(t *testing.T, st sessionkit.Store, b sessionkit.BatchStore)
}{
	{"LoadMany", testLoadMany},
	{"DeleteMany", testDeleteMany},
}

// testLoadMany asks for live, expired, missing, repeated and odd ids at
// once: only the live ones come back, each as Load returns it.
func testLoadMany(t *testing.T, st sessionkit.Store, b sessionkit.BatchStore) {
	mustCreate(t, st, "a", sessionkit.Record{Values: vals("k", `1`), Expiry: live()})
	mustCreate(t, st, "b", sessionkit.Record{Values: vals("k", `"two"`), Expiry: live()})
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `3`), Expiry: expired()})
	cases := []struct {
		ids  []string
		want map[string]string // id → value of k
	}{
		{nil, map[string]string{}},
		{[]string{"missing"}, map[string]string{}},
		{[]string{"a"}, map[string]string{"a": `1`}},
		{[]string{"old", "a", "missing", "b"}, map[string]string{"a": `1`, "b": `"two"`}},
		{[]string{"b", "b", "a"}, map[string]string{"a": `1`, "b": `"two"`}},
		{[]string{"bad\x00id", "\xff", "a"}, map[string]string{"a": `1`}},
	}
	for _, c := range cases {
		got, err := b.LoadMany(ctxT(t), c.ids)
		if err != nil {
			t.Fatalf("LoadMany(%q): %v", c.ids, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("LoadMany(%q) returned %d sessions, want %d", c.ids, len(got), len(c.want))
		}
		for id, v := range c.want {
			rec, ok := got[id]
			if !ok {
				t.Fatalf("LoadMany(%q) left out the live %q", c.ids, id)
			}
			sameValues(t, "LoadMany", rec.Values, vals("k", v))
			sameSecond(t, "LoadMany's expiry", rec.Expiry, mustLoad(t, st, id).Expiry)
		}
	}
}

// testDeleteMany deletes live, expired and missing ids in one call and
// leaves every other session alone.
func testDeleteMany(t *testing.T, st sessionkit.Store, b sessionkit.BatchStore) {
	mustCreate(t, st, "a", sessionkit.Record{Values: vals("k", `1`), Expiry: live()})
	mustCreate(t, st, "b", sessionkit.Record{Values: vals("k", `2`), Expiry: live()})
	mustCreate(t, st, "keep", sessionkit.Record{Values: vals("k", `3`), Expiry: live()})
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `4`), Expiry: expired()})
	if err := b.DeleteMany(ctxT(t), []string{"a", "missing", "old", "b", "a", "bad\x00id"}); err != nil {
		t.Fatalf("DeleteMany: %v", err)
	}
	if err := b.DeleteMany(ctxT(t), nil); err != nil {
		t.Fatalf("DeleteMany of no ids: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		mustNotFind(t, st, id)
	}
	sameValues(t, "the session DeleteMany was not given", mustLoad(t, st, "keep").Values, vals("k", `3`))
	// The expired row is gone too: its id can be created again.
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `5`), Expiry: live()})
}
