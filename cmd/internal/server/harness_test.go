package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/backend"
	"github.com/sessionkit/sessionkit/internal/testkit/faultproxy"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

const (
	testSecret   = "test-secret-test-secret-test-secret-0123456789"
	testEmail    = "ada@example.com"
	testPassword = "correct horse battery staple"
	metricsToken = "test-metrics-token"
)

// backends gives each test a fresh store of each kind: the embedded SQLite
// default in a temporary directory, PostgreSQL on its own schema, and Redis
// (REDIS_URL) under its own key prefix.
var backends = []backend.Backend{backend.SQLite, backend.Postgres, backend.Redis, backend.RedisCluster(&cluster)}

// configure points cfg at the backend s locates.
func configure(cfg *server.Config, s backend.Settings) {
	cfg.DataDir, cfg.DatabaseURL, cfg.RedisURL, cfg.RedisPrefix = s.DataDir, s.DatabaseURL, s.RedisURL, s.RedisPrefix
}

// cluster is the package's Redis Cluster, started by the first test that
// asks for it and stopped by TestMain.
var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// baseConfig is a development configuration with a fast bcrypt.
func baseConfig(t *testing.T) server.Config {
	return server.Config{
		DataDir:       t.TempDir(),
		Secrets:       []string{testSecret},
		AutoMigrate:   true,
		Debug:         true,
		BcryptCost:    4,
		PruneInterval: -1,
		MetricsToken:  metricsToken,
		Logger:        slog.New(slog.DiscardHandler),
	}
}

// forEachBackend runs f, in parallel, on each backend with a configuration
// that mutate (which may be nil) adjusts.
func forEachBackend(t *testing.T, mutate func(*server.Config), f func(t *testing.T, h *harness)) {
	backend.Each(t, backends, func(t *testing.T, _ backend.Backend, s backend.Settings) {
		cfg := baseConfig(t)
		configure(&cfg, s)
		if mutate != nil {
			mutate(&cfg)
		}
		f(t, start(t, cfg))
	})
}

// harness is a reference server behind a real HTTP listener.
type harness struct {
	t   *testing.T
	cfg server.Config
	srv *server.Server
	url string
}

func start(t *testing.T, cfg server.Config) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	// Cleanups run last-in first-out: HTTP stops before the database closes.
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(ts.Close)
	return &harness{t: t, cfg: cfg, srv: srv, url: ts.URL}
}

func (h *harness) addUser(email, password string) admin.User {
	h.t.Helper()
	u, err := h.srv.DB().AddUser(h.t.Context(), email, password, 4)
	if err != nil {
		h.t.Fatalf("AddUser: %v", err)
	}
	return u
}

// sessionRows counts the sessions where they live: the database's rows, or
// the sessions in Redis.
func (h *harness) sessionRows() admin.SessionCounts {
	h.t.Helper()
	c, err := h.srv.DB().CountSessions(h.t.Context())
	if err != nil {
		h.t.Fatalf("CountSessions: %v", err)
	}
	return c
}

// reply is a response with its body read.
type reply struct {
	*http.Response
	body string
}

// json decodes the body into a map.
func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", r.Request.Method, r.Request.URL.Path, r.body, err)
	}
	return m
}

// cookie returns the session cookie the response set, or nil.
func (r reply) cookie() *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == "sessionkit.sid" {
			return c
		}
	}
	return nil
}

// do sends one request without a cookie jar; the cookies and headers are
// exactly those given.
func (h *harness) do(method, path, body string, cookie *http.Cookie, headers ...string) reply {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply{resp, string(b)}
}

func loginBody(email, password string) string {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return string(b)
}

// login logs in and returns the session cookie it set.
func (h *harness) login(email, password string, cookie *http.Cookie) *http.Cookie {
	h.t.Helper()
	r := h.do("POST", "/api/login", loginBody(email, password), cookie)
	if r.StatusCode != 200 || r.cookie() == nil {
		h.t.Fatalf("login: %d %s (cookie %v), want 200 and a cookie", r.StatusCode, r.body, r.cookie())
	}
	return r.cookie()
}

func expectStatus(t *testing.T, r reply, status int, body string) {
	t.Helper()
	if r.StatusCode != status || (body != "" && strings.TrimSpace(r.body) != body) {
		t.Fatalf("%s %s = %d %q; want %d %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.body, status, body)
	}
}

// viaProxy returns dbURL with its host replaced by a proxy to that host.
func viaProxy(t *testing.T, dbURL string) (string, *faultproxy.Proxy) {
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.New(t, u.Host)
	u.Host = p.Addr()
	// A dead server must fail fast, not wait the driver's default; the
	// two drivers spell the setting differently.
	q := u.Query()
	if strings.HasPrefix(u.Scheme, "redis") {
		q.Set("dial_timeout", "2s")
	} else {
		q.Set("connect_timeout", "2")
	}
	u.RawQuery = q.Encode()
	return u.String(), p
}
