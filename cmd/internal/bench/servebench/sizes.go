package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit/cmd/internal/admin"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// The bytes a store keeps per session, per layout (-sizes N): N users each
// log in once through a real serve, so each store holds exactly what serve
// writes at log-in (the user's id and email, the binding to the user, the
// expiry and creation time) and its user index holds one entry per user.
// The figures are sizes, not times: they do not move with the machine's
// load.
//
// PostgreSQL: pg_total_relation_size of the table (heap, TOAST, and every
// index: the primary key, the expiry index, the user index) after VACUUM, by
// the rows. Redis: MEMORY USAGE … SAMPLES 0 of every key the run wrote
// (session keys and user index keys), by the sessions; it counts the key,
// its value and Redis's per-key overhead, not the allocator's slack.

// sizeLayout is one store layout serve is started on for -sizes.
type sizeLayout struct {
	name string
	env  []string // serve's extra environment
	// pgTable is the PostgreSQL table holding the sessions ("" on Redis);
	// redisPrefix the prefix under which the layout's keys are.
	pgTable, redisPrefix string
}

func runSizes(o options, n int) error {
	ctx := context.Background()
	const schema = "servebench_sizes"
	b, err := setUp(ctx, o, schema)
	if err != nil {
		return err
	}
	defer b.close()
	pool := b.pool
	// Every user has the bench user's password (its hash copied).
	if _, err := pool.Exec(ctx, `INSERT INTO `+schema+`.users (email, password_hash)
		SELECT 'user' || i || '@example.com', password_hash FROM `+schema+`.users, generate_series(1, $1::int) AS i
		WHERE email = $2`, n, email); err != nil {
		return fmt.Errorf("add users: %w", err)
	}
	// connect-pg-simple's own table, with the user index pgstore offers
	// for it (UserIndexSQL).
	cps := pgx.Identifier{schema, "session"}.Sanitize()
	userIndex, err := pgstore.UserIndexSQL(schema, "session")
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, pgtest.ConnectPgSimpleTable(cps)); err != nil {
		return fmt.Errorf("connect-pg-simple table: %w", err)
	}
	if _, err := pool.Exec(ctx, userIndex); err != nil {
		return fmt.Errorf("connect-pg-simple user index: %w", err)
	}
	rs := newRedisStores(o.redisAddr)
	defer func() {
		if err := rs.close(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "servebench: clean up Redis:", err)
		}
	}()
	layouts := []sizeLayout{
		{name: "PostgreSQL, sessionkit's table", pgTable: schema + ".sessions"},
		{name: "PostgreSQL, connect-pg-simple's table", pgTable: schema + ".session", env: []string{"SESSION_TABLE=" + schema + ".session"}},
		{name: "Redis, native layout", redisPrefix: rs.prefix + "native:",
			env: []string{"REDIS_URL=" + rs.single, "REDIS_PREFIX=" + rs.prefix + "native:"}},
		{name: "Redis, connect-redis layout", redisPrefix: rs.prefix + "cr:",
			env: []string{"REDIS_URL=" + rs.single, "REDIS_PREFIX=" + rs.prefix + "cr:", "REDIS_LAYOUT=connect-redis"}},
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	srv := &servers{bin: b.bin, self: self, dir: b.dir, env: b.env}
	defer srv.stop()
	rdb, _, err := admin.RedisClient(rs.single)
	if err != nil {
		return err
	}
	defer rdb.Close()

	fmt.Printf("%d users, one log-in each through serve (what it writes at log-in)\n\n", n)
	fmt.Println("| layout | sessions | session | user index | other | total per session | how |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, l := range layouts {
		in, err := srv.serve(append(l.env, "SESSION_CACHE=off")...)
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		if err := logInAll(in.url, n); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		var row string
		if l.pgTable != "" {
			row, err = pgSizes(ctx, pool, l.pgTable)
		} else {
			row, err = redisSizes(ctx, rdb, l.redisPrefix)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		fmt.Printf("| %s | %s |\n", l.name, row)
	}
	return nil
}

// logInAll logs in user1 … usern once each, on 4 connections.
func logInAll(base string, n int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := fmt.Sprintf(`{"email":"user%d@example.com","password":%q}`, i, password)
				resp, err := client.Post(base+"/api/login", "application/json", strings.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("log-in of user%d: %s", i, resp.Status)
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 1; i <= n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d log-ins failed, first: %w", len(errs), n, errs[0])
	}
	return nil
}

// pgSizes returns the table's row of the sizes table: the heap (with its
// TOAST) and the indexes by the rows, the user index apart.
func pgSizes(ctx context.Context, pool *pgxpool.Pool, table string) (string, error) {
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
		return "", err
	}
	var rows, total, heap, userIdx, rowBytes int64
	err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+table+`),
		pg_total_relation_size($1::regclass), pg_table_size($1::regclass),
		coalesce((SELECT sum(pg_relation_size(indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			WHERE i.indrelid = $1::regclass AND c.relname LIKE '%user_idx'), 0),
		(SELECT avg(pg_column_size(t.*))::bigint FROM `+table+` AS t)`, table).
		Scan(&rows, &total, &heap, &userIdx, &rowBytes)
	if err != nil {
		return "", err
	}
	if rows == 0 {
		return "", fmt.Errorf("no rows in %s", table)
	}
	other := total - heap - userIdx
	return fmt.Sprintf("%d | %d B (table: heap, TOAST, free space and visibility maps; one row %d B) | "+
		"%d B | %d B (primary key and expiry indexes) | **%d B** | pg_total_relation_size / rows",
		rows, heap/rows, rowBytes, userIdx/rows, other/rows, total/rows), nil
}

// redisSizes returns the layout's row of the sizes table: MEMORY USAGE of
// its session keys and of its user index keys (which connect-redis's layout
// keeps under "sessionkit-users:" + prefix), by the sessions.
func redisSizes(ctx context.Context, rdb redis.UniversalClient, prefix string) (string, error) {
	var sessions, sessionBytes, indexBytes int64
	iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		n, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			return "", fmt.Errorf("MEMORY USAGE %s: %w", key, err)
		}
		if strings.HasPrefix(key, prefix) && !strings.HasPrefix(key, prefix+"user:") {
			sessions++
			sessionBytes += n
		} else {
			indexBytes += n
		}
	}
	if err := iter.Err(); err != nil {
		return "", err
	}
	if sessions == 0 {
		return "", fmt.Errorf("no keys under %s", prefix)
	}
	return fmt.Sprintf("%d | %d B | %d B | – | **%d B** | MEMORY USAGE … SAMPLES 0 / sessions",
		sessions, sessionBytes/sessions, indexBytes/sessions, (sessionBytes+indexBytes)/sessions), nil
}
