package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/storetest"
)

// FuzzLogin feeds arbitrary log-in bodies and Cookie headers to the
// reference server's handler, in process, on a real PostgreSQL schema. Every
// answer must be 200 (only for the right credentials, with exactly one new
// session) or a clear 4xx (400, 401, 429) with a JSON error and no store
// write; never a 5xx. `go test` runs the seed corpus; `go test -fuzz
// FuzzLogin ./cmd/internal/suites/reliability/` explores further.
func FuzzLogin(f *testing.F) {
	const email = "user0@example.com"
	valid := string(loginBody(email, password))
	forged := cookieName + "=" + sign("no-such-session-0123456789", secretA)
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	for _, seed := range []struct{ body, cookie string }{
		{valid, ""},
		{valid, forged},
		{valid, cookieName + "=" + sign("x", secretB)},
		{string(loginBody("  USER0@Example.COM ", password)), ""},
		{string(loginBody(email, "wrong password")), ""},
		{string(loginBody("nobody@example.com", password)), ""},
		{"", ""},
		{"not json", ""},
		{`{"email":`, ""},
		{`[]`, ""},
		{`null`, ""},
		{`{"email":1,"password":2}`, ""},
		{`{"email":"` + email + `","password":"` + password + `"}{}`, ""},
		{`{"email":"a@b.c","email":"` + email + `","password":"` + password + `"}`, ""},
		{deep, ""},
		{`{"email":"` + strings.Repeat("a", 70<<10) + `","password":"x"}`, ""},
		{`{"email":"` + email + `\u0000","password":"x"}`, ""},
		{`{"email":"` + email + `","password":"` + password + `\u0000"}`, ""},
		{"{\"email\":\"\xff\xfe\",\"password\":\"\xff\"}", ""},
		{string(loginBody(`' OR '1'='1`, `' OR '1'='1`)), ""},
		{string(loginBody(email+"'--", password)), ""},
		{string(loginBody(email, `'; DROP TABLE sessions; --`)), `x'; DELETE FROM sessions; --=1`},
		{valid, strings.Repeat(cookieName+"=garbage; ", 100)},
	} {
		f.Add([]byte(seed.body), seed.cookie)
	}

	rep := newReport(f, "FuzzLogin (seed corpus)",
		"arbitrary log-in bodies and Cookie headers to the server's handler, in process",
		"hostile input")
	var statuses tally
	var inputs, wrote atomic.Int64

	_, dbURL := pgtest.Schema(f)
	counter := &storetest.Counter{}
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{
		DatabaseURL:             dbURL,
		Production:              true,
		Secrets:                 []string{secretA},
		CookieName:              cookieName,
		AutoMigrate:             true,
		BcryptCost:              bcryptCost,
		LoginMaxFailures:        1 << 30,
		LoginMaxFailuresPerAddr: 1 << 30,
		PruneInterval:           -1,
		Logger:                  slog.New(slog.DiscardHandler),
		WrapStore: func(s sessionkit.Store) sessionkit.Store {
			counter.Store = s
			return counter
		},
	})
	if err != nil {
		f.Fatalf("server.New: %v", err)
	}
	f.Cleanup(func() { srv.Close() })
	if _, err := srv.DB().AddUser(ctx, email, password, bcryptCost); err != nil {
		f.Fatal(err)
	}

	f.Cleanup(func() {
		rep.add("inputs", inputs.Load())
		rep.add("answers", statuses.String())
		rep.setLost("%d rejected inputs wrote to the store", wrote.Load())
	})
	f.Fuzz(func(t *testing.T, body []byte, cookie string) {
		req := httptest.NewRequest(http.MethodPost, "/api/login", bytes.NewReader(body))
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Content-Type", "application/json")
		if validHeaderValue(cookie) {
			// net/http refuses other header values before any handler runs
			// (TestBadInput checks that over the wire).
			req.Header.Set("Cookie", cookie)
		}
		c0, u0, d0 := counter.Creates.Load(), counter.Updates.Load(), counter.Deletes.Load()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		dc, du, dd := counter.Creates.Load()-c0, counter.Updates.Load()-u0, counter.Deletes.Load()-d0

		resp := rec.Result()
		out, _ := io.ReadAll(resp.Body)
		inputs.Add(1)
		statuses.inc(fmt.Sprint(resp.StatusCode))
		if resp.StatusCode != http.StatusOK && dc+du+dd != 0 {
			wrote.Add(1)
		}
		var answer struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(out, &answer); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("status %d: not a JSON answer (%v): %.200q", resp.StatusCode, err, out)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			var c struct{ Email, Password string }
			_ = json.Unmarshal(body, &c)
			norm, _ := admin.NormalizeEmail(c.Email)
			if !answer.OK || norm != email || c.Password != password {
				t.Errorf("200 for body %.200q", body)
			}
			if dc != 1 || du != 0 || dd > 1 {
				t.Errorf("log-in wrote %d creates, %d updates, %d deletes; want one create (and at most the old session's delete)", dc, du, dd)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests:
			if answer.Error == "" {
				t.Errorf("status %d without an error message: %.200q", resp.StatusCode, out)
			}
			if dc+du+dd != 0 {
				t.Errorf("status %d but the store was written: %d creates, %d updates, %d deletes", resp.StatusCode, dc, du, dd)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("status %d set a cookie: %s", resp.StatusCode, resp.Header.Get("Set-Cookie"))
			}
		default:
			t.Errorf("status %d (%s) for body %.200q, cookie %.80q: want 200 or a clear 4xx", resp.StatusCode, answer.Error, body, cookie)
		}
	})
}

// validHeaderValue reports whether net/http would accept v as a header
// value: no control characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
