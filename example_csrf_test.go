package sessionkit_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// Cross-site request forgery: a session cookie goes with every request the
// browser makes, so a state-changing route needs a check the cookie cannot
// give. Go's http.CrossOriginProtection refuses cross-origin POSTs (from the
// browser's Sec-Fetch-Site and Origin headers) unless the origin is trusted;
// wrap the session middleware with it, as sessionkit serve does.
func Example_crossOriginProtection() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	sessions, err := sessionkit.New(sessionkit.Config{
		Store:   store,
		Secrets: []string{"a-secret-of-at-least-32-bytes-long!!"},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/logout", func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err == nil {
			err = s.Destroy()
		}
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "logged out")
	})
	csrf := http.NewCrossOriginProtection()
	if err := csrf.AddTrustedOrigin("https://app.example.com"); err != nil { // a front end on another origin
		panic(err)
	}
	handler := csrf.Handler(sessions.Middleware(mux))

	for _, origin := range []string{"https://evil.example.net", "https://app.example.com"} {
		req := httptest.NewRequest("POST", "https://api.example.com/api/logout", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		fmt.Println(origin, w.Code)
	}
	// Output:
	// https://evil.example.net 403
	// https://app.example.com 200
}
