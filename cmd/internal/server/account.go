package server

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// errReauth is the 403 answer to ending other sessions without a recent
// log-in or the password.
const errReauth = `recent log-in required: log in again, or send your password as {"password":"…"}`

// currentUser returns the request's session and its logged-in user, or
// answers 401 or 503 and returns false. On 401 the session is ended only
// when this server made it (it is bound to a user) or its user is
// disabled: a session of a user who was removed or disabled is worthless.
// One this server did not make (express-session's, on a shared store) and
// cannot map to one of its users is left as it is, cookie included.
func (s *Server) currentUser(w http.ResponseWriter, r *http.Request) (*sessionkit.Session, admin.User, bool) {
	sess, ok := s.session(w, r)
	if !ok {
		return nil, admin.User{}, false
	}
	id, found, err := s.sessionUserID(sess)
	if err != nil {
		s.storeFailed(w, r, err)
		return nil, admin.User{}, false
	}
	if !found {
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return nil, admin.User{}, false
	}
	user, found, err := s.db.UserByID(r.Context(), id)
	if err != nil {
		s.storeFailed(w, r, err)
		return nil, admin.User{}, false
	}
	// The id must still name the user who logged in: a log-in racing the
	// user's removal can save its session after RemoveUser swept that
	// user's sessions, and a database whose ids are reused would hand it
	// the next user's. The session is loaded already, so this is no store
	// call; a missing or unreadable email is "", which matches no user. A
	// disabled user's session that escaped the sweep the same way ends here.
	email, _ := sess.GetString(admin.SessionEmailKey)
	bound, _ := sess.User()
	switch {
	case found && user.Disabled() && (bound != "" || email == "" || email == user.Email):
		// Every session of the user goes, as DisableUser's own sweep
		// would have ended them, and the events say why; this one too,
		// which may be Node's and outside the user's index.
		ctx := sessionkit.WithEndReason(r.Context(), sessionkit.ReasonDisabled)
		if _, err := s.sessions.EndAllSessions(ctx, admin.UserKey(user.ID)); err != nil {
			s.storeFailed(w, r, err)
			return nil, admin.User{}, false
		}
		_ = sess.Destroy()
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return nil, admin.User{}, false
	case bound != "" && (!found || email != user.Email):
		_ = sess.Destroy() // the session is worthless
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return nil, admin.User{}, false
	case bound == "" && (!found || email != "" && email != user.Email):
		// Not this server's session (bound == ""): express-session's, on a
		// shared table, for a user this server does not know (not
		// imported) or knows under another email. Ending it, or clearing
		// the cookie, would log the user out of Node too, so it is left
		// as it is. A session with no email (passport keeps only the id)
		// is the user its id names, as Node's deserializeUser reads it.
		s.unmappedSession(r, sess, found)
		_ = sess.LeaveAlone() // no touch either: its expiry is Node's
		writeError(w, http.StatusUnauthorized, errNotAuthenticated)
		return nil, admin.User{}, false
	}
	return sess, user, true
}

// unmappedBudget: one line per session an hour, and at most a thousand
// sessions' lines an hour in all.
var unmappedBudget = budget{perClient: 1, perEvent: 1000}

// unmappedSession logs, once per session per hour, that a session
// names a user this server cannot map to one of its own, by the session's
// handle (a hash of its id). It is Info, not Warn: during a move from
// Node, before `sessionkit users import`, it is expected.
func (s *Server) unmappedSession(r *http.Request, sess *sessionkit.Session, userFound bool) {
	handle := sess.Handle()
	if ok, _ := s.unmapped.allow(eventSessionUnmapped, handle, unmappedBudget); !ok {
		return
	}
	reason := "no such user"
	if userFound {
		reason = "email differs from the user's"
	}
	s.securityEvent(r, slog.LevelInfo, eventSessionUnmapped, "session", handle, "reason", reason)
}

// sessionView is one entry of GET /api/sessions.
type sessionView struct {
	sessionkit.SessionInfo
	// Current marks the session the request came with ("this device").
	Current bool `json:"current"`
}

// sessionsResponse is GET /api/sessions's body.
type sessionsResponse struct {
	Sessions []sessionView `json:"sessions"`
	// RecentAuth says whether ending other sessions needs the password
	// (false) or not (true): the log-in was within ReauthWindow.
	RecentAuth bool `json:"recentAuth"`
}

// handleSessions lists the caller's sessions, newest first, the current one
// marked (ASVS 7.5.2).
func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	list, err := s.sessions.ListSessions(r.Context(), admin.UserKey(user.ID))
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	current := sess.Handle()
	resp := sessionsResponse{Sessions: make([]sessionView, len(list))}
	for i, info := range list {
		resp.Sessions[i] = sessionView{SessionInfo: info, Current: info.Handle == current}
	}
	authTime, err := sess.AuthTime()
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	resp.RecentAuth = s.recentAuth(authTime)
	writeJSON(w, http.StatusOK, resp)
}

// recentAuth reports whether a full log-in at t is recent enough to end
// other sessions without the password.
func (s *Server) recentAuth(t time.Time) bool {
	return !t.IsZero() && time.Since(t) <= s.cfg.ReauthWindow
}

// passwordBody is the optional body of the session-ending routes.
type passwordBody struct {
	Password *string `json:"password"`
}

// reauthenticated checks that the caller may end other sessions (ASVS 7.5.3,
// 7.5.2): the session's last full log-in is within ReauthWindow, or the
// request carries the user's password. Wrong passwords count against the
// user's log-in limit. It answers 400, 403, 429 or 503 itself and returns
// false when the caller may not.
func (s *Server) reauthenticated(w http.ResponseWriter, r *http.Request, sess *sessionkit.Session, user admin.User) bool {
	var body passwordBody
	if r.ContentLength != 0 {
		if bad := decodeJSON(w, r, &body); bad != nil {
			bad.write(w)
			return false
		}
	}
	if body.Password == nil {
		authTime, err := sess.AuthTime()
		if err != nil {
			s.storeFailed(w, r, err)
			return false
		}
		if !s.recentAuth(authTime) {
			writeError(w, http.StatusForbidden, errReauth)
			return false
		}
		return true
	}
	return s.passwordMatches(w, r, user, *body.Password, http.StatusForbidden)
}

// passwordMatches checks password against user's, under the same limits
// as a log-in for that email from this client (admitPassword), so that
// a stolen session cannot guess faster than a log-in could, and cannot
// lock the user out of re-authenticating either. On a mismatch it answers
// failStatus with "wrong password"; it answers 429 and 503 itself too.
func (s *Server) passwordMatches(w http.ResponseWriter, r *http.Request, user admin.User, password string, failStatus int) bool {
	attempt, refusedBy, wait := s.admitPassword(r, user.Email)
	if wait > 0 {
		s.securityEvent(r, slog.LevelWarn, eventLoginRateLimited, "limit", refusedBy, "email", redactEmail(user.Email), "user", user.ID, "while", "re-authenticating")
		s.tooMany(w, wait)
		return false
	}
	_, ok, err := s.checkPassword(r.Context(), user.Email, true, password)
	attempt.done(r.Context(), ok, err)
	if err != nil {
		s.storeFailed(w, r, err)
		return false
	}
	if !ok {
		s.securityEvent(r, slog.LevelWarn, eventLoginFailed, "email", redactEmail(user.Email), "user", user.ID, "while", "re-authenticating")
		writeError(w, failStatus, "wrong password")
		return false
	}
	return true
}

// handleEndSession ends one of the caller's sessions by its handle. Ending
// the current one is a log-out; ending another needs a recent log-in or the
// password. 404 for a handle that is not one of the caller's sessions.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	handle := r.PathValue("handle")
	if handle == sess.Handle() {
		s.handleLogout(w, r)
		return
	}
	if !s.reauthenticated(w, r, sess, user) {
		return
	}
	found, err := s.sessions.RevokeSession(r.Context(), admin.UserKey(user.ID), handle)
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "no such session")
		return
	}
	s.securityEvent(r, slog.LevelInfo, eventRevoked, "user", user.ID, "how", "one session", "ended", 1)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// endedResponse answers the routes that end sessions in bulk.
type endedResponse struct {
	OK    bool `json:"ok"`
	Ended int  `json:"ended"`
}

// handleRevokeOthers ends every session of the caller but the current one
// ("log out everywhere else"), after a recent log-in or with the password.
func (s *Server) handleRevokeOthers(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	if !s.reauthenticated(w, r, sess, user) {
		return
	}
	n, err := s.sessions.EndOtherSessions(r.Context(), admin.UserKey(user.ID), sess.Handle())
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	s.securityEvent(r, slog.LevelInfo, eventRevoked, "user", user.ID, "how", "everywhere else", "ended", n)
	writeJSON(w, http.StatusOK, endedResponse{OK: true, Ended: n})
}

// passwordChange is POST /api/password's body.
type passwordChange struct {
	Current *string `json:"current"`
	New     *string `json:"new"`
}

// handlePassword changes the caller's password, given the current one
// (ASVS 7.5.1), ends every other session of the user (ASVS 7.4.3) and
// regenerates the current one, whose authentication time is renewed.
func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) {
	sess, user, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	var c passwordChange
	if bad := decodeJSON(w, r, &c); bad != nil {
		bad.write(w)
		return
	}
	if c.Current == nil || c.New == nil {
		writeError(w, http.StatusBadRequest, `"current" and "new" are required`)
		return
	}
	if !s.passwordMatches(w, r, user, *c.Current, http.StatusForbidden) {
		return
	}
	err := s.db.SetPassword(r.Context(), user.ID, *c.New, s.cfg.BcryptCost)
	switch {
	case errors.Is(err, admin.ErrBadPassword):
		writeError(w, http.StatusBadRequest, "the new password must be 8 to 72 bytes")
		return
	case err != nil:
		s.storeFailed(w, r, err)
		return
	}
	ctx := sessionkit.WithEndReason(r.Context(), sessionkit.ReasonPasswordChange)
	n, err := s.sessions.EndOtherSessions(ctx, admin.UserKey(user.ID), sess.Handle())
	if err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if err := sess.Authenticate(admin.UserKey(user.ID)); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	s.securityEvent(r, slog.LevelInfo, eventRevoked, "user", user.ID, "how", "password change", "ended", n)
	writeJSON(w, http.StatusOK, endedResponse{OK: true, Ended: n})
}
