package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// Settings every instance shares.
const (
	// cookieName exercises the strictest prefix: __Host- needs Secure, Path=/
	// and no Domain, so the instances must believe the proxy's
	// X-Forwarded-Proto for browsers to keep the cookie.
	cookieName = "__Host-sid"
	// bcryptCost is the lowest bcrypt allows, so that hundreds of log-ins
	// take milliseconds, not minutes.
	bcryptCost = bcrypt.MinCost
	// password is every test user's password.
	password = "correct horse battery staple"
)

// Secrets: 48 characters each, as `openssl rand -base64 36` would give.
const (
	secretA = "reliability-secret-A-0123456789abcdefghijklmnopq"
	secretB = "reliability-secret-B-0123456789abcdefghijklmnopq"
	secretC = "reliability-secret-C-0123456789abcdefghijklmnopq"
)

// database is one test's PostgreSQL schema with the server's tables.
type database struct {
	// url connects straight to PostgreSQL with the schema on the search_path.
	url    string
	schema string
	// pool is the test's own connection, for checks.
	pool *pgxpool.Pool
	// dataDir is the DATA_DIR every command gets, so nothing is written
	// into the package directory.
	dataDir string
	// redis, when set, holds the sessions (REDIS_URL); the users stay in
	// the schema.
	redis *sessionRedis
	// cache turns the session cache on in every instance (SESSION_CACHE).
	cache bool
}

// newDatabase creates a schema, runs `sessionkit migrate` on it and returns
// it; everything is dropped when t ends.
func newDatabase(t *testing.T) *database {
	t.Helper()
	schema, u := pgtest.Schema(t)
	pool, err := pgxpool.New(context.Background(), u+"&pool_max_conns=4")
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(pool.Close)
	db := &database{url: u, schema: schema, pool: pool, dataDir: t.TempDir()}
	out := db.command(t, nil, "", "migrate")
	if out.code != 0 {
		t.Fatalf("sessionkit migrate: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	return db
}

// env is the environment of a command against db: the base settings of
// every instance, then extra.
func (db *database) env(extra map[string]string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":    db.url,
		"DATA_DIR":        db.dataDir,
		"APP_ENV":         "production",
		"SESSION_SECRET":  secretA,
		"ADDR":            "127.0.0.1:0",
		"TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
		"COOKIE_NAME":     cookieName,
		"BCRYPT_COST":     fmt.Sprint(bcryptCost),
		"PRUNE_INTERVAL":  "off",
		"LOG_LEVEL":       "info",
		// Every browser here comes from one address, and a log-in in
		// flight counts against its address (docs/login-limits.md): 500
		// browsers logging in at once from one address are refused
		// beyond the per-address limit, on every instance together.
		// These scenarios test sessions, not that limit.
		"LOGIN_MAX_FAILURES_PER_ADDR": "1000000",
	}
	if db.redis != nil {
		db.redis.env(env)
	}
	if db.cache {
		env["SESSION_CACHE"] = "on"
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// cmdResult is a finished command.
type cmdResult struct {
	stdout, stderr string
	code           int
}

// command runs `sessionkit args…` to completion (at most two minutes) with
// db's environment plus extra and stdin; it fails t if the command cannot
// be run at all.
func (db *database) command(t *testing.T, extra map[string]string, stdin string, args ...string) cmdResult {
	t.Helper()
	res, err := db.run(extra, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// run is command for goroutines other than the test's.
func (db *database) run(extra map[string]string, stdin string, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = environ(db.env(extra))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := cmdResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		return res, fmt.Errorf("sessionkit %s: %w", strings.Join(args, " "), err)
	}
	return res, nil
}

// environ is the process environment with the keys of env replaced.
func environ(env map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ours := env[k]; !ours {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// ownProcessGroup puts the command in its own process group, so cleanup can
// kill it with everything it started, and has the kernel kill it if the test
// process dies first.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// addUsers inserts users user0@example.com … with password, all sharing one
// cost-4 bcrypt hash (each bcrypt hash would cost the same CPU for nothing),
// and returns their emails. The first is added with `sessionkit users add`,
// as an operator would, so that command is exercised too.
func (db *database) addUsers(t *testing.T, n int) []string {
	t.Helper()
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%d@example.com", i)
	}
	if n == 0 {
		return emails
	}
	out := db.command(t, nil, password+"\n", "users", "add", "--email", emails[0])
	if out.code != 0 {
		t.Fatalf("sessionkit users add: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	var hash string
	if err := db.pool.QueryRow(context.Background(), `SELECT password_hash FROM users WHERE email = $1`, emails[0]).Scan(&hash); err != nil {
		t.Fatalf("read user: %v", err)
	}
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcryptCost {
		// Not fatal: the users still log in, only slower.
		t.Logf("users add stored a cost-%d hash (BCRYPT_COST=%d not honoured?): %v", cost, bcryptCost, err)
	}
	if n > 1 {
		own, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.pool.Exec(context.Background(),
			`INSERT INTO users (email, password_hash) SELECT 'user' || g || '@example.com', $1 FROM generate_series(1, $2::int - 1) g`,
			string(own), n)
		if err != nil {
			t.Fatalf("insert users: %v", err)
		}
	}
	return emails
}

// instance is one running `sessionkit serve` process.
type instance struct {
	name string
	// url is where it listens: http://127.0.0.1:port.
	url  string
	cmd  *exec.Cmd
	logs *logSink
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, once done is closed

	stopOnce sync.Once
}

// startInstance starts `sessionkit serve` with env, learns its address from
// its "listening on" log line, waits until /healthz answers 200, and
// registers its killing with t.Cleanup.
func startInstance(t *testing.T, name string, env map[string]string) *instance {
	t.Helper()
	in := &instance{name: name, logs: newLogSink(), done: make(chan struct{})}
	in.cmd = exec.Command(binPath, "serve")
	in.cmd.Env = append(environ(env), "METRICS_TOKEN="+metricsToken)
	in.cmd.Stdout = in.logs
	in.cmd.Stderr = in.logs
	ownProcessGroup(in.cmd)
	in.cmd.WaitDelay = 5 * time.Second
	if err := in.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		in.err = in.cmd.Wait()
		close(in.done)
	}()
	t.Cleanup(func() {
		in.kill()
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", name, in.logs.tail(40))
		}
	})

	select {
	case addr := <-in.logs.listening:
		in.url = addr
	case <-in.done:
		t.Fatalf("%s exited before listening (%v):\n%s", name, in.err, in.logs.tail(40))
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not log its address within 20s:\n%s", name, in.logs.tail(40))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := healthy(in.url)
		if ok {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /healthz did not answer 200 within 20s (last: %v):\n%s", name, err, in.logs.tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthy reports whether the instance at base answers GET /healthz with
// 200; err is why it could not be asked.
func healthy(base string) (ok bool, err error) {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// kill sends SIGKILL to the instance's process group and waits for it.
func (in *instance) kill() {
	in.stopOnce.Do(func() {
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
		<-in.done
	})
}

// stop shuts the instance down gracefully (SIGTERM: in-flight requests
// finish) and waits; after 15 seconds it kills it. It reports whether the
// process exited on its own with status 0.
func (in *instance) stop() (clean bool) {
	in.stopOnce.Do(func() {
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-in.done:
			clean = in.err == nil
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
			<-in.done
		}
	})
	return clean
}

// logSink keeps an instance's output (bounded) and reports the address of
// its "listening on http://…" line.
type logSink struct {
	mu        sync.Mutex
	buf       []byte
	line      []byte
	seen      bool
	listening chan string
}

// maxLog bounds how much of an instance's log is kept: the store-outage
// scenario makes them log an error per request.
const maxLog = 1 << 20

var listeningRE = regexp.MustCompile(`listening on (http://[0-9.:\[\]a-z]+)`)

func newLogSink() *logSink { return &logSink{listening: make(chan string, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if len(s.buf) > maxLog {
		s.buf = append(s.buf[:0], s.buf[len(s.buf)-maxLog/2:]...)
	}
	if !s.seen {
		s.line = append(s.line, p...)
		for {
			i := bytes.IndexByte(s.line, '\n')
			if i < 0 {
				break
			}
			if m := listeningRE.FindSubmatch(s.line[:i]); m != nil {
				s.seen = true
				s.listening <- string(m[1])
				s.line = nil
				break
			}
			s.line = s.line[i+1:]
		}
	}
	return len(p), nil
}

// tail returns the last n lines of the log.
func (s *logSink) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(s.buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// count returns how many log lines contain substr.
func (s *logSink) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Count(s.buf, []byte(substr))
}

// withHost returns the database URL u pointing at host:port instead.
func withHost(t *testing.T, u, hostport string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	p.Host = hostport
	return p.String()
}

// cluster is n instances of one configuration behind a round-robin proxy.
type cluster struct {
	db        *database
	instances []*instance
	lb        *balancer
}

// startCluster starts n instances with db.env(extra) and a balancer in front
// of them.
func startCluster(t *testing.T, db *database, n int, extra map[string]string) *cluster {
	t.Helper()
	c := &cluster{db: db, lb: newBalancer(t)}
	for range n {
		c.start(t, db.env(extra))
	}
	return c
}

// start starts one more instance, instance-N, with env and puts it behind
// the balancer.
func (c *cluster) start(t *testing.T, env map[string]string) {
	t.Helper()
	in := startInstance(t, fmt.Sprintf("instance-%d", len(c.instances)), env)
	c.instances = append(c.instances, in)
	c.lb.add(in.name, in.url)
}

// metrics scrapes every instance's /metrics and returns the sum of the
// sample named by series (e.g. `sessionkit_store_operations_total{op="create"}`)
// across instances, and each instance's value.
func (c *cluster) metric(t *testing.T, series string) (total float64, per []float64) {
	t.Helper()
	for _, in := range c.instances {
		v := scrape(t, in.url, series)
		per = append(per, v)
		total += v
	}
	return total, per
}

// metricsToken is the METRICS_TOKEN every instance gets, for scrape.
const metricsToken = "reliability-metrics-token"

// scrape returns one sample of an instance's /metrics; a series that is
// absent fails the test, since every one asked for is part of the contract.
func scrape(t *testing.T, base, series string) float64 {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("scrape %s: %q: %v", base, line, err)
			}
			return v
		}
	}
	t.Fatalf("scrape %s: no %s in /metrics", base, series)
	return 0
}

// storeWrites is the sum over instances of store operations that write:
// create, save, touch and destroy.
func (c *cluster) storeWrites(t *testing.T) float64 {
	t.Helper()
	var sum float64
	for _, op := range []string{"create", "save", "touch", "destroy"} {
		v, _ := c.metric(t, `sessionkit_store_operations_total{op="`+op+`"}`)
		sum += v
	}
	return sum
}

// tableState summarises the sessions table: its row count and a digest of
// every row, so "no store write" can be checked as "nothing changed".
type tableState struct {
	rows   int
	digest string
}

func (db *database) sessions(t *testing.T) tableState {
	t.Helper()
	if db.redis != nil {
		return db.redis.sessions(t)
	}
	var s tableState
	err := db.pool.QueryRow(context.Background(),
		`SELECT count(*), coalesce(md5(string_agg(sid || sess::text || expire::text, ',' ORDER BY sid)), '') FROM sessions`).
		Scan(&s.rows, &s.digest)
	if err != nil {
		t.Fatalf("read sessions: %v", err)
	}
	return s
}

// sessionIDs returns the live sessions, keyed by the hash of their id
// (sessionkit.HashID, as the stores keep them: look a cookie's id up by its
// hash), and the userId each holds, from the sessions table or from Redis.
func (db *database) sessionIDs(t *testing.T) map[string]int64 {
	t.Helper()
	if db.redis != nil {
		return db.redis.sessionIDs(t)
	}
	rows, err := db.pool.Query(context.Background(), `SELECT sid, coalesce((sess->>'userId')::bigint, 0) FROM sessions WHERE expire > now()`)
	if err != nil {
		t.Fatalf("read sessions: %v", err)
	}
	defer rows.Close()
	ids := map[string]int64{}
	for rows.Next() {
		var sid string
		var uid int64
		if err := rows.Scan(&sid, &uid); err != nil {
			t.Fatal(err)
		}
		ids[sessionkit.HashID(sid)] = uid
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// waitHealthy polls every instance's /healthz until it answers 200.
func (c *cluster) waitHealthy(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, in := range c.instances {
		for {
			if ok, _ := healthy(in.url); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not healthy within %s", in.name, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
