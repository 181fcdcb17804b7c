package server_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// TestSharedStoreLifetimes starts serve as production would be configured
// (APP_ENV=production, SESSION_TTL=7d as Node's cookie.maxAge) on a
// connect-pg-simple table and on connect-redis's layout: a log-in's cookie
// lives 7 days (Max-Age 604800), as Node's own would, not production's
// 30-minute idle default, which Node with rolling: false never renews. An
// idle timeout set on purpose is kept, with a warning naming the Node
// settings it needs.
func TestSharedStoreLifetimes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, store, idle string
		maxAge            int
		log               string
	}{
		{"connect-pg-simple, SESSION_TTL only", "pg", "", 7 * 24 * 3600, "level=INFO msg=\"sessions are shared with express-session: no idle timeout"},
		{"connect-redis, SESSION_TTL only", "redis", "", 7 * 24 * 3600, "level=INFO msg=\"sessions are shared with express-session: no idle timeout"},
		{"connect-pg-simple, idle timeout set", "pg", "30m", 1800, "level=WARN msg=\"SESSION_IDLE_TIMEOUT=30m0s on sessions shared with express-session"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"APP_ENV": "production", "SESSION_SECRET": testSecret, "SESSION_TTL": "7d", "SESSION_IDLE_TIMEOUT": c.idle,
				"DATA_DIR": t.TempDir(), "AUTO_MIGRATE": "true", "BCRYPT_COST": "4", "COOKIE_NAME": "sessionkit.sid",
			}
			if c.store == "pg" {
				schema, url := pgtest.Schema(t)
				conn, err := pgx.Connect(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				_, err = conn.Exec(t.Context(), pgtest.ConnectPgSimpleTable(`"`+schema+`"."session"`))
				conn.Close(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				env["DATABASE_URL"], env["SESSION_TABLE"] = url, schema+".session"
			} else {
				_, env["REDIS_PREFIX"] = redistest.Client(t)
				env["REDIS_URL"], env["REDIS_LAYOUT"] = redistest.URL(), "connect-redis"
			}
			loaded, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			logs := &syncBuffer{}
			loaded.Logger = slog.New(slog.NewTextHandler(logs, nil))
			h := start(t, loaded.Config)
			h.addUser(testEmail, testPassword)
			r := h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil)
			got := r.cookie()
			if r.StatusCode != 200 || got == nil {
				t.Fatalf("log-in: %d %q", r.StatusCode, r.body)
			}
			if got.MaxAge != c.maxAge || time.Until(got.Expires) < time.Duration(c.maxAge-60)*time.Second {
				t.Errorf("log-in cookie Max-Age=%d, Expires in %v; want Max-Age=%d", got.MaxAge, time.Until(got.Expires).Round(time.Second), c.maxAge)
			}
			if !strings.Contains(logs.String(), c.log) {
				t.Errorf("start-up log lacks %q:\n%s", c.log, logs)
			}
		})
	}
}

// TestSessionUserKeySetting: SESSION_USER_KEY takes a key or key.key, and
// refuses, naming itself, what cannot hold a user id.
func TestSessionUserKeySetting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		ok    bool
	}{
		{"", true}, {"userId", true}, {"passport.user", true}, {"uid", true},
		{"a.b.c", false}, {".user", false}, {"passport.", false}, {"cookie", false}, {"sessionkit", false},
	} {
		t.Run(c.value, func(t *testing.T) {
			env := map[string]string{"SESSION_USER_KEY": c.value}
			_, err := server.LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
			if (err == nil) != c.ok || err != nil && !strings.Contains(err.Error(), "SESSION_USER_KEY (--session-user-key)") {
				t.Errorf("SESSION_USER_KEY=%q: %v; want ok %v, or an error naming the setting", c.value, err, c.ok)
			}
		})
	}
}
