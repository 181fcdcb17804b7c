package pgstore

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
)

// heard is a sessionkit.ChangeWatcher that notes what it is told: "up",
// "down", "all", or the changed key.
type heard struct {
	mu     sync.Mutex
	events []string
}

func (h *heard) Changed(key string) { h.add(key) }
func (h *heard) Up()                { h.add("up") }
func (h *heard) Down()              { h.add("down") }
func (h *heard) ChangedAll()        { h.add("all") }

func (h *heard) add(e string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

func (h *heard) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// TestDeleteAllSignalsAllChanged: DeleteAll and AnnounceAll reach a watcher
// as the explicit "everything changed" signal (ChangedAll), not as a Down
// and an Up: the feed stays up, and a change after them is still heard.
func TestDeleteAllSignalsAllChanged(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	rec := &heard{}
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WatchChanges(watchCtx, rec)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("WatchChanges did not return once its context ended")
		}
	})
	poll.Until(t, "the listener is up", func() bool { return slices.Contains(rec.snapshot(), "up") })

	rec0 := sessionkit.Record{Values: map[string]json.RawMessage{}, Expiry: time.Now().Add(time.Hour)}
	if err := s.Create(ctx, "s1", rec0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteAll(ctx); err != nil || n != 1 {
		t.Fatalf("DeleteAll = %d, %v; want 1", n, err)
	}
	if err := s.AnnounceAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	key := sessionkit.ChangeKey("s2")
	poll.Until(t, "the change after the bulk delete", func() bool { return slices.Contains(rec.snapshot(), key) })
	if got, want := rec.snapshot(), []string{"up", "all", "all", key}; !slices.Equal(got, want) {
		t.Fatalf("the watcher heard %q, want %q", got, want)
	}
}
