package sessionkit_test

import (
	"slices"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// said is a ChangeWatcher that notes what it is told.
type said []string

func (s *said) Changed(key string) { *s = append(*s, key) }
func (s *said) ChangedAll()        { *s = append(*s, "all") }
func (s *said) Up()                { *s = append(*s, "up") }
func (s *said) Down()              { *s = append(*s, "down") }

// TestReportChange: the "everything changed" key a store's feed carries is
// reported as ChangedAll, never as a change of one session nor as the feed
// going down; any other key is reported as it is.
func TestReportChange(t *testing.T) {
	var w said
	key := sessionkit.ChangeKey("some-session-id")
	sessionkit.ReportChange(&w, key)
	sessionkit.ReportChange(&w, sessionkit.AllSessionsChanged)
	if want := []string{key, "all"}; !slices.Equal(w, want) {
		t.Fatalf("reported %q, want %q", w, want)
	}
	if key == sessionkit.AllSessionsChanged {
		t.Fatal("a ChangeKey equals the all-changed marker")
	}
}
