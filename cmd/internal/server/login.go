package server

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/admin"
)

// loginResults counts log-in attempts by result. Each result's counter is
// resolved once, at start-up, so the request path does no label lookup and
// every result is exported from the first scrape, at 0: a rate or an alert
// on a result that has not happened yet needs the series to exist.
type loginResults struct {
	ok, invalid, rateLimited, badRequest, unavailable prometheus.Counter
}

func newLoginResults(reg prometheus.Registerer) loginResults {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionkit_server_logins_total",
		Help: "Log-in attempts by result: ok, invalid, rate_limited, bad_request, unavailable.",
	}, []string{"result"})
	reg.MustRegister(vec)
	return loginResults{
		ok:          vec.WithLabelValues("ok"),
		invalid:     vec.WithLabelValues("invalid"),
		rateLimited: vec.WithLabelValues("rate_limited"),
		badRequest:  vec.WithLabelValues("bad_request"),
		unavailable: vec.WithLabelValues("unavailable"),
	}
}

type credentials struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// handleLogin checks the credentials and, when they match, regenerates the
// session before storing the user in it, so an id planted before log-in is
// worthless after.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	// A blocked address is refused before its body is read.
	if wait := s.byAddr.wait(r.Context(), s.addrKey(r)); wait > 0 {
		s.securityEvent(r, slog.LevelWarn, eventLoginRateLimited, "limit", "address")
		s.tooMany(w, wait)
		return
	}
	var c credentials
	if bad := decodeJSON(w, r, &c); bad != nil {
		s.logins.badRequest.Inc()
		bad.write(w)
		return
	}
	if c.Email == nil || c.Password == nil || strings.TrimSpace(*c.Email) == "" || *c.Password == "" {
		s.logins.badRequest.Inc()
		writeError(w, http.StatusBadRequest, `"email" and "password" are required`)
		return
	}
	// No account has an email this long (admin.NormalizeEmail refuses it),
	// so it is refused as bad input before any limiter keeps a trace of it
	// or the database is asked.
	if len(strings.TrimSpace(*c.Email)) > admin.MaxEmailLength {
		s.logins.badRequest.Inc()
		writeError(w, http.StatusBadRequest, errEmailTooLong)
		return
	}
	// An address that is not an email cannot log in, but it is counted like
	// one so that probing with junk is limited too.
	email, emailErr := admin.NormalizeEmail(*c.Email)
	if emailErr != nil {
		email = strings.ToLower(strings.TrimSpace(*c.Email))
	}
	attempt, refusedBy, wait := s.admitPassword(r, email)
	if wait > 0 {
		s.securityEvent(r, slog.LevelWarn, eventLoginRateLimited, "limit", refusedBy, "email", redactEmail(email))
		s.tooMany(w, wait)
		return
	}

	// An invalid address is never looked up: it cannot be an account, and
	// text such as a NUL byte is refused by PostgreSQL, which must not read
	// as a store outage. It still costs a bcrypt comparison.
	user, ok, err := s.checkPassword(r.Context(), email, emailErr == nil, *c.Password)
	attempt.done(r.Context(), ok, err)
	if err != nil {
		s.logins.unavailable.Inc()
		s.storeFailed(w, r, err)
		return
	}
	if !ok {
		s.logins.invalid.Inc()
		s.securityEvent(r, slog.LevelWarn, eventLoginFailed, "email", redactEmail(email))
		writeError(w, http.StatusUnauthorized, errInvalidLogin)
		return
	}
	if s.afterPasswordCheck != nil {
		s.afterPasswordCheck()
	}

	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	// Authenticate regenerates the session id, binds the session to the
	// user (for the session list and "log out everywhere") and records the
	// log-in time that ending other sessions checks.
	if err := sess.Authenticate(admin.UserKey(user.ID)); err != nil {
		s.logins.unavailable.Inc()
		s.storeFailed(w, r, err)
		return
	}
	if err := s.userKey.write(sess, user.ID); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	if err := sess.Put(admin.SessionEmailKey, user.Email); err != nil {
		s.storeFailed(w, r, err)
		return
	}
	s.logins.ok.Inc()
	s.securityEvent(r, slog.LevelInfo, eventLogin, "user", user.ID)
	// The session is saved as this response's headers go out; if that fails
	// the client gets the 503 of Config.ErrorHandler, not this 200.
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	s.recheckUser(r.Context(), user)
}

// recheckUser closes the race between a log-in and the removal (or
// disabling) of its user, now that GET /api/user no longer reads the user:
// the password was checked before the session was saved, and RemoveUser may
// have swept the user's sessions in between. Removal changes the user first
// and sweeps second; the log-in saves its session first and reads the user
// second. So either this read sees the change, and the sweep is repeated
// here, or the change came after it, and removal's own sweep finds the
// session. It costs a log-in one indexed read.
//
// When the read fails, nothing is ended: the client was already answered
// 200, and ending an acknowledged log-in because the database blinked is the
// silent log-out sessionkit exists to prevent (the PostgreSQL outage scenario
// in cmd/internal/suites/reliability caught exactly that). The race needs a removal in
// the same instant as the failure, so the error is logged with the fix for
// that case instead.
func (s *Server) recheckUser(ctx context.Context, user admin.User) {
	ctx = context.WithoutCancel(ctx) // the client may be gone; the check may not
	now, found, err := s.db.UserByID(ctx, user.ID)
	switch {
	case err == nil && found && now.Email == user.Email && !now.Disabled():
		return
	case err != nil:
		s.log.Error("log-in: could not read its user again after saving the session; "+
			"if the user was removed or disabled at this moment, "+
			"end their sessions with `sessionkit users revoke --email`", "user", user.ID, "err", err)
		return
	default:
		// Removed, disabled or replaced: repeat the sweep, through the
		// manager, so that its events say why.
		reason := "user_removed"
		if found && now.Email == user.Email {
			reason = sessionkit.ReasonDisabled
		}
		_, err = s.sessions.EndAllSessions(sessionkit.WithEndReason(ctx, reason), admin.UserKey(user.ID))
	}
	if err != nil {
		s.log.Error("log-in raced the removal of its user, and ending its sessions failed", "user", user.ID, "err", err)
	}
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
	if found && user.Disabled() {
		// A disabled account cannot log in; compared with the dummy hash,
		// it answers as slowly as any other.
		found = false
	}
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
	// As much work whatever the stored hash's cost or scheme (see
	// admin.VerifyPassword), so that the time tells no email apart.
	check := admin.VerifyPassword(string(hash), password, s.cfg.BcryptCost, s.dummyHash)
	<-s.bcryptSlots
	if s.passwordChecked != nil {
		s.passwordChecked(check)
	}
	if found && check.Match && check.Rehash {
		s.upgradeHash(ctx, user, password)
	}
	return user, found && check.Match, nil
}

// upgradeHash replaces a matching password's hash by one of this server's
// own (bcrypt at BCRYPT_COST): an imported argon2id or bcrypt hash, or one
// from before BCRYPT_COST changed. It replaces only the hash it checked,
// so a password changed meanwhile stays changed. A failure is logged: the
// log-in goes on, and the next one tries again.
func (s *Server) upgradeHash(ctx context.Context, user admin.User, password string) {
	if err := s.db.UpgradePassword(context.WithoutCancel(ctx), user.ID, user.PasswordHash, password, s.cfg.BcryptCost); err != nil {
		s.log.Warn("log-in: could not re-hash the password at BCRYPT_COST; the next log-in tries again", "user", user.ID, "err", err)
	}
}

func (s *Server) tooMany(w http.ResponseWriter, wait time.Duration) {
	s.logins.rateLimited.Inc()
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "too many failed log-ins; retry later")
}

// addrKey is the key of r's client in the per-address limiter.
func (s *Server) addrKey(r *http.Request) limitKey {
	return keyOf("addr", s.clientName(r))
}

// clientName names r's client for the limits (see clientKey).
func (s *Server) clientName(r *http.Request) string {
	if addr, ok := s.proxies().ClientAddr(r); ok {
		return clientKey(addr)
	}
	return "addr:" + r.RemoteAddr
}

// passwordAttempt is one password check that the log-in limits let
// through (admitPassword). It counts as a failure from the start, so that
// attempts sent all at once cannot all pass the limits before any has
// failed; done settles it.
type passwordAttempt struct {
	s                         *Server
	releaseEmail, releaseAddr func()
	pairKey, knownKey         limitKey
}

// admitPassword applies the log-in limits to a check of a password for
// email from r's client: a log-in, or a re-authentication. When it is
// refused, refusedBy names the limit ("email" or "address") and wait is how
// long the client must wait.
//
// Once an email is over its limit (LoginMaxFailures in the window),
// refusing every address would let anyone lock the owner out with a few
// wrong passwords, and giving every fresh address a guess would give an
// attacker with many addresses as many guesses. So, while it is over:
//   - an address that failed on the email in the window is refused;
//   - an address the email logged in from (in the last knownFor) gets one
//     attempt at a time, counted on the (email, address) pair: the owner at
//     home or at the office is never locked out by others;
//   - every other address draws on one shared budget per email, another
//     LoginMaxFailures attempts per window (each also one per address);
//     when it is spent they are refused until the window slides.
//
// An attacker therefore gets at most 2 × LoginMaxFailures guesses per email
// per window however many addresses it holds, and cannot lock the owner out
// of an address the owner has used; the owner on a new network during an
// attack may have to wait for the window.
func (s *Server) admitPassword(r *http.Request, email string) (a passwordAttempt, refusedBy string, wait time.Duration) {
	client := s.clientName(r)
	addrKey, emailKey := keyOf("addr", client), keyOf("email", email)
	ctx := r.Context()
	a = passwordAttempt{s: s, pairKey: keyOf("pair", email, client), knownKey: keyOf("known", email, client)}
	a.releaseEmail, wait = s.byEmail.acquire(ctx, emailKey)
	if wait > 0 {
		a.releaseEmail, wait = s.lockedEmailAttempt(ctx, email, a.pairKey, a.knownKey)
	} else {
		// Marked failing from now, like the email's count, so that
		// attempts sent all at once cannot slip in as a "clean" address.
		s.byPair.note(ctx, a.pairKey)
	}
	if wait > 0 {
		return passwordAttempt{}, "email", wait
	}
	a.releaseAddr, wait = s.byAddr.acquire(ctx, addrKey)
	if wait > 0 {
		a.releaseEmail()
		return passwordAttempt{}, "address", wait
	}
	return a, "", 0
}

// done settles the attempt: a wrong password (ok false, err nil) stays
// counted against the email, the address and the pair. A password that
// could not be checked (err) is not a failure and is taken back. A right
// one is taken back too, and clears this address's record on the email;
// only this attempt is taken back, so the email's other failures stay and
// a guesser is not handed a fresh budget by the real user's log-in.
func (a passwordAttempt) done(ctx context.Context, ok bool, err error) {
	if !ok && err == nil {
		return
	}
	a.releaseEmail()
	a.releaseAddr()
	if err == nil {
		a.s.byPair.reset(ctx, a.pairKey)
		a.s.known.note(ctx, a.knownKey)
	}
}

// lockedEmailAttempt admits one attempt on an email over its limit, under
// admitPassword's rule, returning its release or how long to wait.
func (s *Server) lockedEmailAttempt(ctx context.Context, email string, pairKey, knownKey limitKey) (release func(), wait time.Duration) {
	releasePair, wait := s.byPair.acquire(ctx, pairKey)
	if wait > 0 || s.known.wait(ctx, knownKey) > 0 {
		return releasePair, wait
	}
	releaseFresh, wait := s.byFresh.acquire(ctx, keyOf("fresh", email))
	if wait > 0 {
		releasePair() // it did not try
		return nil, wait
	}
	return func() { releasePair(); releaseFresh() }, 0
}
