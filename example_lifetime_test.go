package sessionkit_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// A log-in handler with a "remember me" box: a session lasts the
// configured 12 hours unless the user ticks it, then 30 days.
func ExampleSession_SetLifetime() {
	store := memstore.New(memstore.Config{}) // pgstore or sqlitestore in production
	defer store.Close()
	sessions, err := sessionkit.New(sessionkit.Config{
		Store:   store,
		Secrets: []string{"a-secret-of-at-least-32-bytes-long!!"},
		Logger:  slog.New(slog.DiscardHandler),
		Expiry:  sessionkit.ExpiryConfig{Lifetime: 12 * time.Hour},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		user := r.FormValue("user") // check the password here
		if err := s.Authenticate(user); err != nil {
			http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
			return
		}
		if r.FormValue("remember") == "on" {
			if err := s.SetLifetime(30 * 24 * time.Hour); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintln(w, "welcome", user)
	})
	handler := sessions.Middleware(mux)

	for _, form := range []url.Values{
		{"user": {"ada"}},
		{"user": {"grace"}, "remember": {"on"}},
	} {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		maxAge := time.Duration(w.Result().Cookies()[0].MaxAge) * time.Second
		fmt.Printf("%s: the cookie lasts %v\n", form.Get("user"), maxAge.Round(time.Hour))
	}
	// Output:
	// ada: the cookie lasts 12h0m0s
	// grace: the cookie lasts 720h0m0s
}
