package sessionkit_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit"
)

// TestSameNameCookieAttacks writes each attack on same-name cookies as the
// request sequence that performs it. A browser sends every cookie whose
// domain and path match, longer Path first, so a sibling subdomain (Domain=
// the parent) or a longer Path can put a cookie of the attacker's choosing
// before or beside the victim's.
func TestSameNameCookieAttacks(t *testing.T) {
	t.Parallel()
	store := memStore(t)
	m, logs := newManager(t, store, nil)
	h := app(m)
	name := sessionkit.DefaultCookieName

	t.Run("the attacker's live cookie planted first does not swap the victim into the attacker's account", func(t *testing.T) {
		victim := login(t, h, "victim")
		attacker := login(t, h, "attacker")
		w := sendHeader(h, "GET", "/user", pair(attacker)+"; "+pair(victim))
		if w.Body.String() == "attacker" {
			t.Fatal("the victim's request was answered as the attacker's account")
		}
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("two live sessions: %d %q, want 401 (ambiguous: no session)", w.Code, w.Body.String())
		}
		if !strings.Contains(logs.String(), "session_cookie_conflict") {
			t.Fatal("the conflict was not logged as a security event")
		}
		// Logging in again ends both, and the new session is the only live
		// one, even with the planted cookie still sent first.
		w = sendHeader(h, "POST", "/login?user=victim", pair(attacker)+"; "+pair(victim))
		fresh := sessionCookie(w)
		if w.Code != 200 || fresh == nil {
			t.Fatalf("log-in again: %d", w.Code)
		}
		if w := sendHeader(h, "GET", "/user", pair(attacker)+"; "+pair(fresh)); w.Code != 200 || w.Body.String() != "victim" {
			t.Fatalf("after logging in again: %d %q, want the victim", w.Code, w.Body.String())
		}
	})

	t.Run("a dead but validly signed cookie first does not log the victim out", func(t *testing.T) {
		dead := login(t, h, "attacker")
		do(h, "POST", "/logout", dead)
		victim := login(t, h, "victim")
		if w := sendHeader(h, "GET", "/user", pair(dead)+"; "+pair(victim)); w.Code != 200 || w.Body.String() != "victim" {
			t.Fatalf("dead cookie first: %d %q, want the victim", w.Code, w.Body.String())
		}
	})

	t.Run("junk cookies first do not log the victim out", func(t *testing.T) {
		victim := login(t, h, "victim")
		junk := strings.Repeat(name+"=x; "+name+"=s%3Aabc.AAAA; ", 50)
		if w := sendHeader(h, "GET", "/user", junk+pair(victim)); w.Code != 200 || w.Body.String() != "victim" {
			t.Fatalf("100 junk cookies first: %d %q, want the victim", w.Code, w.Body.String())
		}
	})

	t.Run("log-out behind junk ends the live session", func(t *testing.T) {
		victim := login(t, h, "victim")
		w := sendHeader(h, "POST", "/logout", name+"=x; "+name+"=y; "+name+"=z; "+pair(victim))
		if w.Code != 200 {
			t.Fatalf("log-out: %d", w.Code)
		}
		if w := do(h, "GET", "/user", victim); w.Code != http.StatusUnauthorized {
			t.Fatalf("the session survived a log-out answered 200: %d %q", w.Code, w.Body.String())
		}
	})

	t.Run("log-out ends every validly signed candidate", func(t *testing.T) {
		a, b := login(t, h, "victim"), login(t, h, "victim")
		if w := sendHeader(h, "POST", "/logout", pair(a)+"; "+pair(b)); w.Code != 200 {
			t.Fatalf("log-out: %d", w.Code)
		}
		for _, c := range []*http.Cookie{a, b} {
			if w := do(h, "GET", "/user", c); w.Code != http.StatusUnauthorized {
				t.Fatalf("a candidate survived the log-out: %d %q", w.Code, w.Body.String())
			}
		}
	})
}
