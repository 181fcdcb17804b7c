package sqlitestore

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUserSessionsUsesIndex shows with EXPLAIN QUERY PLAN that SQLite
// answers UserSessions's exact statement from the user index, not by
// scanning the table.
func TestUserSessionsUsesIndex(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), Config{PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+s.q.user, "40", nowMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "USING INDEX sessions_user_idx") {
		t.Fatalf("listing a user's sessions does not use sessions_user_idx:\n%s", text)
	}
}
