package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/storetest"
)

// nonUTCZone is a TimeZone far from UTC, with no daylight saving time, and
// an offset in minutes, so that an expiry written or read in the wrong zone
// is off by hours (and a one-hour session looks expired).
const nonUTCZone = "Asia/Kathmandu"

// connectPgSimpleStore makes connect-pg-simple's table in a fresh schema and
// opens a store on it, on connections whose TimeZone is zone ("" for the
// server's). It returns the store, its pool and the log New wrote.
func connectPgSimpleStore(t *testing.T, zone string) (*Store, *pgxpool.Pool, string) {
	t.Helper()
	return connectPgSimpleStoreSQL(t, zone, pgtest.ConnectPgSimpleSQL)
}

// sessJSONBTable is connect-pg-simple's table with sess as jsonb, as many
// teams (the seed's among them) altered or created it.
var sessJSONBTable = strings.Replace(pgtest.ConnectPgSimpleSQL, `"sess" json NOT NULL`, `"sess" jsonb NOT NULL`, 1)

// connectPgSimpleStoreSQL is connectPgSimpleStore on the table ddl makes.
func connectPgSimpleStoreSQL(t *testing.T, zone, ddl string) (*Store, *pgxpool.Pool, string) {
	t.Helper()
	_, u := pgtest.Schema(t)
	if zone != "" {
		u = pgtest.WithTimeZone(u, zone)
	}
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(testCtx(t), ddl); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := New(testCtx(t), pool, Config{Table: "session", PruneInterval: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, pool, logs.String()
}

func TestConformanceConnectPgSimple(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			s, pool, _ := connectPgSimpleStore(t, nonUTCZone)
			dumps.Store(s, pool)
			return s
		},
		NoCreated: true,
		// Node looks sessions up by the id itself.
		Dump:   dumpTable,
		RawIDs: true,
	})
}

func TestConformanceConnectPgSimpleJSONB(t *testing.T) {
	storetest.Run(t, storetest.Suite{
		New: func(t *testing.T) sessionkit.Store {
			s, _, _ := connectPgSimpleStoreSQL(t, nonUTCZone, sessJSONBTable)
			if l := s.Layout(); l.Name != LayoutConnectPgSimple || !l.SessJSONB || l.ExpireTimeZone {
				t.Fatalf("layout %+v", l)
			}
			return s
		},
		NoCreated: true,
	})
}

func TestDetectLayout(t *testing.T) {
	t.Parallel()
	s, pool, logs := connectPgSimpleStore(t, "")
	l := s.Layout()
	want := Layout{Name: LayoutConnectPgSimple, Exists: true,
		Columns: "sid character varying, sess json, expire timestamp(6) without time zone"}
	if l != want {
		t.Errorf("layout of connect-pg-simple's table = %+v, want %+v", l, want)
	}
	if !strings.Contains(logs, "connect-pg-simple layout") || !strings.Contains(logs, want.Columns) {
		t.Errorf("New did not log the layout it found: %q", logs)
	}

	own, _ := newStore(t)
	if l := own.Layout(); l.Name != LayoutSessionkit || !l.Exists || !l.SessJSONB || !l.ExpireTimeZone || !l.HasCreated {
		t.Errorf("layout of SchemaSQL's table = %+v", l)
	}

	ctx := testCtx(t)
	for _, c := range []struct{ ddl, wantErr string }{
		{`CREATE TABLE odd (sid text PRIMARY KEY, data jsonb, expire timestamptz)`, "no sess column"},
		{`CREATE TABLE odd (sid text PRIMARY KEY, sess text, expire timestamptz)`, "sess is text"},
		{`CREATE TABLE odd (sid text PRIMARY KEY, sess jsonb, expire bigint)`, "expire is bigint"},
	} {
		if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS odd; "+c.ddl); err != nil {
			t.Fatal(err)
		}
		if _, err := New(ctx, pool, Config{Table: "odd", PruneInterval: -1}); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("New on %s: %v, want an error saying %q", c.ddl, err, c.wantErr)
		}
	}
}

// TestConnectPgSimpleRows checks pgstore reads and writes the rows exactly
// as connect-pg-simple does, with the same SQL it runs, on connections whose
// TimeZone is not UTC.
func TestConnectPgSimpleRows(t *testing.T) {
	t.Parallel()
	s, pool, _ := connectPgSimpleStore(t, nonUTCZone)
	ctx := testCtx(t)
	var zone string
	if err := pool.QueryRow(ctx, "SHOW TimeZone").Scan(&zone); err != nil || zone != nonUTCZone {
		t.Fatalf("the test's connections have TimeZone %q (%v), want %q", zone, err, nonUTCZone)
	}

	// Written by Go: connect-pg-simple's get (expire >= to_timestamp(now))
	// finds it, and its expire is the instant Go gave, as to_timestamp
	// would have written it.
	expiry := time.Now().Add(time.Hour).Truncate(time.Second)
	if err := s.Create(ctx, "go", sessionkit.Record{Values: vals("userId", "7"), Expiry: expiry}); err != nil {
		t.Fatal(err)
	}
	var sess string
	var same bool
	err := pool.QueryRow(ctx, `SELECT sess, expire = to_timestamp($2) FROM "session" WHERE sid = $1 AND expire >= to_timestamp($3)`,
		"go", expiry.Unix(), time.Now().Unix()).Scan(&sess, &same)
	if err != nil {
		t.Fatalf("connect-pg-simple's get of a session Go wrote: %v", err)
	}
	if !same {
		t.Errorf("expire of a session Go wrote is not to_timestamp(%d)", expiry.Unix())
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(sess), &obj); err != nil || obj["userId"] != 7.0 {
		t.Errorf("sess as Node reads it: %s (%v)", sess, err)
	}

	// Written by Node: Go reads the expiry connect-pg-simple meant.
	node := json.RawMessage(`{"cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"email":"ada@example.com"}`)
	const set = `INSERT INTO "session" (sess, expire, sid) SELECT $1, to_timestamp($2), $3 ON CONFLICT (sid) DO UPDATE SET sess=$1, expire=to_timestamp($2) RETURNING sid`
	for _, row := range []struct {
		sid    string
		expire time.Time
	}{{"node", expiry}, {"node-expired", time.Now().Add(-time.Minute)}} {
		if _, err := pool.Exec(ctx, set, string(node), row.expire.Unix(), row.sid); err != nil {
			t.Fatal(err)
		}
	}
	rec := mustLoad(t, s, "node")
	if !rec.Expiry.Equal(expiry) {
		t.Errorf("Expiry of a session Node wrote = %v, want %v", rec.Expiry, expiry)
	}
	if !rec.Created.IsZero() {
		t.Errorf("Created = %v on a table that cannot hold it, want zero", rec.Created)
	}
	if _, found, err := s.Load(ctx, "node-expired"); err != nil || found {
		t.Errorf("Load of a session Node wrote that expired a minute ago: found %v, %v", found, err)
	}

	// A Go patch changes its keys and leaves Node's, the cookie object
	// included, as Node wrote them; a touch moves expire to the instant given.
	later := expiry.Add(time.Hour)
	if found, err := s.Update(ctx, "node", sessionkit.Patch{Set: vals("userId", "7"), Delete: []string{"email"}, Expiry: later}); err != nil || !found {
		t.Fatalf("Update: %v, %v", found, err)
	}
	rec = mustLoad(t, s, "node")
	jsonEqual(t, rec.Values, vals("userId", "7", "cookie", `{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}`))
	if !rec.Expiry.Equal(later) {
		t.Errorf("Expiry after a touch = %v, want %v", rec.Expiry, later)
	}

	// The prune finds the expired row and no other.
	if n, err := s.Prune(ctx, 10); err != nil || n != 1 {
		t.Errorf("Prune = %d, %v; want the one expired row", n, err)
	}
}

// TestConnectPgSimplePatchKeepsNodeText: on connect-pg-simple's json
// column, a Go patch leaves the text of every member it does not change
// exactly as Node wrote it (nested key order, escapes as JSON.stringify
// wrote them), keeps a changed member in its place, appends new ones, and
// drops deleted ones. A round trip through jsonb reordered nested keys.
func TestConnectPgSimplePatchKeepsNodeText(t *testing.T) {
	t.Parallel()
	s, pool, _ := connectPgSimpleStore(t, "")
	ctx := testCtx(t)
	node := `{"cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},` +
		`"cart":{"z":1,"a":[{"y":2,"b":3}]},"odd":"\u2028 \u00e9 é 😀 \"q\"","userId":7,"email":"ada@example.com"}`
	if _, err := pool.Exec(ctx, `INSERT INTO "session" (sid, sess, expire) VALUES ('node', $1::json, now() + interval '1 hour')`, node); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		p    sessionkit.Patch
		want string
	}{
		{"set an existing key, add one, delete one",
			sessionkit.Patch{Set: vals("userId", "8", "goKey", `"from go"`), Delete: []string{"email"}},
			`{"cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},` +
				`"cart":{"z":1,"a":[{"y":2,"b":3}]},"odd":"\u2028 \u00e9 é 😀 \"q\"","userId":8,"goKey":"from go"}`},
		{"delete and set the same key", sessionkit.Patch{Set: vals("cart", `[]`), Delete: []string{"cart", "odd", "goKey"}},
			`{"cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"cart":[],"userId":8}`},
		{"delete everything", sessionkit.Patch{Delete: []string{"cookie", "cart", "userId"}}, `{}`},
	} {
		if found, err := s.Update(ctx, "node", c.p); err != nil || !found {
			t.Fatalf("%s: Update = %v, %v", c.name, found, err)
		}
		var got string
		if err := pool.QueryRow(ctx, `SELECT sess::text FROM "session" WHERE sid = 'node'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: sess is\n%s\nwant\n%s", c.name, got, c.want)
		}
		if _, found, err := s.Load(ctx, "node"); err != nil || !found {
			t.Errorf("%s: Load after the patch: %v, %v", c.name, found, err)
		}
	}
}

// TestConnectPgSimplePatchKeepsNUL: a session in which Node wrote a
// "\u0000" (JSON.stringify's spelling of U+0000), which PostgreSQL's JSON
// functions refuse, is patched all the same: the patch is applied to the
// row's text in Go under the rules above, the "\u0000" round-trips, and
// concurrent patches of different keys all survive (compare-and-set).
func TestConnectPgSimplePatchKeepsNUL(t *testing.T) {
	t.Parallel()
	s, pool, _ := connectPgSimpleStore(t, "")
	ctx := testCtx(t)
	node := `{"cookie":{"path":"/","httpOnly":true},"note":"a\u0000b","userId":7}`
	if _, err := pool.Exec(ctx, `INSERT INTO "session" (sid, sess, expire) VALUES ('nul', $1::json, now() + interval '1 hour')`, node); err != nil {
		t.Fatal(err)
	}
	if found, err := s.Update(ctx, "nul", sessionkit.Patch{Set: vals("userId", "8", "goKey", `"x\u0000y"`)}); err != nil || !found {
		t.Fatalf("Update = %v, %v", found, err)
	}
	var got string
	if err := pool.QueryRow(ctx, `SELECT sess::text FROM "session" WHERE sid = 'nul'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := `{"cookie":{"path":"/","httpOnly":true},"note":"a\u0000b","userId":8,"goKey":"x\u0000y"}`; got != want {
		t.Fatalf("sess is\n%s\nwant\n%s", got, want)
	}
	rec, found, err := s.Load(ctx, "nul")
	if err != nil || !found {
		t.Fatalf("Load = %v, %v", found, err)
	}
	var note string
	if err := json.Unmarshal(rec.Values["note"], &note); err != nil || note != "a\x00b" {
		t.Fatalf("note = %q, %v; want a NUL between a and b", note, err)
	}

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				key := fmt.Sprintf("w%d-%d", w, i)
				if found, err := s.Update(ctx, "nul", sessionkit.Patch{Set: vals(key, "1")}); err != nil || !found {
					t.Errorf("Update %s = %v, %v", key, found, err)
					return
				}
			}
		}()
	}
	poll.Wait(t, "the concurrent patches", &wg)
	rec, _, err = s.Load(ctx, "nul")
	if err != nil {
		t.Fatal(err)
	}
	for w := range 2 {
		for i := range 10 {
			if _, ok := rec.Values[fmt.Sprintf("w%d-%d", w, i)]; !ok {
				t.Errorf("a concurrent patch of w%d-%d was lost", w, i)
			}
		}
	}
}
