package server_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/storetest"
)

// TestServe starts the server the way other programs do (New, then Serve on
// a listener), checks WrapStore sees the store calls, and shuts it down by
// cancelling the context.
func TestServe(t *testing.T) {
	counter := &storetest.Counter{}
	cfg := baseConfig(t)
	cfg.WrapStore = func(s sessionkit.Store) sessionkit.Store { counter.Store = s; return counter }
	srv, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.DB().AddUser(t.Context(), testEmail, testPassword, 4); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	h := &harness{t: t, srv: srv, url: "http://" + ln.Addr().String()}

	expectStatus(t, h.do("GET", "/healthz", "", nil), 200, `{"status":"ok"}`)
	if n := counter.Calls(); n != 0 {
		t.Fatalf("/healthz made %d store calls", n)
	}
	c := h.login(testEmail, testPassword, nil)
	expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")
	if n := counter.Calls(); n < 2 {
		t.Fatalf("log-in and /api/user made %d store calls through WrapStore, want at least 2", n)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after cancel = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get(h.url + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	// Run closes twice (deferred, and to report the error): both succeed.
	for i := range 2 {
		if err := srv.Close(); err != nil {
			t.Fatalf("Close #%d = %v", i+1, err)
		}
	}
}
