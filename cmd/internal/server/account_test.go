package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/storetest"
)

// sessionsList is GET /api/sessions's body, as a client reads it.
type sessionsList struct {
	Sessions []struct {
		Handle    string `json:"handle"`
		Current   bool   `json:"current"`
		UserAgent string `json:"userAgent"`
		Address   string `json:"address"`
		LastSeen  string `json:"lastSeen"`
	} `json:"sessions"`
	RecentAuth bool `json:"recentAuth"`
}

// listSessions is GET /api/sessions with cookie.
func listSessions(t *testing.T, h *harness, r reply) sessionsList {
	t.Helper()
	if r.StatusCode != 200 {
		t.Fatalf("GET /api/sessions = %d %s", r.StatusCode, r.body)
	}
	var l sessionsList
	if err := json.Unmarshal([]byte(r.body), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// loginAs logs in from a browser with this User-Agent.
func (h *harness) loginAs(ua, password string) reply {
	h.t.Helper()
	return h.do("POST", "/api/login", loginBody(testEmail, password), nil, "User-Agent", ua)
}

// TestASVS_7_5_2_ViewAndEndSessions: users see their sessions (this one
// marked, no session ids) and end any of them; the ended session is refused
// on its next request. Nobody ends another user's session by its handle.
func TestASVS_7_5_2_ViewAndEndSessions(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		h.addUser("bob@example.com", testPassword)
		phone := h.loginAs("Phone/1.0", testPassword).cookie()
		laptop := h.loginAs("Laptop/2.0", testPassword).cookie()
		bob := h.login("bob@example.com", testPassword, nil)

		l := listSessions(t, h, h.do("GET", "/api/sessions", "", laptop))
		if len(l.Sessions) != 2 || !l.Sessions[0].Current || l.Sessions[1].Current ||
			l.Sessions[0].UserAgent != "Laptop/2.0" || l.Sessions[1].UserAgent != "Phone/1.0" || !l.RecentAuth {
			t.Fatalf("sessions = %+v; want the laptop (current) then the phone, a recent log-in", l)
		}
		if a := l.Sessions[0].Address; a != "127.0.0.0/24" {
			t.Fatalf("address %q, want the coarse 127.0.0.0/24", a)
		}
		body := h.do("GET", "/api/sessions", "", laptop).body
		for _, c := range []string{phone.Value, laptop.Value} {
			id := strings.SplitN(strings.TrimPrefix(c, "s%3A"), ".", 2)[0]
			if strings.Contains(body, id) {
				t.Fatalf("the session list holds a session id: %s", body)
			}
		}
		phoneHandle := l.Sessions[1].Handle

		expectStatus(t, h.do("DELETE", "/api/sessions/"+phoneHandle, "", bob), 404, `{"error":"no such session"}`)
		expectStatus(t, h.do("GET", "/api/user", "", phone), 200, "")
		expectStatus(t, h.do("DELETE", "/api/sessions/"+phoneHandle, "", laptop), 200, `{"ok":true}`)
		expectStatus(t, h.do("GET", "/api/user", "", phone), 401, `{"error":"not authenticated"}`)
		expectStatus(t, h.do("DELETE", "/api/sessions/"+phoneHandle, "", laptop), 404, "")
		expectStatus(t, h.do("GET", "/api/user", "", laptop), 200, "")
		expectStatus(t, h.do("GET", "/api/user", "", bob), 200, "")

		// Ending the current session is a log-out.
		r := h.do("DELETE", "/api/sessions/"+l.Sessions[0].Handle, "", laptop)
		if r.StatusCode != 200 || r.Header.Get("Clear-Site-Data") == "" {
			t.Fatalf("DELETE own session = %d %v", r.StatusCode, r.Header)
		}
		expectStatus(t, h.do("GET", "/api/user", "", laptop), 401, "")
		expectStatus(t, h.do("GET", "/api/sessions", "", laptop), 401, `{"error":"not authenticated"}`)
	})
}

// TestASVS_7_5_1_7_5_3_EndingOtherSessionsNeedsRecentLogin: after the
// re-authentication window, ending another session needs the password:
// without it 403 with a clear error, with a wrong one 403, with the right
// one it works.
func TestASVS_7_5_1_7_5_3_EndingOtherSessionsNeedsRecentLogin(t *testing.T) {
	stale := func(c *server.Config) { c.ReauthWindow = time.Nanosecond }
	forEachBackend(t, stale, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		phone := h.loginAs("Phone", testPassword).cookie()
		laptop := h.loginAs("Laptop", testPassword).cookie()
		l := listSessions(t, h, h.do("GET", "/api/sessions", "", laptop))
		if l.RecentAuth {
			t.Fatal("recentAuth true outside the window")
		}
		expectStatus(t, h.do("POST", "/api/sessions/revoke-others", "", laptop), 403,
			`{"error":"recent log-in required: log in again, or send your password as {\"password\":\"…\"}"}`)
		expectStatus(t, h.do("DELETE", "/api/sessions/"+l.Sessions[1].Handle, "", laptop), 403, "")
		expectStatus(t, h.do("POST", "/api/sessions/revoke-others", `{"password":"wrong password"}`, laptop), 403, `{"error":"wrong password"}`)
		expectStatus(t, h.do("GET", "/api/user", "", phone), 200, "")
		expectStatus(t, h.do("POST", "/api/sessions/revoke-others", `{"password":`, laptop), 400, "")
		expectStatus(t, h.do("POST", "/api/sessions/revoke-others", `{"password":"`+testPassword+`"}`, laptop), 200, `{"ok":true,"ended":1}`)
		expectStatus(t, h.do("GET", "/api/user", "", phone), 401, "")
		expectStatus(t, h.do("GET", "/api/user", "", laptop), 200, "")
	})
	// Within the window (the default 10 minutes), no password is needed.
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		phone := h.loginAs("Phone", testPassword).cookie()
		laptop := h.loginAs("Laptop", testPassword).cookie()
		expectStatus(t, h.do("POST", "/api/sessions/revoke-others", "", laptop), 200, `{"ok":true,"ended":1}`)
		expectStatus(t, h.do("GET", "/api/user", "", phone), 401, "")
	})
}

// TestASVS_7_4_3_7_5_1_PasswordChangeEndsOtherSessions: changing the password
// needs the current one (ASVS 7.5.1), ends every other session and
// regenerates the current one.
func TestASVS_7_4_3_7_5_1_PasswordChangeEndsOtherSessions(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		phone := h.loginAs("Phone", testPassword).cookie()
		laptop := h.loginAs("Laptop", testPassword).cookie()
		const newPassword = "a much better passphrase"
		change := func(current, next string) string {
			b, _ := json.Marshal(map[string]string{"current": current, "new": next})
			return string(b)
		}
		expectStatus(t, h.do("POST", "/api/password", change("wrong password", newPassword), laptop), 403, `{"error":"wrong password"}`)
		expectStatus(t, h.do("POST", "/api/password", change(testPassword, "short"), laptop), 400, `{"error":"the new password must be 8 to 72 bytes"}`)
		expectStatus(t, h.do("POST", "/api/password", `{"new":"x"}`, laptop), 400, "")
		expectStatus(t, h.do("GET", "/api/user", "", phone), 200, "")

		r := h.do("POST", "/api/password", change(testPassword, newPassword), laptop)
		expectStatus(t, r, 200, `{"ok":true,"ended":1}`)
		renewed := r.cookie()
		if renewed == nil || renewed.Value == laptop.Value {
			t.Fatalf("the current session was not regenerated: cookie %v", renewed)
		}
		expectStatus(t, h.do("GET", "/api/user", "", phone), 401, "")
		expectStatus(t, h.do("GET", "/api/user", "", laptop), 401, "")
		expectStatus(t, h.do("GET", "/api/user", "", renewed), 200, "")
		expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil), 401, "")
		h.login(testEmail, newPassword, nil)
	})
}

// TestASVS_7_4_2_DisabledUserIsLoggedOut: disabling an account ends all
// its sessions and refuses its log-ins; removing it ends them too.
func TestASVS_7_4_2_DisabledUserIsLoggedOut(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		h.addUser("bob@example.com", testPassword)
		a1, a2 := h.login(testEmail, testPassword, nil), h.login(testEmail, testPassword, nil)
		bob := h.login("bob@example.com", testPassword, nil)
		n, err := h.srv.DB().DisableUser(t.Context(), testEmail)
		if err != nil || n != 2 {
			t.Fatalf("DisableUser = %d, %v; want 2 sessions ended", n, err)
		}
		expectStatus(t, h.do("GET", "/api/user", "", a1), 401, "")
		expectStatus(t, h.do("GET", "/api/user", "", a2), 401, "")
		expectStatus(t, h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil), 401, `{"error":"invalid login"}`)
		expectStatus(t, h.do("GET", "/api/user", "", bob), 200, "")
		if err := h.srv.DB().EnableUser(t.Context(), testEmail); err != nil {
			t.Fatal(err)
		}
		c := h.login(testEmail, testPassword, nil)
		if n, err := h.srv.DB().RemoveUser(t.Context(), testEmail); err != nil || n != 1 {
			t.Fatalf("RemoveUser = %d, %v; want 1 session ended", n, err)
		}
		expectStatus(t, h.do("GET", "/api/user", "", c), 401, "")
	})
}

// TestASVS_7_1_2_SessionLimit: the server's documented limit of sessions
// per user (MAX_SESSIONS_PER_USER) ends the oldest at the limit.
func TestASVS_7_1_2_SessionLimit(t *testing.T) {
	forEachBackend(t, func(c *server.Config) { c.MaxSessionsPerUser = 2 }, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		first := h.login(testEmail, testPassword, nil)
		time.Sleep(2 * time.Millisecond) // creation times order the sessions (SQLite keeps milliseconds)
		second := h.login(testEmail, testPassword, nil)
		time.Sleep(2 * time.Millisecond)
		third := h.login(testEmail, testPassword, nil)
		expectStatus(t, h.do("GET", "/api/user", "", first), 401, "")
		expectStatus(t, h.do("GET", "/api/user", "", second), 200, "")
		expectStatus(t, h.do("GET", "/api/user", "", third), 200, "")
		if l := listSessions(t, h, h.do("GET", "/api/sessions", "", third)); len(l.Sessions) != 2 {
			t.Fatalf("%d sessions, want 2", len(l.Sessions))
		}
	})
}

// TestLoggedInReadWritesNothing: with the session bound to its user (for
// the session list), an unchanged logged-in read, of the user or of the
// session list, still writes nothing to the store.
func TestLoggedInReadWritesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			cfg := baseConfig(t)
			configure(&cfg, b.Setup(t))
			var counter *storetest.Counter
			cfg.WrapStore = func(s sessionkit.Store) sessionkit.Store {
				counter = &storetest.Counter{Store: s}
				return counter
			}
			h := start(t, cfg)
			h.addUser(testEmail, testPassword)
			c := h.login(testEmail, testPassword, nil)
			before := counter.Writes()
			for range 3 {
				expectStatus(t, h.do("GET", "/api/user", "", c), 200, "")
				expectStatus(t, h.do("GET", "/api/sessions", "", c), 200, "")
			}
			if w := counter.Writes() - before; w != 0 {
				t.Fatalf("six logged-in reads made %d store writes, want 0", w)
			}
			if counter.Loads.Load() == 0 {
				t.Fatal("the counter saw no loads: it is not the server's store")
			}
		})
	}
}
