package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

const (
	secret     = "interop-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	cookieName = "cf.sid" // the seed's name
	password   = "correct horse battery staple"
)

// appDir is the express app's directory.
var appDir = filepath.Join("testdata", "expressapp")

// stack is one shared database with a Go and a Node instance on it.
type stack struct {
	schema  string
	pool    *pgxpool.Pool // the test's own connections, in the stack's TimeZone
	goURL   string
	nodeURL string
	goLog   *lockedBuffer
	nodeLog *lockedBuffer
	users   []user
	// nodeOnly are accounts the Node app has and serve's users table does
	// not: one whose id serve has never seen, and one whose id serve gives
	// another email (see nodeOnlyUsers).
	nodeOnly []user
}

type user struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// lockedBuffer collects a process's output: the shared log buffer.
type lockedBuffer = sessiontest.LogBuffer

// startStack makes connect-pg-simple's table in a fresh schema, starts
// `sessionkit serve`'s server and the express app on it, and adds nUsers
// users to sessionkit's users table, which the Node app is given too. zone,
// when not "", is the TimeZone of every connection (Go's, Node's and the
// test's).
func startStack(t *testing.T, zone string, nUsers int) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{zone: zone, users: nUsers})
}

// stackOptions vary the stack: the TimeZone, how many users, and whether
// the Node app logs in with passport (AUTH=passport, with serve's
// SESSION_USER_KEY=passport.user to match).
type stackOptions struct {
	zone     string
	users    int
	passport bool
	// goEnv and nodeEnv add to (or override) each side's environment.
	goEnv, nodeEnv map[string]string
}

func startStackWith(t *testing.T, o stackOptions) *stack {
	t.Helper()
	zone, nUsers := o.zone, o.users
	schema, goDB := pgtest.Schema(t)
	nodeDB := pgtest.URL()
	if zone != "" {
		goDB, nodeDB = pgtest.WithTimeZone(goDB, zone), pgtest.WithTimeZone(nodeDB, zone)
	}
	pool, err := pgxpool.New(context.Background(), goDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// The table exactly as connect-pg-simple creates it, from the installed
	// package's own table.sql.
	tableSQL, err := os.ReadFile(filepath.Join(appDir, "node_modules", "connect-pg-simple", "table.sql"))
	if err != nil {
		t.Fatalf("the express app is not installed (run `npm ci` in %s, as ./scripts/test does): %v", appDir, err)
	}
	if string(tableSQL) != pgtest.ConnectPgSimpleSQL {
		t.Fatalf("connect-pg-simple's table.sql changed; update pgtest.ConnectPgSimpleSQL:\n%s", tableSQL)
	}
	if _, err := pool.Exec(t.Context(), pgtest.ConnectPgSimpleTable(`"`+schema+`"."session"`)); err != nil {
		t.Fatal(err)
	}

	s := &stack{schema: schema, pool: pool, goLog: &lockedBuffer{}, nodeLog: &lockedBuffer{}}
	goEnv, nodeEnv := map[string]string{}, map[string]string{}
	if o.passport {
		goEnv["SESSION_USER_KEY"], nodeEnv["AUTH"] = "passport.user", "passport"
	}
	maps.Copy(goEnv, o.goEnv)
	maps.Copy(nodeEnv, o.nodeEnv)
	s.startGo(t, goDB, nUsers, goEnv)
	s.nodeOnly = nodeOnlyUsers(s.users)
	if o.passport {
		// passport's deserializeUser finds users by id alone: the same id
		// under another email is the same user to Node as well.
		s.nodeOnly = s.nodeOnly[:1]
	}
	s.nodeURL = startNode(t, s.nodeLog, map[string]string{
		"DATABASE_URL":   nodeDB,
		"SESSION_SCHEMA": schema,
		"SESSION_TABLE":  "session",
		"SESSION_SECRET": secret,
		"COOKIE_NAME":    cookieName,
		"USERS":          s.usersJSON(t),
	}, nodeEnv)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sessionkit log:\n%s\nexpress log:\n%s", s.goLog, s.nodeLog)
		}
	})
	return s
}

// startGo starts the reference server as `sessionkit serve` would with
// this environment, plus two test routes on its session manager, and adds
// the users.
func (s *stack) startGo(t *testing.T, databaseURL string, nUsers int, extra map[string]string) {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":   databaseURL,
		"SESSION_TABLE":  s.schema + ".session",
		"SESSION_SECRET": secret,
		"COOKIE_NAME":    cookieName,
		"BCRYPT_COST":    "4",
		"PRUNE_INTERVAL": "off",
		// Every browser comes through one address (the test's proxy, not
		// trusted), and a log-in counts against it while in flight.
		"LOGIN_MAX_FAILURES_PER_ADDR": "1000",
		"LOG_LEVEL":                   "debug",
	}
	maps.Copy(env, extra)
	loaded, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Logger = slog.New(slog.NewTextHandler(s.goLog, &slog.HandlerOptions{Level: loaded.LogLevel}))
	srv, err := server.New(t.Context(), loaded.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if want := "connect-pg-simple layout"; env["REDIS_URL"] != "" {
		want = "connect-redis's layout"
		if !strings.Contains(s.goLog.String(), want) {
			t.Fatalf("serve did not log that it uses %s:\n%s", want, s.goLog)
		}
	} else if !strings.Contains(s.goLog.String(), want) {
		t.Fatalf("serve did not log that it found connect-pg-simple's layout:\n%s", s.goLog)
	}
	for i := range nUsers {
		u, err := srv.DB().AddUser(t.Context(), fmt.Sprintf("user%d@example.com", i), password, 4)
		if err != nil {
			t.Fatal(err)
		}
		s.users = append(s.users, user{ID: u.ID, Email: u.Email, Password: password})
	}
	// Test routes: any key set and every key read, through the server's own
	// manager, so Go's writes are the library's as serve configures it.
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	m := srv.Manager()
	mux.Handle("POST /api/go-key", m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessionkit.From(r)
		if err == nil {
			err = sess.Put("goKey", r.URL.Query().Get("value"))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	})))
	mux.Handle("GET /api/keys", m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := sessionkit.From(r)
		var keys []string
		if err == nil {
			keys, err = sess.Keys()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		out := map[string]json.RawMessage{}
		for _, k := range keys {
			var v json.RawMessage
			if _, err := sess.Get(k, &v); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			out[k] = v
		}
		json.NewEncoder(w).Encode(out)
	})))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	s.goURL = ts.URL
}

// nodeOnlyUsers returns the Node app's accounts that serve cannot map:
// an id serve has never handed out and, when there is a user, the first
// user's id under another email.
func nodeOnlyUsers(users []user) []user {
	out := []user{{ID: 900_001, Email: "node-only@example.com", Password: password}}
	if len(users) > 0 {
		out = append(out, user{ID: users[0].ID, Email: "node-other@example.com", Password: password})
	}
	return out
}

func (s *stack) usersJSON(t *testing.T) string {
	b, err := json.Marshal(append(slices.Clone(s.users), s.nodeOnly...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startNode runs the express app with env on a free port and returns its
// URL; the process is killed when the test ends. Its output goes to log.
func startNode(t *testing.T, log *lockedBuffer, envs ...map[string]string) string {
	t.Helper()
	return startNodeApp(t, appDir, "server.js", "listening on ", log, envs...)
}

// startNodeApp runs the Node app script in dir with envs on a free port and
// returns its URL, which it prints after ready.
func startNodeApp(t *testing.T, dir, script, ready string, log *lockedBuffer, envs ...map[string]string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the express-session interop tests: %v", err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PORT=0", "NODE_ENV=production")
	for _, env := range envs {
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			log.Write([]byte(line + "\n"))
			if u, ok := strings.CutPrefix(line, ready); ok && !sent {
				addr <- u
				sent = true
			}
		}
		if !sent {
			close(addr)
		}
	}()
	select {
	case u, ok := <-addr:
		if !ok {
			t.Fatalf("the express app exited before listening:\n%s", log)
		}
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("the express app did not start within 30s:\n%s", log)
	}
	return ""
}

// browser is one client with its own cookie jar.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends a request and returns the status and body.
func (b *browser) do(method, url string, body any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

// must sends a request and fails the test unless the status is want.
func (b *browser) must(want int, method, url string, body any) string {
	b.t.Helper()
	code, data, err := b.do(method, url, body)
	if err != nil || code != want {
		b.t.Fatalf("%s %s: %d %s (%v), want %d", method, url, code, data, err, want)
	}
	return data
}

func (b *browser) login(base string, u user) {
	b.t.Helper()
	b.must(200, "POST", base+"/api/login", map[string]string{"email": u.Email, "password": u.Password})
}

// cookie returns the browser's session cookie for base.
func (b *browser) cookie(base string) *http.Cookie {
	for _, c := range b.client.Jar.Cookies(sessiontest.MustURL(b.t, base)) {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// roundRobin is a reverse proxy sending each request to the next backend.
func roundRobin(t *testing.T, backends ...string) string {
	var targets []*url.URL
	for _, b := range backends {
		targets = append(targets, sessiontest.MustURL(t, b))
	}
	var n atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(n.Add(1)-1)%uint64(len(targets))])
		},
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(ts.Close)
	return ts.URL
}

// rows counts the rows of the shared table.
func (s *stack) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM "`+s.schema+`"."session"`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// noErrors fails the test if either side logged an error.
func (s *stack) noErrors(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(s.goLog.String(), "\n") {
		// The log-out scenarios replay a dead session's cookie on purpose:
		// serve's security stream reports each such request at Warn.
		replay := strings.Contains(line, "event=session_ended") && strings.Contains(line, "reason=expired")
		if (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) && !replay {
			t.Errorf("sessionkit logged: %s", line)
		}
	}
	for _, line := range strings.Split(s.nodeLog.String(), "\n") {
		if strings.Contains(line, "Error") || strings.Contains(line, "error") {
			t.Errorf("express logged: %s", line)
		}
	}
}

// rowVersion returns the row version (xmin) of u's session, found by its
// email or its passport user: it changes with every write of the row.
func (s *stack) rowVersion(t *testing.T, u user) string {
	t.Helper()
	var v string
	if err := s.pool.QueryRow(t.Context(), `SELECT xmin::text FROM "`+s.schema+`"."session" WHERE sess->>'email' = $1 OR sess->'passport'->>'user' = $2`,
		u.Email, fmt.Sprint(u.ID)).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
