// Command chi is a log-in / read / log-out API on go-chi/chi with
// sessionkit. Manager.Middleware has chi's middleware shape, so it mounts
// with Use, here on the /api group only: routes outside it never touch the
// session store.
//
//	SESSION_SECRET=$(openssl rand -base64 32) go run ./chi
package main

import (
	"encoding/json"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

func main() {
	store := memstore.New(memstore.Config{}) // pgstore or sqlitestore in production
	defer store.Close()
	sessions, err := sessionkit.New(sessionkit.Config{Store: store, Secrets: []string{os.Getenv("SESSION_SECRET")}})
	if err != nil {
		log.Fatal(err)
	}
	// Not log.Fatal, which would exit without the deferred Close.
	log.Print(http.ListenAndServe("127.0.0.1:8080", routes(sessions, slog.Default())))
}

// routes mounts the session middleware on the /api group.
func routes(sessions *sessionkit.Manager, logger *slog.Logger) *chi.Mux {
	a := &app{log: logger}
	r := chi.NewRouter()
	r.Route("/api", func(r chi.Router) {
		r.Use(sessions.Middleware)
		r.Post("/login", a.login)
		r.Get("/user", a.user)
		r.Post("/logout", a.logout)
	})
	return r
}

type app struct{ log *slog.Logger }

// login binds the session to the user. Check the credentials first (a
// password hash, an OAuth callback): this example takes any name.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.User == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"user":"…"}`})
		return
	}
	s, err := sessionkit.From(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Authenticate regenerates the session id, so a fixated id is worthless.
	if err := s.Authenticate(in.User); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": in.User})
}

// user answers the session's user, or 401.
func (a *app) user(w http.ResponseWriter, r *http.Request) {
	s, err := sessionkit.From(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	user, err := s.User()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if user == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not authenticated"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": user})
}

// logout deletes the session from the store and clears the cookie.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s, err := sessionkit.From(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := s.Destroy(); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail answers a session error: 503 when the store is down (never 401, which
// a client would take for a log-out), 500 otherwise, such as
// sessionkit.ErrNoMiddleware on a route outside the /api group.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("session", "path", r.URL.Path, "err", err)
	if errors.Is(err, sessionkit.ErrStore) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "session store unavailable"})
		return
	}
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a write error is the client's
}
