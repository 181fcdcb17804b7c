package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/server"
)

// serveReal runs the server the way `sessionkit serve` does (Serve on a
// listener, with its http.Server settings), not behind httptest's.
func serveReal(t *testing.T, cfg server.Config) *harness {
	t.Helper()
	srv, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
		srv.Close()
	})
	return &harness{t: t, cfg: cfg, srv: srv, url: "http://" + ln.Addr().String()}
}

// post sends body to path with exactly the Content-Type given ("" for
// none) and no Origin, as curl or a script would.
func (h *harness) post(path, contentType, body string) reply {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), "POST", h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply{resp, string(b)}
}

// TestLoginBodyIsStrict: the log-in accepts application/json only, and an
// object whose keys are exactly "email" and "password", each once, so a
// body means the same to every parser on its way.
func TestLoginBodyIsStrict(t *testing.T) {
	h := start(t, baseConfig(t))
	h.addUser(testEmail, testPassword)
	good := loginBody(testEmail, testPassword)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"text/plain, as a cross-site form or a no-preflight fetch sends", "text/plain", good, 415, "application/json"},
		{"form-encoded", "application/x-www-form-urlencoded", good, 415, "application/json"},
		{"no Content-Type", "", good, 415, "application/json"},
		{"JSON look-alike type", "application/jsonp", good, 415, "application/json"},
		{"duplicate key, the last one right", "application/json", `{"email":"eve@example.com","email":"` + testEmail + `","password":"` + testPassword + `"}`, 400, `duplicate key "email"`},
		{"case-folded key", "application/json", `{"EMAIL":"` + testEmail + `","password":"` + testPassword + `"}`, 400, `unknown key "EMAIL"`},
		{"unknown key", "application/json", `{"email":"` + testEmail + `","password":"` + testPassword + `","admin":true}`, 400, `unknown key "admin"`},
		{"application/json with a charset", "application/json; charset=utf-8", good, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.post("/api/login", tc.contentType, tc.body)
			if r.StatusCode != tc.status {
				t.Fatalf("status = %d %s, want %d", r.StatusCode, r.body, tc.status)
			}
			if e, _ := r.json(t)["error"].(string); tc.want != "" && !strings.Contains(e, tc.want) {
				t.Fatalf("error %q; want it to say %s", e, tc.want)
			}
			if tc.status != 200 && r.cookie() != nil {
				t.Fatal("a refused log-in set a cookie")
			}
		})
	}
}

// TestHeaderSize: serve refuses 900 KiB of headers with 431 before any
// handler runs, and still takes a browser's worth of same-name cookies
// in front of the real one.
func TestHeaderSize(t *testing.T) {
	h := serveReal(t, baseConfig(t))
	h.addUser(testEmail, testPassword)
	c := h.login(testEmail, testPassword, nil)

	r := h.do("GET", "/api/user", "", c, "X-Padding", strings.Repeat("a", 900<<10))
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("900 KiB of headers: %d, want 431", r.StatusCode)
	}

	junk := strings.Repeat("sessionkit.sid=s%3Ajunk.AAAA; ", 150)
	r = h.do("GET", "/api/user", "", nil, "Cookie", junk+c.Name+"="+c.Value)
	expectStatus(t, r, 200, "")
}

// TestLockoutIsNotADenialOfService: five wrong passwords for an email no
// longer lock its owner out. The guessing address is still held to the
// limit (even with the right password), each further address gets one
// guess, and the real user, from an address that has not failed on the
// email, logs in.
func TestLockoutIsNotADenialOfService(t *testing.T) {
	cfg := baseConfig(t)
	cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = 3, 100
	cfg.TrustedProxies, _ = server.ParseTrustedProxies("127.0.0.1,::1")
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	from := func(addr, password string) reply {
		return h.do("POST", "/api/login", loginBody(testEmail, password), nil, "X-Forwarded-For", addr)
	}
	const attacker, victim = "198.51.100.1", "203.0.113.9"
	for range 3 {
		expectStatus(t, from(attacker, "guess"), 401, "")
	}
	expectStatus(t, from(attacker, "guess"), 429, "")
	expectStatus(t, from(attacker, testPassword), 429, "") // held, even if it guessed right

	// The real user, elsewhere, is let in: today's code answered 429.
	if r := from(victim, testPassword); r.StatusCode != 200 || r.cookie() == nil {
		t.Fatalf("the account's owner after an attacker's failures: %d %s, want 200 and a cookie", r.StatusCode, r.body)
	}
	// Their log-in hands the guesser no fresh budget.
	expectStatus(t, from(attacker, "guess"), 429, "")
	// A second attacking address gets one guess while the email is over
	// its limit, then 429.
	expectStatus(t, from("198.51.100.2", "guess"), 401, "")
	expectStatus(t, from("198.51.100.2", "guess"), 429, "")
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// events returns the logged lines with an event attribute, decoded.
func (s *syncBuffer) events(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] != nil {
			out = append(out, m)
		}
	}
	return out
}

// TestSecurityEventsAreLogged: each security event the issue names leaves
// one structured line at Info or Warn, with the client's network and the
// email redacted, and no password, cookie or session id in the log.
func TestSecurityEventsAreLogged(t *testing.T) {
	logs := &syncBuffer{}
	cfg := baseConfig(t)
	cfg.LoginMaxFailures = 1
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	other := "bob@example.com"
	h.addUser(other, testPassword)

	expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, "wrong guess"), nil), 401, "")
	expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, "wrong guess"), nil), 429, "")
	c := h.login(other, testPassword, nil)
	c2 := h.login(other, testPassword, nil)
	expectStatus(t, h.do("POST", "/api/sessions/revoke-others", "", c2), 200, "")
	forged := c.Name + "=s%3Aforged-id-forged-id.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	expectStatus(t, h.do("GET", "/api/user", "", nil, "Cookie", forged), 401, "")
	expectStatus(t, h.do("POST", "/api/logout", "", c2), 200, "")

	want := map[string]string{
		"login_failed": "WARN", "login_rate_limited": "WARN", "login": "INFO",
		"sessions_revoked": "INFO", "session_cookie_rejected": "WARN", "logout": "INFO",
	}
	got := map[string]bool{}
	for _, e := range logs.events(t) {
		name, _ := e["event"].(string)
		if level, ok := want[name]; ok && e["level"] == level {
			got[name] = true
		}
		if e["client"] != "127.0.0.0/24" {
			t.Errorf("event %s: client %v, want the /24 of the address", name, e["client"])
		}
		if email, ok := e["email"].(string); ok && email != "a…@example.com" && email != "b…@example.com" {
			t.Errorf("event %s: email %q is not redacted", name, email)
		}
	}
	for name, level := range want {
		if !got[name] {
			t.Errorf("no %s line for event %s", level, name)
		}
	}
	all := logs.b.String()
	for _, secret := range []string{testPassword, "wrong guess", c.Value, c2.Value, testEmail, idOf(c2)} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// idOf is the session id in a cookie value.
func idOf(c *http.Cookie) string {
	v := strings.TrimPrefix(c.Value, "s%3A")
	id, _, _ := strings.Cut(v, ".")
	return id
}
