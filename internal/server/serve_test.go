package server_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/server"
)

// countingStore counts the calls that reach the real store.
type countingStore struct {
	sessionkit.Store
	calls atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	c.calls.Add(1)
	return c.Store.Load(ctx, id)
}

func (c *countingStore) Create(ctx context.Context, id string, rec sessionkit.Record) error {
	c.calls.Add(1)
	return c.Store.Create(ctx, id, rec)
}

func (c *countingStore) Update(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	c.calls.Add(1)
	return c.Store.Update(ctx, id, p)
}

func (c *countingStore) Delete(ctx context.Context, id string) error {
	c.calls.Add(1)
	return c.Store.Delete(ctx, id)
}

// TestServe starts the server the way other programs do (New, then Serve on
// a listener), checks WrapStore sees the store calls, and shuts it down by
// cancelling the context.
func TestServe(t *testing.T) {
	counter := &countingStore{}
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
	if n := counter.calls.Load(); n != 0 {
		t.Fatalf("/healthz made %d store calls", n)
	}
	c := h.login(testEmail, testPassword, nil)
	expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")
	if n := counter.calls.Load(); n < 2 {
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
}
