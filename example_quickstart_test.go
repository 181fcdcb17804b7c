package sessionkit_test

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// The README's quick start: a manager, its middleware, and a handler that
// reads the session. It compiles with the tests; it serves until killed.
func Example_quickStart() {
	store := memstore.New(memstore.Config{}) // pgstore or sqlitestore in production
	defer store.Close()                      // stops the store's background cleanup
	sessions, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{os.Getenv("SESSION_SECRET")}})
	if err != nil {
		log.Fatal(err) // e.g. SameSite=None without Secure, or a secret under 32 bytes
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/user", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err != nil { // ErrNoMiddleware: the middleware is not mounted on this route, a bug
			log.Print(err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		// The user s.Authenticate bound at log-in: one store read, and
		// ErrStore when the store is down.
		user, err := s.User()
		if err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if user == "" {
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"user":%q}`, user)
	})
	// Not log.Fatal, which would exit without the deferred Close.
	log.Print(http.ListenAndServe("127.0.0.1:8080", sessions.Middleware(mux)))
}

// TestREADMEQuickStartIsTheExample: the README shows Example_quickStart as
// it is compiled here, so the quick start cannot drift from code that builds.
func TestREADMEQuickStartIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_quickstart_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, fn, _ := strings.Cut(string(src), "\nfunc Example_quickStart() {")
	fn, _, _ = strings.Cut(fn, "\n}\n")
	if !strings.Contains(string(readme), "```go\nfunc Example_quickStart() {"+fn+"\n}\n```") {
		t.Fatal("README's quick start differs from Example_quickStart in example_quickstart_test.go")
	}
}
