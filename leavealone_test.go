package sessionkit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// TestLeaveAlone: a request that calls LeaveAlone saves nothing of its
// session: not its own Put, not the idle touch that would otherwise move
// the expiry and re-send the cookie.
func TestLeaveAlone(t *testing.T) {
	store := memstore.New(memstore.Config{})
	t.Cleanup(func() { store.Close() })
	m, _ := newManager(t, store, func(c *sessionkit.Config) { c.Expiry.IdleTimeout = time.Minute })
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sessionkit.From(r)
		if err != nil {
			t.Error(err)
			return
		}
		var v int
		if _, err := s.Get("v", &v); err != nil {
			t.Error(err)
			return
		}
		if err := s.Put("v", v+1); err != nil {
			t.Error(err)
			return
		}
		if r.URL.Query().Has("leave") {
			if err := s.LeaveAlone(); err != nil {
				t.Error(err)
			}
		}
	}))
	c := sessionCookie(do(h, "GET", "/"))
	if c == nil {
		t.Fatal("the first request set no cookie")
	}
	rec, _, err := store.Load(t.Context(), sessionkit.HashID(idOf(t, c)))
	if err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "/?leave", c); sessionCookie(w) != nil {
		t.Errorf("LeaveAlone's response set a cookie: %q", w.Header().Values("Set-Cookie"))
	}
	after, found, err := store.Load(t.Context(), sessionkit.HashID(idOf(t, c)))
	if err != nil || !found {
		t.Fatalf("Load = %v, %v", found, err)
	}
	if string(after.Values["v"]) != "1" || !after.Expiry.Equal(rec.Expiry) {
		t.Errorf("after LeaveAlone the session holds v=%s, expiry %v; want v=1 and expiry %v unchanged", after.Values["v"], after.Expiry, rec.Expiry)
	}
}
