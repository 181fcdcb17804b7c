package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// userTests check sessionkit.UserIndex; Run runs them for every store that
// implements it.
var userTests = []struct {
	name string
	fn   func(t *testing.T, st sessionkit.Store, ix sessionkit.UserIndex)
}{
	{"UserSessionsList", testUserSessionsList},
	{"UserSessionsFollowUpdates", testUserSessionsFollowUpdates},
	{"UserSessionsRevoke", testUserSessionsRevoke},
	{"UserSessionsConcurrent", testUserSessionsConcurrent},
}

// noCreatedIndex marks the index of a store that cannot keep creation
// times (Suite.NoCreated), whose listed sessions have a zero Created.
type noCreatedIndex struct{ sessionkit.UserIndex }

// bound returns values bound to user, as Session.Authenticate writes them,
// plus one application key.
func bound(user string) map[string]json.RawMessage {
	meta, _ := json.Marshal(map[string]any{"user": user, "auth": 1764500000, "seen": 1764500000})
	return map[string]json.RawMessage{sessionkit.MetaKey: meta, "userId": json.RawMessage(`7`)}
}

// userIDs lists user's sessions and returns their ids, sorted.
func userIDs(t *testing.T, ix sessionkit.UserIndex, user string) []string {
	t.Helper()
	list, err := ix.UserSessions(ctxT(t), user)
	if err != nil {
		t.Fatalf("UserSessions(%q): %v", user, err)
	}
	ids := make([]string, 0, len(list))
	for _, s := range list {
		if got := sessionkit.UserOf(s.Record.Values); got != user {
			t.Fatalf("UserSessions(%q) returned %q bound to %q", user, s.ID, got)
		}
		_, noCreated := ix.(noCreatedIndex)
		if s.Record.Expiry.IsZero() || (s.Record.Created.IsZero() && !noCreated) {
			t.Fatalf("UserSessions(%q): %q has created %v, expiry %v; want both", user, s.ID, s.Record.Created, s.Record.Expiry)
		}
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	return ids
}

func wantIDs(t *testing.T, ix sessionkit.UserIndex, user string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	sort.Strings(want)
	if got := userIDs(t, ix, user); !slices.Equal(got, want) {
		t.Fatalf("UserSessions(%q) = %q, want %q", user, got, want)
	}
}

func testUserSessionsList(t *testing.T, st sessionkit.Store, ix sessionkit.UserIndex) {
	mustCreate(t, st, "a1", sessionkit.Record{Values: bound("ada"), Expiry: live()})
	mustCreate(t, st, "a2", sessionkit.Record{Values: bound("ada"), Expiry: live()})
	mustCreate(t, st, "a-expired", sessionkit.Record{Values: bound("ada"), Expiry: expired()})
	mustCreate(t, st, "b1", sessionkit.Record{Values: bound("bob"), Expiry: live()})
	mustCreate(t, st, "anon", sessionkit.Record{Values: vals("userId", "7"), Expiry: live()})
	wantIDs(t, ix, "ada", "a1", "a2")
	wantIDs(t, ix, "bob", "b1")
	wantIDs(t, ix, "nobody")
	wantIDs(t, ix, "")
	list, err := ix.UserSessions(ctxT(t), "bob")
	if err != nil || len(list) != 1 {
		t.Fatalf("UserSessions(bob) = %v, %v", list, err)
	}
	sameValues(t, "UserSessions(bob) values", list[0].Record.Values, bound("bob"))
}

func testUserSessionsFollowUpdates(t *testing.T, st sessionkit.Store, ix sessionkit.UserIndex) {
	mustCreate(t, st, "s", sessionkit.Record{Values: vals("cart", "1"), Expiry: live()})
	wantIDs(t, ix, "ada")
	mustUpdate(t, st, "s", sessionkit.Patch{Set: bound("ada")}, true)
	wantIDs(t, ix, "ada", "s")
	mustUpdate(t, st, "s", sessionkit.Patch{Set: bound("bob")}, true)
	wantIDs(t, ix, "ada")
	wantIDs(t, ix, "bob", "s")
	mustUpdate(t, st, "s", sessionkit.Patch{Delete: []string{sessionkit.MetaKey}}, true)
	wantIDs(t, ix, "bob")
	mustUpdate(t, st, "s", sessionkit.Patch{Set: bound("bob"), Expiry: expired()}, true)
	wantIDs(t, ix, "bob")
}

func testUserSessionsRevoke(t *testing.T, st sessionkit.Store, ix sessionkit.UserIndex) {
	for _, id := range []string{"a1", "a2", "a3"} {
		mustCreate(t, st, id, sessionkit.Record{Values: bound("ada"), Expiry: live()})
	}
	mustCreate(t, st, "b1", sessionkit.Record{Values: bound("bob"), Expiry: live()})
	if err := st.Delete(ctxT(t), "a2"); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, ix, "ada", "a1", "a3")
	for _, id := range userIDs(t, ix, "ada") {
		if err := st.Delete(ctxT(t), id); err != nil {
			t.Fatal(err)
		}
	}
	wantIDs(t, ix, "ada")
	for _, id := range []string{"a1", "a2", "a3"} {
		mustNotFind(t, st, id)
	}
	wantIDs(t, ix, "bob", "b1")
	mustLoad(t, st, "b1")
	// A revoked id that comes back through Create is a new session, listed
	// again only if bound.
	mustCreate(t, st, "a1", sessionkit.Record{Values: vals("x", "1"), Expiry: live()})
	wantIDs(t, ix, "ada")
}

// testUserSessionsConcurrent runs log-ins (Create of bound sessions),
// listings and revocations (list, then Delete each) for one user at once, as
// concurrent log-ins, GET /api/sessions and a password change do. Whatever
// the interleaving, no session may escape the index: once every writer is
// done, each live session bound to the user is listed, and one last
// revocation leaves none of them loadable.
func testUserSessionsConcurrent(t *testing.T, st sessionkit.Store, ix sessionkit.UserIndex) {
	const (
		loggers   = 8
		perLogger = 12
		listers   = 3
		revokers  = 2
	)
	ctx := ctxT(t)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		errs    = make(chan error, loggers+listers+revokers)
		done    = make(chan struct{})
	)
	for g := range loggers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perLogger {
				id := fmt.Sprintf("c%d-%d", g, k)
				if err := st.Create(ctx, id, sessionkit.Record{Values: bound("ada"), Expiry: live()}); err != nil {
					errs <- fmt.Errorf("Create(%s): %w", id, err)
					return
				}
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
			}
		}()
	}
	var readers sync.WaitGroup
	for range listers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := ix.UserSessions(ctx, "ada"); err != nil {
					errs <- fmt.Errorf("UserSessions: %w", err)
					return
				}
			}
		}()
	}
	for r := range revokers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				list, err := ix.UserSessions(ctx, "ada")
				if err != nil {
					errs <- fmt.Errorf("UserSessions: %w", err)
					return
				}
				// Revoke a few only, so that most sessions live on and the
				// final listing has something to miss.
				for j, s := range list {
					if (i+j+r)%5 != 0 {
						continue
					}
					if err := st.Delete(ctx, s.ID); err != nil {
						errs <- fmt.Errorf("Delete: %w", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	listed := map[string]bool{}
	for _, id := range userIDs(t, ix, "ada") {
		listed[id] = true
	}
	var escaped []string
	for _, id := range created {
		if _, found, err := st.Load(ctx, id); err != nil {
			t.Fatal(err)
		} else if found && !listed[id] {
			escaped = append(escaped, id)
		}
	}
	if len(escaped) > 0 {
		sort.Strings(escaped)
		t.Fatalf("%d of %d live sessions are missing from UserSessions (they escape revocation): %q", len(escaped), len(created), escaped)
	}
	for id := range listed {
		if err := st.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range created {
		mustNotFind(t, st, id)
	}
	wantIDs(t, ix, "ada")
}
