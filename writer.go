package sessionkit

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"
)

// errSaveFailed is returned by writes after the session could not be saved:
// the error response has been written instead of the handler's.
var errSaveFailed = errors.New("sessionkit: response replaced by an error because the session could not be saved")

// responseWriter saves the session just before the response headers are
// written, so a failed save becomes an error response instead of a success
// whose change was lost. It stays transparent: Unwrap lets
// http.ResponseController reach the underlying writer's features.
type responseWriter struct {
	http.ResponseWriter
	sess *Session
	req  *http.Request
	// The response headers as they were when the handler began: up to
	// len(initialFields) single-valued ones (Cache-Control, CORS headers:
	// what outer middleware sets) are kept in initialFields, without
	// allocating; any other set is copied into initialHeader.
	initialFields  [4]headerField
	nInitialFields int
	initialHeader  http.Header
	// started is set once the session was saved (or its save failed).
	started bool
	failed  bool
}

// save commits the session; on failure it writes the error response and
// reports false.
func (w *responseWriter) save() bool {
	if w.started {
		return !w.failed
	}
	w.started = true
	if err := w.sess.commit(w.ResponseWriter.Header()); err != nil {
		w.failed = true
		w.restoreHeader()
		w.sess.m.errorResponse(w.ResponseWriter, w.req, err)
		return false
	}
	return true
}

// restoreHeader puts the response headers back as they were when the
// handler began, so the error response carries none of the handler's
// (a Location, a Clear-Site-Data, another cookie) but keeps what outer
// middleware set, such as CORS headers the client needs to read the error.
func (w *responseWriter) restoreHeader() {
	initial := w.initialHeader
	if initial == nil {
		initial = make(http.Header, w.nInitialFields)
		for _, f := range w.initialFields[:w.nInitialFields] {
			initial[f.key] = []string{f.value}
		}
	}
	h := w.ResponseWriter.Header()
	for k := range h {
		if _, kept := initial[k]; !kept {
			delete(h, k)
		}
	}
	for k, v := range initial {
		h[k] = v
	}
}

// headerField is one response header with a single value.
type headerField struct{ key, value string }

// keepInitialHeader records h, the response headers before the handler
// runs, for restoreHeader.
func (w *responseWriter) keepInitialHeader(h http.Header) {
	if len(h) <= len(w.initialFields) {
		n := 0
		for k, v := range h {
			if len(v) != 1 {
				break
			}
			w.initialFields[n] = headerField{k, v[0]}
			n++
		}
		if n == len(h) {
			w.nInitialFields = n
			return
		}
	}
	w.initialHeader = h.Clone()
}

// WriteHeader saves the session, then writes the status. Informational 1xx
// statuses other than 101 pass straight through.
func (w *responseWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.save() {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write saves the session before the first byte.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.save() {
		return 0, errSaveFailed
	}
	return w.ResponseWriter.Write(p)
}

// Flush saves the session, then flushes.
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// FlushError saves the session, then flushes, as http.ResponseController
// expects.
func (w *responseWriter) FlushError() error {
	if !w.save() {
		return errSaveFailed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack saves the session, then hands over the connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.save() {
		return nil, nil, errSaveFailed
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish saves a session whose handler returned without writing.
func (w *responseWriter) finish() { w.save() }

// errorResponse answers a request whose session could not be saved.
func (m *Manager) errorResponse(w http.ResponseWriter, r *http.Request, err error) {
	m.log.Error("sessionkit: session not saved; answering with an error instead of the handler's response",
		"method", r.Method, "path", r.URL.Path, "err", err)
	if m.cfg.ErrorHandler != nil {
		m.cfg.ErrorHandler(w, r, err)
		return
	}
	http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
}

// cookie returns the session cookie for id.
func (m *Manager) cookie(id string, expiry, now time.Time) *http.Cookie {
	c := m.baseCookie()
	c.Value = m.signer.sign(id)
	if !m.cfg.Cookie.BrowserSession {
		c.MaxAge = max(1, int(expiry.Sub(now).Round(time.Second)/time.Second))
		c.Expires = expiry.UTC()
	}
	return c
}

// expiredCookie returns a cookie that makes the browser delete the session
// cookie: same name, path and domain, already expired.
func (m *Manager) expiredCookie() *http.Cookie {
	c := m.baseCookie()
	c.MaxAge = -1
	c.Expires = time.Unix(0, 0).UTC()
	return c
}

func (m *Manager) baseCookie() *http.Cookie {
	return &http.Cookie{
		Name:        m.cfg.Cookie.Name,
		Path:        m.cfg.Cookie.Path,
		Domain:      m.cfg.Cookie.Domain,
		Secure:      m.cfg.Cookie.Secure,
		HttpOnly:    !m.cfg.Cookie.AllowScriptAccess,
		SameSite:    m.cfg.Cookie.SameSite,
		Partitioned: m.cfg.Cookie.Partitioned,
	}
}

// writeCookie adds the Set-Cookie header. A response that sets a session
// cookie must never be stored by a shared cache, which would hand the
// session to the next client. A Secure cookie on a request that did not
// arrive over HTTPS is still set (the browser may be behind a proxy we do
// not know of), but said once, since it is the commonest reason a log-in
// does not stick.
func (m *Manager) writeCookie(h http.Header, r *http.Request, c *http.Cookie) {
	h.Add("Set-Cookie", c.String())
	h.Set("Cache-Control", "no-store")
	if c.Secure && !m.cfg.TrustedProxies.isHTTPS(r) {
		m.insecureWarning.Do(func() {
			_, reason := m.cfg.TrustedProxies.HTTPSVerdict(r)
			if m.cfg.OnInsecureCookie != nil {
				m.cfg.OnInsecureCookie(r, reason)
				return
			}
			m.log.Warn("sessionkit: Secure session cookie set on a request that is not HTTPS. "+
				"Browsers will not send it back over plain HTTP, so users will seem logged out. "+
				"Serve over HTTPS; behind a TLS-terminating proxy, list it in TrustedProxies "+
				"and have it send X-Forwarded-Proto.",
				"reason", reason)
		})
	}
}
