// Command servebench measures logged-in GET /api/user on the real
// `sessionkit serve` binary against the bare floor: a net/http handler that
// runs the store's one primary-key SELECT on the sessions table. Targets run
// in one interleaved run (round after round, each target in turn), so that
// whatever else the machine does falls on all of them alike. BENCHMARKS.md
// gives the commands and the figures.
//
//	go run ./internal/servebench -rows 10000
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
)

const (
	secret   = "servebench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	email    = "bench@example.com"
	password = "correct horse battery staple"
)

func main() {
	dbURL := flag.String("database-url", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL database to create the bench schema in")
	rows := flag.Int("rows", 10000, "live filler rows in the sessions table (generate_series)")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	dur := flag.Duration("duration", 3*time.Second, "length of one target's turn in a round")
	conns := flag.Int("conns", 16, "client connections")
	pool := flag.Int("pool", 10, "database pool size of each server")
	only := flag.String("targets", "", "comma-separated targets to run (default all)")
	cpuProfile := flag.String("cpuprofile", "", "write the serve instances' CPU profiles, merged, to this file (for go tool pprof)")
	floorURL := flag.String("floor", "", "internal: serve the bare floor on this database URL (the benchmark starts itself so, one process per floor instance)")
	flag.Parse()
	if *floorURL != "" {
		if err := serveFloor(*floorURL); err != nil {
			fmt.Fprintln(os.Stderr, "servebench floor:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*dbURL, *rows, *rounds, *dur, *conns, *pool, *only, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}

// target is one server set under test: requests go round-robin to urls.
type target struct {
	name string
	urls []string
	pids []int           // the instances' processes
	done []time.Duration // latencies of every round
	reqs []float64       // requests/s per round
	cpu  time.Duration   // CPU time the instances used in the rounds
}

// instance is one running server.
type instance struct {
	url string
	pid int
}

func run(dbURL string, rows, rounds int, dur time.Duration, conns, poolSize int, only, cpuProfile string) error {
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	const schema = "servebench"
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		return err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("options", "-csearch_path="+schema)
	q.Set("pool_max_conns", fmt.Sprint(poolSize))
	u.RawQuery = q.Encode()
	benchURL := u.String()

	dir, err := os.MkdirTemp("", "servebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "sessionkit")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/sessionkit").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "DATABASE_URL="+benchURL, "SESSION_SECRET="+secret, "DATA_DIR="+dir,
		"PRUNE_INTERVAL=off", "ADDR=127.0.0.1:0", "BCRYPT_COST=4")
	cmd := exec.Command(bin, "migrate")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "users", "add", "--email", email)
	cmd.Env, cmd.Stdin = env, strings.NewReader(password+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("users add: %v\n%s", err, out)
	}
	start := time.Now()
	if _, err := admin.Exec(ctx, `INSERT INTO `+schema+`.sessions (sid, sess, expire, created_at)
		SELECT 'filler' || i, jsonb_build_object('userId', i, 'email', 'user' || i || '@example.com'), now() + interval '1 day', now()
		FROM generate_series(1, $1::int) AS i`, rows); err != nil {
		return fmt.Errorf("load filler rows: %w", err)
	}
	if _, err := admin.Exec(ctx, "VACUUM ANALYZE "+schema+".sessions"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loaded %d filler rows in %s\n", rows, time.Since(start).Round(time.Millisecond))

	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			// SIGTERM: serve shuts down and writes its CPU profile.
			_ = p.Process.Signal(syscall.SIGTERM)
			_ = p.Wait()
		}
		procs = nil
	}
	defer stop()
	var profiles []string
	serve := func(cache string) (instance, error) {
		p := exec.Command(bin, "serve")
		p.Env = append(env, "SESSION_CACHE="+cache)
		if cpuProfile != "" {
			profiles = append(profiles, filepath.Join(dir, fmt.Sprintf("serve-%d.pprof", len(profiles))))
			p.Env = append(p.Env, "SESSIONKIT_CPU_PROFILE="+profiles[len(profiles)-1])
		}
		stderr, err := p.StderrPipe()
		if err != nil {
			return instance{}, err
		}
		if err := p.Start(); err != nil {
			return instance{}, err
		}
		procs = append(procs, p)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if _, addr, ok := strings.Cut(sc.Text(), "listening on "); ok {
				go func() { _, _ = io.Copy(io.Discard, stderr) }()
				return instance{strings.Trim(strings.Fields(addr)[0], `"`), p.Process.Pid}, nil
			}
		}
		return instance{}, errors.New("serve exited before listening")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The floor runs as its own process, like serve, so that it shares
	// nothing with the load generator.
	floor := func() (instance, error) {
		p := exec.Command(self, "-floor", benchURL)
		stdout, err := p.StdoutPipe()
		if err != nil {
			return instance{}, err
		}
		if err := p.Start(); err != nil {
			return instance{}, err
		}
		procs = append(procs, p)
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			return instance{}, fmt.Errorf("floor: %w", err)
		}
		return instance{strings.TrimSpace(line), p.Process.Pid}, nil
	}

	// One set of instances per kind, as many as the largest target asks
	// for: a 1-instance target drives the first instance of its kind's set
	// while the others idle. So the six targets of a full run need nine
	// servers' pools (30 connections per kind), not twelve, and fit in
	// PostgreSQL's default 100 connections in one interleaved run.
	var targets []*target
	kinds := []struct {
		name      string
		start     func() (instance, error)
		instances []instance
	}{
		{"floor", floor, nil},
		{"serve-off", func() (instance, error) { return serve("off") }, nil},
		{"serve-on", func() (instance, error) { return serve("on") }, nil},
	}
	for _, n := range []int{1, 3} {
		for i := range kinds {
			k := &kinds[i]
			name := fmt.Sprintf("%s-%d", k.name, n)
			if only != "" && !strings.Contains(","+only+",", ","+name+",") {
				continue
			}
			for len(k.instances) < n {
				in, err := k.start()
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				k.instances = append(k.instances, in)
			}
			t := &target{name: name}
			for _, in := range k.instances[:n] {
				t.urls, t.pids = append(t.urls, in.url), append(t.pids, in.pid)
			}
			targets = append(targets, t)
		}
	}
	// The set-up pool is not needed any more: its connections go back to
	// the servers' budget.
	admin.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	cookie, sid, err := login(client, targets)
	if err != nil {
		return err
	}
	for _, t := range targets { // warm: statement caches, session caches
		if _, err := drive(client, t, cookie, sid, conns, 300*time.Millisecond); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	for r := range rounds {
		// Each round starts one target further on, so that no target
		// always runs in the same place (right after the floor, say,
		// whose turn leaves the database and the caches in its state).
		for i := range targets {
			t := targets[(r+i)%len(targets)]
			before := cpuTime(t.pids)
			lat, err := drive(client, t, cookie, sid, conns, dur)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			t.cpu += cpuTime(t.pids) - before
			t.done = append(t.done, lat...)
			t.reqs = append(t.reqs, float64(len(lat))/dur.Seconds())
		}
		fmt.Fprintf(os.Stderr, "round %d/%d done\n", r+1, rounds)
	}

	fmt.Printf("%d live filler rows + the benchmark session; %d rounds × %s per target; %d connections; pool %d per server\n\n", rows, rounds, dur, conns, poolSize)
	fmt.Println("| target | instances | req/s (median of rounds) | vs floor (median of rounds' ratios) | server CPU per request | p50 | p99 |")
	fmt.Println("|---|---|---|---|---|---|---|")
	floors := map[int]*target{}
	for _, t := range targets {
		med := median(t.reqs)
		if strings.HasPrefix(t.name, "floor") {
			floors[len(t.urls)] = t
		}
		// Each round's ratio compares turns seconds apart, so a machine
		// whose load drifts over the run moves both sides of it alike.
		ratio := ""
		if f := floors[len(t.urls)]; f != nil {
			ratios := make([]float64, len(t.reqs))
			for i := range ratios {
				ratios[i] = t.reqs[i] / f.reqs[i]
			}
			ratio = fmt.Sprintf("%.2f×", median(ratios))
		}
		perReq := time.Duration(0)
		if len(t.done) > 0 {
			perReq = t.cpu / time.Duration(len(t.done))
		}
		sort.Slice(t.done, func(i, j int) bool { return t.done[i] < t.done[j] })
		p := func(q float64) string {
			return t.done[min(len(t.done)-1, int(q*float64(len(t.done))))].Round(10 * time.Microsecond).String()
		}
		fmt.Printf("| %s | %d | %.0f | %s | %s | %s | %s |\n", t.name, len(t.urls), med, ratio, perReq.Round(time.Microsecond), p(0.5), p(0.99))
	}
	if cpuProfile != "" {
		stop()
		// go tool pprof merges the instances' profiles into one.
		out, err := exec.Command("go", append([]string{"tool", "pprof", "-proto"}, profiles...)...).Output()
		if err != nil {
			return fmt.Errorf("merge CPU profiles: %w", err)
		}
		if err := os.WriteFile(cpuProfile, out, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s from %d serve instances' profiles\n", cpuProfile, len(profiles))
	}
	return nil
}

// serveFloor serves bareHandler on a free port, printing its URL.
func serveFloor(dbURL string) error {
	p, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	return http.Serve(ln, bareHandler(p))
}

// bareHandler is the floor: the sessions store's own primary-key SELECT
// for the id in the X-Session-Id header, under its hash as the store keeps
// it (sessionkit.HashID, computed here as the server computes it), and the
// user's fields as JSON.
func bareHandler(pool *pgxpool.Pool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess []byte
		var created, expire time.Time
		err := pool.QueryRow(r.Context(), "SELECT sess, created_at, expire FROM sessions WHERE sid = $1 AND expire > now()",
			sessionkit.HashID(r.Header.Get("X-Session-Id"))).Scan(&sess, &created, &expire)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		var v struct {
			ID    int64  `json:"userId"`
			Email string `json:"email"`
		}
		if err := json.Unmarshal(sess, &v); err != nil || v.ID == 0 {
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": v.ID, "email": v.Email})
	})
}

// login logs the bench user in through the first serve target and returns
// the cookie and the session id it names.
func login(client *http.Client, targets []*target) (cookie, sid string, err error) {
	for _, t := range targets {
		if strings.HasPrefix(t.name, "floor") {
			continue
		}
		body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
		resp, err := client.Post(t.urls[0]+"/api/login", "application/json", strings.NewReader(body))
		if err != nil {
			return "", "", err
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			v, _ := url.QueryUnescape(c.Value)
			id, _, _ := strings.Cut(strings.TrimPrefix(v, "s:"), ".")
			return c.Name + "=" + c.Value, id, nil
		}
		return "", "", fmt.Errorf("login: %s, no cookie", resp.Status)
	}
	// Only floors: any stored session will do.
	return "", "", errors.New("servebench: run at least one serve target (it logs in)")
}

// drive sends logged-in GET /api/user on conns connections for d, round
// robin over t's instances, and returns each request's latency.
func drive(client *http.Client, t *target, cookie, sid string, conns int, d time.Duration) ([]time.Duration, error) {
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
				req.Header.Set("Cookie", cookie)
				req.Header.Set("X-Session-Id", sid)
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

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
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
