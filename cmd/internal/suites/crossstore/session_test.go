package crossstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/pgstore"
)

func TestAnonymousRequestsCreateNothing(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	for i := range 1000 {
		path := "/anon"
		if i%2 == 1 {
			path = "/user" // reads the session: still nothing to save
		}
		w := do(h, "GET", path)
		if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
			t.Fatalf("anonymous %s got Set-Cookie %q", path, got)
		}
	}
	if n := rowCount(t, pool); n != 0 {
		t.Fatalf("rows after 1000 anonymous requests = %d, want 0", n)
	}
	if n := store.Calls(); n != 0 {
		t.Fatalf("store calls for cookieless requests = %d, want 0", n)
	}
}

func TestUnchangedReadsDoNotWrite(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, func(c *sessionkit.Config) {
		c.Expiry.IdleTimeout = time.Hour
		c.Expiry.TouchInterval = 10 * time.Minute
	})
	h := app(m)
	cookie := login(t, h, "ada")
	writes := store.Writes()
	for range 100 {
		w := do(h, "GET", "/user", cookie)
		if w.Code != 200 || w.Body.String() != "ada" {
			t.Fatalf("read: %d %q", w.Code, w.Body.String())
		}
		if sc := w.Header().Get("Set-Cookie"); sc != "" {
			t.Fatalf("unchanged read set a cookie: %q", sc)
		}
	}
	if got := store.Writes() - writes; got != 0 {
		t.Fatalf("writes during 100 unchanged reads inside the touch window = %d, want 0", got)
	}
	if got := store.Loads.Load(); got != 100 {
		t.Fatalf("loads = %d, want exactly one per read", got)
	}

	// Age the stored expiry past the touch window, as if 11 minutes had gone
	// by: the next read refreshes it, once.
	if _, err := pool.Exec(context.Background(), "UPDATE sessions SET expire = expire - interval '11 minutes'"); err != nil {
		t.Fatal(err)
	}
	var before time.Time
	pool.QueryRow(context.Background(), "SELECT expire FROM sessions").Scan(&before)
	w := do(h, "GET", "/user", cookie)
	if w.Header().Get("Set-Cookie") == "" {
		t.Fatal("a read after the touch window did not refresh the cookie's expiry")
	}
	do(h, "GET", "/user", cookie)
	if got := store.Updates.Load(); got != 1 {
		t.Fatalf("touches after the window = %d, want 1", got)
	}
	var after time.Time
	pool.QueryRow(context.Background(), "SELECT expire FROM sessions").Scan(&after)
	if !after.After(before.Add(10 * time.Minute)) {
		t.Fatalf("expiry not refreshed: before %v after %v", before, after)
	}
	if st := m.Stats(); st.Touches != 1 || st.Saves != 0 {
		t.Fatalf("stats: touches %d saves %d, want 1 and 0", st.Touches, st.Saves)
	}
}

func TestLazyLoading(t *testing.T) {
	t.Parallel()
	store, _ := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	cookie := login(t, h, "ada")
	base := store.Calls()

	do(h, "GET", "/anon", cookie)
	if got := store.Calls() - base; got != 0 {
		t.Fatalf("a request that never reads its session made %d store calls", got)
	}
	do(h, "GET", "/user", cookie)
	if got := store.Calls() - base; got != 1 {
		t.Fatalf("a read made %d store calls, want 1", got)
	}
	base = store.Calls()
	w := do(h, "POST", "/put?k=theme&v=dark", cookie)
	if got := store.Calls() - base; got != 1 || store.Updates.Load() != 1 {
		t.Fatalf("a blind write made %d store calls (%d updates), want exactly 1 update", got, store.Updates.Load())
	}
	if w.Header().Get("Set-Cookie") != "" {
		t.Fatal("a write to an existing session re-sent its cookie")
	}
	if got := do(h, "GET", "/get?k=theme", cookie).Body.String(); got != "dark" {
		t.Fatalf("theme = %q", got)
	}
}

func TestRegenerateKillsOldID(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	anon := sessionCookie(do(h, "POST", "/put?k=cart&v=3"))
	if anon == nil {
		t.Fatal("a write did not set a cookie")
	}
	w := do(h, "POST", "/login?user=ada", anon)
	logged := sessionCookie(w)
	if logged == nil || sessiontest.IDOf(t, logged) == sessiontest.IDOf(t, anon) {
		t.Fatal("login did not change the session id")
	}
	if got := do(h, "GET", "/get?k=cart", logged).Body.String(); got != "3" {
		t.Fatalf("data not kept across regenerate: cart = %q", got)
	}
	if got := do(h, "GET", "/user", anon); got.Code != http.StatusUnauthorized {
		t.Fatalf("old id still works after regenerate: %d %q", got.Code, got.Body.String())
	}
	if n := rowCount(t, pool); n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}
}

func TestDestroy(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, func(c *sessionkit.Config) {
		c.Cookie.Domain = "example.com"
		c.Cookie.Path = "/app"
	})
	h := app(m)
	cookie := login(t, h, "ada")
	w := do(h, "POST", "/logout", cookie)
	sc := w.Header().Get("Set-Cookie")
	for _, want := range []string{sessionkit.DefaultCookieName + "=;", "Path=/app", "Domain=example.com", "Max-Age=0"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("clearing cookie %q lacks %q", sc, want)
		}
	}
	if n := rowCount(t, pool); n != 0 {
		t.Fatalf("rows after destroy = %d", n)
	}
	if got := do(h, "GET", "/user", cookie); got.Code != http.StatusUnauthorized {
		t.Fatalf("old cookie after destroy: %d", got.Code)
	}
	// A destroy without a cookie sets nothing.
	if sc := do(h, "POST", "/logout").Header().Get("Set-Cookie"); sc != "" {
		t.Fatalf("logout without a session set %q", sc)
	}
}

func TestForgedCookiesMakeNoStoreCall(t *testing.T) {
	t.Parallel()
	store, _ := pgStore(t)
	m, logs := newManager(t, store, nil)
	h := app(m)
	good := login(t, h, "ada")
	id := sessiontest.IDOf(t, good)
	other, _ := newManager(t, store, func(c *sessionkit.Config) { c.Secrets = []string{sessiontest.SecretB} })
	forged := sessionCookie(do(app(other), "POST", "/put?k=user&v=mallory"))
	tests := []struct {
		name, value string
		status      sessionkit.CookieStatus
	}{
		{"tampered id", strings.Replace(good.Value, id[:4], "AAAA", 1), sessionkit.CookieBadSignature},
		{"signed by another secret", forged.Value, sessionkit.CookieBadSignature},
		{"unsigned", "s%3A" + id, sessionkit.CookieMalformed},
		{"no prefix", id, sessionkit.CookieMalformed},
		{"short signature", good.Value[:len(good.Value)-5], sessionkit.CookieMalformed},
		{"bad escape", "s%3" + id + ".x", sessionkit.CookieMalformed},
		{"empty", "", sessionkit.CookieMalformed},
	}
	base := store.Calls()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, "GET", "/user", &http.Cookie{Name: good.Name, Value: tt.value})
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("forged cookie served a session: %d %q", w.Code, w.Body.String())
			}
		})
	}
	if got := store.Calls() - base; got != 0 {
		t.Fatalf("forged cookies caused %d store calls, want 0", got)
	}
	st := m.Stats()
	if st.BadSignatures != 2 || st.MalformedCookies != uint64(len(tests)-2) {
		t.Fatalf("stats: bad signatures %d, malformed %d", st.BadSignatures, st.MalformedCookies)
	}
	for _, kind := range []string{"signed by a secret this instance does not hold", "not in the signed"} {
		if n := strings.Count(logs.String(), kind); n != 1 {
			t.Fatalf("%q logged %d times in a minute, want once:\n%s", kind, n, logs)
		}
	}
	if !strings.Contains(logs.String(), "different secrets") || !strings.Contains(logs.String(), sessionkit.Fingerprint(sessiontest.SecretA)) {
		t.Fatalf("log lacks the hint and the fingerprint:\n%s", logs)
	}
	if strings.Contains(logs.String(), sessiontest.SecretA) || strings.Contains(logs.String(), id) {
		t.Fatal("a secret or a full session id reached the log")
	}
}

func TestSharedStoreAcrossManagers(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	one, _ := newManager(t, store, nil)
	two, _ := newManager(t, store, nil)
	strange, _ := newManager(t, store, func(c *sessionkit.Config) { c.Secrets = []string{sessiontest.SecretB} })
	rotated, _ := newManager(t, store, func(c *sessionkit.Config) { c.Secrets = []string{sessiontest.SecretB, sessiontest.SecretA} })
	h1, h2, hs, hr := app(one), app(two), app(strange), app(rotated)

	cookie := login(t, h1, "ada")
	if got := do(h2, "GET", "/user", cookie).Body.String(); got != "ada" {
		t.Fatalf("same secrets: second instance sees %q", got)
	}
	if got := do(hs, "GET", "/user", cookie); got.Code != http.StatusUnauthorized {
		t.Fatalf("different secrets: served %d", got.Code)
	}
	if strange.Stats().BadSignatures != 1 {
		t.Fatalf("different secrets not counted: %+v", strange.Stats())
	}

	// Rotation [new, old]: the old cookie still works, new ones are signed
	// with the new secret (so the old-only instance rejects them).
	if got := do(hr, "GET", "/user", cookie).Body.String(); got != "ada" {
		t.Fatalf("rotation: old cookie rejected, got %q", got)
	}
	fresh := login(t, hr, "bob")
	if got := do(hs, "GET", "/user", fresh).Body.String(); got != "bob" {
		t.Fatalf("rotation: new cookie not signed by the new secret (new-only instance sees %q)", got)
	}
	if got := do(h1, "GET", "/user", fresh); got.Code != http.StatusUnauthorized {
		t.Fatalf("rotation: old-only instance accepted a cookie signed by the new secret: %d", got.Code)
	}
	if n := rowCount(t, pool); n != 2 {
		t.Fatalf("rows = %d, want 2", n)
	}
}

// A slow request reads the session, a logout destroys it, then the slow
// request saves: the logout wins and no row comes back.
func TestSlowSaveDoesNotReviveDestroyedSession(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	read, release := make(chan struct{}), make(chan struct{})
	slow := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if user, err := s.GetString("user"); err != nil || user != "ada" {
			t.Errorf("slow request read %q, %v", user, err)
		}
		close(read)
		<-release
		s.Put("lastSeen", "now")
	}))
	h := app(m)
	cookie := login(t, h, "ada")
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- do(slow, "GET", "/", cookie) }()
	poll.Receive(t, "the slow request to read its session", read)
	if w := do(h, "POST", "/logout", cookie); w.Code != 200 {
		t.Fatalf("logout: %d", w.Code)
	}
	close(release)
	w := poll.Receive(t, "the slow request to answer", done)
	if w.Code != 200 || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("slow request: %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
	}
	if n := rowCount(t, pool); n != 0 {
		t.Fatalf("rows after logout and a slow save = %d, want 0", n)
	}
	if got := m.Stats().DroppedSaves; got != 1 {
		t.Fatalf("dropped saves = %d, want 1", got)
	}
}

func TestExpiredRowIsNotServed(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	cookie := login(t, h, "ada")
	if _, err := pool.Exec(context.Background(), "UPDATE sessions SET expire = now() - interval '1 second'"); err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "/user", cookie); w.Code != http.StatusUnauthorized {
		t.Fatalf("expired session served: %d %q", w.Code, w.Body.String())
	}
	if n := rowCount(t, pool); n != 1 {
		t.Fatalf("the expired row should still be there, unpruned: %d rows", n)
	}
	// Writing to it starts a new session rather than reviving the old one.
	w := do(h, "POST", "/put?k=cart&v=1", cookie)
	fresh := sessionCookie(w)
	if fresh == nil || sessiontest.IDOf(t, fresh) == sessiontest.IDOf(t, cookie) {
		t.Fatal("a write through an expired session's cookie did not start a new session")
	}
	if got := do(h, "GET", "/user", fresh); got.Code != http.StatusUnauthorized {
		t.Fatal("the new session carried the expired session's login")
	}
}

func TestConcurrentWritersKeepEveryKey(t *testing.T) {
	t.Parallel()
	store, _ := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	cookie := login(t, h, "ada")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each request reads (a typical handler) and writes its own key.
			r := httptest.NewRequest("POST", fmt.Sprintf("/put?k=key%d&v=%d", i, i), nil)
			r.AddCookie(cookie)
			w := httptest.NewRecorder()
			m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := sessionkit.From(r)
				if _, err := s.GetString("user"); err != nil {
					t.Error(err)
				}
				h.ServeHTTP(w, r)
			})).ServeHTTP(w, r)
			if w.Code != 200 {
				t.Errorf("writer %d: %d %s", i, w.Code, w.Body)
			}
		}()
	}
	poll.Wait(t, "the concurrent writers", &wg)
	for i := range 50 {
		if got := do(h, "GET", fmt.Sprintf("/get?k=key%d", i), cookie).Body.String(); got != fmt.Sprint(i) {
			t.Fatalf("key%d = %q after 50 concurrent writers", i, got)
		}
	}
}

func TestStoreUnreachable(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	cookie := login(t, h, "ada")
	pool.Close()
	tests := []struct {
		method, path string
		cookie       *http.Cookie
	}{
		{"GET", "/user", cookie},
		{"POST", "/put?k=a&v=b", cookie},
		{"POST", "/put?k=a&v=b", nil},
		{"POST", "/login?user=bob", cookie},
		{"POST", "/logout", cookie},
	}
	for _, tt := range tests {
		w := do(h, tt.method, tt.path, tt.cookie)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s with the store down: %d %q, want 503", tt.method, tt.path, w.Code, w.Body)
		}
		if sc := w.Header().Get("Set-Cookie"); sc != "" {
			t.Errorf("%s %s with the store down set a cookie: %q", tt.method, tt.path, sc)
		}
	}
	if m.Stats().StoreErrors == 0 {
		t.Fatal("store errors not counted")
	}
}

func TestLoadErrorIsErrStore(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	cookie := login(t, app(m), "ada")
	pool.Close()
	var got error
	do(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		_, got = s.Get("user", new(string))
	})), "GET", "/", cookie)
	if !errors.Is(got, sessionkit.ErrStore) {
		t.Fatalf("load with the store down: %v, want ErrStore", got)
	}
	if strings.Contains(got.Error(), sessiontest.IDOf(t, cookie)) {
		t.Fatal("the error holds the full session id")
	}
}

func TestPrunerStore(t *testing.T) {
	t.Parallel()
	// The pruner itself is tested in pgstore; here, that a manager's expired
	// sessions are what it removes.
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	login(t, h, "ada")
	live := login(t, h, "bob")
	pool.Exec(context.Background(), "UPDATE sessions SET expire = now() - interval '1 minute' WHERE sess->>'user' = 'ada'")
	n, ran, err := store.Store.(*pgstore.Store).PruneExpired(context.Background(), 10, nil)
	if err != nil || !ran || n != 1 {
		t.Fatalf("prune: %d %v %v", n, ran, err)
	}
	if got := do(h, "GET", "/user", live).Body.String(); got != "bob" {
		t.Fatalf("live session after prune: %q", got)
	}
}

// A write through the cookie of a session that was destroyed (its row gone,
// not merely expired) starts a new session under a new id: the old id never
// comes back, whatever the request writes.
func TestBlindWriteAfterDestroyUsesNewID(t *testing.T) {
	t.Parallel()
	store, pool := pgStore(t)
	m, _ := newManager(t, store, nil)
	h := app(m)
	old := login(t, h, "ada")
	do(h, "POST", "/logout", old)
	w := do(h, "POST", "/put?k=user&v=ada", old) // blind: no read first
	fresh := sessionCookie(w)
	if fresh == nil || sessiontest.IDOf(t, fresh) == sessiontest.IDOf(t, old) {
		t.Fatalf("blind write after destroy: cookie %v reuses the destroyed id", fresh)
	}
	var n int
	// The store keeps the id's hash (sessionkit.HashID), never the id.
	pool.QueryRow(context.Background(), "SELECT count(*) FROM sessions WHERE sid = ANY($1)", []string{sessiontest.IDOf(t, old), sessionkit.HashID(sessiontest.IDOf(t, old))}).Scan(&n)
	if n != 0 {
		t.Fatal("the destroyed id has a row again")
	}
	if got := do(h, "GET", "/user", old); got.Code != http.StatusUnauthorized {
		t.Fatal("the destroyed cookie works again")
	}
}

// noCreatedStore reports Created zero, as pgstore does on a
// connect-pg-simple table, which has no column for it.
type noCreatedStore struct{ sessionkit.Store }

func (s noCreatedStore) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, id)
	rec.Created = time.Time{}
	return rec, found, err
}

func TestIdleTouchWithoutCreated(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, noCreatedStore{sessiontest.MemStore(t)}, func(c *sessionkit.Config) {
		c.Expiry.IdleTimeout = time.Hour
		c.Expiry.TouchInterval = time.Millisecond
	})
	h := app(m)
	cookie := login(t, h, "ada")
	time.Sleep(5 * time.Millisecond)
	w := do(h, "GET", "/user", cookie)
	if w.Code != 200 || sessionCookie(w) == nil {
		t.Fatalf("a read past the touch interval of a session whose creation the store cannot say: %d %q, Set-Cookie %q; want the expiry moved and the cookie re-issued",
			w.Code, w.Body.String(), w.Header().Get("Set-Cookie"))
	}
}
