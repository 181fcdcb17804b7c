package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// The API's error messages; clients and docs/api.md depend on their wording.
const (
	errStoreUnavailable = "session store unavailable"
	errNotAuthenticated = "not authenticated"
	errInvalidLogin     = "invalid login"
	errEmailTooLong     = `"email" is too long (at most 254 bytes)`
)

// writeJSON writes v as the JSON response body with status: through
// encoding/json, or by v's own appendJSON for the hottest answers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if a, ok := v.(jsonAppender); ok {
		// The newline too: the same bytes as the Encoder's.
		_, _ = w.Write(append(a.appendJSON(make([]byte, 0, 128)), '\n'))
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// jsonAppender is a response body that writes its own JSON, exactly as
// encoding/json would.
type jsonAppender interface{ appendJSON([]byte) []byte }

// writeError writes {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// session returns the request's session, answering 500 when the middleware
// is missing (a wiring bug, not an anonymous user).
func (s *Server) session(w http.ResponseWriter, r *http.Request) (*sessionkit.Session, bool) {
	sess, err := sessionkit.From(r)
	if err != nil {
		s.log.Error("session middleware missing", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return nil, false
	}
	return sess, true
}

// storeFailed answers a failed session or database call with 503, so that
// an outage never looks like a log-out (401) to the client. Users live in
// the same database as sessions, so both failures read the same.
func (s *Server) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("database call failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusServiceUnavailable, errStoreUnavailable)
}

// userResponse is GET /api/user's body.
type userResponse struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// sessionUserID returns the user id the session holds under
// SESSION_USER_KEY (see userKey.read).
func (s *Server) sessionUserID(sess *sessionkit.Session) (id int64, found bool, err error) {
	return s.userKey.read(sess)
}

// handleUser returns the logged-in user from the session alone: one store
// round trip (none on a cache hit), no users query. That is safe because a
// session outlives neither its user nor the user's disabling: RemoveUser and
// DisableUser end every session bound to the user after changing it, and a
// log-in racing them checks the user again once its session is saved (see
// recheckUser; a failed check is logged, not acted on). A session bound to another user than the one it names is
// ended; one bound to none (express-session's, on a shared table) is checked
// against the users table.
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	id, found, err := s.sessionUserID(sess)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return
	}
	// The session is loaded already: these read no store.
	bound, _ := sess.User()
	email, _ := sess.GetString(admin.SessionEmailKey)
	switch {
	case bound == admin.UserKey(id) && email != "":
		writeJSON(w, http.StatusOK, userResponse{ID: id, Email: email})
	case bound == "":
		// Not bound to a user: written by express-session on a shared
		// connect-pg-simple table (its log-in stores userId and email
		// only), or before sessions were bound. The sweeps do not reach
		// it, so the users table decides, as for the other routes.
		if _, user, ok := s.currentUser(w, r); ok {
			writeJSON(w, http.StatusOK, userResponse{ID: user.ID, Email: user.Email})
		}
	default:
		_ = sess.Destroy()
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
	}
}

// handleLogout deletes the session and clears the cookie. Clear-Site-Data
// also has the browser drop every cookie of the site, in case one was set
// with a Domain or Path this server no longer uses.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	// Read first, so that the log-out's event names its user; it is the
	// read the next request would make anyway.
	if _, err := sess.User(); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if err := sess.Destroy(); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	s.securityEvent(r, slog.LevelInfo, eventLogout)
	w.Header().Set("Clear-Site-Data", `"cookies"`)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// handleHealth answers load balancers. It does no session work; it pings
// the database and, when sessions live there, Redis, and names each that is
// down.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	// Both at once, so a database that hangs until the deadline does not
	// leave Redis no time to answer and get it named too.
	var dbErr, redisErr error
	var wg sync.WaitGroup
	wg.Go(func() { dbErr = s.db.Ping(ctx) })
	if s.db.UsesRedis() {
		wg.Go(func() { redisErr = s.db.PingRedis(ctx) })
	}
	wg.Wait()
	var down []string
	if dbErr != nil {
		s.log.Warn("health check: database down", "database", s.db.String(), "err", dbErr)
		down = append(down, "database")
	}
	if redisErr != nil {
		s.log.Warn("health check: redis down", "redis", s.db.RedisString(), "err", redisErr)
		down = append(down, "redis")
	}
	if len(down) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, health{Status: "unavailable", Down: down})
		return
	}
	writeJSON(w, http.StatusOK, health{Status: "ok"})
}

// health is GET /healthz's body.
type health struct {
	Status string `json:"status"`
	// Down names the dependencies that failed their check.
	Down []string `json:"down,omitempty"`
}
