package pgstore

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// poolWith opens a pool on url with cfg applied, closed when the test ends.
func poolWith(t *testing.T, url string, cfg func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg(pc)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestLoadDirectMatchesScan: the direct load decodes every column as pgx's
// Scan does, in every layout (jsonb or json, timestamptz or timestamp in a
// zone off UTC by minutes, with or without created_at), for times before
// and after PostgreSQL's 2000 epoch to the microsecond, and any JSON; and a
// pool in another query mode loads through Scan.
func TestLoadDirectMatchesScan(t *testing.T) {
	layouts := []struct {
		name, ddl   string
		hasCreated  bool
		insertValue string // the sess column's cast
	}{
		{"sessionkit", "", true, "jsonb"},
		{"connect-pg-simple", pgtest.ConnectPgSimpleSQL, false, "json"},
		{"connect-pg-simple jsonb", sessJSONBTable, false, "jsonb"},
	}
	sessions := []string{
		`{}`,
		`null`,
		`{"userId":7,"email":"ünï@example.com","nested":{"a":[1,2.5,"x"],"b":null},"s":"quote\" and \\ and \u2028"}`,
	}
	created := []string{"2026-11-30 12:34:56.789012+00", "1999-12-31 23:59:59.999999+00", "1970-01-01 00:00:00+00", "2000-01-01 00:00:00+00"}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			_, url := pgtest.Schema(t)
			url = pgtest.WithTimeZone(url, nonUTCZone)
			pool := poolWith(t, url, func(*pgxpool.Config) {})
			table := "sessions"
			cfg := Config{PruneInterval: -1, CreateTable: l.ddl == ""}
			if l.ddl != "" {
				if _, err := pool.Exec(testCtx(t), l.ddl); err != nil {
					t.Fatal(err)
				}
				table, cfg.Table = "session", "session"
			}
			s, err := New(testCtx(t), pool, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			simple := poolWith(t, url, func(c *pgxpool.Config) { c.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol })
			viaScan, err := New(testCtx(t), simple, Config{Table: cfg.Table, PruneInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(viaScan.Close)
			if !s.load.direct || viaScan.load.direct {
				t.Fatalf("direct load on the default pool %v, on the simple-protocol pool %v; want true, false", s.load.direct, viaScan.load.direct)
			}

			ctx := testCtx(t)
			n := 0
			for _, sess := range sessions {
				for _, c := range created {
					n++
					id := "id" + string(rune('a'+n))
					q := `INSERT INTO ` + pgx.Identifier{table}.Sanitize() + ` (sid, sess, expire) VALUES ($1, $2::` + l.insertValue + `, now() + interval '1 hour 0.123456 seconds')`
					args := []any{s.storedID(id), sess}
					if l.hasCreated {
						q = `INSERT INTO sessions (sid, sess, expire, created_at) VALUES ($1, $2::jsonb, now() + interval '1 hour 0.123456 seconds', $3::timestamptz)`
						args = append(args, c)
					}
					if _, err := pool.Exec(ctx, q, args...); err != nil {
						t.Fatal(err)
					}
					draw, drec, dfound, derr := s.loadDirect(ctx, id)
					sraw, srec, sfound, serr := s.loadScan(ctx, id)
					if derr != nil || serr != nil || !dfound || !sfound {
						t.Fatalf("%s: direct found %v, %v; scan found %v, %v", id, dfound, derr, sfound, serr)
					}
					if string(draw) != string(sraw) {
						t.Errorf("%s: sess direct %s, scan %s", id, draw, sraw)
					}
					if !drec.Expiry.Equal(srec.Expiry) || !drec.Created.Equal(srec.Created) {
						t.Errorf("%s: direct expiry %v created %v; scan %v, %v", id, drec.Expiry, drec.Created, srec.Expiry, srec.Created)
					}
					if l.hasCreated {
						want, _ := time.Parse("2006-01-02 15:04:05.999999-07", c)
						if !drec.Created.Equal(want) {
							t.Errorf("%s: Created %v, want %v", id, drec.Created, want)
						}
					} else if !drec.Created.IsZero() {
						t.Errorf("%s: Created %v on a table without created_at", id, drec.Created)
					}
					rec := mustLoad(t, s, id)
					other := mustLoad(t, viaScan, id)
					a, _ := json.Marshal(rec.Values)
					b, _ := json.Marshal(other.Values)
					if string(a) != string(b) || !rec.Expiry.Equal(other.Expiry) {
						t.Errorf("%s: Load %s %v; on the simple protocol %s %v", id, a, rec.Expiry, b, other.Expiry)
					}
				}
			}
			if _, found, err := s.Load(ctx, "missing"); found || err != nil {
				t.Errorf("Load(missing) = %v, %v", found, err)
			}
		})
	}
}

// TestLoadPreparesAgain: a connection whose prepared statement is gone
// (DEALLOCATE ALL) or no longer matches its table (a column's type changed)
// still loads: the statement is prepared again, and no load fails.
func TestLoadPreparesAgain(t *testing.T) {
	_, url := pgtest.Schema(t)
	pool := poolWith(t, url, func(c *pgxpool.Config) { c.MaxConns = 1 })
	s, err := New(testCtx(t), pool, Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := testCtx(t)
	if _, err := pool.Exec(ctx, `INSERT INTO sessions (sid, sess, expire) VALUES ($1, '{"k":1}', now() + interval '1 hour')`, s.storedID("a")); err != nil {
		t.Fatal(err)
	}
	prepared := func() int {
		var n int
		// The simple protocol: DEALLOCATE ALL took pgx's own cached statements too.
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE name = $1", pgx.QueryExecModeSimpleProtocol, s.load.stmt).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, change := range []string{"", "DEALLOCATE ALL", "ALTER TABLE sessions ALTER COLUMN sess TYPE json USING sess::json"} {
		if change != "" {
			if _, err := pool.Exec(ctx, change); err != nil {
				t.Fatal(err)
			}
		}
		rec := mustLoad(t, s, "a")
		if string(rec.Values["k"]) != "1" {
			t.Errorf("after %q: values %v", change, rec.Values)
		}
		if n := prepared(); n != 1 {
			t.Errorf("after %q: the load statement is prepared %d times on the one connection, want 1", change, n)
		}
	}
}
