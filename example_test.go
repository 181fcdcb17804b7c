package sessionkit_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// The README's usage example: mount the middleware, then read and write the
// session through the request. In production, use pgstore or sqlitestore.
func Example() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	sessions, err := sessionkit.New(sessionkit.Config{
		Store:   store,
		Secrets: []string{"a-secret-of-at-least-32-bytes-long!!"},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err) // a configuration browsers would reject
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var visits int
		if _, err := s.Get("visits", &visits); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if err := s.Put("visits", visits+1); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d\n", visits+1)
	})
	handler := sessions.Middleware(mux)

	first := httptest.NewRecorder()
	handler.ServeHTTP(first, httptest.NewRequest("POST", "/visit", nil))
	second := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/visit", nil)
	req.AddCookie(first.Result().Cookies()[0])
	handler.ServeHTTP(second, req)
	fmt.Print(first.Body.String(), second.Body.String())
	fmt.Println("cookie set on the second visit:", second.Header().Get("Set-Cookie") != "")
	// Output:
	// visit 1
	// visit 2
	// cookie set on the second visit: false
}
