package pgstore_test

import (
	"context"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore"
)

// The application opens its pool once and shares it; the store borrows it.
// Close stops the store's background pruner; closing the pool stays the
// application's job.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(ctx, pool, pgstore.Config{
		Table:         "sessions",
		CreateTable:   true, // or run pgstore.SchemaSQL's DDL from your migrations
		PruneInterval: 15 * time.Minute,
		Logger:        slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Hand store to the session manager, which takes any sessionkit.Store.
	_ = store
}

// A maintenance command can prune on demand and report progress; only one
// instance prunes a table at a time.
func ExampleStore_PruneExpired() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(ctx, pool, pgstore.Config{PruneInterval: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	total, err := store.CountExpired(ctx)
	if err != nil {
		log.Fatal(err)
	}
	deleted, ran, err := store.PruneExpired(ctx, 0, func(deleted int) {
		log.Printf("deleted %d / %d expired", deleted, total)
	})
	switch {
	case err != nil:
		log.Fatal(err)
	case !ran:
		log.Print("another instance is pruning; nothing to do")
	default:
		log.Printf("done: %d expired sessions deleted", deleted)
	}
}

// The DDL, for a `migrate --print` command.
func ExampleSchemaSQL() {
	ddl, err := pgstore.SchemaSQL("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.WriteString(ddl)
	// Output:
	// CREATE TABLE IF NOT EXISTS "sessions" (
	// 	sid text PRIMARY KEY,
	// 	sess jsonb NOT NULL,
	// 	expire timestamptz NOT NULL,
	// 	created_at timestamptz NOT NULL DEFAULT now()
	// );
	// CREATE INDEX IF NOT EXISTS "sessions_expire_idx" ON "sessions" (expire);
	// CREATE INDEX IF NOT EXISTS "sessions_user_idx" ON "sessions" ((sess -> 'sessionkit' ->> 'user')) WHERE (sess -> 'sessionkit' ->> 'user') IS NOT NULL;
}

// Beside an express-session app: the store uses connect-pg-simple's table as
// it is (no DDL; New logs the layout it found), and the manager gives every
// session it creates the cookie object express-session needs to load it.
// The secrets, cookie name and cookie attributes are the Node app's.
func ExampleStore_Layout() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := pgstore.New(ctx, pool, pgstore.Config{Table: "sessions", Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sessions, err := sessionkit.New(sessionkit.Config{
		Store:                store,
		Secrets:              strings.Split(os.Getenv("SESSION_SECRET"), ","),
		ExpressSessionCookie: store.Layout().Name == pgstore.LayoutConnectPgSimple,
		Cookie:               sessionkit.CookieConfig{Name: "cf.sid"},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions // mount sessions.Middleware(mux)
}
