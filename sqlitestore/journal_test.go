package sqlitestore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

// heard records a ChangeFeed's reports.
type heard struct {
	mu   sync.Mutex
	keys map[string]bool
	up   int
}

func (h *heard) Changed(key string) { h.mu.Lock(); h.keys[key] = true; h.mu.Unlock() }
func (h *heard) Up()                { h.mu.Lock(); h.up++; h.mu.Unlock() }
func (h *heard) Down()              {}
func (h *heard) ChangedAll()        {}
func (h *heard) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[key]
}

// TestDeletesReachOtherProcesses: a delete through another Store on the
// same file (another process: the command line while serve runs) reaches
// this Store's change feed through the deletes journal, by Delete and by
// DeleteMany, as a change key and never the id.
func TestDeletesReachOtherProcesses(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	here, other := open(t, path, sqlitestore.Config{}), open(t, path, sqlitestore.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	w := &heard{keys: map[string]bool{}}
	done := make(chan struct{})
	go func() { defer close(done); here.WatchChanges(ctx, w) }()
	defer func() { cancel(); <-done }()
	// Up promises every change from then on, other processes' included.
	poll.Until(t, "the feed is up", func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.up > 0 })
	for _, tc := range []struct {
		name string
		ids  []string
		del  func(ids []string) error
	}{
		{"Delete", []string{"id-one"}, func(ids []string) error { return other.Delete(t.Context(), ids[0]) }},
		{"DeleteMany", []string{"id-two", "id-three"}, func(ids []string) error { return other.DeleteMany(t.Context(), ids) }},
	} {
		if err := tc.del(tc.ids); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, id := range tc.ids {
			poll.Until(t, tc.name+" by another store reaches this one's feed", func() bool { return w.has(sessionkit.ChangeKey(id)) })
			if w.has(id) {
				t.Fatalf("%s: the feed carried the id itself", tc.name)
			}
		}
	}
}
