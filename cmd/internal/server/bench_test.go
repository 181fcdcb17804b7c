package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// BenchmarkUserCacheOff is the handler side of servebench's serve-off
// target: a logged-in GET /api/user through the whole handler tree on
// PostgreSQL, without the network. Its allocations are what the benchmark's
// extra garbage collection comes from.
func BenchmarkUserCacheOff(b *testing.B) { benchUser(b, 0, false) }

// BenchmarkUserCacheOn is the handler side of servebench's serve-on
// target: the same read with SESSION_CACHE=on, every read a cache hit.
func BenchmarkUserCacheOn(b *testing.B) { benchUser(b, server.DefaultSessionCache, false) }

// BenchmarkUserRedisCacheOff is servebench's redis-off target's handler
// side: sessions on Redis (users on PostgreSQL), the cache off.
func BenchmarkUserRedisCacheOff(b *testing.B) { benchUser(b, 0, true) }

// benchUser logs in once and reads GET /api/user through the whole handler
// tree, with a session cache of cacheEntries (0: off), sessions on Redis
// if onRedis.
func benchUser(b *testing.B, cacheEntries int, onRedis bool) {
	_, url := pgtest.Schema(b)
	cfg := server.Config{
		DataDir: b.TempDir(), DatabaseURL: url, Secrets: []string{testSecret}, AutoMigrate: true,
		BcryptCost: 4, PruneInterval: -1, Logger: slog.New(slog.DiscardHandler), SessionCache: cacheEntries,
	}
	if onRedis {
		_, cfg.RedisPrefix = redistest.Client(b)
		cfg.RedisURL = redistest.URL()
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	if _, err := srv.DB().AddUser(context.Background(), testEmail, testPassword, 4); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/login", strings.NewReader(loginBody(testEmail, testPassword)))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	cookies := w.Result().Cookies()
	if w.Code != 200 || len(cookies) == 0 {
		b.Fatalf("login: %d %s", w.Code, w.Body)
	}
	// One request, and a writer that keeps nothing: allocs/op counts the
	// handler tree's own, not the recorder's. A fresh header map per
	// request, as net/http gives each.
	req = httptest.NewRequest("GET", "/api/user", nil)
	req.AddCookie(cookies[0])
	bw := &benchWriter{}
	b.ReportAllocs()
	for b.Loop() {
		bw.h, bw.code = http.Header{}, 0
		srv.ServeHTTP(bw, req)
		if bw.code != http.StatusOK {
			b.Fatalf("GET /api/user: %d", bw.code)
		}
	}
}

// benchWriter is a ResponseWriter that only keeps the status.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *benchWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
