package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// runbookTTL is the shortened lifetime both sides give sessions in the
// runbook test (Node's cookie.maxAge, serve's SESSION_TTL): longer than
// the test, far shorter than the usual 7 days.
const runbookTTL = 90 * time.Second

// TestRunbook plays docs/moving-from-node.md's runbook against the real
// Node apps, one balancer in front: Node only → mixed → Go only → back to
// Node (the rollback), with log-ins, log-outs and writes on both sides in
// every phase, on a connect-pg-simple table (the seed's app and its
// passport variant) and on connect-redis's layout, with each connect-redis
// release on the npm registry since 9 (their index.ts is the same). Each phase must give 0
// non-200 logged-in reads, 0 users logged out, every key Node wrote intact
// and one row or key per live session. The figures go to RELIABILITY.md.
func TestRunbook(t *testing.T) {
	t.Parallel()
	ttl := map[string]string{"SESSION_TTL": fmt.Sprintf("%ds", int(runbookTTL.Seconds()))}
	nodeTTL := map[string]string{"COOKIE_MAX_AGE": fmt.Sprint(runbookTTL.Milliseconds())}
	for _, c := range []struct {
		name  string
		start func(t *testing.T) (*stack, func(*testing.T) int)
	}{
		{"connect-pg-simple", func(t *testing.T) (*stack, func(*testing.T) int) {
			s := startStackWith(t, stackOptions{users: runbookBrowsers, goEnv: ttl, nodeEnv: nodeTTL})
			return s, s.rows
		}},
		{"connect-pg-simple with passport", func(t *testing.T) (*stack, func(*testing.T) int) {
			s := startStackWith(t, stackOptions{users: runbookBrowsers, passport: true, goEnv: ttl, nodeEnv: nodeTTL})
			return s, s.rows
		}},
		// connect-redis 9, 10 and 11 (npm aliases in the app's package.json).
		{"connect-redis 9", func(t *testing.T) (*stack, func(*testing.T) int) { return startRedisStack(t, "connect-redis-9") }},
		{"connect-redis 10", func(t *testing.T) (*stack, func(*testing.T) int) { return startRedisStack(t, "connect-redis") }},
		{"connect-redis 11", func(t *testing.T) (*stack, func(*testing.T) int) { return startRedisStack(t, "connect-redis-11") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, count := c.start(t)
			f := playRunbook(t, s, count)
			t.Logf("%s: %s", c.name, f)
			if f.non200 != 0 || f.loggedOut != 0 || f.keysBroken != 0 || f.extraSessions != 0 {
				t.Errorf("runbook figures: %s; want 0 non-200, 0 logged out, 0 keys broken, 0 extra sessions", f)
			}
			if f.reads < 100 || f.logins < 2*runbookBrowsers || f.logouts < 8 {
				t.Errorf("the runbook did too little to count: %s", f)
			}
			s.noErrors(t)
		})
	}
}

// runbookBrowsers is how many users, each in a browser of their own, go
// through the runbook.
const runbookBrowsers = 8

// runbookFigures are what RELIABILITY.md reports.
type runbookFigures struct {
	reads, non200, loggedOut, logins, logouts, writes, keysBroken, extraSessions int
}

func (f runbookFigures) String() string {
	return fmt.Sprintf("%d logged-in reads, %d non-200, %d users logged out, %d log-ins, %d log-outs, %d writes, "+
		"%d keys broken, %d sessions beyond one per live session", f.reads, f.non200, f.loggedOut, f.logins, f.logouts,
		f.writes, f.keysBroken, f.extraSessions)
}

// switchProxy is the balancer: it sends each request to the next of the
// phase's backends.
type switchProxy struct {
	mu      sync.Mutex
	targets []*url.URL
	n       atomic.Uint64
}

func newSwitchProxy(t *testing.T) (*switchProxy, string) {
	p := &switchProxy{}
	ts := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		p.mu.Lock()
		targets := p.targets
		p.mu.Unlock()
		r.SetURL(targets[(p.n.Add(1)-1)%uint64(len(targets))])
	}})
	t.Cleanup(ts.Close)
	return p, ts.URL
}

func (p *switchProxy) route(t *testing.T, backends ...string) {
	var targets []*url.URL
	for _, b := range backends {
		targets = append(targets, sessiontest.MustURL(t, b))
	}
	p.mu.Lock()
	p.targets = targets
	p.mu.Unlock()
}

// runbookBrowser is one user's browser and what its session should hold.
type runbookBrowser struct {
	*browser
	u              user
	nodeKey, goKey string
}

// playRunbook runs the four phases and returns the figures.
func playRunbook(t *testing.T, s *stack, count func(*testing.T) int) runbookFigures {
	proxy, lb := newSwitchProxy(t)
	var f runbookFigures
	browsers := make([]*runbookBrowser, runbookBrowsers)
	for i := range browsers {
		browsers[i] = &runbookBrowser{browser: newBrowser(t), u: s.users[i]}
	}
	logout := func(b *runbookBrowser, side string) {
		b.must(200, "POST", side+"/api/logout", nil)
		b.must(401, "GET", side+"/api/user", nil)
		b.nodeKey, b.goKey = "", ""
		f.logouts++
	}
	login := func(b *runbookBrowser, side string) {
		b.login(side, b.u)
		f.logins++
	}
	for phase, p := range []struct {
		name     string
		backends []string
	}{
		{"Node only", []string{s.nodeURL}},
		{"mixed", []string{s.nodeURL, s.goURL}},
		{"Go only", []string{s.goURL}},
		{"back to Node", []string{s.nodeURL}},
	} {
		proxy.route(t, p.backends...)
		if phase == 0 {
			for _, b := range browsers {
				login(b, lb)
			}
		}
		// Log-outs and log-ins on both sides: one user leaves through Node
		// and comes back through Go, another the other way round.
		a, b := browsers[(2*phase)%runbookBrowsers], browsers[(2*phase+1)%runbookBrowsers]
		logout(a, s.nodeURL)
		login(a, s.goURL)
		logout(b, s.goURL)
		login(b, s.nodeURL)
		// Writes on both sides.
		for i, b := range browsers {
			b.nodeKey, b.goKey = fmt.Sprintf("node-%d-%d", phase, i), fmt.Sprintf("go-%d-%d", phase, i)
			b.must(200, "POST", s.nodeURL+"/api/node-key", map[string]string{"value": b.nodeKey})
			b.must(200, "POST", s.goURL+"/api/go-key?value="+url.QueryEscape(b.goKey), nil)
			f.writes += 2
		}
		// Logged-in reads through the balancer.
		var mu sync.Mutex
		var wg sync.WaitGroup
		deadline := time.Now().Add(1500 * time.Millisecond)
		for _, b := range browsers {
			wg.Go(func() {
				reads, non200, out := 0, 0, false
				for time.Now().Before(deadline) {
					code, body, err := b.do("GET", lb+"/api/user", nil)
					reads++
					switch {
					case code == 401:
						out = true
						non200++
					case err != nil || code != 200 || (body != userJSON(b.u) && body != userJSON(b.u)+"\n"):
						non200++
						t.Logf("%s: read of %s: %d %s %v", p.name, b.u.Email, code, body, err)
					}
				}
				mu.Lock()
				defer mu.Unlock()
				f.reads += reads
				f.non200 += non200
				if out {
					f.loggedOut++
					t.Logf("%s: %s was logged out", p.name, b.u.Email)
				}
			})
		}
		poll.Wait(t, "the browsers of the runbook", &wg)
		// What Node wrote, and what Go wrote, as Node reads them.
		for _, b := range browsers {
			var keys map[string]any
			body := b.must(200, "GET", s.nodeURL+"/api/keys", nil)
			if json.Unmarshal([]byte(body), &keys) != nil || keys["nodeKey"] != b.nodeKey || keys["goKey"] != b.goKey {
				f.keysBroken++
				t.Logf("%s: Node reads %s for %s; want nodeKey %s, goKey %s", p.name, body, b.u.Email, b.nodeKey, b.goKey)
			}
		}
		if n := count(t); n != runbookBrowsers {
			f.extraSessions += n - runbookBrowsers
			t.Logf("%s: %d sessions stored for %d live ones", p.name, n, runbookBrowsers)
		}
	}
	return f
}

// startRedisStack starts serve in connect-redis's layout (users in SQLite)
// beside redisstore's connect-redis app on the release pkg names, both
// with runbookTTL, and returns it with a count of the session keys.
func startRedisStack(t *testing.T, pkg string) (*stack, func(*testing.T) int) {
	t.Helper()
	client, prefix := redistest.Client(t)
	s := &stack{goLog: &lockedBuffer{}, nodeLog: &lockedBuffer{}}
	// Each side logs in to Redis as a user of its own, with the ACL
	// docs/moving-from-node.md gives (for this test's prefix), so the
	// example is what the runbook runs under.
	name := strings.ReplaceAll(strings.TrimSuffix(prefix, ":"), ":", "-")
	goUser, nodeUser := name+"-go", name+"-node"
	for _, acl := range [][]any{
		{"ACL", "SETUSER", goUser, "reset", "on", ">go-password", "~" + prefix + "*", "~sessionkit-users:" + prefix + "*",
			"~sessionkit-limits:" + prefix + "*", "&" + prefix + "changes", "+@all", "-@dangerous"},
		{"ACL", "SETUSER", nodeUser, "reset", "on", ">node-password", "~" + prefix + "*", "+@all", "-@dangerous"},
	} {
		if err := client.Do(t.Context(), acl...).Err(); err != nil {
			t.Fatal(err)
		}
		user := acl[2]
		t.Cleanup(func() { client.Do(context.Background(), "ACL", "DELUSER", user) })
	}
	redisURL := redistest.URLFor(goUser + ":go-password@" + redistest.Addr())
	nodeRedisURL := redistest.URLFor(nodeUser + ":node-password@" + redistest.Addr())
	s.startGo(t, "", runbookBrowsers, map[string]string{
		"REDIS_URL": redisURL, "REDIS_LAYOUT": "connect-redis", "REDIS_PREFIX": prefix,
		"DATA_DIR": filepath.Join(t.TempDir(), "data"), "SESSION_TABLE": "", "SESSION_TTL": fmt.Sprintf("%ds", int(runbookTTL.Seconds())),
	})
	s.nodeURL = startNodeApp(t, filepath.Join("..", "..", "..", "..", "redisstore", "testdata", "connectredis"), "app.js", "listening ",
		s.nodeLog, map[string]string{
			"REDIS_URL": nodeRedisURL, "PREFIX": prefix, "SECRET": secret, "COOKIE_NAME": cookieName,
			"MAX_AGE_MS": fmt.Sprint(runbookTTL.Milliseconds()), "USERS": s.usersJSON(t), "CONNECT_REDIS": pkg,
		})
	count := func(t *testing.T) int {
		t.Helper()
		var n int
		iter := client.Scan(t.Context(), 0, prefix+"*", 1000).Iterator()
		for iter.Next(t.Context()) {
			n++
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return s, count
}
