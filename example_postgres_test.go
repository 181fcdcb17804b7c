package sessionkit_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore"
)

// The README's quick start: PostgreSQL, the middleware, and a handler that
// reads the session. It compiles with the tests; it needs a database to run.
func Example_postgres() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	store, err := pgstore.New(ctx, pool, pgstore.Config{CreateTable: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // stops the background pruner
	sessions, err := sessionkit.New(sessionkit.Config{
		Store:   store,
		Secrets: strings.Split(os.Getenv("SESSION_SECRET"), ","), // first signs, all verify
		Secure:  true,
	})
	if err != nil {
		log.Fatal(err) // e.g. a cookie configuration browsers would reject
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError) // middleware not mounted
			return
		}
		var userID int64
		if ok, err := s.Get("userId", &userID); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		} else if !ok {
			http.Error(w, "not authenticated", http.StatusUnauthorized)
		} else {
			fmt.Fprintf(w, `{"id":%d}`, userID)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", sessions.Middleware(mux)))
}
