package crossstore_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
	"github.com/sessionkit/sessionkit/storetest"
)

// raceApp serves the requests of TestConcurrentMetadataChanges. GET /slow
// reads the session, says so on ready, waits for release, and then, as a
// request that acted on that older read, returns (a due last-seen touch is
// written when it is saved) or, with ?lifetime=d, calls SetLifetime(d)
// first. POST /login authenticates "ada", POST /lifetime?d= sets a
// lifetime, GET /read reads the user.
func raceApp(t *testing.T, m *sessionkit.Manager, ready, release chan struct{}) http.Handler {
	mux := http.NewServeMux()
	session := func(r *http.Request) *sessionkit.Session {
		s, err := sessionkit.From(r)
		if err != nil {
			panic(err)
		}
		return s
	}
	reply := func(w http.ResponseWriter, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		reply(w, session(r).Authenticate("ada"))
	})
	mux.HandleFunc("POST /lifetime", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err == nil {
			err = session(r).SetLifetime(d)
		}
		reply(w, err)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		_, err := session(r).User()
		reply(w, err)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		s := session(r)
		if _, err := s.User(); err != nil {
			reply(w, err)
			return
		}
		ready <- struct{}{}
		select {
		case <-release:
		case <-time.After(poll.Limit):
			reply(w, fmt.Errorf("never released"))
			return
		}
		// Past the 1ms touch interval, whatever the clock's resolution.
		time.Sleep(2 * time.Millisecond)
		var err error
		if v := r.URL.Query().Get("lifetime"); v != "" {
			d, _ := time.ParseDuration(v)
			err = s.SetLifetime(d)
		}
		reply(w, err)
	})
	return m.Middleware(mux)
}

// TestConcurrentMetadataChanges runs, on every store, a request that read
// the session, a second request that changes the session's metadata while
// the first one waits, and then the first one's save: the first must not
// undo the second's change.
func TestConcurrentMetadataChanges(t *testing.T) {
	t.Parallel()
	stores := realStores()
	stores["redisstore"] = func(t *testing.T) *storetest.Counter {
		st, _ := redisStore(t, false, "metarace")
		return &storetest.Counter{Store: st}
	}
	const remembered = 30 * 24 * time.Hour
	cases := []struct {
		name string
		idle time.Duration
		// slow is the waiting request's query; fast the request that runs
		// meanwhile.
		slow, fast string
		check      func(t *testing.T, h http.Handler, m *sessionkit.Manager, st *storetest.Counter, c *http.Cookie, fastAt int64)
	}{
		{
			name: "a last-seen touch from an older read keeps a lifetime set meanwhile",
			slow: "", fast: "POST /lifetime?d=" + remembered.String(),
			check: func(t *testing.T, h http.Handler, _ *sessionkit.Manager, _ *storetest.Counter, c *http.Cookie, _ int64) {
				// A log-in again keeps the session's own lifetime.
				again := sessionCookie(do(h, "POST", "/login", c))
				if again == nil {
					t.Fatal("log-in again set no cookie")
				}
				sessiontest.Near(t, "Max-Age after logging in again", time.Duration(again.MaxAge)*time.Second, remembered)
			},
		},
		{
			name: "a lifetime set from an older read keeps a last seen written meanwhile",
			slow: "?lifetime=" + remembered.String(), fast: "GET /read",
			check: func(t *testing.T, _ http.Handler, m *sessionkit.Manager, _ *storetest.Counter, _ *http.Cookie, fastAt int64) {
				list, err := m.ListSessions(context.Background(), "ada")
				if err != nil || len(list) != 1 {
					t.Fatalf("ListSessions: %v, %v", list, err)
				}
				if got := list[0].LastSeen.Unix(); got < fastAt {
					t.Fatalf("last seen %d, before the read at %d that refreshed it", got, fastAt)
				}
			},
		},
		{
			name: "an idle touch from an older read does not keep a session past a shorter lifetime set meanwhile",
			idle: time.Hour, slow: "", fast: "POST /lifetime?d=30m",
			check: func(t *testing.T, h http.Handler, _ *sessionkit.Manager, st *storetest.Counter, c *http.Cookie, _ int64) {
				// The older read's touch may have stored a later expiry;
				// the next request brings it back to creation + 30m.
				if w := do(h, "GET", "/read", c); w.Code != 200 {
					t.Fatalf("read: %d", w.Code)
				}
				rec, found, err := st.Load(context.Background(), sessiontest.IDOf(t, c))
				if err != nil || !found {
					t.Fatalf("load: %v, %v", found, err)
				}
				if over := rec.Expiry.Sub(rec.Created) - 30*time.Minute; over > 2*time.Second {
					t.Fatalf("the session lives %v past the lifetime set meanwhile", over)
				}
			},
		},
	}
	for name, open := range stores {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				st := open(t)
				m, _ := newManager(t, st, func(c *sessionkit.Config) {
					c.Expiry.Lifetime = 2 * time.Hour
					c.Expiry.IdleTimeout = tc.idle
					c.Expiry.TouchInterval = time.Millisecond // every later read is due to touch
				})
				ready, release := make(chan struct{}), make(chan struct{})
				h := raceApp(t, m, ready, release)
				c := sessionCookie(do(h, "POST", "/login"))
				if c == nil {
					t.Fatal("log-in set no cookie")
				}
				// Last seen has whole seconds: let the clock pass the
				// log-in's second, so that a refresh shows.
				loginAt := time.Now().Unix()
				poll.Until(t, "the next second", func() bool { return time.Now().Unix() > loginAt })

				done := make(chan int, 1)
				go func() { done <- do(h, "GET", "/slow"+tc.slow, c).Code }()
				select {
				case <-ready:
				case <-time.After(poll.Limit):
					t.Fatal("the slow request never read the session")
				}
				fastAt := time.Now().Unix()
				method, target, _ := strings.Cut(tc.fast, " ")
				if w := do(h, method, target, c); w.Code != 200 {
					t.Fatalf("%s: %d %s", tc.fast, w.Code, w.Body.String())
				}
				close(release)
				select {
				case code := <-done:
					if code != 200 {
						t.Fatalf("the slow request: %d", code)
					}
				case <-time.After(poll.Limit):
					t.Fatal("the slow request never finished")
				}
				tc.check(t, h, m, st, c, fastAt)
			})
		}
	}
}
