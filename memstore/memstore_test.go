package memstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			// Background cleanup off: the Prune subtest counts deletions.
			s := memstore.New(memstore.Config{CleanupInterval: -1})
			t.Cleanup(func() { s.Close() })
			return s
		},
		Dump: func(t *testing.T, st sessionkit.Store) string { return memstore.Dump(st.(*memstore.Store)) },
	})
}

func TestZeroValue(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store { return new(memstore.Store) },
	})
}

func TestBackgroundCleanup(t *testing.T) {
	s := memstore.New(memstore.Config{CleanupInterval: time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	v := map[string]json.RawMessage{"k": json.RawMessage(`1`)}
	if err := s.Create(ctx, "dead", sessionkit.Record{Values: v, Expiry: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "live", sessionkit.Record{Values: v, Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Bounded wait for the loop to run; no timing is asserted.
	deadline := time.Now().Add(10 * time.Second)
	for s.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("background cleanup did not remove the expired entry: %d entries", s.Len())
		}
		time.Sleep(time.Millisecond)
	}
	if _, found, err := s.Load(ctx, "live"); err != nil || !found {
		t.Fatalf("live entry after cleanup: found=%v err=%v", found, err)
	}
	// The expired id is really gone: it can be created again.
	if err := s.Create(ctx, "dead", sessionkit.Record{Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Create after cleanup: %v", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	for _, cfg := range []memstore.Config{{}, {CleanupInterval: -1}} {
		s := memstore.New(cfg)
		for range 3 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		// The store keeps answering after Close.
		if _, found, err := s.Load(context.Background(), "x"); err != nil || found {
			t.Fatalf("Load after Close: found=%v err=%v", found, err)
		}
	}
	var zero memstore.Store
	if err := zero.Close(); err != nil {
		t.Fatalf("Close of zero Store: %v", err)
	}
}

func TestCleanupDisabled(t *testing.T) {
	s := memstore.New(memstore.Config{CleanupInterval: -1})
	defer s.Close()
	ctx := context.Background()
	if err := s.Create(ctx, "dead", sessionkit.Record{Expiry: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Without the loop the entry stays (unserved) until Prune.
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	if n, err := s.Prune(ctx, 0); err != nil || n != 0 {
		t.Fatalf("Prune(0) = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Prune(ctx, 5); err != nil || n != 1 {
		t.Fatalf("Prune(5) = %d, %v; want 1, nil", n, err)
	}
	if s.Len() != 0 {
		t.Fatalf("Len after Prune = %d, want 0", s.Len())
	}
}
