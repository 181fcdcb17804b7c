package sessionkit_test

import (
	"bytes"

	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/dbscclient"
)

// testClock is the device-bound sessions' clock in tests, moved by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newDBSCKey makes a browser's session key for alg.
func newDBSCKey(t testing.TB, alg string) *dbscclient.Key {
	t.Helper()
	k, err := dbscclient.NewKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dbscBrowser plays a browser's side of the DBSC draft against a test
// server: it keeps cookies, registers a key when a response offers it
// (Secure-Session-Registration), caches challenges (Secure-Session-Challenge),
// and, before a request, refreshes a session whose bound cookie is missing
// or expired by the test clock, answering the refresh endpoint's 403
// challenge. With key nil it is a browser without DBSC.
type dbscBrowser struct {
	t      testing.TB
	base   string
	client *http.Client
	clock  *testClock
	key    *dbscclient.Key

	// The device-bound session, once registered.
	sessionID  string
	refreshURL string
	cookieName string
	boundUntil time.Time
	challenge  string
	// Counters for the tests.
	registrations, refreshes, challenged int
	lastRefresh                          *http.Response
}

func newDBSCBrowser(t testing.TB, base string, clock *testClock, key *dbscclient.Key) *dbscBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &dbscBrowser{t: t, base: base, client: &http.Client{Jar: jar}, clock: clock, key: key}
}

// bound reports whether the browser holds a device-bound session.
func (b *dbscBrowser) bound() bool { return b.sessionID != "" }

// Do sends a request as a page would, deferring it behind a refresh when
// its bound cookie is due, and returns the status and body.
func (b *dbscBrowser) Do(method, path string) (int, string) {
	b.t.Helper()
	if b.bound() && !b.clock.Now().Before(b.boundUntil) {
		b.refresh()
	}
	resp := b.send(method, path, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.observe(resp)
	return resp.StatusCode, string(body)
}

func (b *dbscBrowser) send(method, path string, header http.Header) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.resolve(path), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

func (b *dbscBrowser) resolve(path string) string {
	u, err := url.Parse(b.base)
	if err != nil {
		b.t.Fatal(err)
	}
	ref, err := url.Parse(path)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.ResolveReference(ref).String()
}

// observe processes a response's DBSC headers.
func (b *dbscBrowser) observe(resp *http.Response) {
	b.t.Helper()
	b.cacheChallenge(resp)
	if b.key == nil {
		return
	}
	for _, v := range resp.Header.Values("Secure-Session-Registration") {
		regs, _ := dbscclient.ParseRegistration(v)
		for _, reg := range regs {
			if slices.Contains(reg.Algs, b.key.Alg) {
				b.register(reg.Path, reg.Challenge)
				return
			}
		}
	}
}

func (b *dbscBrowser) cacheChallenge(resp *http.Response) {
	for _, v := range resp.Header.Values("Secure-Session-Challenge") {
		if c, id, ok := dbscclient.ParseChallenge(v); ok && id == b.sessionID {
			b.challenge = c
		}
	}
}

func (b *dbscBrowser) register(path, challenge string) {
	b.t.Helper()
	resp := b.send("POST", path, http.Header{"Secure-Session-Response": {`"` + b.key.Proof(challenge, true) + `"`}})
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		b.t.Fatalf("registration: %d %s", resp.StatusCode, body)
	}
	b.registrations++
	b.apply(resp, "")
}

// apply takes a registration's or refresh's instructions, as the draft's
// "create a session" does, ending the session on continue: false.
func (b *dbscBrowser) apply(resp *http.Response, sid string) {
	b.t.Helper()
	body, _ := io.ReadAll(resp.Body)
	in, err := dbscclient.ParseInstructions(body)
	if err != nil {
		b.t.Fatalf("%v: %s", err, body)
	}
	if in.Ended() {
		b.sessionID = ""
		return
	}
	if len(in.Credentials) != 1 || (sid != "" && sid != in.SessionIdentifier) {
		b.t.Fatalf("session instructions: %s", body)
	}
	b.sessionID, b.refreshURL, b.cookieName = in.SessionIdentifier, in.RefreshURL, in.Credentials[0].Name
	b.boundUntil = time.Time{}
	for _, c := range resp.Cookies() {
		if c.Name == b.cookieName && c.MaxAge > 0 {
			b.boundUntil = b.clock.Now().Add(time.Duration(c.MaxAge) * time.Second)
		}
	}
	if b.boundUntil.IsZero() {
		b.t.Fatalf("no bound cookie %q set: %v", b.cookieName, resp.Header["Set-Cookie"])
	}
	b.cacheChallenge(resp)
}

// refresh asks for a new bound cookie, signing the cached challenge and,
// on 403, the one the answer carries; other 4xx answers end the session.
func (b *dbscBrowser) refresh() {
	b.t.Helper()
	b.refreshes++
	for attempt := 0; attempt < 3; attempt++ {
		h := http.Header{"Sec-Secure-Session-Id": {`"` + b.sessionID + `"`}}
		if b.challenge != "" {
			h.Set("Secure-Session-Response", `"`+b.key.Proof(b.challenge, false)+`"`)
		}
		resp := b.send("POST", b.refreshURL, h)
		b.lastRefresh = resp
		switch {
		case resp.StatusCode == http.StatusForbidden:
			resp.Body.Close()
			b.challenged++
			old := b.challenge
			b.cacheChallenge(resp)
			if b.challenge == old {
				b.t.Fatalf("refresh: 403 without a new challenge")
			}
			continue
		case resp.StatusCode == 200:
			b.apply(resp, b.sessionID)
			resp.Body.Close()
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			b.sessionID = ""
			resp.Body.Close()
		default:
			resp.Body.Close()
		}
		return
	}
	b.t.Fatalf("refresh: still challenged after 3 attempts")
}

// cookie returns the browser's cookie named name for the server, or nil.
func (b *dbscBrowser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// post sends one raw request with the given headers and cookies, as an
// attacker's script would, and returns the response (body read).
func post(t testing.TB, target string, header http.Header, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", target, bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	if req.Header == nil {
		req.Header = http.Header{}
	}
	for _, c := range cookies {
		if c != nil {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}
