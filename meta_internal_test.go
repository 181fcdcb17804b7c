package sessionkit

import (
	"encoding/json"
	"testing"
)

// TestStoredMetaMemo: the request's memo of its stored MetaKey value
// answers only for those very bytes: another value (even equal bytes
// elsewhere) is decoded afresh, so a session whose values change (a
// reload, another request's record) never reads the old user or seen time.
func TestStoredMetaMemo(t *testing.T) {
	ada := json.RawMessage(`{"user":"ada","auth":1,"seen":100}`)
	bob := json.RawMessage(`{"user":"bob","auth":2,"seen":200}`)
	adaCopy := append(json.RawMessage(nil), ada...)
	s := &Session{values: map[string]json.RawMessage{MetaKey: ada}}
	if seen, ok := s.storedSeen(ada); !ok || seen != 100 {
		t.Fatalf("storedSeen before any decode = %d, %v", seen, ok)
	}
	for _, step := range []struct {
		raw  json.RawMessage
		user string
		seen int64
	}{{ada, "ada", 100}, {ada, "ada", 100}, {bob, "bob", 200}, {adaCopy, "ada", 100}, {json.RawMessage(`{"auth":1}`), "", 0}} {
		s.values[MetaKey] = step.raw
		m, _ := s.currentMeta()
		seen, _ := s.storedSeen(step.raw)
		if m.User != step.user || seen != step.seen {
			t.Errorf("values %s: user %q, seen %d; want %q, %d", step.raw, m.User, seen, step.user, step.seen)
		}
	}
	if s.storedMeta.holds(ada) || !s.storedMeta.holds(s.values[MetaKey]) || (&metaMemo{}).holds(nil) {
		t.Error("holds answers for bytes the memo is not of")
	}
}
