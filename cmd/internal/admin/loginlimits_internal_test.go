package admin

import (
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// TestLoginLimitsPruneExpiredRows: on PostgreSQL, a count's row is deleted
// once its last attempt has left the window (at the next Take after
// pruneEvery), and a row still in its window is kept.
func TestLoginLimitsPruneExpiredRows(t *testing.T) {
	_, url := pgtest.Schema(t)
	db, err := Open(t.Context(), Config{DatabaseURL: url, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	limits := db.LoginLimits()
	start := time.Now()
	take := func(key string, at time.Duration, window time.Duration) {
		t.Helper()
		if _, _, err := limits.Take(t.Context(), []byte(key), start.Add(at), window, 3, false); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() (keys []string) {
		t.Helper()
		r, err := db.pool.Query(t.Context(), `SELECT convert_from(key, 'UTF8') FROM login_limits ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for r.Next() {
			var k string
			if err := r.Scan(&k); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		return keys
	}
	take("a", 0, time.Minute)            // expires at 1m
	take("b", 30*time.Second, time.Hour) // expires at 1h30s
	take("c", 2*time.Minute, time.Minute)
	if got := rows(); len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("rows after a's window and pruneEvery passed: %v, want [b c]", got)
	}
}
