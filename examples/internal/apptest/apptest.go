// Package apptest runs the same log-in / read / log-out walk against each
// framework example, through a real HTTP server and a cookie jar, as a
// browser would.
package apptest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
)

// CookieName is the session cookie's name: sessionkit's default.
const CookieName = "sessionkit.sid"

// Walk serves h and checks: a read before log-in is a 401 and sets no
// cookie; POST /api/login {"user":"ada"} is a 200 with the session cookie;
// GET /api/user answers the user; POST /api/logout clears the cookie; the
// next read, and a replay of the old cookie, are 401. unmounted is the path
// of a GET route that reads the session without the middleware: it must be
// answered with a 500 (sessionkit.ErrNoMiddleware), not a panic, which
// would reach the client as a broken connection.
func Walk(t *testing.T, h http.Handler, unmounted string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	var loggedIn *http.Cookie // the cookie the log-in set, replayed at the end

	steps := []struct {
		name, method, path, body string
		replay                   bool // send loggedIn instead of the jar's cookies
		wantStatus               int
		wantBody                 string // a substring of the response body
		check                    func(t *testing.T, resp *http.Response)
	}{
		{name: "read before log-in", method: "GET", path: "/api/user", wantStatus: 401,
			check: func(t *testing.T, resp *http.Response) {
				if c := sessionCookie(resp); c != nil {
					t.Errorf("an anonymous read set a cookie: %v", c)
				}
			}},
		{name: "log in", method: "POST", path: "/api/login", body: `{"user":"ada"}`, wantStatus: 200,
			check: func(t *testing.T, resp *http.Response) {
				loggedIn = sessionCookie(resp)
				if loggedIn == nil || loggedIn.Value == "" || loggedIn.MaxAge < 0 {
					t.Fatalf("log-in set no session cookie: %q", resp.Header.Values("Set-Cookie"))
				}
			}},
		{name: "read", method: "GET", path: "/api/user", wantStatus: 200, wantBody: `"ada"`},
		{name: "log out", method: "POST", path: "/api/logout", wantStatus: 204,
			check: func(t *testing.T, resp *http.Response) {
				if c := sessionCookie(resp); c == nil || c.MaxAge >= 0 {
					t.Errorf("log-out did not clear the cookie: %q", resp.Header.Values("Set-Cookie"))
				}
				if cookies := jar.Cookies(resp.Request.URL); len(cookies) != 0 {
					t.Errorf("the jar still holds %v after log-out", cookies)
				}
			}},
		{name: "read after log-out", method: "GET", path: "/api/user", wantStatus: 401},
		{name: "replay of the logged-in cookie", method: "GET", path: "/api/user", replay: true, wantStatus: 401},
		{name: "route without the middleware", method: "GET", path: unmounted, wantStatus: 500},
	}
	for _, step := range steps {
		req, err := http.NewRequestWithContext(t.Context(), step.method, srv.URL+step.path, strings.NewReader(step.body))
		if err != nil {
			t.Fatal(err)
		}
		if step.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		c := client
		if step.replay {
			c = &http.Client{} // no jar: only the replayed cookie
			req.AddCookie(loggedIn)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: reading the body: %v", step.name, err)
		}
		if resp.StatusCode != step.wantStatus || !strings.Contains(string(body), step.wantBody) {
			t.Fatalf("%s: %s %s = %d %q, want %d with %q",
				step.name, step.method, step.path, resp.StatusCode, body, step.wantStatus, step.wantBody)
		}
		if step.check != nil {
			step.check(t, resp)
		}
	}
}

// sessionCookie returns the session cookie a response sets, or nil.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}
