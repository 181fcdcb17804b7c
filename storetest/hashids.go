package storetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// HashStoredIDs checks a store's conversion of sessions stored under their
// raw id, as before stores kept sessionkit.HashID, to their hash: the
// caller has stored the sessions ids under their raw id, and convert is the
// store's conversion (HashStoredIDs). It runs convert while a reader keeps
// loading and patching those sessions, and fails the test if a read or
// write between the steps missed a session, if convert did not report
// len(ids) or failed, if a session is not found by its id afterwards, or if
// a second run converts anything. What the store then holds is for the
// caller to check.
func HashStoredIDs(t *testing.T, st sessionkit.Store, ids []string, convert func(context.Context) (int, error)) {
	t.Helper()
	ctx := ctxT(t)
	var (
		stop   atomic.Bool
		misses atomic.Int64
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		patch := sessionkit.Patch{Set: map[string]json.RawMessage{"read": json.RawMessage(`1`)}}
		for i := 0; !stop.Load(); i++ {
			id := ids[i%len(ids)]
			if _, found, err := st.Load(ctx, id); !found || err != nil {
				misses.Add(1)
			}
			if found, err := st.Update(ctx, id, patch); !found || err != nil {
				misses.Add(1)
			}
		}
	}()
	converted, err := convert(ctx)
	stop.Store(true)
	wg.Wait()
	if err != nil || converted != len(ids) {
		t.Fatalf("converting: %d sessions, %v; want %d", converted, err, len(ids))
	}
	if m := misses.Load(); m != 0 {
		t.Errorf("%d reads or writes missed a session while it was converted", m)
	}
	for _, id := range ids {
		if _, found, err := st.Load(ctx, id); !found || err != nil {
			t.Fatalf("Load of %.6s… after converting: found %v, %v", id, found, err)
		}
	}
	if again, err := convert(ctx); again != 0 || err != nil {
		t.Fatalf("converting again: %d sessions, %v; want 0", again, err)
	}
}

// RawIDSession checks a session the caller stored under its raw id, as
// before stores kept sessionkit.HashID, bound to user (its only session):
// it is found by its id through Load, Update (a patch and an existence
// check) and LoadMany; UserSessions lists it; and the id the listing gives
// ends it, through DeleteMany when batch is true and Delete otherwise, as
// a revocation would.
func RawIDSession(t *testing.T, st sessionkit.Store, id, user string, batch bool) {
	t.Helper()
	ctx := ctxT(t)
	if _, found, err := st.Load(ctx, id); !found || err != nil {
		t.Fatalf("Load: found %v, %v", found, err)
	}
	mustUpdate(t, st, id, sessionkit.Patch{Set: map[string]json.RawMessage{"k": json.RawMessage(`2`)}}, true)
	mustUpdate(t, st, id, sessionkit.Patch{}, true)
	if bs, ok := st.(sessionkit.BatchStore); ok {
		many, err := bs.LoadMany(ctx, []string{id, id + "-other"})
		if err != nil || len(many) != 1 || string(many[id].Values["k"]) != "2" {
			t.Fatalf("LoadMany: %v, %v", many, err)
		}
	}
	ix, ok := st.(sessionkit.UserIndex)
	if !ok {
		t.Fatal("the store does not implement sessionkit.UserIndex")
	}
	list, err := ix.UserSessions(ctx, user)
	if err != nil || len(list) != 1 || sessionkit.HashID(list[0].ID) != sessionkit.HashID(id) {
		t.Fatalf("UserSessions: %v, %v; want the session", list, err)
	}
	if bs, ok := st.(sessionkit.BatchStore); ok && batch {
		err = bs.DeleteMany(ctx, []string{list[0].ID})
	} else {
		err = st.Delete(ctx, list[0].ID)
	}
	if err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, st, id)
}

// NewID returns a session id as sessionkit makes them: 256 random bits in
// unpadded base64url.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NoRawIDSent runs two sessions' lives on st, which holds no session under
// a raw id (fresh, or after its HashStoredIDs): a log-in (Create bound to a
// user), reads (Load, LoadMany, an existence check, UserSessions), a patch,
// a touch, a log-out (Delete) and a revocation (DeleteMany). sent returns
// the text of every statement or command st has sent to its server so far,
// with their arguments, as a query log would keep them. The test fails if
// it names either id, or if it does not name their hashes (the capture saw
// nothing).
func NoRawIDSent(t *testing.T, st sessionkit.Store, sent func() string) {
	t.Helper()
	ctx := ctxT(t)
	a, b := NewID(), NewID()
	for _, id := range []string{a, b} {
		mustCreate(t, st, id, sessionkit.Record{Values: bound("no-raw-id"), Expiry: live()})
		mustLoad(t, st, id)
	}
	mustUpdate(t, st, a, sessionkit.Patch{Set: vals("k", `1`)}, true)
	mustUpdate(t, st, a, sessionkit.Patch{Expiry: live()}, true)
	mustUpdate(t, st, a, sessionkit.Patch{}, true)
	if bs, ok := st.(sessionkit.BatchStore); ok {
		if many, err := bs.LoadMany(ctx, []string{a, b}); err != nil || len(many) != 2 {
			t.Fatalf("LoadMany: %d sessions, %v; want 2", len(many), err)
		}
	}
	if ix, ok := st.(sessionkit.UserIndex); ok {
		if list, err := ix.UserSessions(ctx, "no-raw-id"); err != nil || len(list) != 2 {
			t.Fatalf("UserSessions: %d sessions, %v; want 2", len(list), err)
		}
	}
	if err := st.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if bs, ok := st.(sessionkit.BatchStore); ok {
		if err := bs.DeleteMany(ctx, []string{b}); err != nil {
			t.Fatal(err)
		}
	} else if err := st.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	mustNotFind(t, st, a)
	mustNotFind(t, st, b)
	log := sent()
	for _, id := range []string{a, b} {
		if strings.Contains(log, id) {
			t.Errorf("the statements sent name the session id %.6s…", id)
		}
		if !strings.Contains(log, sessionkit.HashID(id)) {
			t.Errorf("the statements sent do not name the hash of %.6s…: was anything captured?", id)
		}
	}
}
