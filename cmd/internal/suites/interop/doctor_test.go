package interop

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/sessionkit/sessionkit/cmd/internal/chromium"
	"github.com/sessionkit/sessionkit/cmd/internal/doctor"
	"github.com/sessionkit/sessionkit/cmd/internal/testkit/browsertest"
	"github.com/sessionkit/sessionkit/pgstore/pgtest"
)

// TestDoctorInChromium: `doctor http --browser chromium` passes the
// express-session app as it passes sessionkit beside it, although the
// express app's `/` is a 404 carrying Content-Security-Policy: default-src
// 'none', which blocks every fetch from a page there: Chromium runs the
// log-in from the doctor's own page at the app's origin, so no page of the
// app plays a part. The model agrees with Chromium on both.
func TestDoctorInChromium(t *testing.T) {
	t.Parallel()
	s := startStack(t, "", 2)
	resp, err := http.Get(s.nodeURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("the express app's / has Content-Security-Policy %q: the test needs one that blocks fetch", csp)
	}
	browser := browsertest.NewWith(t, chromium.PageFlags()...)
	for i, app := range []struct{ name, url string }{{"express-session", s.nodeURL}, {"sessionkit", s.goURL}} {
		t.Run(app.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]string{"email": s.users[i].Email, "password": password})
			if err != nil {
				t.Fatal(err)
			}
			r, err := doctor.CheckHTTP(t.Context(), doctor.HTTPOptions{URL: app.url, LoginBody: body, Repeat: 3, Browser: doctor.BrowserChromium, Chromium: browser})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := r.WriteText(&out, false); err != nil {
				t.Fatal(err)
			}
			if r.Failed() {
				t.Fatalf("a FAIL:\n%s", out.String())
			}
			for _, want := range []string{`Chromium stored the session cookie "` + cookieName + `"`, "all 3 requests kept the session in Chromium"} {
				if !strings.Contains(out.String(), want) {
					t.Fatalf("report lacks %q:\n%s", want, out.String())
				}
			}
			for _, f := range r.Findings {
				if f.ID == "browser.model" {
					t.Fatalf("the model disagrees with Chromium: %s\n%s", f.Title, out.String())
				}
			}
		})
	}

	// express-session with cookie.secure: true sets no cookie at all over a
	// plain connection: the report says first that the request was plain.
	t.Run("express-session, cookie.secure over plain HTTP", func(t *testing.T) {
		url := startNode(t, s.nodeLog, map[string]string{
			"DATABASE_URL": pgtest.URL(), "SESSION_SCHEMA": s.schema, "SESSION_SECRET": secret,
			"COOKIE_NAME": cookieName, "USERS": s.usersJSON(t), "COOKIE_SECURE": "1",
		})
		body, err := json.Marshal(map[string]string{"email": s.users[0].Email, "password": password})
		if err != nil {
			t.Fatal(err)
		}
		r, err := doctor.CheckHTTP(t.Context(), doctor.HTTPOptions{URL: url, LoginBody: body, Repeat: 2})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := r.WriteText(&out, false); err != nil {
			t.Fatal(err)
		}
		if !r.Failed() || !strings.Contains(out.String(), "FAIL  the login response sets no cookie") ||
			!strings.Contains(out.String(), "fix: This request was plain HTTP: express-session with cookie.secure: true sets no cookie") {
			t.Fatalf("want the missing cookie explained by the plain HTTP request first:\n%s", out.String())
		}
	})
	// The doctor replays the logged-out cookie on purpose (logout.replay),
	// which sessionkit reports as a warning; anything else is an error.
	for _, line := range strings.Split(s.goLog.String(), "\n") {
		if (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) && !strings.Contains(line, "reason=expired") {
			t.Errorf("sessionkit logged: %s", line)
		}
	}
	for _, line := range strings.Split(s.nodeLog.String(), "\n") {
		if strings.Contains(strings.ToLower(line), "error") {
			t.Errorf("express logged: %s", line)
		}
	}
}
