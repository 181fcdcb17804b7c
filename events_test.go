package sessionkit_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
)

// eventApp serves the session operations that emit events: /put (a value,
// creating the session), /auth?user=U, /regen, /me (reads, so an idle
// session is touched), /logout (reads the user, then Destroy), /others
// (EndOtherSessions, with ?reason= through WithEndReason).
func eventApp(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, err error) { http.Error(w, err.Error(), http.StatusServiceUnavailable) }
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Put("cart", "3 apples"); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Authenticate(r.URL.Query().Get("user")); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /regen", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := s.Regenerate(); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		user, err := s.User()
		if err != nil {
			fail(w, err)
			return
		}
		fmt.Fprint(w, user)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if _, err := s.User(); err != nil {
			fail(w, err)
			return
		}
		if err := s.Destroy(); err != nil {
			fail(w, err)
		}
	})
	mux.HandleFunc("POST /others", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		user, err := s.User()
		if err != nil {
			fail(w, err)
			return
		}
		ctx := r.Context()
		if reason := r.URL.Query().Get("reason"); reason != "" {
			ctx = sessionkit.WithEndReason(ctx, reason)
		}
		if _, err := m.EndOtherSessions(ctx, user, s.Handle()); err != nil {
			fail(w, err)
		}
	})
	return m.Middleware(mux)
}

// eventLog collects the events a Manager's hook receives.
type eventLog struct {
	mu     sync.Mutex
	events []sessionkit.Event
}

func (l *eventLog) hook(ev sessionkit.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *eventLog) all() []sessionkit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sessionkit.Event(nil), l.events...)
}

// handleOfCookie is the handle of the session a cookie names, as the
// session list shows it.
func handleOfCookie(t *testing.T, m *sessionkit.Manager, c *http.Cookie) string {
	t.Helper()
	var handle string
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		handle = s.Handle()
	}))
	do(h, "GET", "/", c)
	if handle == "" {
		t.Fatal("the cookie names no session")
	}
	return handle
}

// TestEvents: each kind of session event reaches Config.OnEvent with the
// user, the handle (never the id), the reason and the client address;
// with the hook set, the library leaves rejected cookies to it and logs
// none itself.
func TestEvents(t *testing.T) {
	t.Parallel()
	client := netip.MustParseAddr("192.0.2.1") // httptest.NewRequest's
	type want struct {
		kind             sessionkit.EventKind
		reason, user     string
		handle, previous string // "" means not checked; "-" means empty
	}
	for _, tc := range []struct {
		name string
		edit func(*sessionkit.Config)
		// run acts and returns the event expected (handles filled in).
		run func(t *testing.T, m *sessionkit.Manager, h http.Handler) want
	}{
		{"created", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			c := sessionCookie(do(h, "POST", "/put"))
			return want{kind: sessionkit.EventCreated, handle: handleOfCookie(t, m, c), previous: "-"}
		}},
		{"authenticated", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			anon := sessionCookie(do(h, "POST", "/put"))
			c := sessionCookie(do(h, "POST", "/auth?user=ada", anon))
			return want{kind: sessionkit.EventAuthenticated, user: "ada", handle: handleOfCookie(t, m, c), previous: handleOfCookie(t, m, anon)}
		}},
		{"refreshed", func(c *sessionkit.Config) {
			c.Expiry.IdleTimeout, c.Expiry.TouchInterval = time.Hour, time.Millisecond
		}, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			c := sessionCookie(do(h, "POST", "/auth?user=ada"))
			time.Sleep(5 * time.Millisecond) // past the touch interval
			if w := do(h, "GET", "/me", c); sessionCookie(w) == nil {
				t.Fatal("the read past the touch interval did not re-issue the cookie")
			}
			return want{kind: sessionkit.EventRefreshed, user: "ada", handle: handleOfCookie(t, m, c)}
		}},
		{"rotated", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			old := sessionCookie(do(h, "POST", "/put"))
			c := sessionCookie(do(h, "POST", "/regen", old))
			return want{kind: sessionkit.EventRotated, handle: handleOfCookie(t, m, c), previous: handleOfCookie(t, m, old)}
		}},
		{"ended by log-out", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			c := sessionCookie(do(h, "POST", "/auth?user=ada"))
			handle := handleOfCookie(t, m, c)
			do(h, "POST", "/logout", c)
			return want{kind: sessionkit.EventEnded, reason: sessionkit.ReasonLogout, user: "ada", handle: handle}
		}},
		{"ended by revocation", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			phone := sessionCookie(do(h, "POST", "/auth?user=ada"))
			laptop := sessionCookie(do(h, "POST", "/auth?user=ada"))
			handle := handleOfCookie(t, m, phone)
			do(h, "POST", "/others", laptop)
			return want{kind: sessionkit.EventEnded, reason: sessionkit.ReasonRevoked, user: "ada", handle: handle}
		}},
		{"ended by a password change", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			phone := sessionCookie(do(h, "POST", "/auth?user=ada"))
			laptop := sessionCookie(do(h, "POST", "/auth?user=ada"))
			handle := handleOfCookie(t, m, phone)
			do(h, "POST", "/others?reason="+sessionkit.ReasonPasswordChange, laptop)
			return want{kind: sessionkit.EventEnded, reason: sessionkit.ReasonPasswordChange, user: "ada", handle: handle}
		}},
		{"ended by the session limit", func(c *sessionkit.Config) {
			c.MaxSessionsPerUser = 1
		}, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			phone := sessionCookie(do(h, "POST", "/auth?user=ada"))
			handle := handleOfCookie(t, m, phone)
			do(h, "POST", "/auth?user=ada") // the laptop's log-in ends the phone's session
			if w := do(h, "GET", "/me", phone); w.Body.String() != "" {
				t.Fatalf("the session past the limit still reads as %q", w.Body.String())
			}
			return want{kind: sessionkit.EventEnded, reason: sessionkit.ReasonSessionLimit, user: "ada", handle: handle}
		}},
		{"ended by expiry", func(c *sessionkit.Config) {
			c.Expiry.Lifetime = 20 * time.Millisecond
		}, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			c := sessionCookie(do(h, "POST", "/auth?user=ada"))
			handle := handleOfCookie(t, m, c)
			time.Sleep(50 * time.Millisecond) // past the lifetime
			if w := do(h, "GET", "/me", c); w.Body.String() != "" {
				t.Fatalf("the expired session still reads as %q", w.Body.String())
			}
			return want{kind: sessionkit.EventEnded, reason: sessionkit.ReasonExpired, handle: handle}
		}},
		{"cookie rejected: bad signature", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			forged := &http.Cookie{Name: sessionkit.DefaultCookieName, Value: "s%3Aforged.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
			do(h, "GET", "/me", forged)
			return want{kind: sessionkit.EventCookieRejected, reason: "bad-signature", handle: "-"}
		}},
		{"cookie rejected: malformed", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			do(h, "GET", "/me", &http.Cookie{Name: sessionkit.DefaultCookieName, Value: "junk"})
			return want{kind: sessionkit.EventCookieRejected, reason: "malformed", handle: "-"}
		}},
		{"cookie rejected: same-name conflict", nil, func(t *testing.T, m *sessionkit.Manager, h http.Handler) want {
			ada := sessionCookie(do(h, "POST", "/auth?user=ada"))
			eve := sessionCookie(do(h, "POST", "/auth?user=eve"))
			if w := do(h, "GET", "/me", ada, eve); w.Body.String() != "" {
				t.Fatalf("two live cookies read as %q, want no session", w.Body.String())
			}
			return want{kind: sessionkit.EventCookieRejected, reason: sessionkit.ReasonConflict, handle: "-"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &eventLog{}
			m, logs := newManager(t, memStore(t), func(c *sessionkit.Config) {
				c.OnEvent = log.hook
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			w := tc.run(t, m, eventApp(m))
			m.Close() // delivers what is queued
			start := time.Now()
			var got []string
			for _, ev := range log.all() {
				got = append(got, fmt.Sprintf("%s/%s user=%q", ev.Kind, ev.Reason, ev.User))
				if ev.Kind != w.kind || ev.Reason != w.reason {
					continue
				}
				if ev.User != w.user || !same(ev.Handle, w.handle) || !same(ev.Previous, w.previous) {
					t.Fatalf("%s event: %+v; want user %q, handle %q, previous %q", ev.Kind, ev, w.user, w.handle, w.previous)
				}
				if ev.ClientAddr != client {
					t.Errorf("%s event from %v, want the request's %v", ev.Kind, ev.ClientAddr, client)
				}
				if ev.Time.IsZero() || ev.Time.After(start) {
					t.Errorf("%s event at %v, want the time it happened", ev.Kind, ev.Time)
				}
				if strings.Contains(logs.String(), "level=WARN") && w.kind == sessionkit.EventCookieRejected {
					t.Errorf("with OnEvent set the library logged the rejection itself:\n%s", logs)
				}
				return
			}
			t.Fatalf("no %s event with reason %q among %q", w.kind, w.reason, got)
		})
	}
}

// same reports whether got is want, where want "" matches anything and
// "-" only "".
func same(got, want string) bool {
	switch want {
	case "":
		return true
	case "-":
		return got == ""
	}
	return got == want
}

// TestEventHookCannotBlockRequests: a hook that never returns holds no
// request up; the events that do not fit the queue are dropped and
// counted, and Close still returns once the hook does.
func TestEventHookCannotBlockRequests(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	m, _ := newManager(t, memStore(t), func(c *sessionkit.Config) {
		c.EventQueue = 2
		c.OnEvent = func(sessionkit.Event) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
	})
	h := eventApp(m)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(h, "POST", "/put")
		select {
		case <-entered: // the first event is in the hook, which holds it
		case <-time.After(30 * time.Second):
			return
		}
		for range 9 {
			do(h, "POST", "/put")
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		close(release)
		t.Fatal("requests were held up by a hook that does not return")
	}
	// One event in the hook, two queued: the other seven dropped.
	if got := m.Stats().EventsDropped; got != 7 {
		t.Errorf("EventsDropped = %d, want 7 (10 events, 1 in the hook, 2 queued)", got)
	}
	close(release)
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return after the hook did")
	}
}
