package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
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

// TestSlowClientIsCutOff: a client that never finishes its request
// headers (slowloris) has its connection closed by serve's read deadline,
// instead of holding it for ever. The wait is the deadline (10 s); the
// test asserts that the close comes, not when.
func TestSlowClientIsCutOff(t *testing.T) {
	t.Parallel()
	h := serveReal(t, baseConfig(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api/user HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute)) // the test's own bound, for a loaded machine
	n, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("serve still held the half-sent request's connection after a minute")
	}
	if err != nil || n != 0 {
		t.Fatalf("read %d bytes, %v; want the connection closed without an answer", n, err)
	}
}

// TestLockoutIsNotADenialOfService: five wrong passwords for an email no
// longer lock its owner out. The guessing address is still held to the
// limit (even with the right password); further addresses share one more
// budget of guesses, not one each; and the real user, from an address
// that has not failed on the email, or later from one they logged in
// from, logs in.
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
	// Fresh addresses share one budget per email (3 here), not one guess
	// each: the fourth is refused, even with the right password.
	expectStatus(t, from("198.51.100.3", "guess"), 401, "")
	expectStatus(t, from("198.51.100.4", "guess"), 401, "")
	expectStatus(t, from("198.51.100.5", "guess"), 429, "")
	expectStatus(t, from("198.51.100.6", testPassword), 429, "")
	// The owner, from the address they logged in from, is not locked out.
	if r := from(victim, testPassword); r.StatusCode != 200 || r.cookie() == nil {
		t.Fatalf("the owner from a known address while the fresh budget is spent: %d %s, want 200", r.StatusCode, r.body)
	}
}

// syncBuffer is a log destination safe for the server's goroutines: the
// shared log buffer, read line by line.
type syncBuffer struct{ sessiontest.LogBuffer }

// lines counts the lines logged so far.
func (s *syncBuffer) lines() int { return strings.Count(s.String(), "\n") }

// tail returns the last n lines logged.
func (s *syncBuffer) tail(n int) string {
	all := strings.Split(strings.TrimSpace(s.String()), "\n")
	return strings.Join(all[max(0, len(all)-n):], "\n")
}

// events returns the logged lines with an event attribute, decoded.
func (s *syncBuffer) events(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["event"] != nil {
			out = append(out, m)
		}
	}
	return out
}

// TestRejectedCookiesAreThrottled: a client sending the same bad cookie
// on every request leaves one line a minute, not one per request; each
// kind of rejection has its own line, and the library still counts all.
func TestRejectedCookiesAreThrottled(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	cfg := baseConfig(t)
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := start(t, cfg)
	name := h.srv.Manager().CookieName()
	forged := name + "=s%3Aforged-id-forged-id.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	malformed := name + "=junk"
	for range 20 {
		expectStatus(t, h.do("GET", "/api/user", "", nil, "Cookie", forged), 401, "")
		expectStatus(t, h.do("GET", "/api/user", "", nil, "Cookie", malformed), 401, "")
	}
	// Session events reach the log off the request's path, in order: once
	// a log-in's event is there, every rejection before it is too.
	h.addUser(testEmail, testPassword)
	h.login(testEmail, testPassword, nil)
	poll.Until(t, "the log-in's event after the rejections", func() bool {
		return slices.ContainsFunc(logs.events(t), func(e map[string]any) bool {
			return e["event"] == "session_authenticated"
		})
	})
	lines := map[string]int{}
	for _, e := range logs.events(t) {
		if e["event"] == "session_cookie_rejected" {
			status, _ := e["reason"].(string)
			lines[status]++
		}
	}
	if len(lines) != 2 {
		t.Fatalf("rejection lines by status: %v, want one for each of the two kinds", lines)
	}
	for status, n := range lines {
		if n != 1 {
			t.Errorf("%d lines for %s cookies sent 20 times in a row, want 1", n, status)
		}
	}
	if st := h.srv.Manager().Stats(); st.BadSignatures != 20 || st.MalformedCookies != 20 {
		t.Errorf("stats count %d bad signatures and %d malformed, want 20 each", st.BadSignatures, st.MalformedCookies)
	}
}

// TestReauthenticationIsLimitedLikeALogIn: re-entering the password to end
// other sessions is under the log-in limits of the email and the address.
// Another address's failures on the email do not refuse the user's own
// re-authentication (the old code answered 429: anyone could block it),
// and a stolen session guessing the password is held to the limit.
func TestReauthenticationIsLimitedLikeALogIn(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = 3, 100
	cfg.TrustedProxies, _ = server.ParseTrustedProxies("127.0.0.1,::1")
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	const attacker, owner = "198.51.100.1", "203.0.113.9"
	login := func(addr string) *http.Cookie {
		r := h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil, "X-Forwarded-For", addr)
		expectStatus(t, r, 200, "")
		return r.cookie()
	}
	reauth := func(addr, password string, c *http.Cookie) reply {
		return h.do("POST", "/api/sessions/revoke-others", `{"password":"`+password+`"}`, c, "X-Forwarded-For", addr)
	}
	stolen, phone, laptop := login(attacker), login(owner), login(owner)

	// The holder of a stolen session guesses until the email is over its
	// limit, and is then refused, right password or not.
	for range 3 {
		expectStatus(t, reauth(attacker, "guess", stolen), 403, `{"error":"wrong password"}`)
	}
	expectStatus(t, reauth(attacker, "guess", stolen), 429, "")
	expectStatus(t, reauth(attacker, testPassword, stolen), 429, "")

	// The owner, elsewhere, re-authenticates and ends the other sessions,
	// the stolen one among them.
	expectStatus(t, reauth(owner, testPassword, laptop), 200, `{"ok":true,"ended":2}`)
	expectStatus(t, h.do("GET", "/api/user", "", stolen), 401, "")
	expectStatus(t, h.do("GET", "/api/user", "", phone), 401, "")
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
	all := logs.String()
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

// TestWeakProductionConfig: in production, what cannot be safe stops the
// start with a message naming the variable, and what is merely risky is
// logged; development accepts all of it.
func TestWeakProductionConfig(t *testing.T) {
	good := "Zq7vJ3kP0xW9mN2bR5tY8uI1oA4sD6fG"
	env := func(kv ...string) func(string) string {
		m := map[string]string{"APP_ENV": "production", "SESSION_SECRET": good}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string // in the error
	}{
		{"a secret of one repeated byte", []string{"SESSION_SECRET", strings.Repeat("a", 48)}, "SESSION_SECRET"},
		{"a secret listed twice", []string{"SESSION_SECRET", good + "," + good}, "the same"},
		{"every address a trusted proxy", []string{"TRUSTED_PROXIES", "0.0.0.0/0"}, "TRUSTED_PROXIES"},
		{"every IPv6 address a trusted proxy", []string{"TRUSTED_PROXIES", "10.0.0.1,::/0"}, "TRUSTED_PROXIES"},
		{"a session lifetime of 100 years", []string{"SESSION_TTL", "36500d"}, "SESSION_TTL"},
		{"a CORS origin over plain HTTP", []string{"CORS_ORIGINS", "https://app.example.com,http://app.example.com"}, "CORS_ORIGINS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.LoadConfig(nil, env(tc.env...), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig = %v; want a refusal naming %s", err, tc.want)
			}
			dev := env(append(tc.env, "APP_ENV", "development")...)
			if _, err := server.LoadConfig(nil, dev, io.Discard); err != nil {
				t.Fatalf("development refused it: %v", err)
			}
		})
	}

	l, err := server.LoadConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if l.IdleTimeout != server.DefaultProductionIdleTimeout {
		t.Fatalf("production idle timeout = %s, want the %s default", l.IdleTimeout, server.DefaultProductionIdleTimeout)
	}
	if l, _ := server.LoadConfig(nil, env("APP_ENV", "development"), io.Discard); l.IdleTimeout != 0 {
		t.Fatalf("development idle timeout = %s, want none", l.IdleTimeout)
	}
	// A __Host- cookie by default in production, so no sibling subdomain
	// can plant a same-name one; not possible with a Domain, nor without
	// Secure in development.
	if l.CookieName != server.DefaultProductionCookieName {
		t.Fatalf("production cookie name = %q, want %q", l.CookieName, server.DefaultProductionCookieName)
	}
	if l, _ := server.LoadConfig(nil, env("COOKIE_DOMAIN", "example.com"), io.Discard); l.CookieName != "sessionkit.sid" {
		t.Fatalf("production cookie name with COOKIE_DOMAIN = %q, want sessionkit.sid", l.CookieName)
	}
	if l, _ := server.LoadConfig(nil, env("APP_ENV", "development"), io.Discard); l.CookieName != "sessionkit.sid" {
		t.Fatalf("development cookie name = %q, want sessionkit.sid", l.CookieName)
	}

	// Risky, not wrong: started, with a warning each.
	l, err = server.LoadConfig(nil, env("SESSION_IDLE_TIMEOUT", "0", "SESSION_TTL", "90d", "TRUSTED_PROXIES", "10.0.0.0/4"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := l.Config
	cfg.DataDir, cfg.AutoMigrate, cfg.BcryptCost = t.TempDir(), true, 4
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	start(t, cfg)
	for _, want := range []string{"SESSION_IDLE_TIMEOUT is 0", "SESSION_TTL is 2160h0m0s", "TRUSTED_PROXIES: 0.0.0.0/4"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no warning saying %q in:\n%s", want, logs.String())
		}
	}
}

// TestDataFileModes: a DATA_DIR others can read is tightened to 0700 with
// a warning, and a development secret others can read stops the start
// with the chmod that fixes it.
func TestDataFileModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := baseConfig(t)
	cfg.DataDir, cfg.Secrets = dir, nil
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	start(t, cfg)
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("DATA_DIR left at mode %04o", fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "tightened to 0700") {
		t.Errorf("no warning about the directory:\n%s", logs.String())
	}

	secret := filepath.Join(dir, server.SecretFile)
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := server.New(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+secret) {
		t.Fatalf("a world-readable secret: New = %v; want a refusal naming chmod 600", err)
	}
}

// TestMetricsNeedAToken: /metrics on the API port is not public: without
// METRICS_TOKEN it answers 404, and with one it answers only that bearer
// token.
func TestMetricsNeedAToken(t *testing.T) {
	cfg := baseConfig(t)
	cfg.MetricsToken = ""
	off := start(t, cfg)
	r := off.do("GET", "/metrics", "", nil)
	if r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "go_goroutines") {
		t.Fatalf("/metrics without METRICS_TOKEN: %d %.80q, want 404 and no figures", r.StatusCode, r.body)
	}

	on := start(t, baseConfig(t))
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + metricsToken + "x", metricsToken} {
		r := on.do("GET", "/metrics", "", nil, "Authorization", auth)
		if r.StatusCode != http.StatusUnauthorized || strings.Contains(r.body, "go_goroutines") {
			t.Fatalf("/metrics with Authorization %q: %d, want 401 and no figures", auth, r.StatusCode)
		}
	}
	r = on.do("GET", "/metrics", "", nil, "Authorization", "Bearer "+metricsToken)
	if r.StatusCode != 200 || !strings.Contains(r.body, "sessionkit_store_operations_total") {
		t.Fatalf("/metrics with the token: %d", r.StatusCode)
	}
}
