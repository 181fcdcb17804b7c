package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/admin"
)

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

const (
	errStoreUnavailable = "session store unavailable"
	errNotAuthenticated = "not authenticated"
	errInvalidLogin     = "invalid login"
)

// writeJSON writes v as the JSON response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

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

type credentials struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// handleLogin checks the credentials and, when they match, regenerates the
// session before storing the user in it, so an id planted before log-in is
// worthless after.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	addrKey := clientKey(r, s.cfg.TrustedProxies)
	// A blocked address is refused before its body is read.
	if wait := s.byAddr.wait(addrKey); wait > 0 {
		s.tooMany(w, wait)
		return
	}
	var c credentials
	if msg := decodeJSON(w, r, &c); msg != "" {
		s.logins.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if c.Email == nil || c.Password == nil || strings.TrimSpace(*c.Email) == "" || *c.Password == "" {
		s.logins.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, `"email" and "password" are required`)
		return
	}
	// An address that is not an email cannot log in, but it is counted like
	// one so that probing with junk is limited too.
	email, emailErr := admin.NormalizeEmail(*c.Email)
	if emailErr != nil {
		email = strings.ToLower(strings.TrimSpace(*c.Email))
	}
	emailKey := "email:" + email
	releaseEmail, wait := s.byEmail.acquire(emailKey)
	if wait > 0 {
		s.tooMany(w, wait)
		return
	}
	releaseAddr, wait := s.byAddr.acquire(addrKey)
	if wait > 0 {
		releaseEmail()
		s.tooMany(w, wait)
		return
	}

	// An invalid address is never looked up: it cannot be an account, and
	// text such as a NUL byte is refused by PostgreSQL, which must not read
	// as a store outage. It still costs a bcrypt comparison.
	user, ok, err := s.checkPassword(r.Context(), email, emailErr == nil, *c.Password)
	if err != nil {
		// Not checked, so not a failure.
		releaseEmail()
		releaseAddr()
		s.logins.WithLabelValues("unavailable").Inc()
		s.storeFailed(w, r, err)
		return
	}
	if !ok {
		// The attempt stays counted against both keys.
		s.logins.WithLabelValues("invalid").Inc()
		writeError(w, http.StatusUnauthorized, errInvalidLogin)
		return
	}
	releaseAddr()
	s.byEmail.reset(emailKey)

	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	if err := sess.Regenerate(); err != nil {
		s.logins.WithLabelValues("unavailable").Inc()
		s.storeFailed(w, r, err)
		return
	}
	if err := sess.Put(admin.SessionUserIDKey, user.ID); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if err := sess.Put(admin.SessionEmailKey, user.Email); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	s.logins.WithLabelValues("ok").Inc()
	// The session is saved as this response's headers go out; if that fails
	// the client gets the 503 of Config.ErrorHandler, not this 200.
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// checkPassword reports whether password is the user's. An unknown email,
// or one not worth looking up (lookup false), is compared against a dummy
// hash, so it takes as long as a known one and the timing does not reveal
// which emails have accounts.
func (s *Server) checkPassword(ctx context.Context, email string, lookup bool, password string) (admin.User, bool, error) {
	var user admin.User
	var found bool
	if lookup {
		var err error
		if user, found, err = s.db.UserByEmail(ctx, email); err != nil {
			return admin.User{}, false, err
		}
	}
	hash := s.dummyHash
	if found {
		hash = []byte(user.PasswordHash)
	}
	if len(password) > admin.MaxPasswordLength {
		// bcrypt reads only 72 bytes; refuse rather than accept a password
		// that merely starts like the right one.
		password, found = password[:admin.MaxPasswordLength], false
	}
	select {
	case s.bcryptSlots <- struct{}{}:
	case <-ctx.Done():
		return admin.User{}, false, ctx.Err()
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	<-s.bcryptSlots
	return user, found && match, nil
}

func (s *Server) tooMany(w http.ResponseWriter, wait time.Duration) {
	s.logins.WithLabelValues("rate_limited").Inc()
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "too many failed log-ins; retry later")
}

// decodeJSON reads one JSON object of at most maxBody bytes into dst and
// returns "" or the message of a 400 response.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) string {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	err := dec.Decode(dst)
	if err == nil {
		// One object, nothing after it.
		if _, err = dec.Token(); err == io.EOF {
			return ""
		} else if err == nil {
			return "request body must be a single JSON object"
		}
	}
	var tooBig *http.MaxBytesError
	var wrongType *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return "request body too large (limit 64 KiB)"
	case errors.Is(err, io.EOF):
		return "request body is empty: send {\"email\":…,\"password\":…}"
	case errors.As(err, &wrongType):
		// encoding/json's own message names Go types, which mean nothing
		// to a client.
		if wrongType.Field == "" {
			return "request body must be a JSON object: {\"email\":…,\"password\":…}"
		}
		return fmt.Sprintf("%q must be a JSON %s, not %s", wrongType.Field, wrongType.Type, wrongType.Value)
	default:
		return "request body is not valid JSON: " + err.Error()
	}
}

// userResponse is GET /api/user's body.
type userResponse struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// sessionUserID returns the user id the session holds. A value this server
// did not write (not a number) reads as no user; the error is only ever a
// store failure (sessionkit.ErrStore).
func sessionUserID(sess *sessionkit.Session) (id int64, found bool, err error) {
	found, err = sess.Get(admin.SessionUserIDKey, &id)
	switch {
	case errors.Is(err, sessionkit.ErrStore):
		return 0, false, err
	case err != nil:
		return 0, false, nil
	}
	return id, found, nil
}

// handleUser returns the logged-in user. A session whose user was removed
// is ended.
func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	id, found, err := sessionUserID(sess)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return
	}
	user, found, err := s.db.UserByID(r.Context(), id)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	// The id must still name the user who logged in: a log-in racing the
	// user's removal can save its session after RemoveUser swept that
	// user's sessions, and a database whose ids are reused would hand it
	// the next user's. The session is loaded already, so this is no store
	// call; a missing or unreadable email is "", which matches no user.
	email, _ := sess.GetString(admin.SessionEmailKey)
	if !found || email != user.Email {
		_ = sess.Destroy() // the user was removed: the session is worthless
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return
	}
	writeJSON(w, http.StatusOK, userResponse{ID: user.ID, Email: user.Email})
}

// handleLogout deletes the session and clears the cookie. Clear-Site-Data
// also has the browser drop every cookie of the site, in case one was set
// with a Domain or Path this server no longer uses.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	if err := sess.Destroy(); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	w.Header().Set("Clear-Site-Data", `"cookies"`)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// debugSession is what GET /api/_debug/session returns: the seed's fields,
// redacted, plus the answers to "why is my session not sticking".
type debugSession struct {
	// ID is a prefix of the session id, or null without a session.
	ID         *string `json:"id"`
	HasSession bool    `json:"hasSession"`
	UserID     *int64  `json:"userId"`
	// CookiesHeader lists the cookie names the request carried, values
	// redacted; null when it had no Cookie header (the client is not
	// sending cookies: credentials, CORS or cookie flags).
	CookiesHeader *string `json:"cookiesHeader"`
	HTTPS         bool    `json:"https"`
	HTTPSReason   string  `json:"httpsReason"`
	// Signature is valid, absent, unknown (signed by a secret this instance
	// does not hold: another instance's, or one rotated out)
	// or malformed.
	Signature   string `json:"signature"`
	Fingerprint string `json:"fingerprint"`
	CookieName  string `json:"cookieName"`
}

func (s *Server) handleDebug(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	var d debugSession
	uid, found, err := sessionUserID(sess)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if found {
		d.UserID = &uid
	}
	if d.HasSession, err = sess.Exists(); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if id := sess.ID(); id != "" && d.HasSession {
		short := id
		if len(short) > 6 {
			short = short[:6] + "…"
		}
		d.ID = &short
	}
	if cookies := r.Header.Values("Cookie"); len(cookies) > 0 {
		redacted := redactCookies(strings.Join(cookies, "; "))
		d.CookiesHeader = &redacted
	}
	t := s.sessions.Transport(r)
	d.HTTPS, d.HTTPSReason = t.HTTPS, t.Reason
	d.Signature = signatureStatus(sess.CookieStatus())
	d.Fingerprint = s.sessions.Fingerprint()
	d.CookieName = s.sessions.CookieName()
	writeJSON(w, http.StatusOK, d)
}

// redactCookies keeps a Cookie header's names and hides its values.
func redactCookies(header string) string {
	var parts []string
	for _, c := range strings.Split(header, ";") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		name, _, _ := strings.Cut(c, "=")
		parts = append(parts, name+"=[redacted]")
	}
	return strings.Join(parts, "; ")
}

// handleHealth answers load balancers. It does no session work; it pings
// the database, the one dependency, and names it when it is down.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("health check: database down", "database", s.db.String(), "err", err)
		writeJSON(w, http.StatusServiceUnavailable, health{Status: "unavailable", Down: []string{"database"}})
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

// signatureStatus names a cookie's status in the debug endpoint's words.
func signatureStatus(st sessionkit.CookieStatus) string {
	if st == sessionkit.CookieBadSignature {
		return "unknown"
	}
	return st.String()
}
