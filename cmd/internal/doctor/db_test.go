package doctor

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// connect-pg-simple's default DDL, without its expiry index.
const cpsDDLNoIndex = `CREATE TABLE "session" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL) WITH (OIDS=FALSE);
ALTER TABLE "session" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;`

// Our own table (pgstore's DDL).
const oursDDL = `CREATE TABLE sessions (sid text PRIMARY KEY, sess jsonb NOT NULL, expire timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX sessions_expire_idx ON sessions (expire);`

// cpsSess builds connect-pg-simple's sess JSON in SQL: a cookie with a day's
// originalMaxAge whose expiry is the row's, plus extra keys.
const cpsCookie = `json_build_object('originalMaxAge', 86400000, 'expires', to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'httpOnly', true, 'path', '/')`

// dbSetup returns a database URL on a fresh schema after running stmts.
func dbSetup(t *testing.T, stmts ...string) (schema, url string) {
	t.Helper()
	schema, url = pgtest.Schema(t)
	exec(t, url, stmts...)
	return schema, url
}

func exec(t *testing.T, url string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func checkDB(t *testing.T, o DBOptions) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := CheckDB(ctx, o)
	if err != nil {
		t.Fatalf("CheckDB: %v", err)
	}
	return r
}

// brokenCPS is the field's table, as docs/connect-pg-simple-demo.sql
// (docs/doctor.md's example) makes it: connect-pg-simple's, no expiry index,
// pruning off, mostly empty sessions saved for anonymous hits.
func brokenCPS(t *testing.T) (schema, url string) {
	demo, err := os.ReadFile("../../../docs/connect-pg-simple-demo.sql")
	if err != nil {
		t.Fatal(err)
	}
	schema, url = dbSetup(t)
	exec(t, url, strings.ReplaceAll(string(demo), "sessionkit_demo", schema))
	return schema, url
}

// healthyOurs is our table with its index, live logged-in sessions and a
// few deliberate anonymous ones (a cart).
func healthyOurs(t *testing.T) (schema, url string) {
	return dbSetup(t, oursDDL,
		`INSERT INTO sessions (sid, sess, expire, created_at)
		 SELECT 'u' || g, jsonb_build_object('userId', g % 25, 'email', 'u' || (g % 25) || '@example.com'),
		        now() + interval '6 days', now() - g * interval '35 minutes'
		 FROM generate_series(1, 50) g`,
		`INSERT INTO sessions (sid, sess, expire, created_at)
		 SELECT 'c' || g, jsonb_build_object('cart', jsonb_build_array(g)), now() + interval '1 day', now() - g * interval '2 hours'
		 FROM generate_series(1, 5) g`,
		// Expired ten minutes ago: the pruner has not run yet, which is normal.
		`INSERT INTO sessions (sid, sess, expire, created_at) VALUES ('gone', '{"userId": 3}', now() - interval '10 minutes', now() - interval '7 days')`,
	)
}

func TestDBBrokenConnectPgSimpleTable(t *testing.T) {
	schema, url := brokenCPS(t)
	r := checkDB(t, DBOptions{URL: url, Table: schema + ".session"})
	expect(t, r, "db.expire-index", Fail, "no index on expire")
	if f := finding(t, r, "db.expire-index"); !strings.Contains(f.Fix, `CREATE INDEX CONCURRENTLY IF NOT EXISTS "session_expire_idx" ON "`+schema+`"."session" (expire);`) {
		t.Fatalf("fix: %q", f.Fix)
	}
	expect(t, r, "db.anonymous", Fail, "saveUninitialized")
	expect(t, r, "db.prune", Fail, "pruning is not running")
	expect(t, r, "db.sid-index", Pass)
	expect(t, r, "db.per-user", Pass)
	expect(t, r, "db.unread", Warn, "100% of the logged-in sessions were never read")
	if f := expect(t, r, "db.rows", Info, "384 rows", "240 expired"); !slices.Contains(f.Evidence, "sessionkit serve can share it with express-session as it is (no DDL): SESSION_TABLE="+schema+".session") {
		t.Fatalf("rows evidence does not say how sessionkit serve shares the table: %q", f.Evidence)
	}
	c := expect(t, r, "db.creation", Info)
	if !strings.Contains(strings.Join(c.Evidence, " "), "originalMaxAge") {
		t.Fatalf("creation should say it is estimated: %q", c.Evidence)
	}
	if len(r.Tables) != 1 {
		t.Fatalf("tables: %+v", r.Tables)
	}
	st := r.Tables[0]
	if st.Kind != "connect-pg-simple" || st.Rows != 384 || st.Expired != 240 || st.Empty != 360 || st.Anonymous != 360 || st.Users != 6 || st.MaxPerUser != 4 {
		t.Fatalf("stats: %+v", st)
	}
	if st.UserKeys["userId"] != 24 || st.UserKeys["email"] != 24 {
		t.Fatalf("detected keys: %v", st.UserKeys)
	}
	if st.CreatedFrom != "expire - cookie.originalMaxAge" || st.CreatedLastDay != 144 || st.CreatedLastDayAnonymous != 120 {
		t.Fatalf("creation: %s %d (%d anonymous)", st.CreatedFrom, st.CreatedLastDay, st.CreatedLastDayAnonymous)
	}
	var anon, logged int64
	for _, h := range st.Hourly {
		anon += h.Anonymous
		logged += h.LoggedIn
	}
	if anon < 120 || logged != 24 {
		t.Fatalf("hourly split: %d anonymous, %d logged in", anon, logged)
	}
}

func TestDBHealthyTableIsQuiet(t *testing.T) {
	_, url := healthyOurs(t)
	r := checkDB(t, DBOptions{URL: url, Table: "sessions"})
	noFail(t, r)
	for _, id := range []string{"db.expire-index", "db.sid-index", "db.anonymous", "db.per-user", "db.prune", "db.bloat"} {
		expect(t, r, id, Pass)
	}
	st := r.Tables[0]
	if st.Kind != "sessionkit" || st.CreatedFrom != "created_at" || st.Users != 25 || st.MaxPerUser != 2 {
		t.Fatalf("stats: %+v", st)
	}
	if st.CreatedLastHour != 1 {
		t.Fatalf("created in the last hour: %d", st.CreatedLastHour)
	}
}

func TestDBFindsSessionTables(t *testing.T) {
	schema, url := dbSetup(t, cpsDDLNoIndex, oursDDL, `CREATE TABLE users (id int PRIMARY KEY, sess text)`, `CREATE TABLE other (sid text, sess json, expire timestamptz)`)
	r := checkDB(t, DBOptions{URL: url, Schema: schema})
	sections := map[string]bool{}
	for _, f := range r.Findings {
		sections[f.Section] = true
	}
	want := []string{schema + ".other (sid/sess/expire)", schema + ".session (connect-pg-simple)", schema + ".sessions (sessionkit)"}
	if len(sections) != len(want) {
		t.Fatalf("sections %v, want %v", sections, want)
	}
	for _, w := range want {
		if !sections[w] {
			t.Fatalf("sections %v lack %q", sections, w)
		}
	}
	// Empty tables: nothing to count, but the missing index still fails.
	expect(t, r, "db.anonymous", Info, "empty")
}

func TestDBUserKeys(t *testing.T) {
	_, url := dbSetup(t, oursDDL,
		`INSERT INTO sessions (sid, sess, expire) SELECT 'a' || g, jsonb_build_object('account', jsonb_build_object('id', g % 4)), now() + interval '1 day' FROM generate_series(1, 20) g`)
	r := checkDB(t, DBOptions{URL: url, Table: "sessions"})
	f := expect(t, r, "db.anonymous", Warn, "carry no login")
	if !strings.Contains(strings.Join(f.Evidence, " "), "account (20 rows)") {
		t.Fatalf("evidence should list the keys found: %q", f.Evidence)
	}
	r = checkDB(t, DBOptions{URL: url, Table: "sessions", UserKeys: []string{"account.id"}})
	expect(t, r, "db.anonymous", Pass)
	expect(t, r, "db.per-user", Pass)
	if r.Tables[0].Users != 4 {
		t.Fatalf("users: %d", r.Tables[0].Users)
	}
	// Passport's nested key is a default.
	_, url = dbSetup(t, oursDDL,
		`INSERT INTO sessions (sid, sess, expire) SELECT 'p' || g, jsonb_build_object('passport', jsonb_build_object('user', 7)), now() + interval '1 day' FROM generate_series(1, 30) g`)
	r = checkDB(t, DBOptions{URL: url, Table: "sessions"})
	expect(t, r, "db.anonymous", Pass)
	expect(t, r, "db.per-user", Fail, "not sticking")
}

func TestDBPruneLag(t *testing.T) {
	// A few rows expired three hours ago among many live ones: lagging.
	_, url := dbSetup(t, oursDDL,
		`INSERT INTO sessions (sid, sess, expire) SELECT 'l' || g, jsonb_build_object('userId', g), now() + interval '1 day' FROM generate_series(1, 20) g`,
		`INSERT INTO sessions (sid, sess, expire) SELECT 'e' || g, jsonb_build_object('userId', g), now() - interval '3 hours' FROM generate_series(1, 2) g`)
	r := checkDB(t, DBOptions{URL: url, Table: "sessions"})
	expect(t, r, "db.prune", Warn, "pruning lags")
}

// TestDBBloat: a write on every request leaves dead tuples; on
// connect-pg-simple's table the fix names disableTouch, since its touch
// writes on every request even with resave: false.
func TestDBBloat(t *testing.T) {
	for _, tc := range []struct {
		table, ddl, rows string
		disableTouch     bool
	}{
		{"sessions", oursDDL, `INSERT INTO sessions (sid, sess, expire) SELECT 'u' || g, jsonb_build_object('userId', g), now() + interval '1 day' FROM generate_series(1, 2000) g`, false},
		{"session", cpsDDLNoIndex, `INSERT INTO session (sid, sess, expire) SELECT 'u' || g, json_build_object('cookie', ` + cpsCookie + `, 'userId', g), e::timestamp
		 FROM generate_series(1, 2000) g, LATERAL (SELECT now() + interval '1 day' AS e) x`, true},
	} {
		t.Run(tc.table, func(t *testing.T) {
			t.Parallel()
			_, url := dbSetup(t, tc.ddl, `ALTER TABLE `+tc.table+` SET (autovacuum_enabled = false)`, tc.rows,
				// A write on every request: each row rewritten.
				`UPDATE `+tc.table+` SET expire = expire + interval '1 second'`)
			// The updating connection has closed; wait (bounded) for its
			// statistics to reach pg_stat_user_tables.
			waitStat(t, url, tc.table, "n_dead_tup", 2000)
			r := checkDB(t, DBOptions{URL: url, Table: tc.table})
			f := expect(t, r, "db.bloat", Warn, "dead tuples")
			if got := strings.Contains(f.Fix, "disableTouch: true"); got != tc.disableTouch {
				t.Fatalf("fix names disableTouch: %v, want %v: %q", got, tc.disableTouch, f.Fix)
			}
		})
	}
}

// waitStat polls pg_stat_user_tables until column reaches at least want.
func waitStat(t *testing.T, url, table, column string, want int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var got int64
	// A bound for a loaded machine, not a count of tries: the closed
	// connection's backend flushes its statistics when it gets the CPU.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		err := conn.QueryRow(ctx, `SELECT COALESCE(`+pgx.Identifier{column}.Sanitize()+`, 0) FROM pg_stat_user_tables WHERE relid = to_regclass($1)`, table).Scan(&got)
		if err == nil && got >= want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s.%s stayed at %d, want %d", table, column, got, want)
}

func TestDBWatch(t *testing.T) {
	_, url := healthyOurs(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		// One connection per batch: a backend's exit flushes its statistics
		// at once, where a busy one would hold them up to a second or more.
		for i := 0; ctx.Err() == nil; i++ {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return
			}
			_, _ = conn.Exec(ctx, `INSERT INTO sessions (sid, sess, expire) SELECT 'w' || $1::int || '_' || g, '{"userId": 1}', now() + interval '1 day' FROM generate_series(1, 20) g`, i)
			conn.Close(context.Background())
			if i == 0 {
				close(started)
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	poll.Receive(t, "the watch to start", started)
	r := checkDB(t, DBOptions{URL: url, Table: "sessions", Watch: time.Second})
	f := expect(t, r, "db.writes", Info)
	st := r.Tables[0]
	if st.InsertsPerSec == nil || *st.InsertsPerSec <= 0 {
		t.Fatalf("inserts per second not measured: %+v (%q)", st.InsertsPerSec, f.Title)
	}
	// Without --watch there is no rate.
	r = checkDB(t, DBOptions{URL: url, Table: "sessions"})
	for _, f := range r.Findings {
		if f.ID == "db.writes" {
			t.Fatal("db.writes without --watch")
		}
	}
}

func TestDBReadOnlyTransaction(t *testing.T) {
	_, url := dbSetup(t, oursDDL)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := beginReadOnly(ctx, conn, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `INSERT INTO sessions (sid, sess, expire) VALUES ('x', '{}', now())`)
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("a write inside the doctor's transaction: %v", err)
	}
}

func TestDBNeverWrites(t *testing.T) {
	// On a connection whose transactions are read-only by default, any
	// write the doctor made outside its own READ ONLY transactions (an
	// index created, a row pruned) would fail the run.
	schema, url := brokenCPS(t)
	r := checkDB(t, DBOptions{URL: url + "&default_transaction_read_only=on", Schema: schema, Watch: 50 * time.Millisecond})
	expect(t, r, "db.expire-index", Fail)
	expect(t, r, "db.writes", Info)
	if st := r.Tables[0]; st.Rows != 384 || st.Expired != 240 {
		t.Fatalf("stats: %+v", st)
	}
}

// healthyCPS is connect-pg-simple's table as its README creates it, with
// the expiry index, pruned, holding Passport logins, each read again ten
// minutes after it was saved (a touch moved expire past cookie.expires).
func healthyCPS(t *testing.T) (schema, url string) {
	return dbSetup(t, cpsDDLNoIndex, `CREATE INDEX "IDX_session_expire" ON "session" ("expire")`,
		`INSERT INTO session (sid, sess, expire)
		 SELECT 'p' || g, json_build_object('cookie', `+cpsCookie+`, 'passport', json_build_object('user', g % 20)), (e + interval '10 minutes')::timestamp
		 FROM generate_series(1, 60) g, LATERAL (SELECT now() + interval '1 day' - (g * interval '23 minutes') - interval '10 minutes' AS e) x`)
}

// TestDBUnreadLogins: logged-in express-session rows whose expire was
// never moved by a touch after their save are the rows dropped log-in
// cookies leave; from half of at least ten such sessions saved over an hour
// ago, doctor db warns, with the counts and the threshold.
func TestDBUnreadLogins(t *testing.T) {
	// n logged-in sessions saved savedAgo ago; the first read of them read
	// again (touched) a minute later.
	rows := func(n, read int, savedAgo string) string {
		return fmt.Sprintf(`INSERT INTO session (sid, sess, expire)
		 SELECT 'u' || g, json_build_object('cookie', `+cpsCookie+`, 'userId', g), (CASE WHEN g <= %d THEN e + interval '1 minute' ELSE e END)::timestamp
		 FROM generate_series(1, %d) g, LATERAL (SELECT now() + interval '1 day' - interval '%s' AS e) x`, read, n, savedAgo)
	}
	for _, tc := range []struct {
		name   string
		insert string
		status Status
		title  string
		saved  int64
		unread int64
	}{
		{"every log-in read again", rows(20, 20, "3 hours"), Pass, "100% of the logged-in sessions were read again", 20, 0},
		{"most never read", rows(20, 6, "3 hours"), Warn, "70% of the logged-in sessions were never read", 20, 14},
		{"under the threshold", rows(20, 11, "3 hours"), Pass, "55%", 20, 9},
		{"too few", rows(9, 0, "3 hours"), Info, "too few to tell", 9, 9},
		{"too recent to tell", rows(20, 0, "10 minutes"), Info, "too few to tell", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			schema, url := dbSetup(t, cpsDDLNoIndex, tc.insert)
			r := checkDB(t, DBOptions{URL: url, Schema: schema})
			f := expect(t, r, "db.unread", tc.status, tc.title)
			if st := r.Tables[0]; st.LoggedInSaved != tc.saved || st.LoggedInUnread != tc.unread {
				t.Fatalf("saved %d, unread %d; want %d, %d", st.LoggedInSaved, st.LoggedInUnread, tc.saved, tc.unread)
			}
			if !strings.Contains(strings.Join(f.Evidence, " "), "threshold: a warning from 50% of at least 10") {
				t.Fatalf("evidence does not give the threshold: %q", f.Evidence)
			}
		})
	}
	// Our own rows carry no cookie: nothing to say.
	_, url := healthyOurs(t)
	for _, f := range checkDB(t, DBOptions{URL: url, Table: "sessions"}).Findings {
		if f.ID == "db.unread" {
			t.Fatalf("db.unread on sessionkit's table: %+v", f)
		}
	}
}

func TestDBHealthyConnectPgSimpleTableIsQuiet(t *testing.T) {
	schema, url := healthyCPS(t)
	r := checkDB(t, DBOptions{URL: url, Schema: schema})
	noFail(t, r)
	for _, id := range []string{"db.expire-index", "db.sid-index", "db.anonymous", "db.per-user", "db.prune", "db.bloat"} {
		expect(t, r, id, Pass)
	}
	st := r.Tables[0]
	if st.Kind != "connect-pg-simple" || st.Rows != 60 || st.Anonymous != 0 || st.Users != 20 || st.CreatedLastDay != 60 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRunDBExitCodesAndHTML(t *testing.T) {
	brokenSchema, brokenURL := brokenCPS(t)
	_, healthyURL := healthyOurs(t)
	emptySchema, emptyURL := dbSetup(t, `CREATE TABLE users (id int)`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "postgres://postgres:hunter2@" + l.Addr().String() + "/test?sslmode=disable&connect_timeout=5"
	l.Close()
	html := filepath.Join(t.TempDir(), "report.html")

	tests := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"broken", []string{"db", brokenURL, "--table", brokenSchema + ".session", "--html", html}, 1, "FAIL", ""},
		{"healthy, flags after", []string{"db", healthyURL, "--table", "sessions", "--user-key", "userId"}, 0, "PASS", ""},
		{"json", []string{"db", "--json", healthyURL, "--table=sessions"}, 0, `"kind": "db"`, ""},
		{"no such table", []string{"db", healthyURL, "--table", "nope"}, 2, "", "not found"},
		{"not a session table", []string{"db", emptyURL, "--table", "users"}, 2, "", "not a sessions table"},
		{"no session table found", []string{"db", emptyURL, "--schema", emptySchema}, 2, "", "no table with sid"},
		{"unreachable", []string{"db", closed}, 2, "", "connect to"},
		{"bad url", []string{"db", "postgres://x:99999999/"}, 2, "", "bad database URL"},
		{"no url", []string{"db"}, 2, "", "need exactly one DATABASE_URL"},
		{"bad user key", []string{"db", healthyURL, "--user-key", "a..b"}, 2, "", "bad --user-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tt.args, nil, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
				t.Fatalf("stdout %q / stderr %q lack %q / %q", out.String(), errb.String(), tt.out, tt.err)
			}
			if strings.Contains(out.String()+errb.String(), "hunter2") {
				t.Fatal("the database password was printed")
			}
		})
	}

	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{"<svg", `fill="` + chartAnonColor + `"`, `fill="` + chartLoggedColor + `"`, "anonymous", "logged in", "saveUninitialized", "CREATE INDEX CONCURRENTLY"} {
		if !strings.Contains(s, want) {
			t.Fatalf("HTML report lacks %q", want)
		}
	}
	// Every finding sits under its table, next to the chart.
	if strings.Contains(s, "Other findings") || !strings.Contains(s, "<h2>"+brokenSchema+".session (connect-pg-simple)</h2>") {
		t.Fatal("HTML report does not group the findings under their table")
	}
	for _, external := range []string{"<script", "<link", "src=", "url(", "@import"} {
		if strings.Contains(s, external) {
			t.Fatalf("HTML report is not self-contained: has %q", external)
		}
	}
}

// TestRunDBSaysItDoesNotReadRedis: given a Redis URL, doctor db says plainly
// that it reads PostgreSQL only and what to look at instead, rather than a
// PostgreSQL connection error.
// Its redis-cli lines are aimed at the URL's server and database, and never
// print its password.
func TestRunDBSaysItDoesNotReadRedis(t *testing.T) {
	for _, tc := range []struct{ url, cli, not string }{
		{"redis://127.0.0.1:6379", "redis-cli -h 127.0.0.1 -p 6379 --scan", "-n"},
		{"redis://127.0.0.1:6379/10", "redis-cli -h 127.0.0.1 -p 6379 -n 10 --scan", ""},
		{"rediss://:hunter2@cache.internal:6380/3", "redis-cli -h cache.internal -p 6380 --tls -n 3 --scan", "hunter2"},
		{"rediss+cluster://a:7000,b:7000", "redis-cli -h a -p 7000 --tls -c --scan", ""},
	} {
		var stdout, stderr strings.Builder
		code := Run(t.Context(), []string{"db", tc.url}, strings.NewReader(""), &stdout, &stderr)
		if code != ExitUsage || !strings.Contains(stderr.String(), "reads PostgreSQL only") || !strings.Contains(stderr.String(), "nothing to prune") {
			t.Fatalf("doctor db %s = %d, stderr %q; want exit 2 and the plain statement", tc.url, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.cli) || tc.not != "" && strings.Contains(stderr.String(), tc.not) {
			t.Fatalf("doctor db %s: want %q and no %q in:\n%s", tc.url, tc.cli, tc.not, stderr.String())
		}
	}
}

// The index doctor db suggests for a table without one is the one the store's
// own migration creates: after running the fix, pgstore's DDL adds no second
// index, even for a table name so long that PostgreSQL would truncate
// <table>_expire_idx.
func TestDBExpireIndexFixIsTheStoresIndex(t *testing.T) {
	for _, table := range []string{"sessions", strings.Repeat("s", 60)} {
		t.Run(strconv.Itoa(len(table)), func(t *testing.T) {
			ddl, err := pgstore.SchemaSQL("", table)
			if err != nil {
				t.Fatal(err)
			}
			noIndex := strings.Join(strings.SplitAfter(ddl, ";\n")[:1], "")
			schema, url := dbSetup(t, noIndex)
			r := checkDB(t, DBOptions{URL: url, Schema: schema})
			fix := finding(t, r, "db.expire-index").Fix
			if !strings.HasPrefix(fix, "CREATE INDEX") {
				t.Fatalf("fix %q is not a CREATE INDEX", fix)
			}
			exec(t, url, fix, ddl)
			var n int
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 AND indexdef LIKE '%(expire)'`, schema, table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("%d indexes on expire after the doctor's fix and the store's DDL, want 1 (fix: %s)", n, fix)
			}
		})
	}
}
