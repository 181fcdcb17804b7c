package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/internal/testkit/faultproxy"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// TestWalkthrough is the README's curl walk-through, with a cookie jar as
// curl -c/-b keeps one.
func TestWalkthrough(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		u := h.addUser(testEmail, testPassword)
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		call := func(method, path, body string) reply {
			t.Helper()
			req, _ := http.NewRequestWithContext(t.Context(), method, h.url+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return reply{resp, string(b)}
		}

		r := call("POST", "/api/login", loginBody(testEmail, testPassword))
		expectStatus(t, r, 200, `{"ok":true}`)
		c := r.cookie()
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
			t.Fatalf("login cookie = %+v; want HttpOnly, SameSite=Lax, Path=/, persistent", c)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("login Cache-Control = %q, want no-store", got)
		}
		if n := h.sessionRows(); n.Live != 1 {
			t.Fatalf("rows after login = %+v, want 1 live", n)
		}

		r = call("GET", "/api/user", "")
		expectStatus(t, r, 200, `{"id":`+strconv.FormatInt(u.ID, 10)+`,"email":"ada@example.com"}`)

		r = call("POST", "/api/logout", "")
		expectStatus(t, r, 200, `{"ok":true}`)
		if got := r.Header.Get("Clear-Site-Data"); got != `"cookies"` {
			t.Errorf("logout Clear-Site-Data = %q", got)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("logout Cache-Control = %q, want no-store", got)
		}
		if cl := r.cookie(); cl == nil || cl.MaxAge >= 0 || cl.Value != "" {
			t.Errorf("logout cookie = %+v; want the cookie cleared", cl)
		}
		if n := h.sessionRows(); n != (admin.SessionCounts{}) {
			t.Fatalf("rows after logout = %+v, want none", n)
		}

		r = call("GET", "/api/user", "")
		expectStatus(t, r, 401, `{"error":"not authenticated"}`)

		// The old cookie, replayed by someone who kept a copy, is dead too.
		expectStatus(t, h.do("GET", "/api/user", "", c), 401, `{"error":"not authenticated"}`)
	})
}

// TestAnonymousCreatesNothing: the seed's table of rows, one per visit,
// must not happen. Requests that do not log in get no row and no cookie.
func TestAnonymousCreatesNothing(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/api/user", ""},
			{"GET", "/api/user", ""},
			{"GET", "/api/_debug/session", ""},
			{"POST", "/api/logout", ""},
			{"POST", "/api/login", loginBody(testEmail, "wrong password")},
			{"POST", "/api/login", "{"},
			{"GET", "/healthz", ""},
			{"GET", "/metrics", ""},
			{"GET", "/", ""},
		} {
			r := h.do(req.method, req.path, req.body, nil)
			if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("%s %s set a cookie: %q", req.method, req.path, sc)
			}
		}
		if n := h.sessionRows(); n != (admin.SessionCounts{}) {
			t.Fatalf("rows after anonymous requests = %+v, want none", n)
		}
		if st := h.srv.Manager().Stats(); st.Creates != 0 || st.Saves != 0 {
			t.Fatalf("store writes after anonymous requests: %+v", st)
		}
	})
}

// TestHealthAndMetricsDoNoSessionWork: load balancers and scrapers poll
// these; they must never read or write the session store.
func TestHealthAndMetricsDoNoSessionWork(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		c := h.login(testEmail, testPassword, nil)
		before := h.srv.Manager().Stats()
		r := h.do("GET", "/healthz", "", c)
		expectStatus(t, r, 200, `{"status":"ok"}`)
		m := h.do("GET", "/metrics", "", c, "Authorization", "Bearer "+metricsToken)
		expectStatus(t, m, 200, "")
		for _, want := range []string{"sessionkit_store_operations_total", "sessionkit_server_logins_total", "go_goroutines"} {
			if !strings.Contains(m.body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		after := h.srv.Manager().Stats()
		if after.StoreLatency.Count != before.StoreLatency.Count || after.Loads != before.Loads {
			t.Fatalf("/healthz and /metrics made store calls: %d before, %d after", before.StoreLatency.Count, after.StoreLatency.Count)
		}
		// The control: the same cookie on an API route does reach the store,
		// so the comparison above can fail.
		expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")
		if got := h.srv.Manager().Stats(); got.Loads == after.Loads {
			t.Fatal("GET /api/user made no store call; the counting is broken")
		}
	})
}

// TestLoginMetrics: every log-in result is exported from the first scrape,
// at 0, and counts its attempts.
func TestLoginMetrics(t *testing.T) {
	h := start(t, baseConfig(t))
	h.addUser(testEmail, testPassword)
	results := []string{"ok", "invalid", "rate_limited", "bad_request", "unavailable"}
	expect := func(want map[string]int) {
		t.Helper()
		m := h.do("GET", "/metrics", "", nil, "Authorization", "Bearer "+metricsToken)
		for _, res := range results {
			line := fmt.Sprintf("sessionkit_server_logins_total{result=%q} %d\n", res, want[res])
			if !strings.Contains(m.body, line) {
				t.Errorf("/metrics lacks %q", line)
			}
		}
	}
	expect(nil)
	h.do("POST", "/api/login", loginBody(testEmail, "guess"), nil)
	h.do("POST", "/api/login", "{", nil)
	h.login(testEmail, testPassword, nil)
	expect(map[string]int{"invalid": 1, "bad_request": 1, "ok": 1})
}

// TestLoginRegeneratesID: an id planted before log-in, or an old session's
// id, is worthless after it.
func TestLoginRegeneratesID(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		h.addUser("bob@example.com", "bobs password")
		first := h.login(testEmail, testPassword, nil)
		second := h.login("bob@example.com", "bobs password", first)
		if second.Value == first.Value {
			t.Fatal("log-in kept the session id it was given")
		}
		expectStatus(t, h.do("GET", "/api/user", "", first), 401, `{"error":"not authenticated"}`)
		r := h.do("GET", "/api/user", "", second)
		expectStatus(t, r, 200, "")
		if r.json(t)["email"] != "bob@example.com" {
			t.Fatalf("after the second log-in /api/user = %s", r.body)
		}
		if n := h.sessionRows(); n.Live != 1 {
			t.Fatalf("rows = %+v, want only the regenerated session", n)
		}
	})
}

func TestRemovedUserIsLoggedOut(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		c := h.login(testEmail, testPassword, nil)
		if _, err := h.srv.DB().RemoveUser(t.Context(), testEmail); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, h.do("GET", "/api/user", "", c), 401, `{"error":"not authenticated"}`)
	})
}

// TestLoginRacingRemoval: a log-in whose user is removed (or disabled)
// after its password check, whose removal swept the user's sessions before
// the log-in saved its own, does not leave a working session behind, though
// GET /api/user no longer reads the users table.
func TestLoginRacingRemoval(t *testing.T) {
	for _, change := range []struct {
		name string
		do   func(db *admin.DB) error
	}{
		{"remove", func(db *admin.DB) error { _, err := db.RemoveUser(t.Context(), testEmail); return err }},
		{"disable", func(db *admin.DB) error { _, err := db.DisableUser(t.Context(), testEmail); return err }},
	} {
		t.Run(change.name, func(t *testing.T) {
			forEachBackend(t, nil, func(t *testing.T, h *harness) {
				h.addUser(testEmail, testPassword)
				server.SetAfterPasswordCheck(h.srv, func() {
					if err := change.do(h.srv.DB()); err != nil {
						t.Error(err)
					}
				})
				c := h.login(testEmail, testPassword, nil)
				expectStatus(t, h.do("GET", "/api/user", "", c), 401, `{"error":"not authenticated"}`)
				if n := h.sessionRows(); n.Live != 0 {
					t.Fatalf("rows = %+v; want the raced session ended", n)
				}
			})
		})
	}
}

func TestDebugEndpoint(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		c := h.login(testEmail, testPassword, nil)
		id, _, _ := strings.Cut(strings.TrimPrefix(c.Value, "s%3A"), ".")
		forged := &http.Cookie{Name: c.Name, Value: "s%3A" + id + "." + base64.RawStdEncoding.EncodeToString(make([]byte, 32))}
		for _, tc := range []struct {
			name       string
			cookie     *http.Cookie
			signature  string
			hasSession bool
		}{
			{"no cookie", nil, "absent", false},
			{"valid", c, "valid", true},
			{"another secret", forged, "bad-signature", false},
			{"garbage", &http.Cookie{Name: c.Name, Value: "garbage"}, "malformed", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.do("GET", "/api/_debug/session", "", tc.cookie)
				expectStatus(t, r, 200, "")
				d := r.json(t)
				for _, key := range []string{"id", "hasSession", "userId", "cookiesHeader", "https", "httpsReason", "signature", "fingerprint"} {
					if _, ok := d[key]; !ok {
						t.Errorf("debug response lacks %q: %s", key, r.body)
					}
				}
				if d["signature"] != tc.signature || d["hasSession"] != tc.hasSession || d["https"] != false {
					t.Errorf("debug = %s; want signature %s, hasSession %v, https false", r.body, tc.signature, tc.hasSession)
				}
				if strings.Contains(r.body, id[:12]) || strings.Contains(r.body, testSecret) {
					t.Errorf("debug response leaks the session id or the secret: %s", r.body)
				}
				if tc.cookie == nil {
					if d["cookiesHeader"] != nil || d["id"] != nil || d["userId"] != nil {
						t.Errorf("no cookie: debug = %s; want nulls", r.body)
					}
					return
				}
				if d["cookiesHeader"] != "sessionkit.sid=[redacted]" {
					t.Errorf("cookiesHeader = %v", d["cookiesHeader"])
				}
				if tc.hasSession {
					if d["id"] != id[:6]+"…" || d["userId"] == nil {
						t.Errorf("valid session: id = %v, userId = %v; want %q and the user", d["id"], d["userId"], id[:6]+"…")
					}
				}
			})
		}
		if got := h.srv.Manager().Stats(); got.Creates != 1 {
			t.Errorf("the debug endpoint created sessions: %d creates", got.Creates)
		}
	})
}

func TestDebugEndpointOffInProduction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		debug  bool
		status int
	}{
		{"production", false, 404},
		{"production with SESSION_DEBUG=1", true, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			cfg.Production, cfg.Debug = true, tc.debug
			h := start(t, cfg)
			expectStatus(t, h.do("GET", "/api/_debug/session", "", nil), tc.status, "")
		})
	}
}

func TestBadLoginRequests(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		for _, tc := range []struct {
			name, body string
			status     int
			want       string // in the error message, when set
		}{
			{"malformed JSON", `{"email":`, 400, "not valid JSON"},
			{"empty body", ``, 400, "empty"},
			{"not an object", `"ada@example.com"`, 400, "must be a JSON object"},
			{"an array", `[]`, 400, "must be a JSON object"},
			{"wrong types", `{"email":1,"password":2}`, 400, `"email" must be a JSON string, not number`},
			{"missing password", `{"email":"ada@example.com"}`, 400, "required"},
			{"missing email", `{"password":"correct horse battery staple"}`, 400, "required"},
			{"two objects", loginBody(testEmail, testPassword) + `{}`, 400, "single JSON object"},
			{"over 8 KiB", `{"email":"ada@example.com","password":"` + strings.Repeat("x", 9<<10) + `"}`, 400, "too large"},
			{"wrong password", loginBody(testEmail, "not the password"), 401, ""},
			{"unknown email", loginBody("eve@example.com", testPassword), 401, ""},
			{"password past bcrypt's 72 bytes", loginBody(testEmail, testPassword+strings.Repeat("x", 60)), 401, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var header []string
				if tc.body == "" { // do sets it only with a body
					header = []string{"Content-Type", "application/json"}
				}
				r := h.do("POST", "/api/login", tc.body, nil, header...)
				if r.StatusCode != tc.status {
					t.Fatalf("status = %d %s, want %d", r.StatusCode, r.body, tc.status)
				}
				if tc.status == 401 && strings.TrimSpace(r.body) != `{"error":"invalid login"}` {
					t.Errorf("body = %s", r.body)
				}
				e, _ := r.json(t)["error"].(string)
				if e == "" {
					t.Errorf("body %s has no error message", r.body)
				}
				if tc.want != "" && !strings.Contains(e, tc.want) {
					t.Errorf("error %q; want it to say %q", e, tc.want)
				}
				if strings.Contains(e, "Go ") || strings.Contains(e, "server.") {
					t.Errorf("error %q speaks of Go types, not of the request", e)
				}
				if r.cookie() != nil {
					t.Error("a failed log-in set a cookie")
				}
			})
		}
	})
}

func TestBruteForce(t *testing.T) {
	limits := func(cfg *server.Config) {
		cfg.LoginMaxFailures = 3
		cfg.LoginMaxFailuresPerAddr = 5
	}
	forEachBackend(t, limits, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		for range 3 {
			expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, "guess"), nil), 401, "")
		}
		// Blocked now, even with the right password, and even when claiming
		// another address: X-Forwarded-For from an untrusted peer is ignored.
		for _, xff := range []string{"", "203.0.113.7"} {
			r := h.do("POST", "/api/login", loginBody(" ADA@example.com", testPassword), nil, "X-Forwarded-For", xff)
			expectStatus(t, r, 429, "")
			secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 15*60 {
				t.Fatalf("Retry-After = %q; want whole seconds within the window", r.Header.Get("Retry-After"))
			}
			if r.cookie() != nil {
				t.Fatal("a refused log-in set a cookie")
			}
		}
		// Two more failures on other emails reach the address's limit: now
		// every email is refused from this address.
		expectStatus(t, h.do("POST", "/api/login", loginBody("x@example.com", "guess"), nil), 401, "")
		expectStatus(t, h.do("POST", "/api/login", loginBody("y@example.com", "guess"), nil), 401, "")
		expectStatus(t, h.do("POST", "/api/login", loginBody("z@example.com", "guess"), nil), 429, "")
	})
}

// TestBruteForceBehindProxy: behind a trusted proxy, clients are told apart
// by X-Forwarded-For.
func TestBruteForceBehindProxy(t *testing.T) {
	cfg := baseConfig(t)
	cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = 100, 2
	cfg.TrustedProxies, _ = server.ParseTrustedProxies("127.0.0.1,::1")
	h := start(t, cfg)
	for range 2 {
		expectStatus(t, h.do("POST", "/api/login", loginBody("a@example.com", "guess"), nil, "X-Forwarded-For", "198.51.100.1"), 401, "")
	}
	expectStatus(t, h.do("POST", "/api/login", loginBody("b@example.com", "guess"), nil, "X-Forwarded-For", "198.51.100.1"), 429, "")
	// A client-supplied hop to the left of the real one changes nothing.
	expectStatus(t, h.do("POST", "/api/login", loginBody("b@example.com", "guess"), nil, "X-Forwarded-For", "10.9.9.9, 198.51.100.1"), 429, "")
	expectStatus(t, h.do("POST", "/api/login", loginBody("b@example.com", "guess"), nil, "X-Forwarded-For", "198.51.100.2"), 401, "")
}

// TestStoreOutage: with the session store gone (the database, or Redis
// when sessions live there), routes that need the session answer 503, never
// 401 (which would log users out), and /healthz names what is down.
func TestStoreOutage(t *testing.T) {
	for _, b := range []string{admin.SQLite, admin.Postgres, "redis"} {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			var proxy *faultproxy.Proxy
			down := "database"
			switch b {
			case admin.Postgres:
				_, url := pgtest.Schema(t)
				cfg.DatabaseURL, proxy = viaProxy(t, url)
			case "redis":
				_, cfg.RedisPrefix = redistest.Client(t)
				cfg.RedisURL, proxy = viaProxy(t, redistest.URL())
				down = "redis"
			}
			h := start(t, cfg)
			h.addUser(testEmail, testPassword)
			c := h.login(testEmail, testPassword, nil)
			expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")

			if proxy != nil {
				proxy.Cut()
			} else {
				h.srv.DB().Sessions().(*sqlitestore.Store).DB().Close()
			}

			const unavailable = `{"error":"session store unavailable"}`
			expectStatus(t, h.do("GET", "/api/user", "", c), 503, unavailable)
			expectStatus(t, h.do("GET", "/api/_debug/session", "", c), 503, unavailable)
			expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, testPassword), c), 503, unavailable)
			r := h.do("POST", "/api/logout", "", c)
			expectStatus(t, r, 503, unavailable)
			if r.cookie() != nil || r.Header.Get("Clear-Site-Data") != "" {
				t.Error("a logout whose delete failed still cleared the cookie")
			}
			expectStatus(t, h.do("GET", "/healthz", "", nil), 503, `{"status":"unavailable","down":["`+down+`"]}`)
			// Anonymous requests need no store and still get their answer.
			expectStatus(t, h.do("GET", "/api/user", "", nil), 401, "")
		})
	}
}

func TestCORSAndCSRF(t *testing.T) {
	const app = "https://app.example.com"
	cfg := baseConfig(t)
	// Built directly, not by LoadConfig: New puts the origin in the form
	// browsers send (it used to panic on the trailing slash, and would
	// never have matched the port).
	cfg.CORSOrigins = []string{"https://App.example.com:443/"}
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)

	for _, tc := range []struct {
		name, origin string
		allowed      bool
	}{
		{"configured origin", app, true},
		{"other origin", "https://evil.example", false},
		{"null origin", "null", false},
		{"no origin", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.origin != "" {
				hdr = []string{"Origin", tc.origin}
			}
			r := h.do("GET", "/api/user", "", nil, hdr...)
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q, want Origin", r.Header.Values("Vary"))
			}
			acao := r.Header.Get("Access-Control-Allow-Origin")
			if want := map[bool]string{true: tc.origin}[tc.allowed]; acao != want {
				t.Errorf("Access-Control-Allow-Origin = %q for origin %q", acao, tc.origin)
			}
			if tc.allowed && r.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Error("credentials not allowed for the configured origin")
			}
			if got := r.Header.Get("Access-Control-Expose-Headers"); tc.allowed != (got == "Retry-After") {
				t.Errorf("Access-Control-Expose-Headers = %q for origin %q; want Retry-After for configured origins only", got, tc.origin)
			}
			pre := h.do("OPTIONS", "/api/login", "", nil, append(hdr, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")...)
			if pre.StatusCode != 204 {
				t.Errorf("preflight = %d", pre.StatusCode)
			}
			if got := pre.Header.Get("Access-Control-Allow-Methods"); tc.allowed != (got != "") {
				t.Errorf("preflight Allow-Methods = %q", got)
			}
			// Ending one session from a front end on another origin is a
			// DELETE, which the preflight must allow.
			del := h.do("OPTIONS", "/api/sessions/abc", "", nil, append(hdr, "Access-Control-Request-Method", "DELETE")...)
			if got := del.Header.Get("Access-Control-Allow-Methods"); tc.allowed != strings.Contains(got, "DELETE") {
				t.Errorf("DELETE preflight Allow-Methods = %q for origin %q", got, tc.origin)
			}
		})
	}

	// Cross-site state changes are refused unless from a configured origin.
	for _, tc := range []struct {
		origin, site string
		status       int
	}{
		{"https://evil.example", "cross-site", 403},
		{"https://evil.example", "", 403},
		{app, "same-site", 200},
	} {
		r := h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil, "Origin", tc.origin, "Sec-Fetch-Site", tc.site)
		if r.StatusCode != tc.status {
			t.Errorf("POST /api/login from %s (%s) = %d %s, want %d", tc.origin, tc.site, r.StatusCode, r.body, tc.status)
		}
		if tc.status == 403 && r.cookie() != nil {
			t.Error("a refused cross-origin log-in set a cookie")
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("POST /api/login from %s (%s): Cache-Control = %q, want no-store on every API response", tc.origin, tc.site, got)
		}
	}
}

// TestNoCORSOriginsNoVary: without CORS origins no answer depends on Origin,
// so the API leaves Vary out (one header fewer on every request) and allows
// no origin.
func TestNoCORSOriginsNoVary(t *testing.T) {
	h := start(t, baseConfig(t))
	for _, origin := range []string{"", "https://app.example.com"} {
		var hdr []string
		if origin != "" {
			hdr = []string{"Origin", origin}
		}
		r := h.do("GET", "/api/user", "", nil, hdr...)
		if v := r.Header.Values("Vary"); len(v) > 0 {
			t.Errorf("origin %q: Vary = %q, want none", origin, v)
		}
		if acao := r.Header.Get("Access-Control-Allow-Origin"); acao != "" {
			t.Errorf("origin %q: Access-Control-Allow-Origin = %q", origin, acao)
		}
	}
}

// TestBruteForceConcurrent: guesses sent all at once get no more tries
// than guesses sent one by one; an attempt counts against the limit from
// the moment it is let through, not only once its password check failed.
func TestBruteForceConcurrent(t *testing.T) {
	cfg := baseConfig(t)
	cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = 3, 1000
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	const n = 30
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), "POST", h.url+"/api/login", strings.NewReader(loginBody(testEmail, "guess")))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	poll.Wait(t, "the concurrent log-ins", &wg)
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] > 3 || count[401]+count[429] != n {
		t.Fatalf("%d concurrent guesses for one email got %v; want at most 3 checked (401) and the rest refused (429)", n, count)
	}
}

// TestSuccessfulLoginsDoNotCount: an attempt is counted while it is
// checked, and taken back when the password was right, so a user who logs
// in often is never refused.
func TestSuccessfulLoginsDoNotCount(t *testing.T) {
	cfg := baseConfig(t)
	cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = 2, 2
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	for range 4 {
		h.login(testEmail, testPassword, nil)
	}
	expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, "guess"), nil), 401, "")
}

// TestRedisConnectRedisLayout: with REDIS_LAYOUT=connect-redis the
// walk-through works and each session is connect-redis's string key holding
// express-session's JSON, cookie object included, expiring with it.
func TestRedisConnectRedisLayout(t *testing.T) {
	cfg := baseConfig(t)
	client, prefix := redistest.Client(t)
	cfg.RedisURL, cfg.RedisPrefix, cfg.RedisLayout = redistest.URL(), prefix, redisstore.LayoutConnectRedis
	h := start(t, cfg)
	// In this layout the user sets live outside the prefix redistest
	// cleans up; the server is still open when this runs (last in, first
	// out).
	t.Cleanup(func() {
		if _, err := h.srv.DB().Sessions().(*redisstore.Store).DeleteAll(context.Background()); err != nil {
			t.Errorf("delete the test's sessions: %v", err)
		}
	})
	h.addUser(testEmail, testPassword)
	c := h.login(testEmail, testPassword, nil)
	expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")

	keys, err := client.Keys(t.Context(), prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys under the prefix = %q, %v; want one session", keys, err)
	}
	raw, err := client.Get(t.Context(), keys[0]).Result()
	if err != nil {
		t.Fatalf("GET %s: %v; want connect-redis's string", keys[0], err)
	}
	var sess map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &sess); err != nil || sess["cookie"] == nil || sess["userId"] == nil {
		t.Fatalf("session JSON %s (%v); want express-session's cookie object and userId", raw, err)
	}
	if ttl := client.PTTL(t.Context(), keys[0]).Val(); ttl <= 0 {
		t.Fatalf("PTTL %s = %v; want the session's expiry", keys[0], ttl)
	}
	expectStatus(t, h.do("POST", "/api/logout", "", c), 200, "")
	if n := client.Exists(t.Context(), keys[0]).Val(); n != 0 {
		t.Fatal("the session's key is still there after log-out")
	}
}
