package doctor

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The servers here are written for the tests: a small, sane cookie session
// implementation (express-session's cookie format, an in-memory store that
// instances may share) whose options switch on one misconfiguration at a
// time.

type memStore struct {
	mu   sync.Mutex
	sess map[string]map[string]any
}

func newMemStore() *memStore { return &memStore{sess: map[string]map[string]any{}} }

func (m *memStore) get(id string) (map[string]any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sess[id]
	if !ok {
		return nil, false
	}
	c := map[string]any{}
	for k, v := range s {
		c[k] = v
	}
	return c, true
}

func (m *memStore) put(id string, s map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sess[id] = s
}

func (m *memStore) del(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sess, id)
}

// srvConfig switches on misconfigurations; the zero value is healthy.
type srvConfig struct {
	Name              string // cookie name, default "sid"
	Attrs             string // cookie attributes, default "; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"
	SaveUninitialized bool   // save and send a session on every anonymous hit
	NoRegenerate      bool   // login keeps the session id
	KeepOnLogout      bool   // logout does not delete the session
	NoClearOnLogout   bool   // logout does not clear the cookie
	PadID             int    // make ids this much longer (a huge cookie)
	NoCookieOnLogin   bool   // the login sets no cookie
	PublicUser        bool   // /api/user answers 200 anonymously
	CORS              string // "" none, "echo" (allowed origin only), "fixed" (always AllowOrigin), "*"
	AllowOrigin       string // the origin "echo" allows
	NoVary            bool
	Debug             bool // serve /api/_debug/session
	DebugNoSession    bool // the debug endpoint runs without the session middleware
	Unsigned          bool // the cookie carries the bare id (an opaque token), no signature
	RotateOnUser      bool // every logged-in /api/user moves the session to a new id
	StrayCookieOnUser bool // /api/user also sets a new session cookie it never saves
	UserStatus        int  // /api/user answers this status to a logged-in request (0: 200)
	CSRFCookie        bool // every response first sets a script-readable XSRF-TOKEN cookie (Laravel, Angular)
}

type sessServer struct {
	cfg    srvConfig
	secret []byte
	store  *memStore
}

func newSessServer(cfg srvConfig, secret string, store *memStore) *sessServer {
	if cfg.Name == "" {
		cfg.Name = "sid"
	}
	if cfg.Attrs == "" {
		cfg.Attrs = "; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"
	}
	if store == nil {
		store = newMemStore()
	}
	return &sessServer{cfg: cfg, secret: []byte(secret), store: store}
}

func (s *sessServer) sign(id string) string {
	if s.cfg.Unsigned {
		return id
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(id))
	return "s%3A" + id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the id a cookie value carries when this server signed it.
func (s *sessServer) verify(v string) (string, bool) {
	if s.cfg.Unsigned {
		return v, v != ""
	}
	rest, ok := strings.CutPrefix(v, "s%3A")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, ".")
	if i <= 0 {
		return "", false
	}
	id := rest[:i]
	return id, hmac.Equal([]byte(s.sign(id)), []byte(v))
}

func newTestID(pad int) string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]) + strings.Repeat("x", pad)
}

func (s *sessServer) setCookie(w http.ResponseWriter, id string) {
	w.Header().Add("Set-Cookie", s.cfg.Name+"="+s.sign(id)+s.cfg.Attrs)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *sessServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.CSRFCookie {
		w.Header().Add("Set-Cookie", "XSRF-TOKEN="+newTestID(0)+"; Path=/; SameSite=Lax; Max-Age=7200")
	}
	if o := r.Header.Get("Origin"); o != "" && s.cfg.CORS != "" {
		switch s.cfg.CORS {
		case "*":
			w.Header().Set("Access-Control-Allow-Origin", "*")
		case "echo":
			if o == s.cfg.AllowOrigin {
				w.Header().Set("Access-Control-Allow-Origin", o)
			}
		case "fixed":
			w.Header().Set("Access-Control-Allow-Origin", s.cfg.AllowOrigin)
		}
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		if !s.cfg.NoVary {
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}

	// Load the session the cookie names, if this instance signed it.
	var (
		id    string
		sess  map[string]any
		found bool
	)
	if c, err := r.Cookie(s.cfg.Name); err == nil {
		if cid, ok := s.verify(c.Value); ok {
			if sess, found = s.store.get(cid); found {
				id = cid
			}
		}
	}
	if !found {
		id, sess = newTestID(s.cfg.PadID), map[string]any{"cookie": map[string]any{"path": "/"}}
		if s.cfg.SaveUninitialized {
			s.store.put(id, sess)
			s.setCookie(w, id)
			found = true
		}
	}

	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		w.Write([]byte("hello\n"))
	case r.URL.Path == "/api/login" && r.Method == http.MethodPost:
		var body struct{ Email, Password string }
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Email != "ann@example.com" || body.Password != "secret pw" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid login"})
			return
		}
		if !(s.cfg.NoRegenerate && found) {
			s.store.del(id)
			id = newTestID(s.cfg.PadID)
		}
		sess["userId"] = 42.0
		sess["email"] = body.Email
		s.store.put(id, sess)
		if !s.cfg.NoCookieOnLogin {
			s.setCookie(w, id)
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case r.URL.Path == "/api/user" && r.Method == http.MethodGet:
		if uid, ok := sess["userId"]; ok && found || s.cfg.PublicUser {
			switch {
			case s.cfg.UserStatus != 0 && ok:
				writeJSON(w, s.cfg.UserStatus, map[string]any{"error": "failed"})
				return
			case s.cfg.RotateOnUser && ok:
				s.store.del(id)
				id = newTestID(s.cfg.PadID)
				s.store.put(id, sess)
				s.setCookie(w, id)
			case s.cfg.StrayCookieOnUser:
				s.setCookie(w, newTestID(s.cfg.PadID))
			}
			writeJSON(w, http.StatusOK, map[string]any{"id": uid, "email": sess["email"]})
			return
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "not authenticated"})
	case r.URL.Path == "/api/logout" && r.Method == http.MethodPost:
		if !s.cfg.KeepOnLogout {
			s.store.del(id)
		}
		if !s.cfg.NoClearOnLogout {
			w.Header().Add("Set-Cookie", s.cfg.Name+"="+strings.Replace(s.cfg.Attrs, "Max-Age=86400", "Max-Age=0", 1)+"; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case r.URL.Path == "/api/_debug/session" && s.cfg.Debug:
		var ch any
		if h := r.Header.Get("Cookie"); h != "" {
			ch = h
		}
		if s.cfg.DebugNoSession {
			writeJSON(w, http.StatusOK, map[string]any{"hasSession": false, "userId": nil, "cookiesHeader": ch})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "hasSession": found, "userId": sess["userId"], "cookiesHeader": ch})
	default:
		http.NotFound(w, r)
	}
}

// serve starts h on 127.0.0.1 (TLS when tls is set) and returns its URL.
func serve(t *testing.T, h http.Handler, useTLS bool) *httptest.Server {
	t.Helper()
	var ts *httptest.Server
	if useTLS {
		ts = httptest.NewTLSServer(h)
	} else {
		ts = httptest.NewServer(h)
	}
	t.Cleanup(ts.Close)
	return ts
}

// roundRobin alternates requests between handlers, like a load balancer
// without sticky sessions.
func roundRobin(hs ...http.Handler) http.Handler {
	var n atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs[(n.Add(1)-1)%uint64(len(hs))].ServeHTTP(w, r)
	})
}

// stripCookies is a proxy that drops the Cookie header.
func stripCookies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Cookie")
		h.ServeHTTP(w, r)
	})
}

// dialTo is a transport that sends every request, whatever its host name,
// to the test server at addr, so the doctor can be pointed at
// https://api.example.com while a local server answers.
func dialTo(addr string) http.RoundTripper {
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
}
