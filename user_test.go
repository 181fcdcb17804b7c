package sessionkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// authAs logs in as user from the given User-Agent and returns the cookie.
func authAs(t *testing.T, h http.Handler, user, ua string) *http.Cookie {
	t.Helper()
	r := httpRequest("POST", "/auth?user="+user)
	r.Header.Set("User-Agent", ua)
	w := serve(h, r)
	c := sessionCookie(w)
	if w.Code != 200 || c == nil {
		t.Fatalf("auth %s: %d %q", user, w.Code, w.Body.String())
	}
	return c
}

// listed returns the caller's handle and sessions from /sessions.
func listed(t *testing.T, h http.Handler, c *http.Cookie) (string, []sessionkit.SessionInfo) {
	t.Helper()
	w := do(h, "GET", "/sessions", c)
	if w.Code != 200 {
		t.Fatalf("GET /sessions: %d %q", w.Code, w.Body.String())
	}
	current, body, _ := strings.Cut(w.Body.String(), "\n")
	var list []sessionkit.SessionInfo
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	return current, list
}

func loggedIn(h http.Handler, c *http.Cookie) bool { return do(h, "GET", "/me", c).Code == 200 }

func TestListSessions(t *testing.T) {
	m, _ := newManager(t, memstore.New(memstore.Config{}), nil)
	h := userApp(m)
	long := strings.Repeat("é", 150) // 300 bytes
	phone := authAs(t, h, "ada", "Phone/1.0")
	laptop := authAs(t, h, "ada", long)
	authAs(t, h, "bob", "Bob/1.0")

	current, list := listed(t, h, laptop)
	if len(list) != 2 {
		t.Fatalf("ada has %d sessions listed, want 2: %+v", len(list), list)
	}
	if list[0].Handle != current || list[1].UserAgent != "Phone/1.0" {
		t.Fatalf("want newest (this one) first, then the phone: current %s, %+v", current, list)
	}
	ua := list[0].UserAgent
	if len(ua) > sessionkit.MaxUserAgent || !strings.HasPrefix(long, ua) || len(ua) < sessionkit.MaxUserAgent-1 {
		t.Fatalf("user agent kept as %d bytes %q, want the first %d bytes at most", len(ua), ua, sessionkit.MaxUserAgent)
	}
	for _, s := range list {
		// httptest requests come from 192.0.2.1.
		if s.Address != "192.0.2.0/24" {
			t.Fatalf("address %q, want the coarse 192.0.2.0/24", s.Address)
		}
		if s.Created.IsZero() || s.LastSeen.IsZero() || s.AuthTime.IsZero() || s.Expiry.IsZero() {
			t.Fatalf("missing times: %+v", s)
		}
		for _, id := range []string{idOf(t, phone), idOf(t, laptop)} {
			if strings.Contains(s.Handle, id) || strings.Contains(id, s.Handle) {
				t.Fatalf("handle %q reveals session id %q", s.Handle, id)
			}
		}
	}
	if raw, _ := json.Marshal(list); strings.Contains(string(raw), idOf(t, phone)) {
		t.Fatalf("listing holds the session id: %s", raw)
	}
}

func TestRevokeSession(t *testing.T) {
	m, _ := newManager(t, memstore.New(memstore.Config{}), nil)
	h := userApp(m)
	ctx := context.Background()
	phone := authAs(t, h, "ada", "Phone")
	laptop := authAs(t, h, "ada", "Laptop")
	bob := authAs(t, h, "bob", "Bob")
	_, list := listed(t, h, laptop)
	phoneHandle := list[1].Handle

	// Bob cannot end Ada's session with its handle.
	if ok, err := m.RevokeSession(ctx, "bob", phoneHandle); ok || err != nil {
		t.Fatalf("bob ended ada's session: %v %v", ok, err)
	}
	if !loggedIn(h, phone) {
		t.Fatal("ada's phone logged out by bob")
	}
	if ok, err := m.RevokeSession(ctx, "ada", phoneHandle); !ok || err != nil {
		t.Fatalf("RevokeSession = %v, %v", ok, err)
	}
	if loggedIn(h, phone) {
		t.Fatal("the ended session still answers")
	}
	if !loggedIn(h, laptop) || !loggedIn(h, bob) {
		t.Fatal("ending one session ended others")
	}
}

// TestASVS_7_4_5_EndAllSessions: the operator (or the account owner) ends every
// session of one user at once, or all but the current one, and those
// sessions are refused on their next request.
func TestASVS_7_4_5_EndAllSessions(t *testing.T) {
	m, _ := newManager(t, memstore.New(memstore.Config{}), nil)
	h := userApp(m)
	ctx := context.Background()
	a1, a2, a3 := authAs(t, h, "ada", "1"), authAs(t, h, "ada", "2"), authAs(t, h, "ada", "3")
	bob := authAs(t, h, "bob", "Bob")

	current, _ := listed(t, h, a3)
	// An empty handle to keep is refused, not read as "keep none".
	if n, err := m.EndOtherSessions(ctx, "ada", ""); n != 0 || !errors.Is(err, sessionkit.ErrNoKeepHandle) {
		t.Fatalf("EndOtherSessions(\"\") = %d, %v; want 0, ErrNoKeepHandle", n, err)
	}
	if !loggedIn(h, a1) {
		t.Fatal("EndOtherSessions with no handle to keep ended a session")
	}
	if n, err := m.EndOtherSessions(ctx, "ada", current); n != 2 || err != nil {
		t.Fatalf("EndOtherSessions(current) = %d, %v; want 2", n, err)
	}
	if loggedIn(h, a1) || loggedIn(h, a2) || !loggedIn(h, a3) {
		t.Fatal("all but the current session should have ended")
	}
	if n, err := m.EndAllSessions(ctx, "ada"); n != 1 || err != nil {
		t.Fatalf("EndAllSessions = %d, %v; want 1", n, err)
	}
	if loggedIn(h, a3) {
		t.Fatal("EndAllSessions left a session")
	}
	if !loggedIn(h, bob) {
		t.Fatal("another user's session ended")
	}
}

// TestASVS_7_1_2_MaxSessionsPerUser: with a limit of 2, a third log-in ends
// the oldest session, and the limit holds.
func TestASVS_7_1_2_MaxSessionsPerUser(t *testing.T) {
	m, _ := newManager(t, memstore.New(memstore.Config{}), func(c *sessionkit.Config) { c.MaxSessionsPerUser = 2 })
	h := userApp(m)
	first := authAs(t, h, "ada", "1")
	time.Sleep(time.Millisecond) // distinct creation times order the sessions
	second := authAs(t, h, "ada", "2")
	time.Sleep(time.Millisecond)
	third := authAs(t, h, "ada", "3")
	if loggedIn(h, first) || !loggedIn(h, second) || !loggedIn(h, third) {
		t.Fatal("at the limit, the oldest session should end and the others stay")
	}
	if _, list := listed(t, h, third); len(list) != 2 {
		t.Fatalf("%d sessions, want the limit 2", len(list))
	}
	// Logging in again on a session that is already counted replaces it.
	r := httpRequest("POST", "/auth?user=ada")
	r.AddCookie(third)
	if w := serve(h, r); w.Code != 200 {
		t.Fatal(w.Body.String())
	}
	if !loggedIn(h, second) {
		t.Fatal("re-authenticating an existing session ended another one")
	}

	_, err := sessionkit.New(sessionkit.Config{Store: storeOnly{memstore.New(memstore.Config{})}, Secrets: []string{secretA}, MaxSessionsPerUser: 2})
	if !errors.Is(err, sessionkit.ErrNoUserIndex) {
		t.Fatalf("New with a limit on a store without UserIndex: %v, want ErrNoUserIndex", err)
	}
}

// storeOnly hides every optional capability of a store.
type storeOnly struct{ sessionkit.Store }

func TestAuthTime(t *testing.T) {
	m, _ := newManager(t, memstore.New(memstore.Config{}), nil)
	var got time.Time
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if r.Method == "POST" {
			_ = s.Authenticate("ada")
		}
		got, _ = s.AuthTime()
	}))
	before := time.Now().Truncate(time.Second)
	c := sessionCookie(do(h, "POST", "/"))
	if got.Before(before) || got.After(time.Now()) {
		t.Fatalf("AuthTime right after Authenticate = %v, want about now", got)
	}
	do(h, "GET", "/", c)
	if got.Before(before) {
		t.Fatalf("AuthTime on the next request = %v", got)
	}
	do(h, "GET", "/")
	if !got.IsZero() {
		t.Fatalf("AuthTime of an anonymous session = %v, want zero", got)
	}
}

// TestLastSeenIsCoarse: a logged-in read writes nothing while last seen is
// fresh; once it is older than the touch interval, one read refreshes it,
// and the next writes nothing again.
func TestLastSeenIsCoarse(t *testing.T) {
	counter := memStore(t)
	m, _ := newManager(t, counter, nil)
	h := userApp(m)
	c := authAs(t, h, "ada", "UA")
	counter.Creates.Store(0)
	for range 3 {
		if !loggedIn(h, c) {
			t.Fatal("logged out")
		}
	}
	if w := counter.Writes(); w != 0 {
		t.Fatalf("three logged-in reads made %d writes, want 0", w)
	}
	// Age last seen by ten minutes, as if the user had been away.
	// Written past the counter: only the manager's writes are counted.
	old := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	aged := sessionkit.Patch{Set: map[string]json.RawMessage{"sessionkit:seen": json.RawMessage(old)}}
	if found, err := counter.Store.Update(context.Background(), idOf(t, c), aged); err != nil || !found {
		t.Fatalf("ageing last seen: found %v, %v", found, err)
	}
	loggedIn(h, c)
	if w := counter.Updates.Load(); w != 1 {
		t.Fatalf("a read with a stale last seen made %d updates, want 1", w)
	}
	loggedIn(h, c)
	loggedIn(h, c)
	if w := counter.Writes(); w != 1 {
		t.Fatalf("reads after the refresh wrote: %d writes in all, want 1", w)
	}
	_, list := listed(t, h, c)
	if len(list) != 1 || time.Since(list[0].LastSeen) > time.Minute {
		t.Fatalf("last seen not refreshed: %+v", list)
	}
}
