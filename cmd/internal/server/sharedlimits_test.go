package server_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// instances starts n servers on one store (the backend's: a PostgreSQL
// schema, or a Redis prefix with the users in one SQLite file), as n
// instances behind a load balancer, trusting X-Forwarded-For from the test.
func instances(t *testing.T, n int, backend func(*testing.T, *server.Config), mutate func(*server.Config)) []*harness {
	cfg := baseConfig(t)
	backend(t, &cfg)
	cfg.TrustedProxies, _ = server.ParseTrustedProxies("127.0.0.1,::1")
	mutate(&cfg)
	hs := make([]*harness, n)
	for i := range hs {
		hs[i] = start(t, cfg)
	}
	return hs
}

// sharedBackends are the backends whose stores every instance shares.
func sharedBackends(t *testing.T, f func(t *testing.T, backend func(*testing.T, *server.Config))) {
	for _, b := range backends {
		if b.Name == "sqlite" {
			continue // one machine: the limits stay in its memory
		}
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			f(t, func(t *testing.T, cfg *server.Config) { configure(cfg, b.Setup(t)) })
		})
	}
}

// TestASVS_6_1_1_6_3_1_LoginLimitsAreSharedByInstances: three instances on one PostgreSQL
// or Redis give an attacker the guesses one instance gives, whichever
// instance each guess reaches, under docs/login-limits.md's rule: the
// email's LOGIN_MAX_FAILURES, then one budget of as many for every address
// it never logged in from, however many addresses rotate; the owner from an
// address they logged in from (on any instance) is let in throughout, and
// from a new address while the fresh budget lasts.
func TestASVS_6_1_1_6_3_1_LoginLimitsAreSharedByInstances(t *testing.T) {
	t.Parallel()
	sharedBackends(t, func(t *testing.T, backend func(*testing.T, *server.Config)) {
		const limit = 3
		hs := instances(t, 3, backend, func(cfg *server.Config) {
			cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = limit, 100
		})
		hs[0].addUser(testEmail, testPassword)
		n := 0
		from := func(addr, password string) reply {
			n++ // round robin, as a load balancer would
			return hs[n%len(hs)].do("POST", "/api/login", loginBody(testEmail, password), nil, "X-Forwarded-For", addr)
		}
		const home = "203.0.113.9"
		expectStatus(t, from(home, testPassword), 200, "")

		for i := range limit {
			if r := from("198.51.100.1", "guess"); r.StatusCode != 401 {
				t.Fatalf("guess %d of %d from one address: %d %s, want 401", i+1, limit, r.StatusCode, r.body)
			}
		}
		for range len(hs) { // every instance now refuses that address
			expectStatus(t, from("198.51.100.1", "guess"), 429, "")
		}
		expectStatus(t, from("198.51.100.1", testPassword), 429, "")

		// The owner from an address of their own, new or known, gets in;
		// a right password takes its attempt back from the fresh budget.
		expectStatus(t, from("192.0.2.50", testPassword), 200, "")
		expectStatus(t, from(home, testPassword), 200, "")

		// Rotating addresses share one budget of limit guesses.
		guesses := 0
		for i := range 4 * limit {
			r := from(fmt.Sprintf("198.51.100.%d", 10+i), "guess")
			switch r.StatusCode {
			case 401:
				guesses++
			case 429:
			default:
				t.Fatalf("guess from a rotated address: %d %s", r.StatusCode, r.body)
			}
		}
		if guesses != limit {
			t.Fatalf("rotating addresses over 3 instances got %d guesses once the email was over its limit, want %d", guesses, limit)
		}
		expectStatus(t, from("198.51.100.99", testPassword), 429, "")
		// The owner's known address, on every instance, is still let in.
		for range len(hs) {
			expectStatus(t, from(home, testPassword), 200, "")
		}
		// What the rule leaves: a new address while the budget is spent.
		expectStatus(t, from("192.0.2.51", testPassword), 429, "")
	})
}

// TestSharedLoginLimitsHoldUnderConcurrency: attempts sent all at once to
// three instances count from the moment each is let through, so together
// they get no more than the limits: one address spraying distinct emails
// gets exactly LOGIN_MAX_FAILURES_PER_ADDR guesses, and rotating addresses
// against one email at most twice LOGIN_MAX_FAILURES (the email's, then the
// fresh addresses' budget).
func TestSharedLoginLimitsHoldUnderConcurrency(t *testing.T) {
	t.Parallel()
	sharedBackends(t, func(t *testing.T, backend func(*testing.T, *server.Config)) {
		const perEmail, perAddr, tries = 3, 4, 24
		hs := instances(t, 3, backend, func(cfg *server.Config) {
			cfg.LoginMaxFailures, cfg.LoginMaxFailuresPerAddr = perEmail, perAddr
		})
		hs[0].addUser(testEmail, testPassword)
		burst := func(email, addr func(i int) string) (guesses int) {
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range tries {
				wg.Go(func() {
					r := hs[i%len(hs)].do("POST", "/api/login", loginBody(email(i), "guess"), nil, "X-Forwarded-For", addr(i))
					mu.Lock()
					defer mu.Unlock()
					switch r.StatusCode {
					case 401:
						guesses++
					case 429:
					default:
						t.Errorf("concurrent guess: %d %s", r.StatusCode, r.body)
					}
				})
			}
			wg.Wait()
			return guesses
		}
		if g := burst(func(i int) string { return fmt.Sprintf("u%d@example.com", i) },
			func(int) string { return "198.51.100.1" }); g != perAddr {
			t.Errorf("one address, %d emails at once over 3 instances: %d guesses, want %d", tries, g, perAddr)
		}
		if g := burst(func(int) string { return testEmail },
			func(i int) string { return fmt.Sprintf("198.51.100.%d", 10+i) }); g < perEmail || g > 2*perEmail {
			t.Errorf("%d addresses on one email at once over 3 instances: %d guesses, want %d to %d", tries, g, perEmail, 2*perEmail)
		}
	})
}

// TestLoginLimitsWithoutTheirTable: a PostgreSQL schema migrated by a
// version without the login_limits table still serves log-ins, limited by
// each instance, and says at start that `sessionkit migrate` is the fix.
func TestLoginLimitsWithoutTheirTable(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.Schema(t)
	logs := &syncBuffer{}
	cfg := baseConfig(t)
	cfg.DatabaseURL, cfg.LoginMaxFailures = dbURL, 2
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `DROP TABLE login_limits`); err != nil {
		t.Fatal(err)
	}
	cfg.AutoMigrate = false
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	h = start(t, cfg)
	if !strings.Contains(logs.String(), "login_limits") || !strings.Contains(logs.String(), "sessionkit migrate") {
		t.Fatalf("start without the login_limits table logged no fix:\n%s", logs)
	}
	for range 2 {
		expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, "guess"), nil), 401, "")
	}
	expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, "guess"), nil), 429, "")
}
