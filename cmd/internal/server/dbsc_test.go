package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/internal/dbscclient"
)

// TestDBSC: with DBSC=on, a log-in offers registration; a browser key
// registers at /dbsc/register and gets a bound cookie; the session list
// marks the session device-bound; the session cookie alone is refused; a
// refresh answers a challenge, then a new bound cookie for the signed
// proof; after log-out the refresh answers {"continue": false}.
func TestDBSC(t *testing.T) {
	forEachBackend(t, func(c *server.Config) { c.DBSC = true }, func(t *testing.T, h *harness) {
		h.addUser(testEmail, testPassword)
		login := h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil)
		session := login.cookie()
		regs, ok := dbscclient.ParseRegistration(login.Header.Get("Secure-Session-Registration"))
		if login.StatusCode != 200 || session == nil || !ok || regs[0].Path != "/dbsc/register" {
			t.Fatalf("log-in: %d, registration %q", login.StatusCode, login.Header.Get("Secure-Session-Registration"))
		}
		key, err := dbscclient.NewKey("ES256")
		if err != nil {
			t.Fatal(err)
		}
		reg := h.do("POST", regs[0].Path, "", session, "Secure-Session-Response", `"`+key.Proof(regs[0].Challenge, true)+`"`)
		in, err := dbscclient.ParseInstructions([]byte(reg.body))
		if reg.StatusCode != 200 || err != nil || in.RefreshURL != "/dbsc/refresh" || reg.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("registration: %d %q (%v), Cache-Control %q", reg.StatusCode, reg.body, err, reg.Header.Get("Cache-Control"))
		}
		bound := boundCookie(t, reg)
		both := session.Name + "=" + session.Value + "; " + bound

		var l struct {
			Sessions []struct {
				Current     bool `json:"current"`
				DeviceBound bool `json:"deviceBound"`
			} `json:"sessions"`
		}
		list := h.do("GET", "/api/sessions", "", nil, "Cookie", both)
		if err := json.Unmarshal([]byte(list.body), &l); err != nil || len(l.Sessions) != 1 || !l.Sessions[0].DeviceBound || !l.Sessions[0].Current {
			t.Fatalf("sessions = %d %s; want one, current and device-bound", list.StatusCode, list.body)
		}
		expectStatus(t, h.do("GET", "/api/user", "", nil, "Cookie", both), 200, "")
		expectStatus(t, h.do("GET", "/api/user", "", session), 401, `{"error":"not authenticated"}`)

		sid := `"` + in.SessionIdentifier + `"`
		challenged := h.do("POST", in.RefreshURL, "", session, "Sec-Secure-Session-Id", sid)
		challenge, id, ok := dbscclient.ParseChallenge(challenged.Header.Get("Secure-Session-Challenge"))
		if challenged.StatusCode != 403 || !ok || id != in.SessionIdentifier {
			t.Fatalf("refresh without a proof: %d, challenge %q", challenged.StatusCode, challenged.Header.Get("Secure-Session-Challenge"))
		}
		refreshed := h.do("POST", in.RefreshURL, "", session, "Sec-Secure-Session-Id", sid,
			"Secure-Session-Response", `"`+key.Proof(challenge, false)+`"`)
		if refreshed.StatusCode != 200 {
			t.Fatalf("refresh: %d %q", refreshed.StatusCode, refreshed.body)
		}
		both = session.Name + "=" + session.Value + "; " + boundCookie(t, refreshed)

		expectStatus(t, h.do("POST", "/api/logout", "", nil, "Cookie", both), 200, "")
		ended := h.do("POST", in.RefreshURL, "", session, "Sec-Secure-Session-Id", sid)
		if got, err := dbscclient.ParseInstructions([]byte(ended.body)); ended.StatusCode != 200 || err != nil || !got.Ended() {
			t.Fatalf("refresh after log-out: %d %q", ended.StatusCode, ended.body)
		}
	})
}

// boundCookie returns the bound cookie a DBSC answer set, as name=value.
func boundCookie(t *testing.T, r reply) string {
	t.Helper()
	for _, c := range r.Cookies() {
		if c.Name == "sessionkit.bound" && c.MaxAge > 0 {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("%s %s set no bound cookie: %v", r.Request.Method, r.Request.URL.Path, r.Header["Set-Cookie"])
	return ""
}

// TestDBSCOff: without DBSC, a log-in offers nothing and the endpoints do
// not exist.
func TestDBSCOff(t *testing.T) {
	t.Parallel()
	h := start(t, baseConfig(t))
	h.addUser(testEmail, testPassword)
	login := h.do("POST", "/api/login", loginBody(testEmail, testPassword), nil)
	if login.StatusCode != 200 || login.Header.Get("Secure-Session-Registration") != "" {
		t.Fatalf("log-in: %d, registration %q", login.StatusCode, login.Header.Get("Secure-Session-Registration"))
	}
	if r := h.do("POST", "/dbsc/refresh", "", login.cookie(), "Sec-Secure-Session-Id", `"x"`); r.StatusCode != 404 {
		t.Fatalf("POST /dbsc/refresh with DBSC off = %d, want 404", r.StatusCode)
	}
}

func TestLoadConfigDBSC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		env  []string
		want bool
		err  string
	}{
		{nil, nil, false, ""},
		{[]string{"--dbsc"}, nil, true, ""},
		{nil, []string{"DBSC", "on"}, true, ""},
		{[]string{"--dbsc=off"}, []string{"DBSC", "on"}, false, ""},
		{nil, []string{"DBSC", "maybe"}, false, "DBSC (--dbsc)"},
	}
	for _, tc := range tests {
		l, err := server.LoadConfig(tc.args, envOf(tc.env...), nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LoadConfig(%q, %q) = %v; want an error naming %s", tc.args, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || l.Config.DBSC != tc.want {
			t.Errorf("LoadConfig(%q, %q): DBSC %v, %v; want %v", tc.args, tc.env, l.Config.DBSC, err, tc.want)
		}
	}
}
