package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const loginBody = `{"email":"ann@example.com","password":"secret pw"}`

func checkHTTP(t *testing.T, o HTTPOptions) *Report {
	t.Helper()
	if o.LoginBody == nil {
		o.LoginBody = []byte(loginBody)
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := CheckHTTP(ctx, o)
	if err != nil {
		t.Fatalf("CheckHTTP: %v", err)
	}
	return r
}

// finding returns the finding with this id (the first, for doctor http).
func finding(t *testing.T, r *Report, id string) Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no finding %q in report:\n%s", id, reportText(r))
	return Finding{}
}

func reportText(r *Report) string {
	var b bytes.Buffer
	_ = r.WriteText(&b, false)
	return b.String()
}

// expect checks a finding's status and that its title names the cause.
func expect(t *testing.T, r *Report, id string, st Status, titleHas ...string) Finding {
	t.Helper()
	f := finding(t, r, id)
	if f.Status != st {
		t.Fatalf("%s: status %s, want %s (%q)\n%s", id, f.Status, st, f.Title, reportText(r))
	}
	for _, s := range titleHas {
		if !strings.Contains(strings.ToLower(f.Title), strings.ToLower(s)) {
			t.Fatalf("%s: title %q does not name %q", id, f.Title, s)
		}
	}
	if (st == Fail || st == Warn) && f.Fix == "" {
		t.Fatalf("%s: %s without a fix", id, st)
	}
	return f
}

func noFail(t *testing.T, r *Report) {
	t.Helper()
	if r.Failed() {
		t.Fatalf("healthy server reported FAIL:\n%s", reportText(r))
	}
}

func TestHTTPHealthyServerIsQuiet(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{Debug: true}, "one secret", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, DebugPath: "/api/_debug/session"})
	noFail(t, r)
	for _, id := range []string{"anonymous.session", "anonymous.protected", "login.status", "cookie.set", "cookie.samesite", "cookie.domain",
		"cookie.path", "cookie.httponly", "cookie.expiry", "cookie.size", "cookie.fixation", "persist.thrash",
		"debug.cookies", "debug.session", "logout.cleared", "logout.replay"} {
		expect(t, r, id, Pass)
	}
	// Over http://127.0.0.1 a non-Secure cookie is what development needs.
	expect(t, r, "cookie.secure", Pass, "http://127.0.0.1")
	// No finding shows a whole cookie value.
	var b bytes.Buffer
	_ = r.WriteJSON(&b)
	if strings.Contains(b.String(), "s%3A") && strings.Contains(b.String(), ".") {
		for _, f := range r.Findings {
			for _, e := range f.Evidence {
				if i := strings.Index(e, "s%3A"); i >= 0 && !strings.Contains(e[i:], "…") {
					t.Fatalf("unredacted cookie value in evidence: %s", e)
				}
			}
		}
	}
}

func TestHTTPHealthyOverHTTPSWithCORS(t *testing.T) {
	srv := newSessServer(srvConfig{Attrs: "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=86400", CORS: "echo", AllowOrigin: "https://app.example.com"}, "k", nil)
	ts := serve(t, srv, true)
	r := checkHTTP(t, HTTPOptions{URL: "https://api.example.com/", Origin: "https://app.example.com", Transport: dialTo(ts.Listener.Addr().String())})
	noFail(t, r)
	expect(t, r, "cookie.secure", Pass)
	expect(t, r, "cors.preflight", Pass)
	expect(t, r, "cors.credentials", Pass)
	expect(t, r, "cors.vary", Pass)
	expect(t, r, "cors.cookie-site", Pass, "same site")
	expect(t, r, "persist.thrash", Pass)
}

func TestHTTPAnonymousSessions(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{SaveUninitialized: true}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL})
	f := expect(t, r, "anonymous.session", Fail, "saveUninitialized")
	if !strings.Contains(strings.Join(f.Evidence, "\n"), "6 of them") {
		t.Fatalf("evidence should count the hits: %q", f.Evidence)
	}
	// The pre-login cookie was sent with the login and replaced by it.
	expect(t, r, "cookie.fixation", Pass)
}

func TestHTTPAnonymousSessionsWithoutLogin(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{SaveUninitialized: true}, "k", nil), false)
	ctx := context.Background()
	r, err := CheckHTTP(ctx, HTTPOptions{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r, "anonymous.session", Fail, "saveUninitialized")
	expect(t, r, "login.skipped", Info)
}

func TestHTTPCSRFCookieIsNotTheSession(t *testing.T) {
	// An XSRF-TOKEN cookie on every response, readable by scripts by design,
	// set before the session cookie: neither the anonymous check nor the
	// cookie checks may take it for the session.
	ts := serve(t, newSessServer(srvConfig{CSRFCookie: true}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 3})
	noFail(t, r)
	expect(t, r, "cookie.set", Pass, `"sid"`)
	expect(t, r, "cookie.httponly", Pass)

	r, err := CheckHTTP(context.Background(), HTTPOptions{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	f := expect(t, r, "anonymous.session", Pass)
	if !strings.Contains(strings.Join(f.Evidence, " "), "XSRF-TOKEN") {
		t.Fatalf("evidence should list the other cookie: %q", f.Evidence)
	}
}

func TestHTTPDifferentSecretsBehindRoundRobin(t *testing.T) {
	store := newMemStore() // one store, as in the field: only the secrets differ
	a := newSessServer(srvConfig{Debug: true}, "secret of instance A", store)
	b := newSessServer(srvConfig{Debug: true}, "secret of instance B", store)
	ts := serve(t, roundRobin(a, b), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, DebugPath: "/api/_debug/session"})
	f := expect(t, r, "persist.thrash", Fail, "comes and goes", "different secrets", "not sharing a store")
	if !strings.Contains(strings.Join(f.Evidence, " "), "401") {
		t.Fatalf("evidence lacks the 401s: %q", f.Evidence)
	}
	expect(t, r, "debug.session", Fail, "different secret")

	// The seed's set-up: saveUninitialized too, so each refusal replaces the
	// browser's cookie and every request after the first fails; replaying
	// the login's cookie still shows the instances disagree.
	a = newSessServer(srvConfig{SaveUninitialized: true}, "secret of instance A", store)
	b = newSessServer(srvConfig{SaveUninitialized: true}, "secret of instance B", store)
	ts = serve(t, roundRobin(a, b), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 6})
	expect(t, r, "persist.thrash", Fail, "thrash", "different secrets")
	expect(t, r, "anonymous.session", Fail, "saveUninitialized")

	// The same two instances with one secret are healthy.
	a = newSessServer(srvConfig{}, "shared", store)
	b = newSessServer(srvConfig{}, "shared", store)
	ts = serve(t, roundRobin(a, b), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL})
	noFail(t, r)
	expect(t, r, "persist.thrash", Pass)

	// Instances that do not share a store look the same from outside.
	a = newSessServer(srvConfig{}, "shared", newMemStore())
	b = newSessServer(srvConfig{}, "shared", newMemStore())
	ts = serve(t, roundRobin(a, b), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL})
	expect(t, r, "persist.thrash", Fail, "not sharing a store")
}

func TestHTTPPersistence(t *testing.T) {
	tests := []struct {
		name   string
		cfg    srvConfig
		status Status
		title  []string
	}{
		{"healthy", srvConfig{}, Pass, []string{"kept the session"}},
		// A new session id on every request: a new store row each time.
		{"new id on every request", srvConfig{RotateOnUser: true}, Fail, []string{"thrash", "new session id"}},
		// The same with an opaque value: maybe a rotating token.
		{"new opaque cookie on every request", srvConfig{RotateOnUser: true, Unsigned: true}, Warn, []string{"replaces the session cookie"}},
		// One route hands out a session it does not keep (another store or
		// secret there): the login's cookie works, the replacement does not.
		{"replaced by a session the server refuses", srvConfig{StrayCookieOnUser: true}, Fail, []string{"replaces the login's cookie", "then refuses"}},
		{"server error after login", srvConfig{UserStatus: http.StatusInternalServerError}, Fail, []string{"neither 2xx nor 401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := serve(t, newSessServer(tt.cfg, "k", nil), false)
			r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 5})
			expect(t, r, "persist.thrash", tt.status, tt.title...)
		})
	}
}

func TestHTTPCookieAttributes(t *testing.T) {
	tests := []struct {
		name    string
		tls     bool
		host    string // the host name the doctor uses
		attrs   string
		pad     int
		id      string
		status  Status
		title   string
		persist Status // persist.thrash
	}{
		{"secure over http", false, "app.example.com", "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.secure", Fail, "browsers drop it", Fail},
		{"secure over http on localhost", false, "127.0.0.1", "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.secure", Warn, "http://127.0.0.1: Chrome and Firefox keep it", Pass},
		{"secure over https", true, "app.example.com", "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.secure", Pass, "", Pass},
		{"not secure over https", true, "app.example.com", "; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600", 0, "cookie.secure", Warn, "lacks Secure", Pass},
		{"samesite none without secure", true, "app.example.com", "; Path=/; HttpOnly; SameSite=None; Max-Age=3600", 0, "cookie.samesite", Fail, "SameSite=None without Secure", Fail},
		{"samesite none with secure", true, "app.example.com", "; Path=/; HttpOnly; Secure; SameSite=None; Max-Age=3600", 0, "cookie.samesite", Pass, "", Pass},
		{"wrong domain", true, "app.example.com", "; Path=/; Domain=example.org; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.domain", Fail, "does not cover the host", Fail},
		{"parent domain", true, "app.example.com", "; Path=/; Domain=.example.com; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.domain", Pass, "", Pass},
		{"domain on a public suffix", true, "shop.vercel.app", "; Path=/; Domain=vercel.app; HttpOnly; Secure; SameSite=Lax", 0, "cookie.domain", Fail, "does not cover", Fail},
		{"httponly off", true, "app.example.com", "; Path=/; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.httponly", Fail, "HttpOnly is off", Pass},
		{"no expiry", true, "app.example.com", "; Path=/; HttpOnly; Secure; SameSite=Lax", 0, "cookie.expiry", Warn, "no Expires or Max-Age", Pass},
		{"too large", true, "app.example.com", "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 4200, "cookie.size", Fail, "browsers drop cookies over 4096", Fail},
		{"path elsewhere", true, "app.example.com", "; Path=/auth; HttpOnly; Secure; SameSite=Lax; Max-Age=3600", 0, "cookie.path", Fail, "does not cover /api/user", Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSessServer(srvConfig{Attrs: tt.attrs, PadID: tt.pad}, "k", nil)
			ts := serve(t, srv, tt.tls)
			scheme := "http"
			if tt.tls {
				scheme = "https"
			}
			_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
			r := checkHTTP(t, HTTPOptions{URL: scheme + "://" + net.JoinHostPort(tt.host, port) + "/", Transport: dialTo(ts.Listener.Addr().String()), Repeat: 4})
			f := expect(t, r, tt.id, tt.status, tt.title)
			if tt.id == "cookie.secure" && tt.status == Fail && !strings.Contains(strings.Join(f.Evidence, " "), "only localhost and loopback addresses are exempt") {
				t.Fatalf("a Secure cookie over http should name the localhost exemption: %q", f.Evidence)
			}
			p := expect(t, r, "persist.thrash", tt.persist)
			if tt.persist == Fail && tt.id != "cookie.path" && !strings.Contains(p.Title, "dropped the login cookie") {
				t.Fatalf("persistence failure should name the dropped cookie: %q", p.Title)
			}
		})
	}
}

func TestHTTPHostPrefix(t *testing.T) {
	srv := newSessServer(srvConfig{Name: "__Host-sid", Attrs: "; Path=/; Domain=example.com; HttpOnly; Secure; SameSite=Lax; Max-Age=60"}, "k", nil)
	ts := serve(t, srv, true)
	r := checkHTTP(t, HTTPOptions{URL: "https://www.example.com/", Transport: dialTo(ts.Listener.Addr().String()), Repeat: 2})
	expect(t, r, "cookie.prefix", Fail, "prefix")

	srv = newSessServer(srvConfig{Name: "__Host-sid", Attrs: "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=60"}, "k", nil)
	ts = serve(t, srv, true)
	r = checkHTTP(t, HTTPOptions{URL: "https://www.example.com/", Transport: dialTo(ts.Listener.Addr().String()), Repeat: 2})
	expect(t, r, "cookie.prefix", Pass)
	noFail(t, r)
}

func TestHTTPFixation(t *testing.T) {
	// The login keeps whatever session the browser had.
	ts := serve(t, newSessServer(srvConfig{NoRegenerate: true}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 3})
	expect(t, r, "cookie.fixation", Fail, "session fixation")

	// Same, with an anonymous session handed out before the login.
	ts = serve(t, newSessServer(srvConfig{NoRegenerate: true, SaveUninitialized: true}, "k", nil), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 3})
	expect(t, r, "cookie.fixation", Fail, "session fixation")

	// The browser drops the login's cookie (Secure over http): the second
	// login carries it by hand, since fixation is the server's doing, and
	// says so.
	insecure := "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600"
	for _, regenerate := range []bool{false, true} {
		ts = serve(t, newSessServer(srvConfig{Attrs: insecure, NoRegenerate: !regenerate}, "k", nil), false)
		_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
		r = checkHTTP(t, HTTPOptions{URL: "http://app.example.com:" + port, Transport: dialTo(ts.Listener.Addr().String()), Repeat: 2})
		want := Fail
		if regenerate {
			want = Pass
		}
		f := expect(t, r, "cookie.fixation", want)
		if ev := strings.Join(f.Evidence, " "); !strings.Contains(ev, "by hand") {
			t.Fatalf("regenerate=%v: the evidence should say the cookie was sent by hand: %q", regenerate, f.Evidence)
		}
	}

	// A cookie the browser keeps but does not send to the login's path: the
	// login sent by hand regenerates the session, and the browser keeps the
	// new cookie, so staying logged in still works.
	ts = serve(t, newSessServer(srvConfig{Attrs: "; Path=/api/user; HttpOnly; SameSite=Lax; Max-Age=3600"}, "k", nil), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 3, NoLogout: true})
	expect(t, r, "cookie.fixation", Pass)
	expect(t, r, "persist.thrash", Pass)
}

func TestHTTPLoginWithoutCookie(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{NoCookieOnLogin: true}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL})
	expect(t, r, "cookie.set", Fail, "sets no cookie")
}

func TestHTTPPublicProtectedPath(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{PublicUser: true}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 3})
	expect(t, r, "anonymous.protected", Warn, "without a session")

	// A path that does not exist is not one that refuses anonymous requests.
	ts = serve(t, newSessServer(srvConfig{}, "k", nil), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, ProtectedPath: "/nope", Repeat: 2})
	f := expect(t, r, "anonymous.protected", Warn, "answers 404", "not 401")
	if !strings.Contains(strings.Join(f.Evidence, " "), "3×404") {
		t.Fatalf("evidence should count the statuses: %q", f.Evidence)
	}
}

func TestHTTPCORS(t *testing.T) {
	secure := "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=3600"
	none := "; Path=/; HttpOnly; Secure; SameSite=None; Max-Age=3600"
	tests := []struct {
		name   string
		cfg    srvConfig
		origin string
		id     string
		status Status
		title  string
	}{
		{"wildcard with credentials", srvConfig{Attrs: none, CORS: "*"}, "https://app.example.net", "cors.credentials", Fail, "Access-Control-Allow-Origin: *"},
		{"wildcard preflight", srvConfig{Attrs: none, CORS: "*"}, "https://app.example.net", "cors.preflight", Fail, "preflight fails"},
		{"no cors at all", srvConfig{Attrs: none}, "https://app.example.net", "cors.credentials", Fail, "no Access-Control-Allow-Origin"},
		{"other origin allowed", srvConfig{Attrs: none, CORS: "fixed", AllowOrigin: "https://admin.example.net"}, "https://app.example.net", "cors.credentials", Fail, "is not the origin"},
		{"exact echo", srvConfig{Attrs: none, CORS: "echo", AllowOrigin: "https://app.example.net"}, "https://app.example.net", "cors.credentials", Pass, ""},
		{"no vary", srvConfig{Attrs: none, CORS: "echo", AllowOrigin: "https://app.example.net", NoVary: true}, "https://app.example.net", "cors.vary", Warn, "Vary: Origin"},
		{"lax cookie cross-site", srvConfig{Attrs: secure, CORS: "echo", AllowOrigin: "https://app.example.net"}, "https://app.example.net", "cors.cookie-site", Fail, "will not send the session cookie cross-site"},
		{"none cookie cross-site", srvConfig{Attrs: none, CORS: "echo", AllowOrigin: "https://app.example.net"}, "https://app.example.net", "cors.cookie-site", Fail, "third-party"},
		{"lax cookie same-site", srvConfig{Attrs: secure, CORS: "echo", AllowOrigin: "https://app.example.com"}, "https://app.example.com", "cors.cookie-site", Pass, "same site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := serve(t, newSessServer(tt.cfg, "k", nil), true)
			r := checkHTTP(t, HTTPOptions{URL: "https://api.example.com/", Origin: tt.origin, Transport: dialTo(ts.Listener.Addr().String()), Repeat: 3})
			expect(t, r, tt.id, tt.status, tt.title)
		})
	}
	// A Lax cookie cross-site: the browser ignores it on the login's
	// response, so the session never sticks, and the doctor says why.
	ts := serve(t, newSessServer(srvConfig{Attrs: secure, CORS: "echo", AllowOrigin: "https://app.example.net"}, "k", nil), true)
	r := checkHTTP(t, HTTPOptions{URL: "https://api.example.com/", Origin: "https://app.example.net", Transport: dialTo(ts.Listener.Addr().String()), Repeat: 3})
	expect(t, r, "persist.thrash", Fail, "dropped the login cookie", "SameSite", "cross-site")
}

func TestHTTPLogout(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{KeepOnLogout: true}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2})
	expect(t, r, "logout.replay", Fail, "still works after logout")
	expect(t, r, "logout.cleared", Pass)

	ts = serve(t, newSessServer(srvConfig{NoClearOnLogout: true}, "k", nil), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2})
	expect(t, r, "logout.cleared", Warn, "leaves the session cookie")
	expect(t, r, "logout.replay", Pass)

	r = checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2, LogoutPath: "/nope"})
	expect(t, r, "logout.cleared", Warn, "no logout endpoint")
}

func TestHTTPDebugEndpoint(t *testing.T) {
	// A proxy in front drops the Cookie header.
	ts := serve(t, stripCookies(newSessServer(srvConfig{Debug: true}, "k", nil)), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, DebugPath: "/api/_debug/session", Repeat: 3})
	expect(t, r, "debug.cookies", Fail, "no Cookie header")
	expect(t, r, "persist.thrash", Fail, "never recognised")

	// The debug route runs without the session middleware: it never sees
	// the login, though the cookie arrives.
	ts = serve(t, newSessServer(srvConfig{Debug: true, DebugNoSession: true}, "k", nil), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, DebugPath: "/api/_debug/session", Repeat: 2})
	expect(t, r, "debug.cookies", Pass)
	expect(t, r, "debug.session", Fail, "does not see the login")

	// Debug endpoint disabled.
	ts = serve(t, newSessServer(srvConfig{}, "k", nil), false)
	r = checkHTTP(t, HTTPOptions{URL: ts.URL, DebugPath: "/api/_debug/session", Repeat: 2})
	expect(t, r, "debug.cookies", Warn, "404")
}

func TestRunHTTPExitCodes(t *testing.T) {
	healthy := serve(t, newSessServer(srvConfig{}, "k", nil), false)
	broken := serve(t, newSessServer(srvConfig{SaveUninitialized: true}, "k", nil), false)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // expected in stdout
		err   string // expected in stderr
	}{
		{"healthy, flags after the URL, password on stdin", []string{"http", healthy.URL, "--email", "ann@example.com", "--repeat", "3"}, "secret pw\n", 0, "PASS", ""},
		{"healthy json", []string{"http", "--json", "--body", loginBody, healthy.URL, "--repeat=2"}, "", 0, `"summary"`, ""},
		{"wrong password", []string{"http", healthy.URL, "--email", "ann@example.com"}, "nope\n", 1, "login failed with status 401", ""},
		{"wrong login path", []string{"http", healthy.URL, "--body", loginBody, "--login", "/nope"}, "", 1, "no login at POST /nope (status 404)", ""},
		{"saveUninitialized", []string{"http", broken.URL, "--body", loginBody, "--repeat", "2"}, "", 1, "FAIL", ""},
		{"unreachable", []string{"http", closed, "--body", loginBody}, "", 2, "", "cannot reach"},
		{"no URL", []string{"http"}, "", 2, "", "need exactly one URL"},
		{"bad URL", []string{"http", "ftp://x"}, "", 2, "", "not an http or https URL"},
		{"bad body", []string{"http", healthy.URL, "--body", "{"}, "", 2, "", "not valid JSON"},
		{"body and email", []string{"http", healthy.URL, "--body", "{}", "--email", "a"}, "pw\n", 2, "", "not both"},
		{"email without password", []string{"http", healthy.URL, "--email", "a"}, "", 2, "", "password"},
		{"unknown flag", []string{"http", healthy.URL, "--nope"}, "", 2, "", "flag provided but not defined"},
		{"unknown subcommand", []string{"x"}, "", 2, "", "unknown subcommand"},
		{"no subcommand", nil, "", 2, "", "usage"},
		{"help", []string{"http", "-h"}, "", 0, "-protected", ""},
		{"db help", []string{"db", "--help"}, "", 0, "DATABASE_URL", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), tt.args, strings.NewReader(tt.stdin), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.err) {
				t.Fatalf("stdout %q / stderr %q lack %q / %q", out.String(), errb.String(), tt.out, tt.err)
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Fatal("colour codes in output that is not a terminal")
			}
		})
	}
}

func TestRunHTTPJSONDocument(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{Attrs: "; Path=/; SameSite=None; Max-Age=60"}, "k", nil), false)
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"http", ts.URL, "--json", "--body", loginBody, "--repeat", "2"}, nil, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	var doc struct {
		Kind     string `json:"kind"`
		Target   string `json:"target"`
		Findings []struct {
			ID, Status, Title, Fix string
			Evidence               []string
		} `json:"findings"`
		Summary struct {
			Status string
			Fail   int
		} `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if doc.Kind != "http" || doc.Target != ts.URL+"/" || doc.Summary.Status != "FAIL" || doc.Summary.Fail == 0 {
		t.Fatalf("document: %+v", doc)
	}
	var saw bool
	for _, f := range doc.Findings {
		if f.ID == "cookie.samesite" && f.Status == "FAIL" && f.Fix != "" && len(f.Evidence) > 0 {
			saw = true
		}
	}
	if !saw {
		t.Fatalf("no cookie.samesite FAIL with evidence and fix: %s", out.String())
	}
}

func TestHTTPPlainTextReportIsGrouped(t *testing.T) {
	ts := serve(t, newSessServer(srvConfig{}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2})
	txt := reportText(r)
	last := -1
	for _, s := range []string{secAnon, secLogin, secCookie, secThrash, secLogout} {
		i := strings.Index(txt, "\n"+s+"\n")
		if i < 0 || i < last {
			t.Fatalf("section %q missing or out of order:\n%s", s, txt)
		}
		last = i
	}
	var col bytes.Buffer
	_ = r.WriteText(&col, true)
	if !strings.Contains(col.String(), "\x1b[32mPASS") {
		t.Fatal("colour output lacks a green PASS")
	}
}

var _ http.Handler = (*sessServer)(nil)

func TestSameCookieHeader(t *testing.T) {
	tests := []struct {
		sent, got    string
		same, masked bool
	}{
		{"a=1; sid=s%3Aabc.def", "a=1; sid=s%3Aabc.def", true, false},
		{"a=1; sid=s%3Aabc.def", "a=[redacted]; sid=[redacted]", true, true},
		{"sid=s%3Aabcdef.ghi", "sid=s%3Aabc…", true, true},
		{"sid=s%3Aabcdef.ghi", "sid=s%3Axyz…", false, false},
		{"a=1; sid=x", "sid=[redacted]", false, false},
		{"sid=x", "other=[redacted]", false, false},
		{"sid=x", "sid=y", false, false},
	}
	for _, tt := range tests {
		same, masked := sameCookieHeader(tt.sent, tt.got)
		if same != tt.same || masked != tt.masked {
			t.Errorf("sameCookieHeader(%q, %q) = %v, %v; want %v, %v", tt.sent, tt.got, same, masked, tt.same, tt.masked)
		}
	}
	if !sameID("abcdef123", "abcdef…") || sameID("abcdef123", "abcxyz…") || !sameID("abc", "abc") || sameID("abc", "…") {
		t.Error("sameID")
	}
}

// TestHTTPCookieShadowing: a session cookie another host of the site could
// plant a same-name copy of is a warning; a __Host- name passes; localhost
// has no sibling hosts and gets no finding.
func TestHTTPCookieShadowing(t *testing.T) {
	for _, tc := range []struct {
		name, cookie, attrs string
		want                Status
		has                 string
	}{
		{"host-only, plain name", "sid", "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=60", Warn, "shadowed"},
		{"shared with subdomains", "sid", "; Path=/; Domain=example.com; HttpOnly; Secure; SameSite=Lax; Max-Age=60", Warn, "shadowed"},
		{"__Host- name", "__Host-sid", "; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=60", Pass, "__Host-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := serve(t, newSessServer(srvConfig{Name: tc.cookie, Attrs: tc.attrs}, "k", nil), true)
			r := checkHTTP(t, HTTPOptions{URL: "https://www.example.com/", Transport: dialTo(ts.Listener.Addr().String()), Repeat: 2})
			expect(t, r, "cookie.shadowing", tc.want, tc.has)
		})
	}
	ts := serve(t, newSessServer(srvConfig{Name: "sid", Attrs: "; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"}, "k", nil), false)
	r := checkHTTP(t, HTTPOptions{URL: ts.URL, Repeat: 2})
	for _, f := range r.Findings {
		if f.ID == "cookie.shadowing" {
			t.Fatalf("a finding on %s, which has no sibling hosts: %q", ts.URL, f.Title)
		}
	}
}
