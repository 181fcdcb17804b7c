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
)

// BenchmarkUserCacheOff is the handler side of servebench's serve-off
// target: a logged-in GET /api/user through the whole handler tree on
// PostgreSQL, without the network. Its allocations are what the benchmark's
// extra garbage collection comes from.
func BenchmarkUserCacheOff(b *testing.B) {
	_, url := pgtest.Schema(b)
	srv, err := server.New(context.Background(), server.Config{
		DataDir: b.TempDir(), DatabaseURL: url, Secrets: []string{testSecret}, AutoMigrate: true,
		BcryptCost: 4, PruneInterval: -1, Logger: slog.New(slog.DiscardHandler),
	})
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
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/user", nil)
		req.AddCookie(cookies[0])
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET /api/user: %d %s", w.Code, w.Body)
		}
	}
}
