package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
)

// nonUTCZone is a TimeZone far from UTC, without daylight saving time, so
// that an expiry written in one zone and read in another is hours off.
const nonUTCZone = "Asia/Kathmandu"

// userJSON is GET /api/user's body on both sides for u.
func userJSON(u user) string { return fmt.Sprintf(`{"id":%d,"email":%q}`, u.ID, u.Email) }

// sameUser checks an /api/user body names u, whichever side wrote it.
func sameUser(t *testing.T, side, body string, u user) {
	t.Helper()
	var got user
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.ID != u.ID || got.Email != u.Email {
		t.Fatalf("%s /api/user = %s, want %s", side, body, userJSON(u))
	}
}

// TestSharedSessions runs each scenario of docs/moving-from-node.md's
// "Sharing one table with express-session" against one database, one secret and one cookie name,
// with the server's default TimeZone and with a non-UTC one.
func TestSharedSessions(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"", nonUTCZone} {
		name := "server TimeZone"
		if zone != "" {
			name = "TimeZone " + zone
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startStack(t, zone, 60)
			t.Run("log in on Node, read on Go", func(t *testing.T) { loginNodeReadGo(t, s, s.users[0]) })
			t.Run("log in on Go, read and touch on Node", func(t *testing.T) { loginGoReadNode(t, s, s.users[1]) })
			t.Run("log out on either side", func(t *testing.T) { logoutEitherSide(t, s, s.users[2], s.users[3]) })
			t.Run("keys written by both", func(t *testing.T) { keysFromBothSides(t, s, s.users[4]) })
			t.Run("behind one round-robin proxy", func(t *testing.T) { behindOneProxy(t, s, s.users[10:60]) })
			t.Run("Node user unknown to Go", func(t *testing.T) { unknownToGo(t, s) })
			s.noErrors(t)
		})
	}
}

func loginNodeReadGo(t *testing.T, s *stack, u user) {
	b := newBrowser(t)
	b.login(s.nodeURL, u)
	before := s.rowVersion(t, u)
	for range 5 {
		sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
	}
	if after := s.rowVersion(t, u); after != before {
		t.Errorf("Go's reads of an unchanged session wrote its row (version %s → %s)", before, after)
	}
	sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
	sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
}

func loginGoReadNode(t *testing.T, s *stack, u user) {
	b := newBrowser(t)
	b.login(s.goURL, u)
	// The session Go created carries the cookie object express-session
	// needs to load it.
	var sess map[string]json.RawMessage
	var raw string
	if err := s.pool.QueryRow(t.Context(), `SELECT sess FROM "`+s.schema+`"."session" WHERE sess->>'email' = $1`, u.Email).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(raw), &sess); err != nil || sess["cookie"] == nil {
		t.Fatalf("the session Go wrote has no cookie object: %s", raw)
	}
	sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
	// That read touched the row (express-session's store.touch); Go still
	// reads the session, and Node again.
	time.Sleep(1100 * time.Millisecond) // connect-pg-simple's expire has whole seconds
	sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
	sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
	sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
}

func logoutEitherSide(t *testing.T, s *stack, onGo, onNode user) {
	for _, c := range []struct {
		name                    string
		u                       user
		loginAt, outAt, otherAt string
	}{
		{"Go logs out, Node refuses", onGo, s.nodeURL, s.goURL, s.nodeURL},
		{"Node logs out, Go refuses", onNode, s.goURL, s.nodeURL, s.goURL},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBrowser(t)
			b.login(c.loginAt, c.u)
			sameUser(t, "other side", b.must(200, "GET", c.otherAt+"/api/user", nil), c.u)
			old := b.cookie(c.loginAt)
			b.must(200, "POST", c.outAt+"/api/logout", nil)
			// The old cookie, replayed on the other side.
			replay := newBrowser(t)
			replay.client.Jar.SetCookies(sessiontest.MustURL(t, c.otherAt), []*http.Cookie{{Name: cookieName, Value: old.Value, Path: "/"}})
			replay.must(401, "GET", c.otherAt+"/api/user", nil)
			replay.must(401, "GET", c.outAt+"/api/user", nil)
		})
	}
}

func keysFromBothSides(t *testing.T, s *stack, u user) {
	b := newBrowser(t)
	b.login(s.nodeURL, u)
	b.must(200, "POST", s.goURL+"/api/go-key?value=from-go", nil)
	b.must(200, "POST", s.nodeURL+"/api/node-key", map[string]string{"value": "from-node"})
	for _, side := range []string{s.goURL, s.nodeURL} {
		var keys map[string]any
		body := b.must(200, "GET", side+"/api/keys", nil)
		if err := json.Unmarshal([]byte(body), &keys); err != nil {
			t.Fatal(err)
		}
		if keys["goKey"] != "from-go" || keys["nodeKey"] != "from-node" || keys["email"] != u.Email {
			t.Errorf("%s reads the keys %s; want goKey from-go, nodeKey from-node and the log-in's", side, body)
		}
	}
	sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
	sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
}

// behindOneProxy puts both instances behind a round-robin proxy: one
// browser per user logs in and reads for a few seconds.
func behindOneProxy(t *testing.T, s *stack, users []user) {
	proxy := roundRobin(t, s.goURL, s.nodeURL)
	before := s.rows(t)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		reads    int
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, a...))
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowser(t)
			code, body, err := b.do("POST", proxy+"/api/login", map[string]string{"email": u.Email, "password": u.Password})
			if err != nil || code != 200 {
				fail("log-in of %s: %d %s %v", u.Email, code, body, err)
				return
			}
			n := 0
			for time.Now().Before(deadline) {
				code, body, err := b.do("GET", proxy+"/api/user", nil)
				if err != nil || code != 200 || body != userJSON(u) && body != userJSON(u)+"\n" {
					fail("read %d of %s: %d %s %v", n, u.Email, code, body, err)
					return
				}
				n++
			}
			mu.Lock()
			reads += n
			mu.Unlock()
		}()
	}
	poll.Wait(t, "the readers behind the proxy", &wg)
	for _, f := range failures {
		t.Error(f)
	}
	if got := s.rows(t) - before; got != len(users) {
		t.Errorf("%d browsers logged in once each left %d new rows, want one each", len(users), got)
	}
	t.Logf("%d browsers, %d reads through the proxy, all 200", len(users), reads)
}

// unknownToGo logs in on Node as users serve cannot map (see
// nodeOnlyUsers), with one cookie jar for both sides as behind one
// balancer: Go answers 401 on every route that needs a user, writes no
// cookie and leaves the row as it is, so Node still answers 200; the line
// Go logs names the session by its handle, not its id, once.
func unknownToGo(t *testing.T, s *stack) {
	for _, u := range s.nodeOnly {
		t.Run(u.Email, func(t *testing.T) {
			b := newBrowser(t)
			b.login(s.nodeURL, u)
			sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
			before, logged := s.rowVersion(t, u), unmappedLines(s)
			for _, path := range []string{"/api/user", "/api/sessions", "/api/user"} {
				resp, err := b.client.Get(s.goURL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 || len(resp.Header.Values("Set-Cookie")) > 0 || resp.Header.Get("Clear-Site-Data") != "" {
					t.Fatalf("Go %s: %d, Set-Cookie %q, Clear-Site-Data %q; want 401 and no cookie change",
						path, resp.StatusCode, resp.Header.Values("Set-Cookie"), resp.Header.Get("Clear-Site-Data"))
				}
			}
			if after := s.rowVersion(t, u); after != before {
				t.Errorf("Go wrote the row of a session it cannot map (version %s → %s)", before, after)
			}
			sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
			id, _, _ := strings.Cut(strings.TrimPrefix(b.cookie(s.nodeURL).Value, "s%3A"), ".")
			lines := unmappedLines(s)[len(logged):]
			if len(lines) != 1 || strings.Contains(lines[0], id) || !strings.Contains(lines[0], "session=") {
				t.Errorf("Go logged %q for the session; want one line naming its handle, not its id %s…", lines, id[:6])
			}
		})
	}
}

// unmappedLines returns serve's session_unmapped lines so far, at Info.
func unmappedLines(s *stack) []string {
	var out []string
	for _, line := range strings.Split(s.goLog.String(), "\n") {
		if strings.Contains(line, "event=session_unmapped") && strings.Contains(line, "level=INFO") {
			out = append(out, line)
		}
	}
	return out
}

// TestUnknownToGoWithIdleTimeout: with an idle timeout set on purpose on
// the shared table (which serve warns about), a session serve cannot map
// is still left exactly as Node wrote it: no touch of its expiry, no
// cookie re-sent.
func TestUnknownToGoWithIdleTimeout(t *testing.T) {
	t.Parallel()
	s := startStackWith(t, stackOptions{users: 2, goEnv: map[string]string{"SESSION_IDLE_TIMEOUT": "10m"}})
	unknownToGo(t, s)
}
