package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/backend"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

func open(t *testing.T, cfg admin.Config) *admin.DB {
	t.Helper()
	db, err := admin.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachBackend runs f on a fresh, migrated database of each kind.
func forEachBackend(t *testing.T, f func(t *testing.T, cfg admin.Config, db *admin.DB)) {
	backend.Each(t, []backend.Backend{backend.SQLite, backend.Postgres}, func(t *testing.T, b backend.Backend, s backend.Settings) {
		cfg := admin.Config{DataDir: s.DataDir, DatabaseURL: s.DatabaseURL, PruneInterval: -1}
		db := open(t, cfg)
		if db.Backend() != b.Name {
			t.Fatalf("Backend() = %q, want %q", db.Backend(), b.Name)
		}
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		f(t, cfg, db)
	})
}

func TestMigrateIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg admin.Config, db *admin.DB) {
		ctx := t.Context()
		if _, err := db.AddUser(ctx, "ada@example.com", "correct horse", 4); err != nil {
			t.Fatal(err)
		}
		// Again on the same handle, and from a second handle as another
		// process would, with data in place: nothing fails, nothing is lost.
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		other := open(t, cfg)
		if err := other.Migrate(ctx); err != nil {
			t.Fatalf("Migrate from a second handle: %v", err)
		}
		if err := other.CheckSchema(ctx); err != nil {
			t.Fatalf("CheckSchema after Migrate: %v", err)
		}
		users, err := other.ListUsers(ctx)
		if err != nil || len(users) != 1 {
			t.Fatalf("ListUsers after re-migrating = %v, %v; want the one user", users, err)
		}
	})
}

func TestCheckSchemaNamesTheFix(t *testing.T) {
	_, url := pgtest.Schema(t)
	db := open(t, admin.Config{DatabaseURL: url, PruneInterval: -1})
	err := db.CheckSchema(t.Context())
	if err == nil || !strings.Contains(err.Error(), "sessionkit migrate") {
		t.Fatalf("CheckSchema on an empty schema = %v, want an error naming `sessionkit migrate`", err)
	}
	if _, err := db.ListUsers(t.Context()); err == nil || !strings.Contains(err.Error(), "sessionkit migrate") {
		t.Fatalf("ListUsers on an empty schema = %v, want a hint naming `sessionkit migrate`", err)
	}
}

func TestUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ admin.Config, db *admin.DB) {
		ctx := t.Context()
		ada, err := db.AddUser(ctx, "  Ada@Example.com ", "correct horse", 4)
		if err != nil {
			t.Fatalf("AddUser: %v", err)
		}
		if ada.Email != "ada@example.com" || ada.ID == 0 {
			t.Fatalf("AddUser = %+v, want a normalized email and an id", ada)
		}
		if _, err := db.AddUser(ctx, "ADA@example.com", "another password", 4); !errors.Is(err, admin.ErrDuplicateUser) {
			t.Fatalf("duplicate AddUser = %v, want ErrDuplicateUser", err)
		}
		for _, tc := range []struct{ email, password string }{
			{"not-an-email", "correct horse"},
			{"a b@example.com", "correct horse"},
			{"bob@example.com", "short"},
			{"bob@example.com", strings.Repeat("x", 73)},
		} {
			if _, err := db.AddUser(ctx, tc.email, tc.password, 4); err == nil {
				t.Errorf("AddUser(%q, %d-byte password) succeeded, want a validation error", tc.email, len(tc.password))
			}
		}
		bob, err := db.AddUser(ctx, "bob@example.com", "another password", 4)
		if err != nil {
			t.Fatal(err)
		}

		got, found, err := db.UserByEmail(ctx, "ada@example.com")
		if err != nil || !found || got.ID != ada.ID || got.PasswordHash == "" {
			t.Fatalf("UserByEmail = %+v, %v, %v", got, found, err)
		}
		// The creation time reads back the same from every query.
		if ada.Created.IsZero() || !got.Created.Equal(ada.Created) {
			t.Fatalf("created: AddUser %v, UserByEmail %v; want the same, set", ada.Created, got.Created)
		}
		if _, found, err := db.UserByID(ctx, bob.ID+100); err != nil || found {
			t.Fatalf("UserByID(unknown) = %v, %v; want not found, no error", found, err)
		}
		list, err := db.ListUsers(ctx)
		if err != nil || len(list) != 2 || list[0].Email != "ada@example.com" || list[1].Email != "bob@example.com" {
			t.Fatalf("ListUsers = %+v, %v", list, err)
		}
		if !list[0].Created.Equal(ada.Created) || list[0].PasswordHash != "" {
			t.Fatalf("ListUsers[0] = %+v; want ada's creation time and no password hash", list[0])
		}

		// Removing a user ends that user's sessions and no one else's.
		store := db.Sessions()
		expiry := time.Now().Add(time.Hour)
		for id, uid := range map[string]int64{"ada-1": ada.ID, "ada-2": ada.ID, "bob-1": bob.ID} {
			meta := fmt.Sprintf(`{"user":%q}`, admin.UserKey(uid))
			rec := sessionkit.Record{Values: map[string]json.RawMessage{sessionkit.MetaKey: json.RawMessage(meta)}, Expiry: expiry}
			if err := store.Create(ctx, id, rec); err != nil {
				t.Fatal(err)
			}
		}
		ended, err := db.RemoveUser(ctx, "ADA@example.com")
		if err != nil || ended != 2 {
			t.Fatalf("RemoveUser = %d, %v; want 2 sessions ended", ended, err)
		}
		if _, err := db.RemoveUser(ctx, "ada@example.com"); !errors.Is(err, admin.ErrNoUser) {
			t.Fatalf("second RemoveUser = %v, want ErrNoUser", err)
		}
		if _, found, _ := store.Load(ctx, "bob-1"); !found {
			t.Fatal("removing ada ended bob's session")
		}
		if _, found, _ := store.Load(ctx, "ada-1"); found {
			t.Fatal("ada's session survived her removal")
		}

		// Ids are never handed out again, even the highest one: a session
		// that still names a removed user must not name the next user.
		if _, err := db.RemoveUser(ctx, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		carol, err := db.AddUser(ctx, "carol@example.com", "carols password", 4)
		if err != nil || carol.ID <= bob.ID {
			t.Fatalf("AddUser after removing the newest user = %+v, %v; want an id above the removed %d", carol, err, bob.ID)
		}
	})
}

func TestPrune(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ admin.Config, db *admin.DB) {
		ctx := t.Context()
		store := db.Sessions()
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		for i := range 7 {
			rec := sessionkit.Record{Values: map[string]json.RawMessage{"n": json.RawMessage(fmt.Sprint(i))}, Expiry: past}
			if err := store.Create(ctx, fmt.Sprintf("dead-%d", i), rec); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			if err := store.Create(ctx, fmt.Sprintf("live-%d", i), sessionkit.Record{Expiry: future}); err != nil {
				t.Fatal(err)
			}
		}
		var calls []int
		res, err := db.Prune(ctx, 3, func(deleted, expired int) {
			if expired != 7 {
				t.Errorf("progress expired = %d, want 7", expired)
			}
			calls = append(calls, deleted)
		})
		if err != nil || res.Deleted != 7 || res.Expired != 7 || res.Skipped {
			t.Fatalf("Prune = %+v, %v; want 7 of 7 deleted", res, err)
		}
		if len(calls) != 3 || calls[len(calls)-1] != 7 {
			t.Fatalf("progress calls = %v, want three batches ending at 7", calls)
		}
		counts, err := db.CountSessions(ctx)
		if err != nil || counts != (admin.SessionCounts{Live: 3}) {
			t.Fatalf("CountSessions after prune = %+v, %v; want 3 live, 0 expired", counts, err)
		}
		res, err = db.Prune(ctx, 0, nil)
		if err != nil || res.Deleted != 0 {
			t.Fatalf("second Prune = %+v, %v; want nothing deleted", res, err)
		}
	})
}

func TestSchemaSQL(t *testing.T) {
	for _, b := range []string{admin.Postgres, admin.SQLite} {
		ddl, err := admin.SchemaSQL(b, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`"sessions"`, "expire_idx", `"users"`, "IF NOT EXISTS"} {
			if !strings.Contains(ddl, want) {
				t.Errorf("SchemaSQL(%s) lacks %s:\n%s", b, want, ddl)
			}
		}
		// The shared log-in limits live in PostgreSQL; SQLite keeps them in memory.
		if has := strings.Contains(ddl, `"login_limits"`); has != (b == admin.Postgres) {
			t.Errorf("SchemaSQL(%s) has the login_limits table: %v", b, has)
		}
	}
	if _, err := admin.SchemaSQL("mysql", ""); err == nil {
		t.Error("SchemaSQL(mysql) succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := admin.Open(ctx, admin.Config{DatabaseURL: "postgres://u:hunter2-secret@127.0.0.1:1/db?connect_timeout=2"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("Open on a dead address = %v; want a 'cannot reach' error naming DATABASE_URL, without the password", err)
	}
	_, err = admin.Open(ctx, admin.Config{DatabaseURL: "postgres://u:hunter2-secret@host:notaport/db"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Open on a malformed URL = %v; want an error without the password", err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		"Ada@Example.COM":   "ada@example.com",
		" ada@example.com ": "ada@example.com",
		"":                  "",
		"@example.com":      "",
		"ada@":              "",
		"a@b@c":             "",
		"ada\t@example.com": "",
	} {
		got, err := admin.NormalizeEmail(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
