package pgstore

import (
	"strings"
	"testing"
	"time"
)

// TestUserSessionsUsesIndex shows with EXPLAIN that listing one user's
// sessions reads the user index, not the table: on a table of 20,000
// sessions (most anonymous, as on a real site), PostgreSQL picks the
// index for exactly the statement UserSessions runs.
func TestUserSessionsUsesIndex(t *testing.T) {
	s, pool := newStore(t)
	ctx := testCtx(t)
	_, err := pool.Exec(ctx, `INSERT INTO sessions (sid, sess, expire)
		SELECT 'sid-' || i,
			CASE WHEN i % 10 = 0
				THEN jsonb_build_object('sessionkit', jsonb_build_object('user', (i % 500)::text), 'userId', i % 500)
				ELSE '{"cart": 1}'::jsonb END,
			now() + interval '1 day'
		FROM generate_series(1, 20000) AS i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE sessions"); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, "EXPLAIN "+s.qUser, "40")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, userIndexName(DefaultTable)) || strings.Contains(text, "Seq Scan") {
		t.Fatalf("listing a user's sessions does not use %s:\n%s", userIndexName(DefaultTable), text)
	}
	t.Logf("EXPLAIN %s\n%s", s.qUser, text)
	// User "40" holds the sessions i = 40 + 500k: 40 of them.
	if got, err := s.UserSessions(ctx, "40"); err != nil || len(got) != 40 {
		t.Fatalf("UserSessions(40) = %d sessions, %v; want 40", len(got), err)
	}
}

// TestUserIndexOnConnectPgSimpleTable: on connect-pg-simple's own table
// (sess json, no extra column), UserIndexSQL adds an index that listing a
// user's sessions uses, and connect-pg-simple's own statements still work.
func TestUserIndexOnConnectPgSimpleTable(t *testing.T) {
	s, pool, _ := connectPgSimpleStore(t, "")
	ctx := testCtx(t)
	ddl, err := UserIndexSQL("", "session")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, ddl); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO "session" (sid, sess, expire)
		SELECT 'sid-' || i,
			CASE WHEN i % 10 = 0
				THEN json_build_object('sessionkit', json_build_object('user', (i % 500)::text), 'userId', i % 500)
				ELSE '{"cookie": {"path": "/"}}'::json END,
			now() + interval '1 day'
		FROM generate_series(1, 20000) AS i;
		ANALYZE "session"`)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	rows, err := pool.Query(ctx, "EXPLAIN "+s.qUser, "40")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, userIndexName("session")) || strings.Contains(text, "Seq Scan") {
		t.Fatalf("listing a user's sessions on connect-pg-simple's table does not use the index:\n%s", text)
	}
	if got, err := s.UserSessions(ctx, "40"); err != nil || len(got) != 40 {
		t.Fatalf("UserSessions(40) = %d sessions, %v; want 40", len(got), err)
	}
	// connect-pg-simple's set and get, as it runs them.
	const set = `INSERT INTO "session" (sess, expire, sid) SELECT $1, to_timestamp($2), $3 ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=to_timestamp($2) RETURNING sid`
	if _, err := pool.Exec(ctx, set, `{"cookie":{"path":"/"},"userId":1}`, time.Now().Add(time.Hour).Unix(), "node"); err != nil {
		t.Fatalf("connect-pg-simple's set with the index: %v", err)
	}
	var sess string
	if err := pool.QueryRow(ctx, `SELECT sess FROM "session" WHERE sid = $1 AND expire >= to_timestamp($2)`, "node", time.Now().Unix()).Scan(&sess); err != nil {
		t.Fatalf("connect-pg-simple's get with the index: %v", err)
	}
	if _, err := UserIndexSQL("", "bad name"); err == nil {
		t.Fatal("UserIndexSQL accepted a bad table name")
	}
}
