// Package pgtest gives each test its own PostgreSQL schema on the machine's
// real server, so packages can run their tests in parallel and clean up after
// themselves. It never skips: a test that needs PostgreSQL fails when the
// server cannot be reached.
//
// It is sessionkit's own test infrastructure, kept in the pgstore module so the
// store's tests need no other driver, and exported (not internal) so the
// tools module's tests share it; it makes no compatibility promise.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is used when SESSIONKIT_TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the database URL tests connect to.
func URL() string {
	if u := os.Getenv("SESSIONKIT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema creates a fresh schema, drops it when the test ends, and returns its
// name together with a database URL whose search_path is that schema.
func Schema(tb testing.TB) (schema, url string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		tb.Fatalf("pgtest: PostgreSQL at %s is required and unreachable: %v", URL(), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	schema = "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, URL())
		if err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(URL(), "?") {
		sep = "&"
	}
	return schema, fmt.Sprintf("%s%ssearch_path=%s", URL(), sep, schema)
}

// Pool returns a pool whose connections use a fresh schema (see Schema),
// closed when the test ends.
func Pool(tb testing.TB) (schema string, pool *pgxpool.Pool) {
	tb.Helper()
	schema, url := Schema(tb)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatalf("pgtest: pool: %v", err)
	}
	// Cleanups run last-in first-out: the pool closes before the schema drops.
	tb.Cleanup(pool.Close)
	return schema, pool
}

// WithTimeZone returns url with the PostgreSQL option that sets its
// connections' TimeZone to zone, in the form both pgx and node-postgres pass
// on to the server.
func WithTimeZone(url, zone string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "options=" + strings.NewReplacer(" ", "%20", "=", "%3D", "/", "%2F").Replace("-c TimeZone="+zone)
}

// ConnectPgSimpleSQL is connect-pg-simple 10's table.sql, byte for byte (the
// interop tests compare it with the installed package's file).
const ConnectPgSimpleSQL = `CREATE TABLE "session" (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)
WITH (OIDS=FALSE);

ALTER TABLE "session" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;

CREATE INDEX "IDX_session_expire" ON "session" ("expire");
`

// ConnectPgSimpleTable returns the SQL connect-pg-simple's
// createTableIfMissing runs for quotedTable (e.g. `"session"` or
// `"s"."session"`): table.sql with every "session" replaced, as it does.
func ConnectPgSimpleTable(quotedTable string) string {
	return strings.ReplaceAll(ConnectPgSimpleSQL, `"session"`, quotedTable)
}
