package redisstore_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

const (
	interopSecret = "interop-secret-interop-secret-0123456789"
	interopCookie = "connect.sid"
	interopMaxAge = time.Hour
)

// startNodeApp starts testdata/connectredis/app.js (express-session on
// connect-redis 10) on the machine's Redis under prefix, and returns its URL.
// It fails the test when Node or the app's packages are missing.
func startNodeApp(t *testing.T, prefix string) string {
	t.Helper()
	dir := filepath.Join("testdata", "connectredis")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "connect-redis")); err != nil {
		t.Fatalf("the connect-redis app's packages are not installed: run `npm ci` in %s (./scripts/test does): %v", dir, err)
	}
	cmd := exec.Command("node", "app.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"REDIS_URL="+redistest.URL(),
		"PREFIX="+prefix,
		"SECRET="+interopSecret,
		"COOKIE_NAME="+interopCookie,
		"MAX_AGE_MS="+strconv.FormatInt(interopMaxAge.Milliseconds(), 10),
	)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node (Node.js is required): %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if u, found := strings.CutPrefix(line, "listening "); ok && found {
			go func() {
				for range lines {
				}
			}()
			return u
		}
		t.Fatalf("node app: unexpected first line %q", line)
	case <-time.After(30 * time.Second):
		t.Fatal("node app did not start within 30s")
	}
	return ""
}

// goApp is the Go side: a sessionkit manager on the same Redis, prefix,
// secret and cookie name, with express-session's cookie object on.
func goApp(t *testing.T, st *redisstore.Store) string {
	t.Helper()
	m, err := sessionkit.New(sessionkit.Config{
		Store:                st,
		Secrets:              []string{interopSecret},
		ExpressSessionCookie: true,
		Logger:               slog.New(slog.DiscardHandler),
		Cookie:               sessionkit.CookieConfig{Name: interopCookie},
		Expiry:               sessionkit.ExpiryConfig{Lifetime: interopMaxAge},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		keys, err := s.Keys()
		if err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		out := map[string]json.RawMessage{}
		for _, k := range keys {
			var v json.RawMessage
			if _, err := s.Get(k, &v); err != nil {
				http.Error(w, err.Error(), 503)
				return
			}
			out[k] = v
		}
		json.NewEncoder(w).Encode(map[string]any{"session": out})
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Put(r.URL.Query().Get("key"), json.RawMessage(r.URL.Query().Get("value"))); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Destroy(); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	ts := httptest.NewServer(m.Middleware(mux))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestConnectRedisInterop: a Go service on LayoutConnectRedis and an
// express-session app on connect-redis 10 share sessions both ways, on one
// Redis, secret and cookie name: each reads what the other wrote, patches
// keep the other side's keys, the TTL is the cookie's, and a log-out on
// one side ends the session on the other.
func TestConnectRedisInterop(t *testing.T) {
	client, prefix := redistest.Client(t)
	st := mustNew(t, client, redisstore.Config{Layout: redisstore.LayoutConnectRedis, Prefix: prefix})
	node := startNodeApp(t, prefix)
	gosvc := goApp(t, st)

	// Both apps are on 127.0.0.1, so one cookie jar carries the session
	// cookie to both, as a browser would across one domain.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	call := func(base, method, path string, kv ...string) map[string]any {
		t.Helper()
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		req, _ := http.NewRequestWithContext(t.Context(), method, base+path+"?"+q.Encode(), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s%s: %d %s", method, base, path, resp.StatusCode, b)
		}
		var out map[string]any
		if len(b) > 0 {
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return out
	}
	sess := func(base string) map[string]any {
		t.Helper()
		s, _ := call(base, "GET", "/get")["session"].(map[string]any)
		return s
	}

	// Go creates the session; Node reads it, cookie object and all.
	call(gosvc, "POST", "/set", "key", "fromGo", "value", `"hello"`)
	ns := sess(node)
	if ns["fromGo"] != "hello" {
		t.Fatalf("Node sees %v, want fromGo=hello from the Go-created session", ns)
	}
	cookie, _ := ns["cookie"].(map[string]any)
	if cookie == nil || cookie["expires"] == nil || cookie["originalMaxAge"] == nil {
		t.Fatalf("Node's view of the cookie = %v, want expires and originalMaxAge", ns["cookie"])
	}
	checkOneKey(t, client, prefix)

	// Node adds a key; Go sees both, and Go's patch keeps Node's key.
	call(node, "POST", "/set", "key", "fromNode", "value", `42`)
	gs := sess(gosvc)
	if gs["fromGo"] != "hello" || gs["fromNode"] != float64(42) || gs["cookie"] == nil {
		t.Fatalf("Go sees %v, want fromGo, fromNode and the cookie", gs)
	}
	call(gosvc, "POST", "/set", "key", "again", "value", `true`)
	ns = sess(node)
	if ns["fromGo"] != "hello" || ns["fromNode"] != float64(42) || ns["again"] != true {
		t.Fatalf("Node sees %v after a Go patch, want all three keys", ns)
	}
	checkOneKey(t, client, prefix)

	// Go logs out: the session is gone for Node too, even with the old
	// cookie replayed.
	old := jar.Cookies(sessiontest.MustURL(t, node))
	call(gosvc, "POST", "/destroy")
	jar.SetCookies(sessiontest.MustURL(t, node), old)
	if ns = sess(node); ns["fromGo"] != nil {
		t.Fatalf("Node still sees %v after the Go log-out", ns)
	}

	// Node creates a session; Go reads it and writes into it; Node logs out.
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	call(node, "POST", "/set", "key", "nodeOnly", "value", `"n"`)
	if gs = sess(gosvc); gs["nodeOnly"] != "n" {
		t.Fatalf("Go sees %v, want nodeOnly from the Node-created session", gs)
	}
	call(gosvc, "POST", "/set", "key", "goToo", "value", `1`)
	if ns = sess(node); ns["nodeOnly"] != "n" || ns["goToo"] != float64(1) {
		t.Fatalf("Node sees %v, want nodeOnly and goToo", ns)
	}
	call(node, "POST", "/destroy")
	if gs = sess(gosvc); len(gs) != 0 {
		t.Fatalf("Go sees %v after the Node log-out, want no session", gs)
	}
}

// checkOneKey checks the prefix holds one key, connect-redis's string
// holding the session's JSON, whose cookie.expires is the key's own expiry
// time (to connect-redis's second).
func checkOneKey(t *testing.T, client redis.UniversalClient, prefix string) {
	t.Helper()
	ctx := t.Context()
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys under the prefix = %q, %v; want one session", keys, err)
	}
	raw, err := client.Get(ctx, keys[0]).Result()
	if err != nil {
		t.Fatalf("GET %s: %v (connect-redis keeps a string)", keys[0], err)
	}
	var v struct {
		Cookie struct {
			Expires time.Time `json:"expires"`
		} `json:"cookie"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil || v.Cookie.Expires.IsZero() {
		t.Fatalf("session JSON %s: %v; want a cookie with expires", raw, err)
	}
	ms, err := client.PExpireTime(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	keyExpiry := time.UnixMilli(ms.Milliseconds())
	if d := keyExpiry.Sub(v.Cookie.Expires); d < 0 || d > time.Second {
		t.Fatalf("key expires at %v, cookie.expires is %v; want the key to live to the cookie's expiry, rounded up to the second at most", keyExpiry, v.Cookie.Expires)
	}
	if until := time.Until(keyExpiry); until < interopMaxAge-time.Minute || until > interopMaxAge+time.Second {
		t.Fatalf("key expires in %v, want the cookie's max age %v", until, interopMaxAge)
	}
}
