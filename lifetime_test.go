package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/storetest"
)

const (
	shortLifetime = 2 * time.Hour       // Config.Expiry.Lifetime in these tests
	remembered    = 30 * 24 * time.Hour // what "remember me" asks for
)

// lifetimeStores are the stores the lifetime tests run on: memory here;
// the cross-store suite (cmd/internal/suites/crossstore) runs the same
// behaviour on SQLite, PostgreSQL and Redis.
func lifetimeStores() map[string]func(t *testing.T) *storetest.Counter {
	return map[string]func(t *testing.T) *storetest.Counter{
		"memstore": func(t *testing.T) *storetest.Counter { return memStore(t) },
	}
}

// lifetimeApp logs in with POST /login?remember=<duration>&order=<before|after>
// (SetLifetime before or after Authenticate), sets a lifetime on the
// session as it is with POST /lifetime?d=<duration> (answering 400 when it
// is refused), and reads the user with userApp's GET /me.
func lifetimeApp(m *sessionkit.Manager) http.Handler {
	mux := http.NewServeMux()
	setLifetime := func(s *sessionkit.Session, r *http.Request) error {
		if v := r.URL.Query().Get("d"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			return s.SetLifetime(d)
		}
		return nil
	}
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		steps := []func() error{
			func() error { return s.Authenticate("ada") },
			func() error { return setLifetime(s, r) },
		}
		if r.URL.Query().Get("order") == "before" {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("POST /lifetime", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		if err := setLifetime(s, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "ok")
	})
	all := http.NewServeMux()
	all.Handle("/", userApp(m))
	all.Handle("POST /login", m.Middleware(mux))
	all.Handle("POST /lifetime", m.Middleware(mux))
	return all
}

func TestSetLifetimeAtLogIn(t *testing.T) {
	t.Parallel()
	for storeName, newStore := range lifetimeStores() {
		for _, express := range []bool{false, true} {
			for _, tc := range []struct {
				name, query string
				want        time.Duration
			}{
				{"short default", "", shortLifetime},
				{"remembered", "?d=" + remembered.String(), remembered},
				{"remembered, set before Authenticate", "?order=before&d=" + remembered.String(), remembered},
				{"shorter than the default", "?d=30m", 30 * time.Minute},
			} {
				t.Run(fmt.Sprintf("%s/express=%v/%s", storeName, express, tc.name), func(t *testing.T) {
					t.Parallel()
					store := newStore(t)
					m, _ := newManager(t, store, func(c *sessionkit.Config) {
						c.Expiry.Lifetime = shortLifetime
						c.Expiry.IdleTimeout = 60 * 24 * time.Hour // longer than both: the lifetime decides
						c.Expiry.TouchInterval = 10 * time.Minute
						c.ExpressSessionCookie = express
					})
					h := lifetimeApp(m)
					w := do(h, "POST", "/login"+tc.query)
					c := sessionCookie(w)
					if w.Code != 200 || c == nil {
						t.Fatalf("login: %d %q, cookie %v", w.Code, w.Body.String(), c)
					}
					near(t, "cookie Max-Age", time.Duration(c.MaxAge)*time.Second, tc.want)
					near(t, "cookie Expires - now", time.Until(c.Expires), tc.want)
					obj, rec := storedCookie(t, store, c)
					near(t, "stored expiry - created", rec.Expiry.Sub(rec.Created), tc.want)
					near(t, "stored expiry - now", time.Until(rec.Expiry), tc.want)
					if express {
						checkExpressCookie(t, obj, c, w.Header().Get("Set-Cookie"), rec.Expiry)
					} else if obj != nil {
						t.Errorf("cookie object %v stored without ExpressSessionCookie", obj)
					}

					// A read inside the touch window writes nothing and
					// re-issues no cookie, remembered or not.
					writes := store.Writes()
					for range 5 {
						r := do(h, "GET", "/me", c)
						if r.Code != 200 || r.Header().Get("Set-Cookie") != "" {
							t.Fatalf("read: %d %q, Set-Cookie %q", r.Code, r.Body.String(), r.Header().Get("Set-Cookie"))
						}
					}
					if got := store.Writes() - writes; got != 0 {
						t.Fatalf("unchanged reads wrote %d times, want 0", got)
					}
				})
			}
		}
	}
}

// agedStore makes every session it loads look age old: created and expiring
// that much earlier than stored, as if the time had gone by.
type agedStore struct {
	sessionkit.Store
	age time.Duration
}

func (s agedStore) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	rec, found, err := s.Store.Load(ctx, id)
	rec.Created, rec.Expiry = rec.Created.Add(-s.age), rec.Expiry.Add(-s.age)
	return rec, found, err
}

// An IdleTimeout touch of an old session is capped at creation + the
// session's own lifetime: not cut to creation + Config.Expiry.Lifetime, not
// extended to now + IdleTimeout.
func TestIdleTouchKeepsTheSessionsLifetime(t *testing.T) {
	t.Parallel()
	const (
		lifetime = time.Hour
		idle     = 2 * time.Hour
		own      = 3 * time.Hour
		age      = 100 * time.Minute // older than Config.Expiry.Lifetime, younger than its own
	)
	for _, express := range []bool{false, true} {
		for _, tc := range []struct {
			name, login string
			// want is the touched expiry from now; 0: no touch, the
			// session ends at its stored expiry (creation + Config.Expiry.Lifetime
			// is already past).
			want time.Duration
		}{
			{"remembered", "/login?d=" + own.String(), own - age},
			{"remembered longer than the idle timeout allows", "/login?d=" + (10 * time.Hour).String(), idle},
			{"default", "/login", 0},
		} {
			t.Run(fmt.Sprintf("express=%v/%s", express, tc.name), func(t *testing.T) {
				t.Parallel()
				store := memStore(t)
				cfg := func(c *sessionkit.Config) {
					c.Expiry.Lifetime, c.Expiry.IdleTimeout, c.Expiry.TouchInterval = lifetime, idle, time.Millisecond
					c.ExpressSessionCookie = express
				}
				m, _ := newManager(t, store, cfg)
				w := do(lifetimeApp(m), "POST", tc.login)
				c := sessionCookie(w)
				if c == nil {
					t.Fatalf("login: %d %q", w.Code, w.Body.String())
				}
				old, _ := newManager(t, agedStore{store, age}, cfg)
				w = do(lifetimeApp(old), "GET", "/me", c)
				touched := sessionCookie(w)
				if tc.want == 0 {
					if touched != nil {
						t.Fatalf("a default session past Config.Expiry.Lifetime was re-issued: %q", w.Header().Get("Set-Cookie"))
					}
					return
				}
				if w.Code != 200 || touched == nil {
					t.Fatalf("touch: %d %q, Set-Cookie %q; want the expiry moved to now + %v", w.Code, w.Body.String(), w.Header().Get("Set-Cookie"), tc.want)
				}
				near(t, "re-issued Max-Age", time.Duration(touched.MaxAge)*time.Second, tc.want)
				obj, rec := storedCookie(t, store, c)
				near(t, "touched stored expiry - now", time.Until(rec.Expiry), tc.want)
				if express {
					checkExpressCookie(t, obj, touched, w.Header().Get("Set-Cookie"), rec.Expiry)
				}
			})
		}
	}
}

// SetLifetime on an existing session moves its stored expiry and cookie at
// once, shorter or longer, inside the touch window and without IdleTimeout.
func TestSetLifetimeLater(t *testing.T) {
	t.Parallel()
	for _, want := range []time.Duration{remembered, 10 * time.Minute} {
		t.Run(want.String(), func(t *testing.T) {
			t.Parallel()
			store := memStore(t)
			m, _ := newManager(t, store, func(c *sessionkit.Config) { c.Expiry.Lifetime = shortLifetime })
			h := lifetimeApp(m)
			c := sessionCookie(do(h, "POST", "/login"))
			w := do(h, "POST", "/lifetime?d="+want.String(), c)
			again := sessionCookie(w)
			if w.Code != 200 || again == nil {
				t.Fatalf("SetLifetime(%v): %d %q, Set-Cookie %q", want, w.Code, w.Body.String(), w.Header().Get("Set-Cookie"))
			}
			near(t, "Max-Age", time.Duration(again.MaxAge)*time.Second, want)
			_, rec := storedCookie(t, store, c)
			near(t, "stored expiry - created", rec.Expiry.Sub(rec.Created), want)
			if do(h, "GET", "/me", c).Code != 200 {
				t.Fatal("the session is gone after SetLifetime")
			}
		})
	}
}

func TestSetLifetimeRefusesBadInput(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, _ := newManager(t, store, nil)
	h := lifetimeApp(m)
	c := sessionCookie(do(h, "POST", "/login"))
	_, before := storedCookie(t, store, c)
	for _, d := range []time.Duration{0, -time.Hour, time.Microsecond, sessionkit.MaxLifetime + time.Millisecond} {
		writes := store.Writes()
		w := do(h, "POST", "/lifetime?d="+d.String(), c)
		if w.Code != http.StatusBadRequest {
			t.Errorf("SetLifetime(%v): %d %q, want refused", d, w.Code, w.Body.String())
		}
		if sc := w.Header().Get("Set-Cookie"); sc != "" || store.Writes() != writes {
			t.Errorf("refused SetLifetime(%v) changed something: Set-Cookie %q, %d writes", d, sc, store.Writes()-writes)
		}
	}
	if _, after := storedCookie(t, store, c); !after.Expiry.Equal(before.Expiry) {
		t.Errorf("stored expiry moved from %v to %v", before.Expiry, after.Expiry)
	}
	// The bound itself is accepted.
	if w := do(h, "POST", "/lifetime?d="+sessionkit.MaxLifetime.String(), c); w.Code != 200 {
		t.Errorf("SetLifetime(MaxLifetime): %d %q", w.Code, w.Body.String())
	}
}

func TestSetLifetimeAfterCommit(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t, memStore(t), nil)
	errc := make(chan error, 1)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sessionkit.From(r)
		w.WriteHeader(200)
		errc <- s.SetLifetime(remembered)
	}))
	w := do(h, "POST", "/")
	if err := <-errc; !errors.Is(err, sessionkit.ErrCommitted) {
		t.Fatalf("SetLifetime after the headers: %v, want ErrCommitted", err)
	}
	if sc := w.Header().Get("Set-Cookie"); sc != "" {
		t.Fatalf("Set-Cookie %q", sc)
	}
}

// An anonymous session may have a lifetime of its own; its metadata then has
// no "user" field, so no store lists it as the sessions of user "".
func TestSetLifetimeOnAnonymousSession(t *testing.T) {
	t.Parallel()
	for storeName, newStore := range lifetimeStores() {
		t.Run(storeName, func(t *testing.T) {
			t.Parallel()
			store := newStore(t)
			m, _ := newManager(t, store, func(c *sessionkit.Config) { c.Expiry.Lifetime = shortLifetime })
			w := do(lifetimeApp(m), "POST", "/lifetime?d="+remembered.String())
			c := sessionCookie(w)
			if w.Code != 200 || c == nil {
				t.Fatalf("SetLifetime on a new session: %d %q, cookie %v", w.Code, w.Body.String(), c)
			}
			near(t, "Max-Age", time.Duration(c.MaxAge)*time.Second, remembered)
			_, rec := storedCookie(t, store, c)
			if meta := string(rec.Values[sessionkit.MetaKey]); strings.Contains(meta, `"user"`) {
				t.Errorf("anonymous session's metadata %s names a user", meta)
			}
			list, err := m.ListSessions(context.Background(), "")
			if err != nil || len(list) != 0 {
				t.Errorf("sessions of user \"\": %v, %v; want none", list, err)
			}
		})
	}
}
