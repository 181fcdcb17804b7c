// Package sessiontest holds the helpers that sessionkit's tests share,
// written once: a manager whose logs a test can read, a small application
// over the session API, requests through a handler and the cookies they
// set. The root package's tests and the cross-store suite in the tools
// module both use it; it needs no service.
package sessiontest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/storetest"
)

// SecretA and SecretB are the signing secrets of the tests' managers:
// SecretA signs, SecretB is the one a rotation adds.
const (
	SecretA = "secret-A-0123456789abcdefghijklmnopqrstuvwxyz"
	SecretB = "secret-B-0123456789abcdefghijklmnopqrstuvwxyz"
)

// MemStore is an in-memory store, counted, closed when the test ends.
func MemStore(tb testing.TB) *storetest.Counter {
	st := memstore.New(memstore.Config{})
	tb.Cleanup(func() { st.Close() })
	return &storetest.Counter{Store: st}
}

// MustURL parses s, failing the test if it is not a URL.
func MustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// Pair is the name=value a browser sends for c in its Cookie header.
func Pair(c *http.Cookie) string { return c.Name + "=" + c.Value }

// SendHeader sends one request through h with a raw Cookie header, as a
// browser holding several same-name cookies sends it.
func SendHeader(h http.Handler, method, target, cookieHeader string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("Cookie", cookieHeader)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Near fails the test unless got is want within a few seconds: a test's
// own run time, and Max-Age's whole seconds.
func Near(tb testing.TB, what string, got, want time.Duration) {
	tb.Helper()
	if (got - want).Abs() > 5*time.Second {
		tb.Errorf("%s = %v, want %v", what, got, want)
	}
}

// DiscardWriter is a ResponseWriter that allocates nothing, so a
// benchmark's allocs/op counts only what the middleware adds.
type DiscardWriter struct{ H http.Header }

// Header returns the header map the writer was made with.
func (w *DiscardWriter) Header() http.Header { return w.H }

// Write discards p.
func (w *DiscardWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader discards the status.
func (w *DiscardWriter) WriteHeader(int) {}

// LogBuffer collects a manager's log lines; it is safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// NewManager is a manager on store, signing with SecretA and logging to
// the LogBuffer it returns; edit, if not nil, changes the configuration
// first.
func NewManager(t testing.TB, store sessionkit.Store, edit func(*sessionkit.Config)) (*sessionkit.Manager, *LogBuffer) {
	t.Helper()
	logs := &LogBuffer{}
	cfg := sessionkit.Config{
		Store:   store,
		Secrets: []string{SecretA},
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := sessionkit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, logs
}

// App is the test application: a handful of routes over the session API.
func App(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	session := func(w http.ResponseWriter, r *http.Request) *sessionkit.Session {
		s, err := sessionkit.From(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return s
	}
	fail := func(w http.ResponseWriter, err error) {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
	mux.HandleFunc("GET /anon", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		s := session(w, r)
		user, err := s.GetString("user")
		switch {
		case err != nil:
			fail(w, err)
		case user == "":
			http.Error(w, "not authenticated", http.StatusUnauthorized)
		default:
			fmt.Fprint(w, user)
		}
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := session(w, r)
		if err := s.Regenerate(); err != nil {
			fail(w, err)
			return
		}
		if err := s.Put("user", r.URL.Query().Get("user")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		if err := session(w, r).Put(r.URL.Query().Get("k"), r.URL.Query().Get("v")); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		v, err := session(w, r).GetString(r.URL.Query().Get("k"))
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session(w, r).Destroy(); err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, "bye")
	})
	return m.Middleware(mux)
}

// Do sends one request through h, with the cookies given.
func Do(h http.Handler, method, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for _, c := range cookies {
		if c != nil {
			r.AddCookie(c)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// SessionCookie returns the response's session cookie, or nil.
func SessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionkit.DefaultCookieName {
			return c
		}
	}
	return nil
}

// Login logs user in and returns the session cookie.
func Login(t testing.TB, h http.Handler, user string) *http.Cookie {
	t.Helper()
	w := Do(h, "POST", "/login?user="+url.QueryEscape(user))
	c := SessionCookie(w)
	if w.Code != 200 || c == nil {
		t.Fatalf("login: %d %q, cookie %v", w.Code, w.Body.String(), c)
	}
	return c
}

// IDOf extracts the session id from a cookie value.
func IDOf(t testing.TB, c *http.Cookie) string {
	t.Helper()
	v, err := url.PathUnescape(c.Value)
	if err != nil || len(v) < 3 {
		t.Fatalf("cookie value %q", c.Value)
	}
	v = v[2:]
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == '.' {
			return v[:i]
		}
	}
	t.Fatalf("cookie value %q has no signature", c.Value)
	return ""
}

// UserApp serves /auth?user=U (log in as U), /me (the bound user, or 401)
// and /sessions (the caller's sessions as JSON, the current one marked).
func UserApp(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Authenticate(r.URL.Query().Get("user")); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		user, err := s.User()
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case user == "":
			http.Error(w, "not authenticated", http.StatusUnauthorized)
		default:
			fmt.Fprint(w, user)
		}
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		user, err := s.User()
		if err != nil || user == "" {
			http.Error(w, "not authenticated", http.StatusUnauthorized)
			return
		}
		list, err := m.ListSessions(r.Context(), user)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%s\n", s.Handle())
		_ = json.NewEncoder(w).Encode(list)
	})
	return m.Middleware(mux)
}

// Request is a request to target, with no body.
func Request(method, target string) *http.Request {
	return httptest.NewRequest(method, target, nil)
}

// Serve sends r through h.
func Serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
