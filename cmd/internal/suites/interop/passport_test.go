package interop

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestPassport runs the shared-session scenarios against the Node app's
// passport-local variant (passport 0.7, pinned in the lock file), which
// keeps only the user id, in req.session.passport.user, with serve's
// SESSION_USER_KEY=passport.user: a passport log-in is a logged-in user on
// Go, a log-in on Go is req.user on Node (passport's deserializeUser reads
// what Go wrote), a log-out on either side ends it on both, and a
// passport user serve does not know is 401 on Go with the row kept.
func TestPassport(t *testing.T) {
	t.Parallel()
	s := startStackWith(t, stackOptions{users: 6, passport: true})
	t.Run("log in on Node, read on Go", func(t *testing.T) {
		u := s.users[0]
		b := newBrowser(t)
		b.login(s.nodeURL, u)
		var raw string
		if err := s.pool.QueryRow(t.Context(), `SELECT sess::text FROM "`+s.schema+`"."session" WHERE sess->'passport'->>'user' = $1`,
			fmt.Sprint(u.ID)).Scan(&raw); err != nil {
			t.Fatalf("no row with passport.user %d: %v", u.ID, err)
		}
		before := s.rowVersion(t, u)
		sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
		b.must(200, "GET", s.goURL+"/api/sessions", nil)
		if after := s.rowVersion(t, u); after != before {
			t.Errorf("Go's reads wrote the passport session (version %s → %s)", before, after)
		}
		sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
		sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
	})
	t.Run("log in on Go, req.user on Node", func(t *testing.T) {
		u := s.users[1]
		b := newBrowser(t)
		b.login(s.goURL, u)
		var passport struct {
			User json.Number `json:"user"`
		}
		var raw []byte
		if err := s.pool.QueryRow(t.Context(), `SELECT sess->'passport' FROM "`+s.schema+`"."session" WHERE sess->>'email' = $1`,
			u.Email).Scan(&raw); err != nil || json.Unmarshal(raw, &passport) != nil || passport.User.String() != fmt.Sprint(u.ID) {
			t.Fatalf("Go's log-in wrote passport = %s (%v); want {\"user\":%d}", raw, err, u.ID)
		}
		sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
		b.must(200, "POST", s.nodeURL+"/api/node-key", map[string]string{"value": "from-node"})
		sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
	})
	t.Run("log out on either side", func(t *testing.T) { logoutEitherSide(t, s, s.users[2], s.users[3]) })
	t.Run("keys written by both", func(t *testing.T) { passportKeys(t, s, s.users[4]) })
	t.Run("Node user unknown to Go", func(t *testing.T) { unknownToGo(t, s) })
	s.noErrors(t)
}

// passportKeys is keysFromBothSides for passport sessions, which hold no
// email key when Node made them.
func passportKeys(t *testing.T, s *stack, u user) {
	b := newBrowser(t)
	b.login(s.nodeURL, u)
	b.must(200, "POST", s.goURL+"/api/go-key?value=from-go", nil)
	b.must(200, "POST", s.nodeURL+"/api/node-key", map[string]string{"value": "from-node"})
	for _, side := range []string{s.goURL, s.nodeURL} {
		var keys map[string]any
		body := b.must(200, "GET", side+"/api/keys", nil)
		if err := json.Unmarshal([]byte(body), &keys); err != nil {
			t.Fatal(err)
		}
		if keys["goKey"] != "from-go" || keys["nodeKey"] != "from-node" || fmt.Sprint(keys["passport"]) != fmt.Sprintf("map[user:%d]", u.ID) {
			t.Errorf("%s reads the keys %s; want goKey, nodeKey and passport.user %d", side, body, u.ID)
		}
	}
	sameUser(t, "Go", b.must(200, "GET", s.goURL+"/api/user", nil), u)
	sameUser(t, "Node", b.must(200, "GET", s.nodeURL+"/api/user", nil), u)
}
