package main

import (
	"log/slog"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/examples/internal/apptest"
	"github.com/sessionkit/sessionkit/memstore"
)

// TestEchoLogInReadLogOut walks the app as a browser would; a route mounted
// outside the /api group reads the session and must get a 500, not a panic.
func TestEchoLogInReadLogOut(t *testing.T) {
	store := memstore.New(memstore.Config{})
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	sessions, err := sessionkit.New(sessionkit.Config{
		Store: store, Secrets: []string{"a-test-secret-of-at-least-32-bytes"}, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := routes(sessions, logger)
	r.GET("/no-session/user", (&app{log: logger}).user)
	apptest.Walk(t, r, "/no-session/user")
}
