// Command servebench measures logged-in GET /api/user on the real
// `sessionkit serve` binary against bare net/http handlers doing the least
// the same answer needs (bare.go): the store's one read (the PostgreSQL and
// Redis floors) or nothing at all (the no-session ceiling). Targets run in
// one interleaved run (round after round, each target in turn), so that
// whatever else the machine does falls on all of them alike. With -sizes it
// prints the bytes each store layout keeps per session instead (sizes.go).
// BENCHMARKS.md gives the commands and the figures.
//
//	go run ./cmd/internal/bench/servebench -rows 10000
//	go run ./cmd/internal/bench/servebench -suite issue23
//	go run ./cmd/internal/bench/servebench -sizes 2000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	secret   = "servebench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	email    = "bench@example.com"
	password = "correct horse battery staple"
)

// suite is a named run (-suite): its targets, and the rounds and turn
// length it runs with unless -rounds or -duration say otherwise, so that
// one short command runs a whole comparison interleaved.
type suite struct {
	targets string
	rounds  int
	dur     time.Duration
}

var suites = map[string]suite{
	// issue 23: the PostgreSQL floor, the Redis floor, the no-session
	// ceilings, and one to three instances on a Cluster with its floor:
	// 11 targets × 12 rounds × 3 s, about 7 minutes on 2 cores.
	"issue23": {
		targets: "floor-1,serve-off-1,redis-floor-1,redis-off-1,ceiling-1,ceiling-hdr-1,serve-on-1," +
			"cluster-floor-1,cluster-off-1,cluster-off-2,cluster-off-3",
		rounds: 12, dur: 3 * time.Second,
	},
}

// options are the run's flags.
type options struct {
	dbURL, redisAddr    string
	rows, rounds        int
	dur                 time.Duration
	conns, pool         int
	targets, cpuProfile string
	loadStart           string // the load average when the run began
}

func main() {
	var o options
	flag.StringVar(&o.dbURL, "database-url", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL database to create the bench schema in")
	flag.StringVar(&o.redisAddr, "redis-addr", "127.0.0.1:6379", "the Redis server of the redis-* targets (keys under a prefix of the run's own)")
	flag.IntVar(&o.rows, "rows", 10000, "live filler rows in the sessions table (generate_series)")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds")
	flag.DurationVar(&o.dur, "duration", 3*time.Second, "length of one target's turn in a round")
	flag.IntVar(&o.conns, "conns", 16, "client connections")
	flag.IntVar(&o.pool, "pool", 10, "database pool size of each server")
	flag.StringVar(&o.targets, "targets", "", "comma-separated targets to run, kind-instances (default: the PostgreSQL ones); kinds: "+kindNames())
	suiteName := flag.String("suite", "", "run a named list of targets instead of -targets, with its own -rounds and -duration unless given: issue23")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the serve instances' CPU profiles, merged, to this file (for go tool pprof)")
	sizes := flag.Int("sizes", 0, "instead of a speed run: log in this many users on each store layout and print the bytes per stored session")
	bare := flag.String("bare", "", "internal: serve a bare handler of this kind (pg, redis, ceiling, ceiling-hdr); the benchmark starts itself so")
	bareURL := flag.String("bare-url", "", "internal: the bare handler's database or Redis URL")
	barePrefix := flag.String("bare-prefix", "", "internal: the bare Redis handler's key prefix")
	flag.Parse()
	var err error
	switch {
	case *bare != "":
		err = serveBare(*bare, *bareURL, *barePrefix)
	case *sizes > 0:
		err = runSizes(o, *sizes)
	default:
		if *suiteName != "" {
			su, ok := suites[*suiteName]
			if !ok {
				err = fmt.Errorf("unknown suite %q", *suiteName)
				break
			}
			set := map[string]bool{}
			flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
			o.targets = su.targets
			if !set["rounds"] {
				o.rounds = su.rounds
			}
			if !set["duration"] {
				o.dur = su.dur
			}
		}
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}

// target is one server set under test: requests go round-robin to urls.
type target struct {
	name        string
	group       string // the store its sessions are in (kind.group)
	urls        []string
	pids        []int           // the instances' processes
	storePids   []int           // the store's processes, when the run started them
	cookie, sid string          // the logged-in session, sid as the store keeps it
	done        []time.Duration // latencies of every round
	reqs        []float64       // requests/s per round
	cpu         time.Duration   // CPU time the instances used in the rounds
	storeCPU    time.Duration   // CPU time the store's processes used in the rounds
}

// instance is one running server.
type instance struct {
	url string
	pid int
}

// kind is a kind of server; its targets are kind-N, N instances of it.
type kind struct {
	name  string
	group string // the store its sessions live in: pg, redis, cluster; "" for none
	serve bool   // sessionkit serve (it can log in), or a bare handler
	start func() (instance, error)
	// instances are the started ones: a 1-instance target drives the
	// first while the others idle.
	instances []instance
}

// kindNames lists the kinds for the usage.
func kindNames() string {
	return "floor, serve-off, serve-on (PostgreSQL); redis-floor, redis-off (Redis); " +
		"cluster-floor, cluster-off (a Redis Cluster of three masters the run starts); ceiling (no session); " +
		"ceiling-hdr (no session, serve's response headers)"
}

// servers starts the processes of a run and stops them.
type servers struct {
	bin, self, dir string
	env            []string
	procs          []*exec.Cmd
	profiles       []string // CPU profile files of the serve instances
	cpuProfile     bool
}

// stop sends SIGTERM to every process (serve shuts down and writes its CPU
// profile) and waits for them.
func (s *servers) stop() {
	for _, p := range s.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
		_ = p.Wait()
	}
	s.procs = nil
}

// serve starts `sessionkit serve` with the run's environment and extra.
func (s *servers) serve(extra ...string) (instance, error) {
	p := exec.Command(s.bin, "serve")
	p.Env = append(append([]string(nil), s.env...), extra...)
	if s.cpuProfile {
		s.profiles = append(s.profiles, filepath.Join(s.dir, fmt.Sprintf("serve-%d.pprof", len(s.profiles))))
		p.Env = append(p.Env, "SESSIONKIT_CPU_PROFILE="+s.profiles[len(s.profiles)-1])
	}
	stderr, err := p.StderrPipe()
	if err != nil {
		return instance{}, err
	}
	if err := p.Start(); err != nil {
		return instance{}, err
	}
	s.procs = append(s.procs, p)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if _, addr, ok := strings.Cut(sc.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stderr) }()
			return instance{strings.Trim(strings.Fields(addr)[0], `"`), p.Process.Pid}, nil
		}
	}
	return instance{}, errors.New("serve exited before listening")
}

// bare starts a bare handler (see bare.go) as a process of its own, like
// serve, so that it shares nothing with the load generator.
func (s *servers) bare(kind, url, prefix string) (instance, error) {
	p := exec.Command(s.self, "-bare", kind, "-bare-url", url, "-bare-prefix", prefix)
	stdout, err := p.StdoutPipe()
	if err != nil {
		return instance{}, err
	}
	p.Stderr = os.Stderr
	if err := p.Start(); err != nil {
		return instance{}, err
	}
	s.procs = append(s.procs, p)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return instance{}, fmt.Errorf("bare %s: %w", kind, err)
	}
	return instance{strings.TrimSpace(line), p.Process.Pid}, nil
}

func run(o options) error {
	ctx := context.Background()
	o.loadStart = loadAverage()
	const schema = "servebench"
	b, err := setUp(ctx, o, schema)
	if err != nil {
		return err
	}
	defer b.close()
	admin, benchURL, env, bin, dir := b.pool, b.url, b.env, b.bin, b.dir
	start := time.Now()
	// Filler rows are keyed as pgstore keys every session it writes (by
	// sessionkit.HashID, "sha256:..."): a raw key would keep serve looking
	// each session up under two keys, as only a store still holding
	// sessions from before hashed ids does.
	if _, err := admin.Exec(ctx, `INSERT INTO `+schema+`.sessions (sid, sess, expire, created_at)
		SELECT 'sha256:filler' || i, jsonb_build_object('userId', i, 'email', 'user' || i || '@example.com'), now() + interval '1 day', now()
		FROM generate_series(1, $1::int) AS i`, o.rows); err != nil {
		return fmt.Errorf("load filler rows: %w", err)
	}
	if _, err := admin.Exec(ctx, "VACUUM ANALYZE "+schema+".sessions"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d filler rows in %s\n", o.rows, time.Since(start).Round(time.Millisecond))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := &servers{bin: bin, self: self, dir: dir, env: env, cpuProfile: o.cpuProfile != ""}
	defer srv.stop()
	rs := newRedisStores(o.redisAddr)
	defer func() {
		if err := rs.close(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "servebench: clean up Redis:", err)
		}
	}()
	redisEnv := func(url string) []string {
		return []string{"REDIS_URL=" + url, "REDIS_PREFIX=" + rs.prefix}
	}
	clusterURL := func() (string, error) { return rs.clusterURL(ctx) }
	kinds := []*kind{
		{name: "floor", group: "pg", start: func() (instance, error) { return srv.bare(barePG, benchURL, "") }},
		{name: "serve-off", group: "pg", serve: true, start: func() (instance, error) { return srv.serve("SESSION_CACHE=off") }},
		{name: "serve-on", group: "pg", serve: true, start: func() (instance, error) { return srv.serve("SESSION_CACHE=on") }},
		{name: "ceiling", start: func() (instance, error) { return srv.bare(bareCeiling, "", "") }},
		{name: "ceiling-hdr", start: func() (instance, error) { return srv.bare(bareHeaders, "", "") }},
		{name: "redis-floor", group: "redis", start: func() (instance, error) { return srv.bare(bareRedis, rs.single, rs.prefix) }},
		{name: "redis-off", group: "redis", serve: true, start: func() (instance, error) {
			return srv.serve(append(redisEnv(rs.single), "SESSION_CACHE=off")...)
		}},
		{name: "cluster-floor", group: "cluster", start: func() (instance, error) {
			url, err := clusterURL()
			if err != nil {
				return instance{}, err
			}
			return srv.bare(bareRedis, url, rs.prefix)
		}},
		{name: "cluster-off", group: "cluster", serve: true, start: func() (instance, error) {
			url, err := clusterURL()
			if err != nil {
				return instance{}, err
			}
			return srv.serve(append(redisEnv(url), "SESSION_CACHE=off")...)
		}},
	}
	targets, err := startTargets(kinds, o.targets)
	if err != nil {
		return err
	}
	if rs.cluster != nil {
		pids, err := rs.clusterPids(ctx)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if t.group == "cluster" {
				t.storePids = pids
			}
		}
	}
	// The set-up pool is not needed any more: its connections go back to
	// the servers' budget.
	admin.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conns, MaxConnsPerHost: o.conns}}
	storedID := map[string]func(id string) (string, error){
		"pg":    func(id string) (string, error) { return pgStoredID(ctx, benchURL, id) },
		"redis": func(id string) (string, error) { return redisStoredID(ctx, rs.single, rs.prefix, id) },
		"cluster": func(id string) (string, error) {
			url, err := clusterURL()
			if err != nil {
				return "", err
			}
			return redisStoredID(ctx, url, rs.prefix, id)
		},
	}
	if err := login(client, kinds, targets, storedID); err != nil {
		return err
	}
	for _, t := range targets { // warm: statement caches, session caches
		if _, err := drive(client, t, o.conns, 300*time.Millisecond); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	for r := range o.rounds {
		// Each round starts one target further on, so that no target
		// always runs in the same place (right after the floor, say,
		// whose turn leaves the database and the caches in its state).
		for i := range targets {
			t := targets[(r+i)%len(targets)]
			before, storeBefore := cpuTime(t.pids), cpuTime(t.storePids)
			lat, err := drive(client, t, o.conns, o.dur)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			t.cpu += cpuTime(t.pids) - before
			t.storeCPU += cpuTime(t.storePids) - storeBefore
			t.done = append(t.done, lat...)
			t.reqs = append(t.reqs, float64(len(lat))/o.dur.Seconds())
		}
		fmt.Fprintf(os.Stderr, "round %d/%d done\n", r+1, o.rounds)
	}
	report(os.Stdout, o, targets)
	if o.cpuProfile != "" {
		srv.stop()
		// go tool pprof merges the instances' profiles into one.
		out, err := exec.Command("go", append([]string{"tool", "pprof", "-proto"}, srv.profiles...)...).Output()
		if err != nil {
			return fmt.Errorf("merge CPU profiles: %w", err)
		}
		if err := os.WriteFile(o.cpuProfile, out, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s from %d serve instances' profiles\n", o.cpuProfile, len(srv.profiles))
	}
	return nil
}

// schemaURL returns dbURL with schema first on the search path and the
// pool size set.
func schemaURL(dbURL, schema string, poolSize int) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("options", "-csearch_path="+schema)
	q.Set("pool_max_conns", fmt.Sprint(poolSize))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// bench is a run's set-up: a pool on the database, the run's schema in
// it and the URL serve gets (that schema first on the search path), a
// temporary directory and the sessionkit binary built into it.
type bench struct {
	pool     *pgxpool.Pool
	url      string
	dir, bin string
	env      []string // serve's environment
}

// close removes the directory and closes the pool (which run closes
// earlier, to give its connections back to the servers: closing twice is
// harmless).
func (b *bench) close() {
	os.RemoveAll(b.dir)
	b.pool.Close()
}

// setUp creates schema afresh, builds the binary, migrates and adds the
// bench user.
func setUp(ctx context.Context, o options, schema string) (_ *bench, err error) {
	benchURL, err := schemaURL(o.dbURL, schema, o.pool)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, o.dbURL)
	if err != nil {
		return nil, err
	}
	b := &bench{pool: pool, url: benchURL}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.dir, err = os.MkdirTemp("", schema+"-"); err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		return nil, err
	}
	b.bin = filepath.Join(b.dir, "sessionkit")
	if out, err := exec.Command("go", "build", "-o", b.bin, "./cmd/sessionkit").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	b.env = append(os.Environ(), "DATABASE_URL="+benchURL, "SESSION_SECRET="+secret, "DATA_DIR="+b.dir,
		"PRUNE_INTERVAL=off", "ADDR=127.0.0.1:0", "BCRYPT_COST=4")
	cmd := exec.Command(b.bin, "migrate")
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("migrate: %v\n%s", err, out)
	}
	cmd = exec.Command(b.bin, "users", "add", "--email", email)
	cmd.Env, cmd.Stdin = b.env, strings.NewReader(password+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("users add: %v\n%s", err, out)
	}
	return b, nil
}

// startTargets starts the instances the targets named in only (comma
// separated; empty: the PostgreSQL kinds with 1 and 3 instances) need and
// returns the targets. One set of instances per kind, as many as its
// largest target asks for: a 1-instance target drives the first instance
// of its kind's set while the others idle. So the six PostgreSQL targets
// need nine servers' pools (30 connections per kind), not twelve, and fit
// in PostgreSQL's default 100 connections in one interleaved run.
func startTargets(kinds []*kind, only string) ([]*target, error) {
	if only == "" {
		only = "floor-1,serve-off-1,serve-on-1,floor-3,serve-off-3,serve-on-3"
	}
	var targets []*target
	for _, name := range strings.Split(only, ",") {
		i := strings.LastIndexByte(name, '-')
		n, err := strconv.Atoi(name[i+1:])
		if i < 0 || err != nil || n < 1 {
			return nil, fmt.Errorf("target %q: want kind-instances, e.g. serve-off-3", name)
		}
		var k *kind
		for _, kk := range kinds {
			if kk.name == name[:i] {
				k = kk
			}
		}
		if k == nil {
			return nil, fmt.Errorf("target %q: unknown kind; kinds: %s", name, kindNames())
		}
		for len(k.instances) < n {
			in, err := k.start()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			k.instances = append(k.instances, in)
		}
		t := &target{name: name, group: k.group}
		for _, in := range k.instances[:n] {
			t.urls, t.pids = append(t.urls, in.url), append(t.pids, in.pid)
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// login logs the bench user in once per store, through the first serve
// instance of that store's kinds, and gives every target of the store the
// cookie and the id as the store keeps it (storedID), for its floor.
func login(client *http.Client, kinds []*kind, targets []*target, storedID map[string]func(string) (string, error)) error {
	for _, k := range kinds {
		if !k.serve || len(k.instances) == 0 || storedID[k.group] == nil {
			continue
		}
		group := k.group
		body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
		resp, err := client.Post(k.instances[0].url+"/api/login", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) == 0 {
			return fmt.Errorf("log-in on %s: %s, no cookie", k.name, resp.Status)
		}
		sid, err := storedID[group](cookieID(cookies[0].Value))
		if err != nil {
			return fmt.Errorf("log-in on %s: %w", k.name, err)
		}
		for _, t := range targets {
			if t.group == group {
				t.cookie, t.sid = cookies[0].Name+"="+cookies[0].Value, sid
			}
		}
		delete(storedID, group) // one log-in per store
	}
	for _, t := range targets {
		if t.group != "" && t.cookie == "" {
			return fmt.Errorf("%s: no serve target on its store logs in; add one (e.g. serve-off-1 with floor-1)", t.name)
		}
	}
	return nil
}

// cookieID returns the session id a session cookie's value carries
// ("s:" + id + "." + signature, URL-escaped).
func cookieID(value string) string {
	v, _ := url.QueryUnescape(value)
	id, _, _ := strings.Cut(strings.TrimPrefix(v, "s:"), ".")
	return id
}

// drive sends logged-in GET /api/user on conns connections for d, round
// robin over t's instances (the balancer), and returns each request's
// latency.
func drive(client *http.Client, t *target, conns int, d time.Duration) ([]time.Duration, error) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		fail atomic.Value
		wg   sync.WaitGroup
		next atomic.Int64
	)
	deadline := time.Now().Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				u := t.urls[int(next.Add(1))%len(t.urls)]
				req, _ := http.NewRequest("GET", u+"/api/user", nil)
				if t.cookie != "" {
					req.Header.Set("Cookie", t.cookie)
					req.Header.Set("X-Session-Id", t.sid)
				}
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fail.Store(fmt.Errorf("GET /api/user: %s", resp.Status))
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		return nil, err
	}
	return all, nil
}

// cpuTime returns the user and system CPU time the processes have used, from
// /proc (Linux), in the kernel's clock ticks of 10 ms.
func cpuTime(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces: state is field 3, utime 14 and stime 15.
		_, rest, _ := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			continue
		}
		var utime, stime int64
		fmt.Sscan(f[11], &utime)
		fmt.Sscan(f[12], &stime)
		total += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return total
}
