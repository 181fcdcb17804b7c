package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

func TestMissingMiddlewareIsAnError(t *testing.T) {
	t.Parallel()
	_, err := sessionkit.From(httptest.NewRequest("GET", "/api/user", nil))
	if !errors.Is(err, sessionkit.ErrNoMiddleware) || !strings.Contains(err.Error(), "Middleware") {
		t.Fatalf("From without middleware: %v", err)
	}
}

func TestChangeAfterHeadersIsReported(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, logs := newManager(t, store, nil)
	var late error
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		s.Put("early", 1)
		fmt.Fprint(w, "body")
		late = s.Put("late", 2)
	}))
	w := do(h, "GET", "/")
	if !errors.Is(late, sessionkit.ErrCommitted) {
		t.Fatalf("Put after the body started: %v, want ErrCommitted", late)
	}
	if !strings.Contains(logs.String(), "change is lost") {
		t.Fatalf("late change not logged:\n%s", logs)
	}
	c := sessionCookie(w)
	if c == nil {
		t.Fatal("the early change was not saved")
	}
	if got := do(app(m), "GET", "/get?k=late", c).Body.String(); got != "" {
		t.Fatalf("late change saved: %q", got)
	}
}

func TestFlushSavesFirst(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, _ := newManager(t, store, nil)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		s.Put("k", "v")
		w.WriteHeader(http.StatusEarlyHints) // informational: does not save
		if store.Creates.Load() != 0 {
			t.Error("a 1xx status saved the session")
		}
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
		if store.Creates.Load() != 1 {
			t.Error("Flush did not save the session first")
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Fatalf("flushed response carried %d cookies", len(resp.Cookies()))
	}
}

// TestSaveFailureReplacesResponse: a failed save answers with the error
// handler's response, carrying the headers outer middleware set before the
// session middleware and none of the handler's. The outer sets cover both
// ways the middleware keeps them: a few single-valued headers, and any
// other set.
func TestSaveFailureReplacesResponse(t *testing.T) {
	t.Parallel()
	store := downStore{}
	var handled error
	m, _ := newManager(t, store, func(c *sessionkit.Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":"session store unavailable"}`)
		}
	})
	for _, outer := range []http.Header{
		{"Access-Control-Allow-Origin": {"https://app.example"}},
		{"Access-Control-Allow-Origin": {"https://app.example"}, "Vary": {"Origin", "Cookie"}},
		{"Access-Control-Allow-Origin": {"https://app.example"}, "Cache-Control": {"no-store"}, "X-A": {"a"}, "X-B": {"b"}, "X-C": {"c"}},
	} {
		var writeErr error
		inner := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := sessionkit.From(r)
			s.Put("cart", 3)
			w.Header().Set("Clear-Site-Data", `"cookies"`)
			w.Header().Set("Location", "/done")
			w.Header().Set("Access-Control-Allow-Origin", "https://handler.example")
			w.Header().Add("Vary", "Accept")
			_, writeErr = fmt.Fprint(w, "saved!")
		}))
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range outer {
				w.Header()[k] = append([]string(nil), v...)
			}
			inner.ServeHTTP(w, r)
		})
		w := do(h, "POST", "/")
		want := outer.Clone()
		want.Set("Content-Type", "application/json")
		if got := w.Header(); !reflect.DeepEqual(got, want) {
			t.Errorf("outer headers %v: error response headers %v, want %v: the handler's headers must not reach it, the outer ones must", outer, got, want)
		}
		if w.Code != 503 || w.Body.String() != `{"error":"session store unavailable"}` || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("failed save answered %d %q cookie %q", w.Code, w.Body, w.Header().Get("Set-Cookie"))
		}
		if !errors.Is(handled, sessionkit.ErrStore) || writeErr == nil {
			t.Fatalf("error handler got %v; handler's write returned %v", handled, writeErr)
		}
	}
}

func TestSecureCookieOverHTTPIsSetAndLoggedOnce(t *testing.T) {
	t.Parallel()
	m, logs := newManager(t, memStore(t), func(c *sessionkit.Config) {
		c.Cookie.Secure = true
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	h := app(m)
	send := func(remote, proto string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/put?k=a&v=b", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-Proto", proto)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if sc := send("10.0.0.1:1", "https").Header().Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Fatalf("cookie %q", sc)
	}
	if strings.Contains(logs.String(), "not HTTPS") {
		t.Fatal("warned about a request a trusted proxy vouched for")
	}
	for range 3 {
		if sc := send("192.0.2.1:1", "https").Header().Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
			t.Fatalf("Secure cookie over plain HTTP not set: %q", sc)
		}
	}
	if n := strings.Count(logs.String(), "not HTTPS"); n != 1 {
		t.Fatalf("warning logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "TrustedProxies") {
		t.Fatal("warning does not name the fix")
	}
}

func TestDestroyThenPutStartsNewSession(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, _ := newManager(t, store, nil)
	old := login(t, app(m), "ada")
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		s.Destroy()
		s.Put("flash", "logged out")
	}))
	fresh := sessionCookie(do(h, "POST", "/", old))
	if fresh == nil || fresh.MaxAge <= 0 || idOf(t, fresh) == idOf(t, old) {
		t.Fatalf("destroy then put: cookie %v", fresh)
	}
	if got := do(app(m), "GET", "/user", fresh); got.Code != 401 {
		t.Fatal("the new session kept the old login")
	}
	if got := do(app(m), "GET", "/get?k=flash", fresh).Body.String(); got != "logged out" {
		t.Fatalf("flash = %q", got)
	}
}

// A request that never touches its session costs one allocation: the
// per-request state, which also holds the request copy.
func TestPassThroughAllocatesOnce(t *testing.T) {
	m, _ := newManager(t, memStore(t), nil)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	r := httptest.NewRequest("GET", "/healthz", nil)
	w := &discardWriter{H: http.Header{}}
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n > 1 {
		t.Fatalf("pass-through allocates %v times per request, want 1", n)
	}
}

// OnInsecureCookie replaces the warning, once, with the program's own words.
func TestOnInsecureCookie(t *testing.T) {
	t.Parallel()
	var calls []string
	m, logs := newManager(t, memStore(t), func(c *sessionkit.Config) {
		c.Cookie.Secure = true
		c.OnInsecureCookie = func(r *http.Request, reason string) { calls = append(calls, reason) }
	})
	h := app(m)
	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/put?k=a&v=b", nil))
		if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
			t.Fatalf("cookie %q", sc)
		}
	}
	if len(calls) != 1 || !strings.Contains(calls[0], "plain HTTP") {
		t.Fatalf("OnInsecureCookie calls: %q, want one with the reason", calls)
	}
	if strings.Contains(logs.String(), "not HTTPS") {
		t.Fatalf("the library warned too:\n%s", logs)
	}
}

// downStore is a store whose every call fails, as a store whose database
// is unreachable does.
type downStore struct{}

var errDown = errors.New("store down")

func (downStore) Load(context.Context, string) (sessionkit.Record, bool, error) {
	return sessionkit.Record{}, false, errDown
}
func (downStore) Create(context.Context, string, sessionkit.Record) error { return errDown }
func (downStore) Update(context.Context, string, sessionkit.Patch) (bool, error) {
	return false, errDown
}
func (downStore) Delete(context.Context, string) error    { return errDown }
func (downStore) Prune(context.Context, int) (int, error) { return 0, errDown }
