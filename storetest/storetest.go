// Package storetest is the conformance suite every sessionkit.Store runs. It
// checks the contract written on sessionkit.Store: not found is not an error,
// expired means not found for every method, Create never overwrites, Update
// never creates and applies patches atomically, and a store that cannot answer
// says so with an error. For a store that implements sessionkit.UserIndex it
// also checks that a user's sessions are listed (live ones only, following
// updates of the binding) and revoked; for one that implements
// sessionkit.BatchStore, that LoadMany and DeleteMany agree with Load and
// Delete.
//
// A store's test calls Run with a Suite:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Suite{
//			New: func(t *testing.T) sessionkit.Store { ... },
//		})
//	}
//
// The suite never sleeps to make a session expire: it creates records whose
// Expiry is already in the past, so stores must accept such a Create.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Suite describes the store under test.
type Suite struct {
	// New returns a fresh, empty store, isolated from every other test (its
	// own table, schema or database) and cleaned up with t.Cleanup. Subtests
	// run in parallel, each with its own store. Background pruning should be
	// off or slow (minutes), since the Prune subtest counts deleted rows.
	// Required.
	New func(t *testing.T) sessionkit.Store

	// NewNamed, when set, builds a store that uses the given table name and
	// returns the constructor's error (cleaning up any store it built). The
	// suite checks that names which are not plain identifiers are rejected
	// and that plain ones are accepted. It never passes "", which a Config
	// conventionally reads as "the default table". Nil skips those checks,
	// for stores that have no table.
	NewNamed func(t *testing.T, table string) error

	// ExpiresItself declares a store whose engine deletes a session the
	// moment it expires (Redis, by the key's expiry time), so there is no
	// "expired but not yet pruned" row and Prune is a no-op. For such a store
	// the Prune subtest checks that Prune deletes nothing and fails nothing
	// while expired sessions are already gone (their ids free again), and
	// CreateExpiredUnpruned checks that Create over an expired id makes a new
	// session instead of refusing. Every other check is the same.
	ExpiresItself bool

	// NoCreated declares a store that cannot keep a session's creation time
	// (pgstore on a connect-pg-simple table, which has no column for it): it
	// must then report Record.Created as zero on Load, never a made-up
	// time. Every other check is the same.
	NoCreated bool

	// Dump, when set, returns everything the store keeps, as text: every
	// row or key with its contents, and every index. The suite then
	// creates sessions through a sessionkit.Manager and checks that no id
	// a cookie carries appears in it, only the ids' hashes
	// (sessionkit.HashID), or, with RawIDs, that the ids do appear. Nil
	// skips that check.
	Dump func(t *testing.T, st sessionkit.Store) string
	// RawIDs declares a layout that keeps session ids as they are, because
	// another program looks sessions up by the id (connect-pg-simple's
	// table, connect-redis's keys).
	RawIDs bool
}

// Run runs the conformance suite against the store s describes.
func Run(t *testing.T, s Suite) {
	t.Helper()
	if s.New == nil {
		t.Fatal("storetest: Suite.New is required")
	}
	createExpired, prune := testCreateExpiredUnpruned, testPrune
	if s.ExpiresItself {
		createExpired, prune = testCreateExpiredSelfExpiring, testPruneSelfExpiring
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, st sessionkit.Store)
	}{
		{"LoadMissing", testLoadMissing},
		{"CreateLoadRoundTrip", func(t *testing.T, st sessionkit.Store) { testCreateLoadRoundTrip(t, st, s.NoCreated) }},
		{"CreateKeepsGivenCreated", func(t *testing.T, st sessionkit.Store) { testCreateKeepsGivenCreated(t, st, s.NoCreated) }},
		{"CreateEmptyValues", testCreateEmptyValues},
		{"CreateExisting", testCreateExisting},
		{"CreateExpiredUnpruned", createExpired},
		{"CreateConcurrentSameID", testCreateConcurrentSameID},
		{"StoreDoesNotAliasCallerMaps", testNoAliasing},
		{"LoadExpired", testLoadExpired},
		{"UpdateSetDelete", func(t *testing.T, st sessionkit.Store) { testUpdateSetDelete(t, st, s.NoCreated) }},
		{"UpdateSetWinsOverDelete", testUpdateSetWinsOverDelete},
		{"UpdateTouch", func(t *testing.T, st sessionkit.Store) { testUpdateTouch(t, st, s.NoCreated) }},
		{"UpdateExpiryIntoPast", testUpdateExpiryIntoPast},
		{"UpdateEmptyPatch", testUpdateEmptyPatch},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateExpired", testUpdateExpired},
		{"UpdateConcurrentKeys", testUpdateConcurrentKeys},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"DeleteExpired", testDeleteExpired},
		{"Prune", prune},
		{"CancelledContext", testCancelledContext},
		{"ValueKinds", testValueKinds},
		{"KeysAreNotPaths", testKeysAreNotPaths},
		{"OddIDs", testOddIDs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.New(t)
			if st == nil {
				t.Fatal("storetest: Suite.New returned nil")
			}
			tc.fn(t, st)
		})
	}
	if s.Dump != nil {
		t.Run("DumpHoldsNoSessionID", func(t *testing.T) {
			t.Parallel()
			testDump(t, s.New(t), s)
		})
	}
	for _, tc := range userTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.New(t)
			ix, ok := st.(sessionkit.UserIndex)
			if !ok {
				t.Skipf("the store does not implement sessionkit.UserIndex")
			}
			if s.NoCreated {
				ix = noCreatedIndex{ix}
			}
			tc.fn(t, st, ix)
		})
	}
	for _, tc := range batchTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := s.New(t)
			b, ok := st.(sessionkit.BatchStore)
			if !ok {
				t.Skipf("the store does not implement sessionkit.BatchStore")
			}
			tc.fn(t, st, b)
		})
	}
	if s.NewNamed != nil {
		t.Run("TableNames", func(t *testing.T) {
			t.Parallel()
			testTableNames(t, s.NewNamed)
		})
	}
}

// ctxT returns a context that ends with the test, bounded so that a store
// that hangs fails instead of blocking the whole run.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// hour is far enough from now that clock skew between the test and a
// database server never decides whether a record is live.
const hour = time.Hour

// live is an expiry safely in the future and deliberately odd (not a whole
// number of hours from now), so that a store that puts a lifetime of its own in
// place of the given one fails the checks that an expiry was kept.
func live() time.Time { return time.Now().Add(hour + 17*time.Minute) }

func expired() time.Time { return time.Now().Add(-hour) }

func vals(kv ...string) map[string]json.RawMessage {
	if len(kv)%2 != 0 {
		panic("storetest: vals needs key/value pairs")
	}
	m := make(map[string]json.RawMessage, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

func mustCreate(t *testing.T, st sessionkit.Store, id string, rec sessionkit.Record) {
	t.Helper()
	if err := st.Create(ctxT(t), id, rec); err != nil {
		t.Fatalf("Create(%q): %v", id, err)
	}
}

func mustLoad(t *testing.T, st sessionkit.Store, id string) sessionkit.Record {
	t.Helper()
	rec, found, err := st.Load(ctxT(t), id)
	if err != nil {
		t.Fatalf("Load(%q): %v", id, err)
	}
	if !found {
		t.Fatalf("Load(%q): found = false, want a live session", id)
	}
	return rec
}

func mustNotFind(t *testing.T, st sessionkit.Store, id string) {
	t.Helper()
	rec, found, err := st.Load(ctxT(t), id)
	if err != nil {
		t.Fatalf("Load(%q): %v", id, err)
	}
	if found {
		t.Fatalf("Load(%q): found = true (values %s, expiry %v), want not found", id, show(rec.Values), rec.Expiry)
	}
}

func mustUpdate(t *testing.T, st sessionkit.Store, id string, p sessionkit.Patch, wantFound bool) {
	t.Helper()
	found, err := st.Update(ctxT(t), id, p)
	if err != nil {
		t.Fatalf("Update(%q): %v", id, err)
	}
	if found != wantFound {
		t.Fatalf("Update(%q): found = %v, want %v", id, found, wantFound)
	}
}

// decode turns values into plain Go data so that two encodings of the same
// JSON (key order, whitespace, escapes, number spelling) compare equal.
func decode(t *testing.T, m map[string]json.RawMessage) map[string]any {
	t.Helper()
	out := make(map[string]any, len(m))
	for k, v := range m {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatalf("value of key %q is not valid JSON (%v): %.200s", k, err, v)
		}
		out[k] = x
	}
	return out
}

func sameValues(t *testing.T, what string, got, want map[string]json.RawMessage) {
	t.Helper()
	g, w := decode(t, got), decode(t, want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: values = %s, want %s", what, show(got), show(want))
	}
}

// show renders values for failure messages, cutting long ones.
func show(m map[string]json.RawMessage) string {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Sprintf("%v", m)
	}
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// sameCreated checks a loaded Created against the one given to Create: the
// same second, or zero for a store that cannot keep it (Suite.NoCreated).
func sameCreated(t *testing.T, noCreated bool, what string, got, want time.Time) {
	t.Helper()
	if noCreated {
		if !got.IsZero() {
			t.Fatalf("%s = %v; a store that cannot keep the creation time must report it zero", what, got)
		}
		return
	}
	sameSecond(t, what, got, want)
}

func sameSecond(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	d := got.Sub(want)
	if d < 0 {
		d = -d
	}
	if d >= time.Second {
		t.Fatalf("%s = %v, want %v (to the second)", what, got, want)
	}
}

func testLoadMissing(t *testing.T, st sessionkit.Store) {
	mustNotFind(t, st, "no-such-session")
}

func testCreateLoadRoundTrip(t *testing.T, st sessionkit.Store, noCreated bool) {
	want := vals(
		"user", `42`,
		"name", `"Ada"`,
		"flags", `[true,false]`,
		"prefs", `{"theme":"dark","size":12.5}`,
	)
	exp := live()
	before := time.Now()
	mustCreate(t, st, "s1", sessionkit.Record{Values: want, Expiry: exp})
	got := mustLoad(t, st, "s1")
	sameValues(t, "Load after Create", got.Values, want)
	sameSecond(t, "Expiry", got.Expiry, exp)
	if noCreated {
		sameCreated(t, noCreated, "Created", got.Created, time.Time{})
		return
	}
	if got.Created.IsZero() {
		t.Fatal("Created is zero; the store must set it when Create gets a zero Created")
	}
	if d := got.Created.Sub(before); d < -time.Minute || d > time.Minute {
		t.Fatalf("Created = %v, want within a minute of %v", got.Created, before)
	}
}

func testCreateKeepsGivenCreated(t *testing.T, st sessionkit.Store, noCreated bool) {
	created := time.Now().Add(-3 * hour)
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("k", `1`), Created: created, Expiry: live()})
	got := mustLoad(t, st, "s1")
	sameCreated(t, noCreated, "Created (given to Create)", got.Created, created)
}

func testCreateEmptyValues(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "nil-values", sessionkit.Record{Expiry: live()})
	if got := mustLoad(t, st, "nil-values"); len(got.Values) != 0 {
		t.Fatalf("values = %s, want none", show(got.Values))
	}
	mustUpdate(t, st, "nil-values", sessionkit.Patch{Set: vals("k", `"v"`)}, true)
	sameValues(t, "after Update of an empty session", mustLoad(t, st, "nil-values").Values, vals("k", `"v"`))
}

func testCreateExisting(t *testing.T, st sessionkit.Store) {
	orig := vals("owner", `"first"`)
	exp := live()
	mustCreate(t, st, "s1", sessionkit.Record{Values: orig, Expiry: exp})
	err := st.Create(ctxT(t), "s1", sessionkit.Record{Values: vals("owner", `"second"`), Expiry: exp.Add(hour)})
	if !errors.Is(err, sessionkit.ErrExists) {
		t.Fatalf("second Create of the same id: err = %v, want errors.Is(err, sessionkit.ErrExists)", err)
	}
	got := mustLoad(t, st, "s1")
	sameValues(t, "after a refused Create", got.Values, orig)
	sameSecond(t, "Expiry after a refused Create", got.Expiry, exp)
}

func testCreateExpiredUnpruned(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("owner", `"first"`), Expiry: expired()})
	err := st.Create(ctxT(t), "old", sessionkit.Record{Values: vals("owner", `"second"`), Expiry: live()})
	if !errors.Is(err, sessionkit.ErrExists) {
		t.Fatalf("Create over an expired, unpruned id: err = %v, want errors.Is(err, sessionkit.ErrExists)", err)
	}
	// The refused Create must not have revived or replaced the expired row.
	mustNotFind(t, st, "old")
}

// testCreateExpiredSelfExpiring is CreateExpiredUnpruned for a store that
// deletes a session when it expires: the expired id is free, so Create makes
// a new session, and nothing of the old one shows through.
func testCreateExpiredSelfExpiring(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("owner", `"first"`, "stale", `1`), Expiry: expired()})
	mustNotFind(t, st, "old")
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("owner", `"second"`), Expiry: live()})
	sameValues(t, "Create over an expired id", mustLoad(t, st, "old").Values, vals("owner", `"second"`))
}

func testCreateConcurrentSameID(t *testing.T, st sessionkit.Store) {
	const n = 20
	ctx := ctxT(t)
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		created, existing int
		winner            string
		others            []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := st.Create(ctx, "race", sessionkit.Record{Values: vals("who", fmt.Sprint(i)), Expiry: live()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
				winner = fmt.Sprint(i)
			case errors.Is(err, sessionkit.ErrExists):
				existing++
			default:
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	if len(others) > 0 {
		t.Fatalf("concurrent Create: unexpected errors (a writer must wait, not fail): %v", errors.Join(others...))
	}
	if created != 1 || existing != n-1 {
		t.Fatalf("concurrent Create of one id: %d succeeded and %d got ErrExists, want 1 and %d", created, existing, n-1)
	}
	sameValues(t, "after concurrent Create", mustLoad(t, st, "race").Values, vals("who", winner))
}

func testNoAliasing(t *testing.T, st sessionkit.Store) {
	in := vals("k", `"original"`)
	mustCreate(t, st, "s1", sessionkit.Record{Values: in, Expiry: live()})
	// Mutating what was passed in, or what was handed out, must not reach
	// the stored session.
	copy(in["k"], `"mutated!"`)
	in["extra"] = json.RawMessage(`1`)
	out := mustLoad(t, st, "s1").Values
	sameValues(t, "after mutating the map given to Create", out, vals("k", `"original"`))
	copy(out["k"], `"mutated!"`)
	out["extra"] = json.RawMessage(`1`)
	set := vals("p", `"patched"`)
	mustUpdate(t, st, "s1", sessionkit.Patch{Set: set}, true)
	copy(set["p"], `"mutated"`)
	sameValues(t, "after mutating loaded and patch maps", mustLoad(t, st, "s1").Values,
		vals("k", `"original"`, "p", `"patched"`))
}

func testLoadExpired(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `1`), Expiry: expired()})
	mustNotFind(t, st, "old")
	// Just past is as dead as long past.
	mustCreate(t, st, "just", sessionkit.Record{Values: vals("k", `1`), Expiry: time.Now().Add(-2 * time.Second)})
	mustNotFind(t, st, "just")
}

func testUpdateSetDelete(t *testing.T, st sessionkit.Store, noCreated bool) {
	exp := live()
	// Created far from now, so a store that resets it on Update is caught.
	created := time.Now().Add(-3 * hour)
	mustCreate(t, st, "s1", sessionkit.Record{
		Values:  vals("keep", `"k"`, "change", `1`, "drop", `true`, "drop2", `null`),
		Created: created,
		Expiry:  exp,
	})
	mustUpdate(t, st, "s1", sessionkit.Patch{
		Set:    vals("change", `2`, "new", `{"a":[1,2]}`),
		Delete: []string{"drop", "drop2", "never-there"},
	}, true)
	got := mustLoad(t, st, "s1")
	sameValues(t, "after Update", got.Values, vals("keep", `"k"`, "change", `2`, "new", `{"a":[1,2]}`))
	sameSecond(t, "Expiry after an Update without Expiry", got.Expiry, exp)
	sameCreated(t, noCreated, "Created after an Update of values", got.Created, created)
}

func testUpdateSetWinsOverDelete(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("k", `"old"`), Expiry: live()})
	mustUpdate(t, st, "s1", sessionkit.Patch{Set: vals("k", `"new"`), Delete: []string{"k"}}, true)
	sameValues(t, "key in both Set and Delete", mustLoad(t, st, "s1").Values, vals("k", `"new"`))
}

func testUpdateTouch(t *testing.T, st sessionkit.Store, noCreated bool) {
	want := vals("a", `1`, "b", `"two"`)
	created := time.Now().Add(-3 * hour) // far from now: a touch that resets it is caught
	mustCreate(t, st, "s1", sessionkit.Record{Values: want, Created: created, Expiry: live()})
	newExp := time.Now().Add(5 * hour)
	mustUpdate(t, st, "s1", sessionkit.Patch{Expiry: newExp}, true)
	got := mustLoad(t, st, "s1")
	sameSecond(t, "Expiry after touch", got.Expiry, newExp)
	sameValues(t, "values after touch", got.Values, want)
	sameCreated(t, noCreated, "Created after touch", got.Created, created)
}

func testUpdateExpiryIntoPast(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("a", `1`), Expiry: live()})
	mustUpdate(t, st, "s1", sessionkit.Patch{Expiry: expired()}, true)
	mustNotFind(t, st, "s1")
}

func testUpdateEmptyPatch(t *testing.T, st sessionkit.Store) {
	want := vals("a", `1`)
	exp := live()
	mustCreate(t, st, "s1", sessionkit.Record{Values: want, Expiry: exp})
	mustUpdate(t, st, "s1", sessionkit.Patch{}, true)
	got := mustLoad(t, st, "s1")
	sameValues(t, "after empty patch", got.Values, want)
	sameSecond(t, "Expiry after empty patch", got.Expiry, exp)
	mustUpdate(t, st, "missing", sessionkit.Patch{}, false)
	mustCreate(t, st, "old", sessionkit.Record{Values: want, Expiry: expired()})
	mustUpdate(t, st, "old", sessionkit.Patch{}, false)
}

func testUpdateMissing(t *testing.T, st sessionkit.Store) {
	mustUpdate(t, st, "missing", sessionkit.Patch{Set: vals("k", `1`), Expiry: live()}, false)
	mustNotFind(t, st, "missing")
	// Nothing was created behind the caller's back, so the id is free.
	mustCreate(t, st, "missing", sessionkit.Record{Values: vals("fresh", `true`), Expiry: live()})
	sameValues(t, "Create after Update of a missing id", mustLoad(t, st, "missing").Values, vals("fresh", `true`))
}

func testUpdateExpired(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `1`), Expiry: expired()})
	// Even a patch that would push the expiry into the future must not revive
	// a dead session.
	mustUpdate(t, st, "old", sessionkit.Patch{Set: vals("k", `2`), Expiry: live()}, false)
	mustNotFind(t, st, "old")
	mustUpdate(t, st, "old", sessionkit.Patch{Expiry: live()}, false)
	mustNotFind(t, st, "old")
}

func testUpdateConcurrentKeys(t *testing.T, st sessionkit.Store) {
	const n = 50
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("base", `"b"`), Expiry: live()})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%02d", i)
			found, err := st.Update(ctx, "s1", sessionkit.Patch{Set: vals(key, fmt.Sprint(i))})
			switch {
			case err != nil:
				errs <- fmt.Errorf("Update %s: %w", key, err)
			case !found:
				errs <- fmt.Errorf("Update %s: found = false on a live session", key)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if len(all) > 0 {
		t.Fatalf("concurrent Update (a writer must wait, not fail): %v", errors.Join(all...))
	}
	want := vals("base", `"b"`)
	for i := range n {
		want[fmt.Sprintf("k%02d", i)] = json.RawMessage(fmt.Sprint(i))
	}
	got := mustLoad(t, st, "s1").Values
	var lost []string
	for k := range want {
		if _, ok := got[k]; !ok {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d concurrent patches on distinct keys were lost: %v", len(lost), lost)
	}
	sameValues(t, "after concurrent Updates", got, want)
}

func testDelete(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("k", `1`), Expiry: live()})
	mustCreate(t, st, "s2", sessionkit.Record{Values: vals("k", `2`), Expiry: live()})
	if err := st.Delete(ctxT(t), "s1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustNotFind(t, st, "s1")
	mustUpdate(t, st, "s1", sessionkit.Patch{Set: vals("k", `3`)}, false)
	mustNotFind(t, st, "s1")
	sameValues(t, "the other session after Delete", mustLoad(t, st, "s2").Values, vals("k", `2`))
	// The id is free again.
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("k", `4`), Expiry: live()})
	sameValues(t, "Create after Delete", mustLoad(t, st, "s1").Values, vals("k", `4`))
}

func testDeleteMissing(t *testing.T, st sessionkit.Store) {
	if err := st.Delete(ctxT(t), "missing"); err != nil {
		t.Fatalf("Delete of a missing id: %v, want nil", err)
	}
}

func testDeleteExpired(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `1`), Expiry: expired()})
	if err := st.Delete(ctxT(t), "old"); err != nil {
		t.Fatalf("Delete of an expired id: %v", err)
	}
	// Delete removed the expired row, so Create no longer sees it.
	mustCreate(t, st, "old", sessionkit.Record{Values: vals("k", `2`), Expiry: live()})
	sameValues(t, "Create after deleting an expired id", mustLoad(t, st, "old").Values, vals("k", `2`))
}

func testPrune(t *testing.T, st sessionkit.Store) {
	ctx := ctxT(t)
	n, err := st.Prune(ctx, 10)
	if err != nil {
		t.Fatalf("Prune of an empty store: %v", err)
	}
	if n != 0 {
		t.Fatalf("Prune of an empty store deleted %d, want 0", n)
	}
	const nExpired, nLive, limit = 25, 5, 10
	for i := range nExpired {
		mustCreate(t, st, fmt.Sprintf("dead%02d", i), sessionkit.Record{Values: vals("i", fmt.Sprint(i)), Expiry: expired()})
	}
	for i := range nLive {
		mustCreate(t, st, fmt.Sprintf("live%02d", i), sessionkit.Record{Values: vals("i", fmt.Sprint(i)), Expiry: live()})
	}
	// "At most 0" deletes nothing, and so does a negative limit (SQLite, for
	// one, reads LIMIT -1 as no limit at all). Nothing failed, so no error.
	for _, none := range []int{0, -1} {
		if n, err := st.Prune(ctx, none); err != nil || n != 0 {
			t.Fatalf("Prune(limit %d) = %d, %v; want 0, nil", none, n, err)
		}
	}
	n, err = st.Prune(ctx, limit)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if n != limit {
		t.Fatalf("first Prune(limit %d) with %d expired rows deleted %d, want %d", limit, nExpired, n, limit)
	}
	total := n
	for calls := 1; n == limit; calls++ {
		if calls > nExpired {
			t.Fatalf("Prune keeps returning %d after %d calls; it should run out of expired rows", limit, calls)
		}
		if n, err = st.Prune(ctx, limit); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		if n < 0 || n > limit {
			t.Fatalf("Prune(limit %d) = %d", limit, n)
		}
		total += n
	}
	if total != nExpired {
		t.Fatalf("Prune deleted %d in total, want the %d expired rows", total, nExpired)
	}
	for i := range nLive {
		id := fmt.Sprintf("live%02d", i)
		sameValues(t, "live session after Prune", mustLoad(t, st, id).Values, vals("i", fmt.Sprint(i)))
	}
	// The expired rows are really gone: their ids can be created again.
	for i := range nExpired {
		mustCreate(t, st, fmt.Sprintf("dead%02d", i), sessionkit.Record{Expiry: live()})
	}
	if n, err = st.Prune(ctx, limit); err != nil || n != 0 {
		t.Fatalf("Prune with only live rows = %d, %v; want 0, nil", n, err)
	}
}

// testPruneSelfExpiring is Prune for a store whose engine deletes expired
// sessions itself: Prune reports 0 for any limit and no error, expired
// sessions are gone without it (their ids can be created again) and live ones
// are kept.
func testPruneSelfExpiring(t *testing.T, st sessionkit.Store) {
	ctx := ctxT(t)
	const nExpired, nLive = 5, 5
	for i := range nExpired {
		mustCreate(t, st, fmt.Sprintf("dead%02d", i), sessionkit.Record{Values: vals("i", fmt.Sprint(i)), Expiry: expired()})
	}
	for i := range nLive {
		mustCreate(t, st, fmt.Sprintf("live%02d", i), sessionkit.Record{Values: vals("i", fmt.Sprint(i)), Expiry: live()})
	}
	for _, limit := range []int{10, 1, 0, -1} {
		if n, err := st.Prune(ctx, limit); err != nil || n != 0 {
			t.Fatalf("Prune(limit %d) = %d, %v; want 0, nil from a store that expires sessions itself", limit, n, err)
		}
	}
	for i := range nLive {
		id := fmt.Sprintf("live%02d", i)
		sameValues(t, "live session after Prune", mustLoad(t, st, id).Values, vals("i", fmt.Sprint(i)))
	}
	for i := range nExpired {
		id := fmt.Sprintf("dead%02d", i)
		mustNotFind(t, st, id)
		mustCreate(t, st, id, sessionkit.Record{Expiry: live()})
	}
}

func testCancelledContext(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "s1", sessionkit.Record{Values: vals("k", `1`), Expiry: live()})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context: err = nil, want an error", op)
			return
		}
		if errors.Is(err, sessionkit.ErrExists) {
			t.Errorf("%s with a cancelled context: err = %v, which claims ErrExists", op, err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want it to wrap context.Canceled", op, err)
		}
	}
	_, found, err := st.Load(ctx, "s1")
	check("Load", err)
	if found {
		t.Errorf("Load with a cancelled context: found = true alongside the error")
	}
	check("Create", st.Create(ctx, "s2", sessionkit.Record{Values: vals("k", `2`), Expiry: live()}))
	found, err = st.Update(ctx, "s1", sessionkit.Patch{Set: vals("k", `3`)})
	check("Update", err)
	if found {
		t.Errorf("Update with a cancelled context: found = true alongside the error")
	}
	check("Delete", st.Delete(ctx, "s1"))
	_, err = st.Prune(ctx, 10)
	check("Prune", err)
	// The cancelled calls changed nothing.
	sameValues(t, "after cancelled calls", mustLoad(t, st, "s1").Values, vals("k", `1`))
	mustNotFind(t, st, "s2")
}

func testValueKinds(t *testing.T, st sessionkit.Store) {
	large, err := json.Marshal(strings.Repeat("0123456789abcdef", 100<<10/16))
	if err != nil {
		t.Fatal(err)
	}
	largeObj, err := json.Marshal(map[string]string{"blob": strings.Repeat("x", 100<<10)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, value string
	}{
		{"unicode", `"héllo wörld — 你好 🌍 \u00e9 \"quoted\" \\ back"`},
		{"escapes", `"line\nbreak\ttab\u0001"`},
		{"nested", `{"a":{"b":{"c":[1,{"d":null},"e"]}},"f":[]}`},
		{"null", `null`},
		{"false", `false`},
		{"zero", `0`},
		{"number", `-12.75e3`},
		{"empty string", `""`},
		{"empty object", `{}`},
		{"empty array", `[]`},
		{"large string", string(large)},
		{"large object", string(largeObj)},
	}
	all := map[string]json.RawMessage{}
	for _, tc := range cases {
		all[tc.name] = json.RawMessage(tc.value)
	}
	mustCreate(t, st, "created", sessionkit.Record{Values: all, Expiry: live()})
	sameValues(t, "Create then Load", mustLoad(t, st, "created").Values, all)

	// The same values arriving through Update, key by key, alongside one
	// untouched key.
	mustCreate(t, st, "patched", sessionkit.Record{Values: vals("base", `1`), Expiry: live()})
	want := vals("base", `1`)
	for _, tc := range cases {
		mustUpdate(t, st, "patched", sessionkit.Patch{Set: vals(tc.name, tc.value)}, true)
		want[tc.name] = json.RawMessage(tc.value)
	}
	got := mustLoad(t, st, "patched").Values
	if _, ok := got["null"]; !ok {
		t.Fatal(`a key set to JSON null through Update is missing; null is a value, not a delete`)
	}
	sameValues(t, "values set through Update", got, want)
}

func testKeysAreNotPaths(t *testing.T, st sessionkit.Store) {
	keys := []string{
		"a.b", "$x", "$", "$.a", "'; DROP TABLE sessions; --", "{}", "{a,b}", "[0]", "a[0]", "*",
		`"quoted"`, `a"b`, `back\slash`, "-1", "0", "é", "with space", "a->b", "#{a}", "",
	}
	// Plain keys that a path interpretation would hit: "a" for "a.b" and
	// "a[0]", "b" for "{a,b}", "x" for "$x".
	plain := vals("a", `{"b":"inner"}`, "b", `"plain b"`, "x", `"plain x"`)
	initial := map[string]json.RawMessage{}
	for k, v := range plain {
		initial[k] = v
	}
	for i, k := range keys {
		initial[k] = json.RawMessage(fmt.Sprint(i))
	}
	mustCreate(t, st, "s1", sessionkit.Record{Values: initial, Expiry: live()})
	sameValues(t, "odd keys through Create", mustLoad(t, st, "s1").Values, initial)

	// Set each odd key to a new value, then delete them all: the plain keys
	// must come through both untouched.
	set := map[string]json.RawMessage{}
	want := map[string]json.RawMessage{}
	for k, v := range plain {
		want[k] = v
	}
	for i, k := range keys {
		set[k] = json.RawMessage(fmt.Sprintf(`"v%d"`, i))
		want[k] = set[k]
	}
	mustUpdate(t, st, "s1", sessionkit.Patch{Set: set}, true)
	sameValues(t, "odd keys through Update.Set", mustLoad(t, st, "s1").Values, want)

	mustUpdate(t, st, "s1", sessionkit.Patch{Delete: keys}, true)
	sameValues(t, "after Update.Delete of odd keys", mustLoad(t, st, "s1").Values, plain)
}

// testOddIDs asks about ids that no well-behaved caller makes but a store
// must still answer: a NUL byte or invalid UTF-8, which a PostgreSQL text
// parameter refuses. No session has such an id, so the answer is "not found",
// not an error that reads like the store being down.
func testOddIDs(t *testing.T, st sessionkit.Store) {
	mustCreate(t, st, "a", sessionkit.Record{Values: vals("k", `1`), Expiry: live()})
	for _, id := range []string{"a\x00", "a\x00b", "a\xff", "\xc3("} {
		mustNotFind(t, st, id)
		mustUpdate(t, st, id, sessionkit.Patch{Set: vals("k", `2`)}, false)
		mustUpdate(t, st, id, sessionkit.Patch{}, false)
		if err := st.Delete(ctxT(t), id); err != nil {
			t.Fatalf("Delete(%q) of an id no session has: %v, want nil", id, err)
		}
	}
	// None of them reached the session whose id is their valid prefix.
	sameValues(t, "the session with a prefix of the odd ids", mustLoad(t, st, "a").Values, vals("k", `1`))
}

func testTableNames(t *testing.T, newNamed func(t *testing.T, table string) error) {
	bad := []string{
		"sessions; DROP TABLE x",
		"a.b",
		`"quoted"`,
		"1abc",
		strings.Repeat("a", 64),
		"séssion",
		"a b",
		"a-b",
		"sessions--",
		"x'y",
		"tab\tle",
	}
	for _, name := range bad {
		t.Run(fmt.Sprintf("reject %q", name), func(t *testing.T) {
			if err := newNamed(t, name); err == nil {
				t.Fatalf("table name %q was accepted; want an error, since it is not a plain identifier", name)
			}
		})
	}
	good := []string{"my_sessions", "_s", "S2", strings.Repeat("a", 63)}
	for _, name := range good {
		t.Run(fmt.Sprintf("accept %q", name), func(t *testing.T) {
			if err := newNamed(t, name); err != nil {
				t.Fatalf("plain table name %q was rejected: %v", name, err)
			}
		})
	}
}
