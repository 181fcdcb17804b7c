package sessionkit

import (
	"encoding/json"
	"net/http"
	"time"
)

// ExpressCookieKey is the session key under which express-session keeps its
// cookie object, written by sessions created or re-issued under
// Config.ExpressSessionCookie.
const ExpressCookieKey = "cookie"

// expressCookie is the object express-session stores under "cookie" (its
// Cookie.prototype.data, as JSON.stringify writes it): express-session
// rebuilds the session's cookie from it on every load, and cannot load a
// session without it. Fields express-session leaves undefined when they are
// not set are omitted, in its order.
type expressCookie struct {
	// OriginalMaxAge is the cookie's Max-Age in milliseconds when it was
	// issued; null for a browser-session cookie.
	OriginalMaxAge *int64 `json:"originalMaxAge"`
	Partitioned    bool   `json:"partitioned,omitempty"`
	// Expires is the cookie's expiry as Date.prototype.toISOString writes it
	// (milliseconds, UTC); null for a browser-session cookie.
	Expires  *string `json:"expires"`
	Secure   bool    `json:"secure,omitempty"`
	HTTPOnly bool    `json:"httpOnly"`
	Domain   string  `json:"domain,omitempty"`
	Path     string  `json:"path"`
	SameSite string  `json:"sameSite,omitempty"`
}

// expressTimeLayout is Date.prototype.toISOString's format.
const expressTimeLayout = "2006-01-02T15:04:05.000Z"

// expressCookieValue returns the JSON express-session would store for the
// cookie m sends for a session that expires at expiry, issued at now. Both
// instants are whole milliseconds (see expressInstant), so the object, the
// Max-Age sent and the store's expiry agree.
func (m *Manager) expressCookieValue(expiry, now time.Time) json.RawMessage {
	c := expressCookie{
		Partitioned: m.cfg.Cookie.Partitioned,
		Secure:      m.cfg.Cookie.Secure,
		HTTPOnly:    !m.cfg.Cookie.AllowScriptAccess,
		Domain:      m.cfg.Cookie.Domain,
		Path:        m.cfg.Cookie.Path,
		SameSite:    expressSameSite(m.cfg.Cookie.SameSite),
	}
	if !m.cfg.Cookie.BrowserSession {
		maxAge := expiry.Sub(now).Milliseconds()
		expires := expiry.UTC().Format(expressTimeLayout)
		c.OriginalMaxAge, c.Expires = &maxAge, &expires
	}
	raw, err := json.Marshal(c)
	if err != nil {
		panic("sessionkit: encode express-session cookie object: " + err.Error()) // cannot happen: plain fields
	}
	return raw
}

// expressInstant returns t cut to the millisecond when the manager writes
// express-session's cookie object, whose expires has millisecond precision,
// so the object and the store's expiry name the same instant. Otherwise it
// returns t.
func (m *Manager) expressInstant(t time.Time) time.Time {
	if !m.cfg.ExpressSessionCookie {
		return t
	}
	return t.Round(0).Truncate(time.Millisecond)
}

// expressSameSite returns the sameSite value express-session uses for s.
func expressSameSite(s http.SameSite) string {
	switch s {
	case http.SameSiteStrictMode:
		return "strict"
	case http.SameSiteNoneMode:
		return "none"
	case http.SameSiteLaxMode:
		return "lax"
	default:
		return ""
	}
}

// withExpressCookie returns set with express-session's cookie object for a
// session expiring at expiry added, when the manager writes it; otherwise
// set itself. set is never modified: it may be the request's own changes.
func (m *Manager) withExpressCookie(set map[string]json.RawMessage, expiry, now time.Time) map[string]json.RawMessage {
	if !m.cfg.ExpressSessionCookie {
		return set
	}
	out := make(map[string]json.RawMessage, len(set)+1)
	for k, v := range set {
		out[k] = v
	}
	out[ExpressCookieKey] = m.expressCookieValue(expiry, now)
	return out
}
