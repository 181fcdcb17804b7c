package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// TestHelpEverywhere: -h and --help print the usage to standard output and
// exit 0, for every command and subcommand.
func TestHelpEverywhere(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir(), "DATABASE_URL": "postgres://u:hunter2@127.0.0.1:1/x"}
	for _, cmd := range [][]string{
		{}, {"serve"}, {"users"}, {"users", "add"}, {"users", "import"}, {"users", "list"}, {"users", "remove"}, {"users", "disable"},
		{"users", "enable"}, {"users", "sessions"}, {"users", "revoke"}, {"prune"}, {"migrate"},
		{"doctor"}, {"doctor", "http"}, {"doctor", "db"}, {"doctor", "pair"}, {"doctor", "redis"},
	} {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := runCmd(t, env, "", args...)
				if r.code != 0 || r.stderr != "" || !strings.Contains(strings.ToLower(r.stdout), "usage") {
					t.Fatalf("exit %d, stdout %q, stderr %q; want 0, the usage on stdout, nothing on stderr", r.code, r.stdout, r.stderr)
				}
				if strings.Contains(r.stdout, "hunter2") {
					t.Fatalf("the usage shows a password from the environment: %q", r.stdout)
				}
			})
		}
	}
}

// TestServeHelpShowsTypes: serve -h says what each flag takes.
func TestServeHelpShowsTypes(t *testing.T) {
	r := runCmd(t, nil, "", "serve", "-h")
	for _, want := range []string{"--session-ttl duration", "--bcrypt-cost int", "--trusted-proxies list", "--addr string", "--session-debug\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, " value\n") {
		t.Errorf("serve -h shows a flag's type as value:\n%s", r.stdout)
	}
}

func TestVersion(t *testing.T) {
	r := runCmd(t, nil, "", "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "sessionkit ") || !strings.Contains(r.stdout, "go1.") {
		t.Fatalf("--version: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestUsersListJSON(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	if r := runCmd(t, env, "correct horse battery staple\n", "users", "add", "--email", "ada@example.com", "--bcrypt-cost", "4"); r.code != 0 {
		t.Fatalf("users add: %d %q", r.code, r.stderr)
	}
	r := runCmd(t, env, "", "users", "list", "--json")
	var users []struct {
		ID      int64  `json:"id"`
		Email   string `json:"email"`
		Created string `json:"created"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil || r.code != 0 {
		t.Fatalf("users list --json: exit %d, %q: %v", r.code, r.stdout, err)
	}
	if len(users) != 1 || users[0].Email != "ada@example.com" || users[0].ID == 0 || users[0].Created == "" {
		t.Fatalf("users: %+v", users)
	}
}

// TestCommandMessages: refusals exit 2 with a message that names the flag,
// and no message carries an internal package's prefix.
func TestCommandMessages(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"negative batch", "", []string{"prune", "--batch", "-1"}, 2, "sessionkit prune: --batch is -1: give at least 1"},
		{"zero batch", "", []string{"prune", "--batch", "0"}, 2, "--batch is 0"},
		{"short password", "short\n", []string{"users", "add", "--email", "a@example.com"}, 1, "sessionkit users add: password must be 8 to 72 bytes"},
		{"bad database URL", "", []string{"users", "list", "--database-url", "postgres://u:hunter2@db:port/x"}, 2, "DATABASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, env, tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
			for _, internal := range []string{"admin: ", "pgstore: ", "sqlitestore: ", "hunter2"} {
				if strings.Contains(r.stderr, internal) {
					t.Fatalf("stderr %q says %q", r.stderr, internal)
				}
			}
		})
	}
}

// TestDoctorDBReadsDatabaseURL: like every command, doctor db takes the
// database from DATABASE_URL when given none.
func TestDoctorDBReadsDatabaseURL(t *testing.T) {
	schema, url := pgtest.Schema(t)
	r := runCmd(t, map[string]string{"DATABASE_URL": url}, "", "doctor", "db", "--schema", schema)
	if r.code != 2 || !strings.Contains(r.stderr, "no table with sid, sess") {
		t.Fatalf("doctor db with DATABASE_URL: exit %d, %q %q; want it to read the (empty) schema", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, nil, "", "doctor", "db"); r.code != 2 || !strings.Contains(r.stderr, "DATABASE_URL") {
		t.Fatalf("doctor db without either: exit %d, %q", r.code, r.stderr)
	}
}
