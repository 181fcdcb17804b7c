package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/backend"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// TestMain lets the test binary stand in for the sessionkit binary: with
// SESSIONKIT_TEST_MAIN=1 it runs main, so tests can check real exit
// statuses and signal handling without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SESSIONKIT_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// result is one in-process run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// forEachBackend runs f on the embedded SQLite default (in a temporary data
// directory) and on PostgreSQL (a fresh schema), with the command's
// environment for each.
func forEachBackend(t *testing.T, f func(t *testing.T, env map[string]string)) {
	backend.Each(t, []backend.Backend{backend.SQLite, backend.Postgres}, func(t *testing.T, _ backend.Backend, s backend.Settings) {
		f(t, s.Env())
	})
}

func TestMigrateIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env map[string]string) {
		for i := range 2 {
			r := runCmd(t, env, "", "migrate")
			if r.code != 0 || !strings.Contains(r.stdout, "sessions table") {
				t.Fatalf("migrate run %d: exit %d, stdout %q, stderr %q", i+1, r.code, r.stdout, r.stderr)
			}
		}
		db, err := admin.Open(t.Context(), admin.Config{DatabaseURL: env["DATABASE_URL"], DataDir: env["DATA_DIR"], PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.CheckSchema(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigratePrint(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "INTEGER NOT NULL"},
		{map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}, "timestamptz"},
	} {
		// --print needs no database: one it cannot reach (the URL above
		// refuses) gets the SQL for a new one.
		r := runCmd(t, tc.env, "", "migrate", "--print")
		if r.code != 0 || !strings.Contains(r.stdout, "CREATE TABLE IF NOT EXISTS \"sessions\"") ||
			!strings.Contains(r.stdout, "CREATE TABLE IF NOT EXISTS \"users\"") || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("migrate --print (%v): exit %d\n%s%s", tc.env, r.code, r.stdout, r.stderr)
		}
	}
}

// TestMigrateConnectPgSimpleTable checks migrate and migrate --print leave
// a connect-pg-simple table as it is, and say so.
func TestMigrateConnectPgSimpleTable(t *testing.T) {
	schema, pool := pgtest.Pool(t)
	if _, err := pool.Exec(t.Context(), pgtest.ConnectPgSimpleTable(`"`+schema+`"."session"`)); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": pool.Config().ConnString(), "SESSION_TABLE": schema + ".session"}
	r := runCmd(t, env, "", "migrate", "--print")
	if r.code != 0 || strings.Contains(r.stdout, "session\" (") || !strings.Contains(r.stdout, "connect-pg-simple") ||
		!strings.Contains(r.stdout, "CREATE TABLE IF NOT EXISTS \"users\"") {
		t.Errorf("migrate --print on a connect-pg-simple table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, env, "", "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "connect-pg-simple table "+schema+".session as it is") {
		t.Errorf("migrate on a connect-pg-simple table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var indexes []string
	rows, _ := pool.Query(t.Context(), `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'session' ORDER BY 1`, schema)
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		indexes = append(indexes, n)
	}
	if err := rows.Err(); err != nil || strings.Join(indexes, ",") != "IDX_session_expire,session_pkey" {
		t.Errorf("indexes on the connect-pg-simple table after migrate: %v (%v), want connect-pg-simple's own", indexes, err)
	}
}

func TestUsersCommands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env map[string]string) {
		runCmd(t, env, "", "migrate")
		r := runCmd(t, env, "correct horse battery staple\n", "users", "add", "--email", "Ada@example.com", "--bcrypt-cost", "4")
		if r.code != 0 || !strings.Contains(r.stdout, "ada@example.com") {
			t.Fatalf("users add: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
		r = runCmd(t, env, "another password\n", "users", "add", "--email", "ada@example.com", "--bcrypt-cost", "4")
		if r.code == 0 || !strings.Contains(r.stderr, "already exists") {
			t.Fatalf("duplicate users add: exit %d, stderr %q; want a clear error", r.code, r.stderr)
		}
		env["BCRYPT_COST"] = "4"
		if r = runCmd(t, env, "bobs password\r\n", "users", "add", "--email", "bob@example.com"); r.code != 0 {
			t.Fatalf("users add bob: %d %s", r.code, r.stderr)
		}

		// The password is the line, without its line ending.
		db, err := admin.Open(t.Context(), admin.Config{DatabaseURL: env["DATABASE_URL"], DataDir: env["DATA_DIR"], PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		bob, found, err := db.UserByEmail(t.Context(), "bob@example.com")
		if err != nil || !found || !strings.HasPrefix(bob.PasswordHash, "$2a$04$") {
			t.Fatalf("bob = %+v, %v, %v; want a cost-4 bcrypt hash", bob, found, err)
		}

		r = runCmd(t, env, "", "users", "list")
		if r.code != 0 || !strings.Contains(r.stdout, "ada@example.com") || !strings.Contains(r.stdout, "bob@example.com") {
			t.Fatalf("users list: %d %q", r.code, r.stdout)
		}
		if r = runCmd(t, env, "", "users", "remove", "--email", " ADA@example.com"); r.code != 0 || !strings.Contains(r.stdout, "removed <ada@example.com>") {
			t.Fatalf("users remove: %d %q %s", r.code, r.stdout, r.stderr)
		}
		if r = runCmd(t, env, "", "users", "remove", "--email", "ada@example.com"); r.code == 0 || !strings.Contains(r.stderr, "no user") {
			t.Fatalf("removing a missing user: %d %q", r.code, r.stderr)
		}
	})
}

func TestUsersAddRefuses(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir()}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"no email", "pw\n", []string{"users", "add"}, 2, "--email is required"},
		{"no password", "", []string{"users", "add", "--email", "a@example.com"}, 1, "no password on standard input"},
		{"short password", "short\n", []string{"users", "add", "--email", "a@example.com"}, 1, "8 to 72 bytes"},
		// The address is refused before the password is read: stdin is empty.
		{"not an email", "", []string{"users", "add", "--email", "not-an-email"}, 1, "not an email address"},
		{"password in argv", "", []string{"users", "add", "--email", "a@example.com", "--password", "x"}, 2, "not defined"},
		{"unknown subcommand", "", []string{"users", "rename"}, 2, "unknown subcommand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, env, tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.want)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	forEachBackend(t, func(t *testing.T, env map[string]string) {
		runCmd(t, env, "", "migrate")
		db, err := admin.Open(t.Context(), admin.Config{DatabaseURL: env["DATABASE_URL"], DataDir: env["DATA_DIR"], PruneInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		store := db.Sessions()
		for i := range 5 {
			expiry := time.Now().Add(-time.Minute) // expired
			if i >= 3 {
				expiry = time.Now().Add(time.Hour) // live
			}
			if err := store.Create(t.Context(), fmt.Sprintf("s%d", i), sessionkit.Record{Expiry: expiry}); err != nil {
				t.Fatal(err)
			}
		}
		r := runCmd(t, env, "", "prune", "--batch", "2")
		if r.code != 0 || !strings.Contains(r.stdout, "deleted 3 of 3 expired sessions") {
			t.Fatalf("prune: exit %d, %q %q", r.code, r.stdout, r.stderr)
		}
		counts, err := db.CountSessions(t.Context())
		if err != nil || counts != (admin.SessionCounts{Live: 2}) {
			t.Fatalf("after prune: %+v, %v; want the 2 live sessions only", counts, err)
		}
	})
}

// TestServeRefusesBadConfig: every configuration error exits 2 and names the
// setting the user changes, never the library's Config fields.
func TestServeRefusesBadConfig(t *testing.T) {
	secret := strings.Repeat("s", 40)
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"production without secret", map[string]string{"APP_ENV": "production"}, "SESSION_SECRET is not set"},
		{"short secret", map[string]string{"SESSION_SECRET": "tooshort"}, "SESSION_SECRET (--session-secret): secret 1 of 1 is 8 bytes: each needs at least 32 random bytes"},
		{"short old secret", map[string]string{"SESSION_SECRET": secret + ",short"}, "SESSION_SECRET (--session-secret): secret 2 of 2 is 5 bytes"},
		{"SameSite=None over plain HTTP", map[string]string{"SESSION_SECRET": secret, "COOKIE_SAMESITE": "none"}, "COOKIE_SAMESITE (--cookie-samesite): none needs Secure cookies, which sessionkit serve sets only with APP_ENV=production"},
		{"__Host- in development", map[string]string{"COOKIE_NAME": "__Host-sid"}, "COOKIE_NAME (--cookie-name): \"__Host-sid\" needs Secure cookies, which sessionkit serve sets only with APP_ENV=production"},
		{"bad cookie name", map[string]string{"COOKIE_NAME": "a;b"}, "COOKIE_NAME (--cookie-name): \"a;b\" is not a valid cookie name"},
		{"bad cookie domain", map[string]string{"COOKIE_DOMAIN": "example.com:8080"}, "COOKIE_DOMAIN (--cookie-domain): \"example.com:8080\" is not a host name"},
		{"bad duration", map[string]string{"SESSION_TTL": "a week"}, "SESSION_TTL"},
		{"bad database URL", map[string]string{"DATABASE_URL": "postgres://u:hunter2@db:port/x"}, "DATABASE_URL"},
		{"bad Redis URL", map[string]string{"REDIS_URL": "http://cache:6379"}, "REDIS_URL"},
		{"braces in the Redis prefix", map[string]string{"REDIS_PREFIX": "{x}"}, "REDIS_PREFIX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["DATA_DIR"] = t.TempDir()
			tc.env["ADDR"] = "127.0.0.1:0"
			r := runCmd(t, tc.env, "", "serve")
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("serve: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
			for _, internal := range []string{"Config.", "sessionkit: ", "admin: ", "hunter2"} {
				if strings.Contains(r.stderr, internal) {
					t.Fatalf("stderr %q says %q", r.stderr, internal)
				}
			}
		})
	}
}

// TestServeDatabaseRefused: a PostgreSQL that refuses the connection is
// an error that names DATABASE_URL, and the failed start leaves no
// development secret behind in DATA_DIR.
func TestServeDatabaseRefused(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, map[string]string{"DATA_DIR": dir, "ADDR": "127.0.0.1:0",
		"DATABASE_URL": "postgres://postgres@127.0.0.1:1/test?connect_timeout=2"}, "", "serve")
	if r.code == 0 || !strings.Contains(r.stderr, "cannot reach") || !strings.Contains(r.stderr, "DATABASE_URL") {
		t.Fatalf("serve: exit %d, stderr %q; want a failure naming DATABASE_URL", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "session-secret")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed start left %s/session-secret behind (stat: %v)", dir, err)
	}
}

// TestRedisRefused: a REDIS_URL whose server, cluster seeds or Sentinels
// refuse the connection stops serve (exit 1) and doctor redis (exit 2) with
// one line naming the URL, and nothing of go-redis's own logging (its pool
// logs each failed dial round: four lines before this was checked first).
func TestRedisRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	urls := map[string]string{
		"single":   "redis://" + closed + "/0",
		"cluster":  "redis+cluster://" + closed + "," + closed,
		"sentinel": "redis+sentinel://" + closed + "/mymaster",
	}
	for name, url := range urls {
		for _, c := range []struct {
			args []string
			code int
		}{
			{[]string{"serve"}, 1},
			{[]string{"doctor", "redis", url}, 2},
		} {
			t.Run(name+"/"+c.args[0], func(t *testing.T) {
				env := []string{"DATA_DIR=" + t.TempDir(), "ADDR=127.0.0.1:0", "REDIS_URL=" + url}
				cmd, stderr := process(t, env, c.args...)
				out, err := io.ReadAll(stderr)
				if err != nil {
					t.Fatal(err)
				}
				var exit *exec.ExitError
				if err := cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != c.code {
					t.Errorf("%s with REDIS_URL=%s: %v, want exit status %d", c.args, url, err, c.code)
				}
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], "cannot reach") || !strings.Contains(lines[0], closed) {
					t.Errorf("%s with REDIS_URL=%s printed %d lines, want one naming the URL:\n%s", c.args, url, len(lines), out)
				}
				if strings.Contains(string(out), "go-redis") || strings.Contains(string(out), "pool.go") {
					t.Errorf("%s with REDIS_URL=%s logged go-redis's own lines:\n%s", c.args, url, out)
				}
			})
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	if r := runCmd(t, nil, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "unknown command") {
		t.Fatalf("exit %d, %q", r.code, r.stderr)
	}
	if r := runCmd(t, nil, ""); r.code != 2 || !strings.Contains(r.stderr, "Usage") {
		t.Fatalf("no command: exit %d, %q", r.code, r.stderr)
	}
	if r := runCmd(t, nil, "", "doctor", "-h"); strings.Contains(r.stderr, "unknown command") || !strings.Contains(r.stdout+r.stderr, "doctor") {
		t.Fatalf("doctor -h: exit %d, %q %q; want doctor's own usage", r.code, r.stdout, r.stderr)
	}
	// The top-level usage names every users subcommand that `users -h` has.
	users := runCmd(t, nil, "", "users")
	subs := regexp.MustCompile(`sessionkit users ([a-z]+)`).FindAllStringSubmatch(users.stderr+users.stdout, -1)
	if len(subs) < 7 {
		t.Fatalf("`sessionkit users` lists %d subcommands, want its whole usage: %q", len(subs), users.stderr)
	}
	for _, m := range subs {
		if !strings.Contains(usage, "|"+m[1]) && !strings.Contains(usage, "users "+m[1]) {
			t.Errorf("the usage of an unknown command does not name `users %s`", m[1])
		}
	}
}

// process starts this test binary as `sessionkit` with args and env.
func process(t *testing.T, env []string, args ...string) (*exec.Cmd, io.ReadCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	// Later entries win: the test's settings over a clean slate over the
	// developer's environment.
	clean := []string{"DATABASE_URL=", "APP_ENV=", "SESSION_SECRET=", "SESSION_DEBUG=", "AUTO_MIGRATE=", "LOG_LEVEL="}
	cmd.Env = append(append(append(os.Environ(), clean...), env...), "SESSIONKIT_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, stderr
}

var listeningRE = regexp.MustCompile(`listening on (http://[^\s"]+)`)

// TestServeProcess runs the real binary: it announces its address, serves,
// and on SIGTERM shuts down in order and exits 0.
func TestServeProcess(t *testing.T) {
	cmd, stderr := process(t, []string{"DATA_DIR=" + t.TempDir(), "ADDR=127.0.0.1:0", "BCRYPT_COST=4"}, "serve")
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url string
	var log []string
	timeout := time.After(30 * time.Second)
	for url == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before listening:\n%s", strings.Join(log, "\n"))
			}
			log = append(log, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				url = m[1]
			}
		case <-timeout:
			t.Fatalf("no 'listening on' line:\n%s", strings.Join(log, "\n"))
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || h["status"] != "ok" {
		t.Fatalf("/healthz = %d %v", resp.StatusCode, h)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		log = append(log, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, strings.Join(log, "\n"))
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{"SESSION_SECRET is not set", "shutting down", "stopped"} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
}

// TestServeProcessExitStatus: a refused configuration is a non-zero exit
// of the real process, with the reason on stderr.
func TestServeProcessExitStatus(t *testing.T) {
	cmd, stderr := process(t, []string{"DATA_DIR=" + t.TempDir(), "APP_ENV=production"}, "serve")
	out, _ := io.ReadAll(stderr)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("serve in production without a secret: %v; want a non-zero exit", err)
	}
	if !strings.Contains(string(out), "SESSION_SECRET is not set") {
		t.Fatalf("stderr = %q", out)
	}
}

func TestHelpHidesDatabasePassword(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://app:leaked-password@db/app"}
	for _, args := range [][]string{{"users", "add", "-h"}, {"prune", "-h"}, {"migrate", "-h"}, {"serve", "-h"}} {
		r := runCmd(t, env, "", args...)
		if r.code != 0 || strings.Contains(r.stdout+r.stderr, "leaked") || !strings.Contains(r.stdout, "DATABASE_URL") {
			t.Errorf("%v: exit %d, output:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// serveProcess starts `sessionkit serve` as a process with env and returns
// it, its base URL and its stderr lines (the channel closes when it exits).
func serveProcess(t *testing.T, env ...string) (cmd *exec.Cmd, url string, lines <-chan string) {
	t.Helper()
	cmd, stderr := process(t, append([]string{"DATA_DIR=" + t.TempDir(), "ADDR=127.0.0.1:0", "BCRYPT_COST=4"}, env...), "serve")
	ch := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	m := waitForLine(t, ch, listeningRE)
	return cmd, m[1], ch
}

// waitForLine reads lines until one matches re, and fails the test if the
// process exits or 30 seconds pass first.
func waitForLine(t *testing.T, lines <-chan string, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the process exited before logging %q:\n%s", re, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			t.Fatalf("no line matching %q:\n%s", re, strings.Join(seen, "\n"))
		}
	}
}

// inFlightLogin starts a log-in whose body is held back, and returns once
// the handler is reading it (the server has answered 100 Continue), so the
// request is certainly in flight. Writing the rest of body to the
// connection completes it.
func inFlightLogin(t *testing.T, url, body string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "100") {
		t.Fatalf("want 100 Continue, got %q, %v", status, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}
	return conn, br, body
}

// TestServeProcessFinishesInFlight: on SIGTERM a request already in flight
// still gets its answer, and the process then exits 0.
func TestServeProcessFinishesInFlight(t *testing.T) {
	cmd, url, lines := serveProcess(t, "SHUTDOWN_TIMEOUT=1h")
	conn, br, body := inFlightLogin(t, url, `{"email":"nobody@example.com","password":"wrong password"}`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, lines, regexp.MustCompile("shutting down"))
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("in-flight log-in = %d, want its 401", resp.StatusCode)
	}
	waitForLine(t, lines, regexp.MustCompile("stopped"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestServeProcessSecondSignal: while a graceful shutdown waits for a
// request that does not finish, another signal ends the process instead of
// leaving it to SHUTDOWN_TIMEOUT.
func TestServeProcessSecondSignal(t *testing.T) {
	cmd, url, lines := serveProcess(t, "SHUTDOWN_TIMEOUT=1h")
	inFlightLogin(t, url, `{"email":"nobody@example.com","password":"wrong password"}`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, lines, regexp.MustCompile("shutting down"))
	exited := make(chan error, 1)
	go func() {
		for range lines { // drain, so the process never blocks on stderr
		}
		exited <- cmd.Wait()
	}()
	// The default handling is restored just after the first signal is
	// seen; keep signalling until it takes effect.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case err := <-exited:
			if err == nil {
				t.Fatal("exit 0 after a second signal with a request still in flight; want it cut off")
			}
			return
		case <-tick.C:
			cmd.Process.Signal(syscall.SIGTERM)
		case <-timeout:
			t.Fatal("a second SIGTERM did not end the process: it is waiting out SHUTDOWN_TIMEOUT")
		}
	}
}

// TestServeCPUProfile: with SESSIONKIT_CPU_PROFILE, serve writes a CPU
// profile (pprof's gzipped protobuf) when it shuts down; an unwritable path
// refuses to start.
func TestServeCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	cmd, url, lines := serveProcess(t, "SESSIONKIT_CPU_PROFILE="+path)
	if resp, err := http.Get(url + "/api/user"); err == nil {
		resp.Body.Close()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, lines, regexp.MustCompile("stopped"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile: %d bytes, %v; want a gzipped pprof profile", len(b), err)
	}
	r := runCmd(t, map[string]string{"DATA_DIR": t.TempDir(), "ADDR": "127.0.0.1:0", "SESSIONKIT_CPU_PROFILE": filepath.Join(t.TempDir(), "missing", "cpu.pprof")}, "", "serve")
	if r.code != 2 || !strings.Contains(r.stderr, "SESSIONKIT_CPU_PROFILE") {
		t.Errorf("unwritable profile path: exit %d, stderr %s", r.code, r.stderr)
	}
}
