package server_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
)

// TestOversizedEmailIsBadInput: an email longer than any account's is
// refused with 400 before a limiter or the database sees it (one of 60 KiB
// already as a body over 8 KiB, while it is read), and 2,000 such
// log-ins from rotating addresses leave the heap where it was (they left
// 252 MB when each was kept as rate-limiter keys for the window). Shorter
// junk is still counted and answered 401, as before.
func TestOversizedEmailIsBadInput(t *testing.T) {
	t.Parallel()
	cfg := baseConfig(t)
	cfg.TrustedProxies, _ = server.ParseTrustedProxies("127.0.0.1,::1")
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	huge := strings.Repeat("a", 60<<10) + "@example.com"
	for _, tc := range []struct {
		name, email string
		status      int
	}{
		{"60 KiB", huge, 400},
		{"255 bytes", strings.Repeat("a", 243) + "@example.com", 400},
		{"254 bytes of junk", strings.Repeat("a", 254), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/login", loginBody(tc.email, "guess"), nil, "X-Forwarded-For", "198.51.100.7")
			expectStatus(t, r, tc.status, "")
			if tc.status == 400 && !strings.Contains(r.body, "too long") && !strings.Contains(r.body, "too large") {
				t.Fatalf("body %q does not say the email or the body is too long", r.body)
			}
		})
	}

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	body := loginBody(huge, "guess")
	before := heap()
	for i := range 2000 {
		addr := fmt.Sprintf("10.%d.%d.1", i/250, i%250)
		r := h.do("POST", "/api/login", body, nil, "X-Forwarded-For", addr)
		if r.StatusCode != 400 {
			t.Fatalf("request %d: %d %s, want 400", i, r.StatusCode, r.body)
		}
	}
	// Generous: the old code kept 2,000 × 2 × 60 KiB (about 250 MB).
	const bound = 24 << 20
	if after := heap(); after > before+bound {
		t.Fatalf("heap grew from %d to %d bytes after 2,000 oversized log-ins, want under %d more", before, after, bound)
	}
}

// TestLogFloodsAreBounded: a client repeating a refused request 100 times
// in a few seconds writes at most 10 log lines, whatever it repeats (each
// refused log-in wrote a login_rate_limited line before the log throttle).
func TestLogFloodsAreBounded(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	cfg := baseConfig(t)
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := start(t, cfg)
	h.addUser(testEmail, testPassword)
	name := h.srv.Manager().CookieName()
	for _, tc := range []struct {
		name   string
		status int
		send   func() reply
	}{
		{"wrong passwords", 429, func() reply {
			return h.do("POST", "/api/login", loginBody(testEmail, "guess"), nil)
		}},
		{"junk emails", 429, func() reply {
			return h.do("POST", "/api/login", loginBody("no-such-user", "guess"), nil)
		}},
		{"forged cookies", 401, func() reply {
			return h.do("GET", "/api/user", "", nil, "Cookie", name+"=s%3Aforged.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		}},
		{"malformed cookies", 401, func() reply {
			return h.do("GET", "/api/user", "", nil, "Cookie", name+"=junk")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.lines()
			var last reply
			for range 100 {
				last = tc.send()
			}
			expectStatus(t, last, tc.status, "")
			if n := logs.lines() - before; n > 10 {
				t.Fatalf("100 refused requests wrote %d log lines, want at most 10:\n%s", n, logs.tail(n))
			}
		})
	}
}
