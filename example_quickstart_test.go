package sessionkit_test

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// The README's quick start: a manager, its middleware, and a handler that
// reads the session. It compiles with the tests; it serves until killed.
func Example_quickStart() {
	store := memstore.New(memstore.Config{}) // pgstore or sqlitestore in production
	sessions, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{os.Getenv("SESSION_SECRET")}})
	if err != nil {
		log.Fatal(err) // e.g. SameSite=None without Secure, or a secret under 32 bytes
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r) // ErrNoMiddleware when the middleware is not mounted
		var userID int64
		if err == nil {
			_, err = s.Get("userId", &userID) // one store read; ErrStore if the store is down
		}
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case userID == 0:
			http.Error(w, "not authenticated", http.StatusUnauthorized)
		default:
			fmt.Fprintf(w, `{"id":%d}`, userID)
		}
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", sessions.Middleware(mux)))
}
