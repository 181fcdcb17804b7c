package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// TestASVS_7_4_5_OperatorEndsUserSessions: an operator lists one user's
// sessions and ends them all from the command line, and `users disable`
// ends them too (ASVS 7.4.2); other users' sessions stay.
func TestASVS_7_4_5_OperatorEndsUserSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env map[string]string) {
		runCmd(t, env, "", "migrate")
		env["BCRYPT_COST"] = "4"
		for _, email := range []string{"ada@example.com", "bob@example.com"} {
			if r := runCmd(t, env, "correct horse battery staple\n", "users", "add", "--email", email); r.code != 0 {
				t.Fatalf("users add: %d %s", r.code, r.stderr)
			}
		}
		db, err := admin.Open(t.Context(), admin.Config{DatabaseURL: env["DATABASE_URL"], DataDir: env["DATA_DIR"], PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		store := db.Sessions()
		bind := func(id, email, ua string) {
			t.Helper()
			u, _, err := db.UserByEmail(t.Context(), email)
			if err != nil {
				t.Fatal(err)
			}
			meta, _ := json.Marshal(map[string]any{"user": admin.UserKey(u.ID), "seen": time.Now().Unix(), "ua": ua, "addr": "203.0.113.0/24"})
			rec := sessionkit.Record{Values: map[string]json.RawMessage{sessionkit.MetaKey: meta}, Expiry: time.Now().Add(time.Hour)}
			if err := store.Create(t.Context(), id, rec); err != nil {
				t.Fatal(err)
			}
		}
		live := func(id string) bool {
			_, found, err := store.Load(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			return found
		}
		bind("ada-phone", "ada@example.com", "Phone/1.0")
		bind("ada-laptop", "ada@example.com", "Laptop/2.0")
		bind("bob-1", "bob@example.com", "Bob/1.0")

		r := runCmd(t, env, "", "users", "sessions", "--email", "ada@example.com")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 3 || !strings.Contains(r.stdout, "Phone/1.0") ||
			!strings.Contains(r.stdout, "203.0.113.0/24") || strings.Contains(r.stdout, "ada-phone") || strings.Contains(r.stdout, "Bob") {
			t.Fatalf("users sessions: %d %q %s; want a header and ada's two sessions, by handle", r.code, r.stdout, r.stderr)
		}
		r = runCmd(t, env, "", "users", "revoke", "--email", "ada@example.com")
		if r.code != 0 || !strings.Contains(r.stdout, "ended 2 session(s)") {
			t.Fatalf("users revoke: %d %q %s", r.code, r.stdout, r.stderr)
		}
		if live("ada-phone") || live("ada-laptop") || !live("bob-1") {
			t.Fatal("users revoke must end all of ada's sessions and none of bob's")
		}

		bind("bob-2", "bob@example.com", "Bob/2.0")
		r = runCmd(t, env, "", "users", "disable", "--email", "bob@example.com")
		if r.code != 0 || !strings.Contains(r.stdout, "ended 2 session(s)") {
			t.Fatalf("users disable: %d %q %s", r.code, r.stdout, r.stderr)
		}
		if live("bob-1") || live("bob-2") {
			t.Fatal("users disable left a session")
		}
		if u, _, _ := db.UserByEmail(t.Context(), "bob@example.com"); !u.Disabled() {
			t.Fatalf("bob not disabled: %+v", u)
		}
		if r = runCmd(t, env, "", "users", "enable", "--email", "bob@example.com"); r.code != 0 {
			t.Fatalf("users enable: %d %s", r.code, r.stderr)
		}
		if u, _, _ := db.UserByEmail(t.Context(), "bob@example.com"); u.Disabled() || !strings.HasPrefix(u.PasswordHash, "$2") {
			t.Fatalf("bob still disabled: %+v", u)
		}
		bind("ada-3", "ada@example.com", "Tablet")
		bind("bob-3", "bob@example.com", "Bob/3.0")
		r = runCmd(t, env, "", "users", "revoke", "--all")
		if r.code != 0 || !strings.Contains(r.stdout, "ended 2 session(s) of every user") || live("ada-3") || live("bob-3") {
			t.Fatalf("users revoke --all: %d %q %s", r.code, r.stdout, r.stderr)
		}
		if r = runCmd(t, env, "", "users", "revoke", "--all", "--email", "ada@example.com"); r.code != 2 {
			t.Fatalf("users revoke with --all and --email: %d, want 2", r.code)
		}
		for _, sub := range []string{"sessions", "revoke", "disable", "enable"} {
			if r = runCmd(t, env, "", "users", sub, "--email", "nobody@example.com"); r.code != 1 || !strings.Contains(r.stderr, "no user") {
				t.Fatalf("users %s of a missing user: %d %q", sub, r.code, r.stderr)
			}
		}
	})
}
