package server_test

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	l, err := server.LoadConfig(nil, envOf(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "data" || c.DatabaseURL != "" || c.Production ||
		c.SessionTTL != 7*24*time.Hour || c.IdleTimeout != 0 || c.SameSite != http.SameSiteLaxMode ||
		!c.AutoMigrate || !c.Debug || c.BcryptCost != 12 || c.PruneInterval != time.Hour ||
		c.LoginWindow != 15*time.Minute || c.LoginMaxFailures != 5 || c.LoginMaxFailuresPerAddr != 20 ||
		len(c.Secrets) != 0 || c.CookieName != "sessionkit.sid" || c.RedisWaitReplicas != 0 || c.RedisWaitTimeout != time.Second || c.RedisNoAnnounce {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadConfigValues(t *testing.T) {
	l, err := server.LoadConfig(
		[]string{"--addr", ":9000", "--session-debug", "--cookie-samesite=strict"},
		envOf(
			"ADDR", "127.0.0.1:1", // the flag wins
			"APP_ENV", "Production",
			"SESSION_SECRET", "first-secret-first-secret-first-secret, second-secret-second-secret-second-secret",
			"SESSION_TTL", "1d12h",
			"SESSION_IDLE_TIMEOUT", "30m",
			"TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5 ,::1",
			"CORS_ORIGINS", "https://App.example.com/, HTTPS://localhost:3000",
			"COOKIE_DOMAIN", "example.com",
			"PRUNE_INTERVAL", "off",
			"BCRYPT_COST", "10",
			"REDIS_WAIT_REPLICAS", "2",
			"REDIS_WAIT_TIMEOUT", "250ms",
			"REDIS_ANNOUNCE", "off",
		), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Addr != ":9000" || !c.Production || !c.Debug || c.AutoMigrate || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("addr/env/debug/migrate/samesite = %q %v %v %v %v", c.Addr, c.Production, c.Debug, c.AutoMigrate, c.SameSite)
	}
	if len(c.Secrets) != 2 || c.Secrets[1] != "second-secret-second-secret-second-secret" {
		t.Errorf("secrets = %q", c.Secrets)
	}
	if c.SessionTTL != 36*time.Hour || c.IdleTimeout != 30*time.Minute || c.PruneInterval >= 0 || c.BcryptCost != 10 {
		t.Errorf("ttl/idle/prune/cost = %v %v %v %v", c.SessionTTL, c.IdleTimeout, c.PruneInterval, c.BcryptCost)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.5/32"), netip.MustParsePrefix("::1/128")}
	if !slices.Equal(c.TrustedProxies, wantProxies) {
		t.Errorf("trusted proxies = %v", c.TrustedProxies)
	}
	if !slices.Equal(c.CORSOrigins, []string{"https://app.example.com", "https://localhost:3000"}) {
		t.Errorf("CORS origins = %q", c.CORSOrigins)
	}
	if c.RedisWaitReplicas != 2 || c.RedisWaitTimeout != 250*time.Millisecond || !c.RedisNoAnnounce {
		t.Errorf("redis wait, no announce = %d, %v, %v", c.RedisWaitReplicas, c.RedisWaitTimeout, c.RedisNoAnnounce)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{env: []string{"APP_ENV", "production"}, want: "SESSION_SECRET is not set"},
		{env: []string{"APP_ENV", "prod"}, want: "APP_ENV"},
		{env: []string{"COOKIE_SAMESITE", "relaxed"}, want: "COOKIE_SAMESITE"},
		{env: []string{"SESSION_TTL", "7x"}, want: "SESSION_TTL"},
		{env: []string{"SESSION_IDLE_TIMEOUT", "-5m"}, want: "SESSION_IDLE_TIMEOUT"},
		{env: []string{"TRUSTED_PROXIES", "proxy.internal"}, want: "TRUSTED_PROXIES"},
		{env: []string{"CORS_ORIGINS", "*"}, want: "CORS_ORIGINS"},
		{env: []string{"CORS_ORIGINS", "null"}, want: "CORS_ORIGINS"},
		{env: []string{"CORS_ORIGINS", "https://app.example.com/login"}, want: "CORS_ORIGINS"},
		{env: []string{"CORS_ORIGINS", "app.example.com"}, want: "CORS_ORIGINS"},
		{env: []string{"PRUNE_INTERVAL", "0"}, want: "PRUNE_INTERVAL"},
		{env: []string{"REDIS_WAIT_REPLICAS", "-1"}, want: "REDIS_WAIT_REPLICAS"},
		{env: []string{"REDIS_WAIT_REPLICAS", "one"}, want: "REDIS_WAIT_REPLICAS"},
		{env: []string{"REDIS_WAIT_TIMEOUT", "0"}, want: "REDIS_WAIT_TIMEOUT"},
		{env: []string{"REDIS_ANNOUNCE", "sometimes"}, want: "REDIS_ANNOUNCE"},
		{env: []string{"REDIS_ANNOUNCE", "off", "SESSION_CACHE", "on"}, want: "REDIS_ANNOUNCE"},
		{env: []string{"BCRYPT_COST", "twelve"}, want: "BCRYPT_COST"},
		{env: []string{"AUTO_MIGRATE", "maybe"}, want: "AUTO_MIGRATE"},
		{env: []string{"LOG_LEVEL", "loud"}, want: "LOG_LEVEL"},
		{env: []string{"SESSION_TABLE", "my-sessions"}, want: "SESSION_TABLE"},
		{env: []string{"SESSION_TABLE", "a.b.c"}, want: "SESSION_TABLE"},
		{env: []string{"SESSION_TABLE", ".session"}, want: "SESSION_TABLE"},
		{env: []string{"SESSION_TABLE", "public."}, want: "SESSION_TABLE"},
		{env: []string{"SESSION_TABLE", `x";DROP TABLE users;--`}, want: "SESSION_TABLE"},
		{args: []string{"--no-such-flag"}, want: "not defined"},
		{args: []string{"extra"}, want: "unexpected argument"},
	} {
		_, err := server.LoadConfig(tc.args, envOf(tc.env...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadConfig(%q, %q) = %v; want an error mentioning %q", tc.args, tc.env, err, tc.want)
		}
	}
	if _, err := server.LoadConfig(nil, envOf("APP_ENV", "production"), io.Discard); !errors.Is(err, server.ErrNoSecret) {
		t.Errorf("production without secret = %v, want ErrNoSecret", err)
	}
}

// TestLoadConfigReportsTheFirstBadValue: of several bad values, the one
// reported is the first in docs/configuration.md's order, every time.
func TestLoadConfigReportsTheFirstBadValue(t *testing.T) {
	for range 20 {
		_, err := server.LoadConfig(nil, envOf("SHUTDOWN_TIMEOUT", "soon", "SESSION_TTL", "a week", "LOGIN_MAX_FAILURES_PER_ADDR", "x", "BCRYPT_COST", "y"), io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), "SESSION_TTL") {
			t.Fatalf("LoadConfig with bad SESSION_TTL and SHUTDOWN_TIMEOUT = %v; want SESSION_TTL reported", err)
		}
	}
}

// TestParseOrigins: configured origins are stored as browsers send them in
// Origin, or they would never match.
func TestParseOrigins(t *testing.T) {
	for in, want := range map[string][]string{
		"https://App.Example.com/":                       {"https://app.example.com"},
		"https://app.example.com:443":                    {"https://app.example.com"},
		"http://localhost:80, http://localhost:3000":     {"http://localhost", "http://localhost:3000"},
		"https://app.example.com:8443, http://[::1]:443": {"https://app.example.com:8443", "http://[::1]:443"},
		"http://[::1]:80":                                {"http://[::1]"},
	} {
		got, err := server.ParseOrigins(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseOrigins(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "0": 0, "12h": 12 * time.Hour,
	} {
		if got, err := server.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"7", "d", "7days", "1d12", "x7d"} {
		if _, err := server.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}

// TestNewRejects: a configuration the library (or the server) cannot work
// with stops start-up with its message.
func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*server.Config)
		want   string
	}{
		{"short secret", func(c *server.Config) { c.Secrets = []string{"too-short"} }, "at least 32"},
		{"SameSite=None without Secure", func(c *server.Config) { c.SameSite = http.SameSiteNoneMode }, "COOKIE_SAMESITE (--cookie-samesite): none needs Secure cookies"},
		{"production without secret", func(c *server.Config) { c.Production, c.Secrets = true, nil }, "SESSION_SECRET is not set"},
		{"bad cookie name", func(c *server.Config) { c.CookieName = "a b" }, "not a valid cookie name"},
		{"bcrypt cost", func(c *server.Config) { c.BcryptCost = 40 }, "BCRYPT_COST"},
		{"negative failure limit", func(c *server.Config) { c.LoginMaxFailures = -1 }, "cannot be negative"},
		{"wildcard CORS origin", func(c *server.Config) { c.CORSOrigins = []string{"*"} }, "CORS_ORIGINS"},
		{"CORS origin with a path", func(c *server.Config) { c.CORSOrigins = []string{"https://app.example.com/login"} }, "CORS_ORIGINS"},
		{"PostgreSQL without schema and no auto-migrate", func(c *server.Config) {
			_, c.DatabaseURL = pgtest.Schema(t)
			c.AutoMigrate = false
		}, "sessionkit migrate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t)
			tc.mutate(&cfg)
			srv, err := server.New(t.Context(), cfg)
			if err == nil {
				srv.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want %q in it", err, tc.want)
			}
		})
	}
}

// TestRejectedConfigRunsNoDDL: a setting the library refuses stops the
// start before AUTO_MIGRATE creates anything.
func TestRejectedConfigRunsNoDDL(t *testing.T) {
	_, url := pgtest.Schema(t)
	cfg := baseConfig(t)
	cfg.DatabaseURL, cfg.AutoMigrate, cfg.CookieName = url, true, "a b"
	if srv, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "not a valid cookie name") {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("New = %v; want the cookie name refused", err)
	}
	cfg.CookieName, cfg.AutoMigrate = "", false
	srv, err := server.New(t.Context(), cfg)
	if err == nil {
		srv.Close()
		t.Fatal("the refused start created the tables")
	}
	if !strings.Contains(err.Error(), "sessionkit migrate") {
		t.Fatalf("New on the untouched schema = %v; want the missing-tables error", err)
	}
}

// TestDevSecret: without SESSION_SECRET in development, a secret is
// generated once, kept private in the data directory, and reused, so
// restarts and other local instances keep the sessions.
func TestDevSecret(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Secrets = nil
	a, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	path := filepath.Join(cfg.DataDir, server.SecretFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no generated secret: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if n := len(strings.TrimSpace(string(b))); n < 64 {
		t.Errorf("generated secret is %d characters, want 48 random bytes in base64 (64)", n)
	}
	b2, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if again, _ := os.ReadFile(path); string(again) != string(b) {
		t.Fatal("a second start generated another secret")
	}
}

// TestHelpHidesEnvironment: -h must not print a secret or a database
// password that came from the environment.
func TestHelpHidesEnvironment(t *testing.T) {
	var out strings.Builder
	_, err := server.LoadConfig([]string{"-h"}, envOf(
		"SESSION_SECRET", "leaked-secret-leaked-secret-leaked-secret",
		"DATABASE_URL", "postgres://app:leaked-password@db/app"), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("LoadConfig(-h) = %v, want flag.ErrHelp", err)
	}
	if strings.Contains(out.String(), "leaked") || !strings.Contains(out.String(), "SESSION_SECRET") {
		t.Fatalf("usage leaks the environment or lacks the variables:\n%s", out.String())
	}
}

// TestRejectedConfigOpensNothing: a cookie setting the library refuses is
// reported before the data directory is made or a database dialled, so an
// unreachable database does not hide it behind a connection timeout.
func TestRejectedConfigOpensNothing(t *testing.T) {
	cfg := baseConfig(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "never-made")
	cfg.Secrets, cfg.SameSite = nil, http.SameSiteNoneMode // development: the secret would be generated
	if srv, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "COOKIE_SAMESITE") {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("New = %v; want SameSite=None refused", err)
	}
	if _, err := os.Stat(cfg.DataDir); !os.IsNotExist(err) {
		t.Fatalf("the refused start made the data directory: %v", err)
	}
	cfg.DataDir, cfg.DatabaseURL = "", "postgres://postgres@127.0.0.1:1/none?connect_timeout=30"
	if srv, err := server.New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "COOKIE_SAMESITE") {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("New with a dead database = %v; want SameSite=None refused first", err)
	}
}
