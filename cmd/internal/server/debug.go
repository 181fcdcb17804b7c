package server

import (
	"net/http"
	"strings"

	"github.com/sessionkit/sessionkit"
)

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

// handleDebug shows what the server sees of the request's session, with
// the id cut to a prefix and cookie values hidden. It is routed only when
// Config.Debug is set. It reads the store like /api/user and never writes.
func (s *Server) handleDebug(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	var d debugSession
	uid, found, err := s.sessionUserID(sess)
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
	d.HTTPS, d.HTTPSReason = s.proxies().HTTPSVerdict(r)
	d.Signature = sess.CookieStatus().String() // the library's words: valid, absent, bad-signature, malformed
	d.Fingerprint = sessionkit.Fingerprint(s.cfg.Secrets[0])
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
