package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
)

// rawIDStore writes and checks sessions the way a store wrote them before
// it kept hashed ids: stored under the id itself.
type rawIDStore struct {
	write func(t *testing.T, id string)
	// stored reports whether anything is stored under key.
	stored func(t *testing.T, key string) bool
}

// TestMigrateHashIDs: `migrate --hash-ids` moves a session stored under
// its raw id to its hash on each backend (SQLite, PostgreSQL, Redis), says
// how many it moved, and moves nothing on a second run; the session is
// found by its id before and after.
func TestMigrateHashIDs(t *testing.T) {
	cases := map[string]func(t *testing.T) (map[string]string, rawIDStore){
		"sqlite": func(t *testing.T) (map[string]string, rawIDStore) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			runCmd(t, env, "", "migrate")
			db, err := sql.Open("sqlite", filepath.Join(env["DATA_DIR"], admin.SQLiteFile))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return env, rawIDStore{
				write: func(t *testing.T, id string) {
					if _, err := db.ExecContext(t.Context(), `INSERT INTO sessions (sid, sess, expire, created_at) VALUES (?, '{}', ?, 0)`,
						id, time.Now().Add(time.Hour).UnixMilli()); err != nil {
						t.Fatal(err)
					}
				},
				stored: func(t *testing.T, key string) bool {
					var n int
					_ = db.QueryRowContext(t.Context(), `SELECT count(*) FROM sessions WHERE sid = ?`, key).Scan(&n)
					return n == 1
				},
			}
		},
		"postgres": func(t *testing.T) (map[string]string, rawIDStore) {
			_, url := pgtest.Schema(t)
			env := map[string]string{"DATABASE_URL": url, "DATA_DIR": t.TempDir()}
			runCmd(t, env, "", "migrate")
			pool, err := pgxpool.New(context.Background(), env["DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return env, rawIDStore{
				write: func(t *testing.T, id string) {
					if _, err := pool.Exec(t.Context(), `INSERT INTO sessions (sid, sess, expire) VALUES ($1, '{}', $2)`,
						id, time.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
				},
				stored: func(t *testing.T, key string) bool {
					var n int
					_ = pool.QueryRow(t.Context(), `SELECT count(*) FROM sessions WHERE sid = $1`, key).Scan(&n)
					return n == 1
				},
			}
		},
		"redis": func(t *testing.T) (map[string]string, rawIDStore) {
			client, prefix := redistest.Client(t)
			env := map[string]string{"DATA_DIR": t.TempDir(), "REDIS_URL": redistest.URL(), "REDIS_PREFIX": prefix}
			runCmd(t, env, "", "migrate")
			return env, rawIDStore{
				write: func(t *testing.T, id string) {
					key := prefix + "{" + id + "}"
					exp := time.Now().Add(time.Hour)
					if err := client.HSet(t.Context(), key, "e", exp.UnixMilli(), "c", time.Now().UnixMilli()).Err(); err != nil {
						t.Fatal(err)
					}
					if err := client.PExpireAt(t.Context(), key, exp).Err(); err != nil {
						t.Fatal(err)
					}
				},
				stored: func(t *testing.T, key string) bool {
					return client.Exists(t.Context(), prefix+"{"+key+"}").Val() == 1
				},
			}
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, raw := setup(t)
			id := "raw-id-from-before-" + name
			raw.write(t, id)
			found := func(when string) {
				t.Helper()
				db, err := admin.Open(t.Context(), admin.Config{DatabaseURL: env["DATABASE_URL"], DataDir: env["DATA_DIR"],
					RedisURL: env["REDIS_URL"], RedisPrefix: env["REDIS_PREFIX"], PruneInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, ok, err := db.Sessions().Load(t.Context(), id); !ok || err != nil {
					t.Fatalf("%s: the session is not found by its id (%v)", when, err)
				}
			}
			found("before migrate --hash-ids")
			r := runCmd(t, env, "", "migrate", "--hash-ids")
			if r.code != 0 || !strings.Contains(r.stdout, "migrate: 1 sessions stored under their raw id") {
				t.Fatalf("migrate --hash-ids: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if raw.stored(t, id) || !raw.stored(t, sessionkit.HashID(id)) {
				t.Fatal("after migrate --hash-ids the session is still under its id, or not under its hash")
			}
			found("after migrate --hash-ids")
			if r := runCmd(t, env, "", "migrate", "--hash-ids"); r.code != 0 || !strings.Contains(r.stdout, "migrate: 0 sessions") {
				t.Fatalf("second migrate --hash-ids: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
