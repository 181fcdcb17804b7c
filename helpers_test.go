package sessionkit_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/pgstore"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
	"github.com/sessionkit/sessionkit/redisstore"
	"github.com/sessionkit/sessionkit/redisstore/redistest"
	"github.com/sessionkit/sessionkit/storetest"
)

const (
	secretA = "secret-A-0123456789abcdefghijklmnopqrstuvwxyz"
	secretB = "secret-B-0123456789abcdefghijklmnopqrstuvwxyz"
)

// pgStore returns a PostgreSQL store on a fresh schema, and the pool to
// inspect the table with.
func pgStore(t testing.TB) (*storetest.Counter, *pgxpool.Pool) {
	t.Helper()
	_, pool := pgtest.Pool(t)
	st, err := pgstore.New(context.Background(), pool, pgstore.Config{CreateTable: true, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &storetest.Counter{Store: st}, pool
}

// redisStore returns a Redis store under a fresh key prefix, on the
// machine's server or, with onCluster, on the package's cluster, whose
// connections are named name (redistest.KillPubSub finds them by it), and
// the addresses of the servers holding its data.
func redisStore(t testing.TB, onCluster bool, name string) (*redisstore.Store, []string) {
	t.Helper()
	var (
		client redis.UniversalClient
		prefix string
		addrs  = []string{redistest.Addr()}
	)
	if onCluster {
		c := cluster.Get(t)
		client, prefix = c.ClientNamed(t, name)
		addrs = c.Addrs
	} else {
		client, prefix = redistest.ClientNamed(t, name)
	}
	st, err := redisstore.New(client, redisstore.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return st, addrs
}

// cluster is the package's Redis Cluster, started by the first test that
// asks for it and stopped by TestMain.
var cluster redistest.SharedCluster

func TestMain(m *testing.M) {
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

func rowCount(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM sessions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// logBuffer collects a manager's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newManager(t testing.TB, store sessionkit.Store, edit func(*sessionkit.Config)) (*sessionkit.Manager, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := sessionkit.Config{
		Store:   store,
		Secrets: []string{secretA},
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

// app is the test application: a handful of routes over the session API.
func app(m *sessionkit.Manager) http.Handler {
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

// do sends one request through h, with the cookies given.
func do(h http.Handler, method, target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
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

// sessionCookie returns the response's session cookie, or nil.
func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionkit.DefaultCookieName {
			return c
		}
	}
	return nil
}

// login logs user in and returns the session cookie.
func login(t testing.TB, h http.Handler, user string) *http.Cookie {
	t.Helper()
	w := do(h, "POST", "/login?user="+url.QueryEscape(user))
	c := sessionCookie(w)
	if w.Code != 200 || c == nil {
		t.Fatalf("login: %d %q, cookie %v", w.Code, w.Body.String(), c)
	}
	return c
}

// idOf extracts the session id from a cookie value.
func idOf(t testing.TB, c *http.Cookie) string {
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
