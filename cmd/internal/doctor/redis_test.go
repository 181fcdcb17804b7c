package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// cluster is the package's Redis Cluster, started by the first test that
// asks for it and stopped by TestMain.
var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// putSessions writes n sessions through the real store; the first loggedIn
// of them carry a userId, the rest a cart (anonymous, not empty).
func putSessions(t *testing.T, c redis.UniversalClient, cfg redisstore.Config, n, loggedIn int) {
	t.Helper()
	s, err := redisstore.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		v := map[string]json.RawMessage{"cart": json.RawMessage(`[1]`)}
		if i < loggedIn {
			v = map[string]json.RawMessage{"userId": json.RawMessage(fmt.Sprint(i + 1))}
		}
		rec := sessionkit.Record{Values: v, Expiry: time.Now().Add(time.Duration(i+1) * time.Hour)}
		if err := s.Create(t.Context(), fmt.Sprintf("doctor-session-%03d-%s", i, strings.Repeat("x", 32)), rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDoctorRedis: doctor redis on real Redis servers set up each way names
// each of the classic failures with its fix (a session key without a TTL,
// allkeys-lru, no persistence), and passes a healthy setup: exit 0.
func TestDoctorRedis(t *testing.T) {
	t.Parallel()
	t.Run("broken: no TTL, allkeys-lru, no persistence (connect-redis)", func(t *testing.T) {
		t.Parallel()
		addr := redistest.StartServer(t, "--save", "", "--appendonly", "no", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
		c := redis.NewClient(&redis.Options{Addr: addr, DB: 2})
		defer c.Close()
		putSessions(t, c, redisstore.Config{Layout: redisstore.LayoutConnectRedis}, 10, 10)
		// connect-redis's disableTTL: a session without an expiry.
		if err := c.Set(t.Context(), "sess:forever", `{"cookie":{"originalMaxAge":null,"path":"/"},"userId":7}`, 0).Err(); err != nil {
			t.Fatal(err)
		}
		html := filepath.Join(t.TempDir(), "redis.html")
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"redis", "redis://" + addr + "/2", "--html", html}, nil, &out, &errb)
		if code != ExitFail {
			t.Fatalf("exit %d, want %d\n%s%s", code, ExitFail, out.String(), errb.String())
		}
		for _, want := range []string{
			"INFO  11 sessions (connect-redis layout)",
			"FAIL  1 of 11 session keys have no expiry (TTL)",
			"redis-cli -h 127.0.0.1 -p " + addr[strings.LastIndex(addr, ":")+1:] + " -n 2 --scan --pattern 'sess:*'",
			"FAIL  maxmemory-policy allkeys-lru evicts live sessions when memory is full",
			"config set maxmemory-policy noeviction",
			"FAIL  no persistence on " + addr + ": a restart logs everyone out",
			"config set appendonly yes",
			"PASS  100% of the sessions carry a login",
		} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("report lacks %q:\n%s", want, out.String())
			}
		}
		page, err := os.ReadFile(html)
		if err != nil || !strings.Contains(string(page), "sessionkit doctor redis") || !strings.Contains(string(page), "allkeys-lru") {
			t.Fatalf("--html: %v\n%.300s", err, page)
		}
	})

	t.Run("healthy: noeviction, AOF (native, db 3)", func(t *testing.T) {
		t.Parallel()
		addr := redistest.StartServer(t, "--appendonly", "yes", "--maxmemory-policy", "noeviction")
		c := redis.NewClient(&redis.Options{Addr: addr, DB: 3})
		defer c.Close()
		putSessions(t, c, redisstore.Config{}, 12, 9)
		// A replica that keeps up.
		host, port, _ := strings.Cut(addr, ":")
		replica := redistest.StartServer(t, "--replicaof", host, port)
		poll.Until(t, "the replica "+replica+" to sync", func() bool {
			info, err := c.Info(t.Context(), "replication").Result()
			return err == nil && strings.Contains(info, "state=online")
		})
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"redis", "redis://" + addr + "/3", "--json"}, nil, &out, &errb)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
		}
		var r Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"redis.ttl", "redis.anonymous", "redis.eviction", "redis.persistence"} {
			expect(t, &r, id, Pass)
		}
		if f := expect(t, &r, "redis.replicas", Pass, "replicas keep up"); !strings.Contains(strings.Join(f.Evidence, " "), "→ replica 127.0.0.1:") {
			t.Fatalf("replica evidence: %q", f.Evidence)
		}
		if len(r.Redis) != 1 || r.Redis[0].Sessions != 12 || r.Redis[0].Anonymous != 3 || r.Redis[0].NoTTL != 0 || r.Redis[0].BytesPerSession <= 0 {
			t.Fatalf("stats: %+v", r.Redis)
		}
		// Database 0 of the same server holds none of them.
		r0, err := CheckRedis(context.Background(), RedisOptions{URL: "redis://" + addr + "/0"})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, r0, "redis.sessions", Info, "no sessions")
	})

	t.Run("cluster: both layouts, every master, --watch", func(t *testing.T) {
		cl := cluster.Get(t)
		c, prefix := cl.Client(t)
		url := "redis+cluster://" + strings.Join(cl.Addrs, ",")
		for _, tc := range []struct {
			layout redisstore.Layout
			name   string
		}{{redisstore.LayoutNative, "native"}, {redisstore.LayoutConnectRedis, "connect-redis"}} {
			p := prefix + tc.name + ":"
			putSessions(t, c, redisstore.Config{Prefix: p, Layout: tc.layout}, 30, 10)
			r, err := CheckRedis(context.Background(), RedisOptions{URL: url, Prefix: p})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Redis) != 1 || r.Redis[0].Layout != tc.name || r.Redis[0].Sessions != 30 || r.Redis[0].Anonymous != 20 || r.Redis[0].NoTTL != 0 {
				t.Fatalf("%s: stats %+v", tc.name, r.Redis)
			}
			if len(r.RedisServers) != len(cl.Addrs) {
				t.Fatalf("servers read: %+v, want the %d masters", r.RedisServers, len(cl.Addrs))
			}
			expect(t, r, "redis.anonymous", Warn, "67% of the sessions carry no login")
			// Sessions keep coming while the doctor watches.
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, _ := redisstore.New(c, redisstore.Config{Prefix: p, Layout: tc.layout})
				for i := 0; ctx.Err() == nil; i++ {
					_ = s.Create(ctx, fmt.Sprintf("watched-%d-%s", i, strings.Repeat("y", 32)), sessionkit.Record{Values: map[string]json.RawMessage{"userId": json.RawMessage(`1`)}, Expiry: time.Now().Add(time.Hour)})
				}
			}()
			r, err = CheckRedis(context.Background(), RedisOptions{URL: url, Prefix: p, Watch: 100 * time.Millisecond})
			cancel()
			poll.Wait(t, "the writer beside the check", &wg)
			if err != nil {
				t.Fatal(err)
			}
			if st := r.Redis[0]; st.Growth == nil || *st.Growth <= 0 {
				t.Fatalf("%s: growth not measured: %+v", tc.name, st)
			}
			expect(t, r, "redis.growth", Info)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"redis", "postgres://x/y"}, {"redis", "redis://127.0.0.1:1/0", "--max-keys", "0"}, {"redis", "redis://127.0.0.1:1/0", "--prefix", "s*"}} {
			var out, errb bytes.Buffer
			if code := Run(context.Background(), args, nil, &out, &errb); code != ExitUsage {
				t.Fatalf("%v: exit %d, want 2 (%s)", args, code, errb.String())
			}
		}
	})
}
