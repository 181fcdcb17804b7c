package browser

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/testkit/sessiontest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseVerdicts(t *testing.T) {
	big := strings.Repeat("x", 4100)
	tests := []struct {
		name     string
		url, raw string
		stored   bool
		deletion bool
		problem  Code // a problem code expected ("" none)
	}{
		{"plain", "http://example.com/", "sid=abc; Path=/; HttpOnly; SameSite=Lax", true, false, ""},
		{"secure over http", "http://app.example.com/", "sid=abc; Secure", false, false, "secure-over-http"},
		{"secure over https", "https://app.example.com/", "sid=abc; Secure", true, false, ""},
		{"secure on localhost", "http://localhost:3000/", "sid=abc; Secure", true, false, "secure-localhost"},
		{"secure on 127.0.0.1", "http://127.0.0.1:3000/", "sid=abc; Secure", true, false, "secure-localhost"},
		{"samesite none without secure", "https://example.com/", "sid=abc; SameSite=None", false, false, "samesite-none-insecure"},
		{"samesite none with secure", "https://example.com/", "sid=abc; SameSite=None; Secure", true, false, ""},
		{"domain covering host", "http://api.example.com/", "sid=abc; Domain=.example.com", true, false, ""},
		{"domain equal to host", "http://example.com/", "sid=abc; Domain=example.com", true, false, ""},
		{"domain not covering host", "http://api.example.com/", "sid=abc; Domain=example.org", false, false, "domain-mismatch"},
		{"domain sibling", "http://api.example.com/", "sid=abc; Domain=app.example.com", false, false, "domain-mismatch"},
		{"domain public suffix", "http://shop.vercel.app/", "sid=abc; Domain=vercel.app", false, false, "domain-public-suffix"},
		{"domain tld", "http://example.com/", "sid=abc; Domain=com", false, false, "domain-public-suffix"},
		{"domain on ip", "http://127.0.0.1/", "sid=abc; Domain=localhost", false, false, "domain-ip"},
		{"secure prefix ok", "https://example.com/", "__Secure-sid=abc; Secure", true, false, ""},
		{"secure prefix without secure", "https://example.com/", "__Secure-sid=abc", false, false, "prefix-secure"},
		{"host prefix ok", "https://example.com/", "__Host-sid=abc; Secure; Path=/", true, false, ""},
		{"host prefix with domain", "https://www.example.com/", "__Host-sid=abc; Secure; Path=/; Domain=example.com", false, false, "prefix-host"},
		{"host prefix without path", "https://example.com/a/b", "__Host-sid=abc; Secure", false, false, "prefix-host"},
		{"too large", "http://example.com/", "sid=" + big, false, false, "too-large"},
		{"max-age zero deletes", "http://example.com/", "sid=; Max-Age=0", false, true, ""},
		{"expires past deletes", "http://example.com/", "sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", false, true, ""},
		{"bad expires ignored", "http://example.com/", "sid=a; Expires=soon", true, false, "bad-expires"},
		{"no name", "http://example.com/", "=", false, false, "no-name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Parse(tt.raw, sessiontest.MustURL(t, tt.url), t0)
			if v.Stored != tt.stored || v.Deletion != tt.deletion {
				t.Fatalf("Stored=%v Deletion=%v, want %v %v; problems %+v", v.Stored, v.Deletion, tt.stored, tt.deletion, v.Problems)
			}
			if tt.problem != "" && !v.Has(tt.problem) {
				t.Fatalf("problems %+v lack %q", v.Problems, tt.problem)
			}
			if tt.problem == "" && len(v.Problems) > 0 {
				t.Fatalf("unexpected problems %+v", v.Problems)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	u := sessiontest.MustURL(t, "http://example.com/")
	v := Parse("a=1; Max-Age=60; Expires=Thu, 01 Jan 2099 00:00:00 GMT", u, t0)
	if !v.Cookie.Expires.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Max-Age must win over Expires: %v", v.Cookie.Expires)
	}
	v = Parse("a=1; Expires=Sun, 01 Mar 2026 13:00:00 GMT", u, t0)
	if !v.Cookie.Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Expires: %v", v.Cookie.Expires)
	}
	if v := Parse("a=1", u, t0); v.Cookie.Persistent() {
		t.Fatal("no Expires/Max-Age must be a session cookie")
	}
	if v := Parse("a=1; Max-Age=99999999999", u, t0); !v.Has("expiry-capped") || !v.Cookie.Expires.Equal(t0.Add(400*24*time.Hour)) {
		t.Fatalf("400-day cap: %+v", v)
	}
}

func TestJarSendRules(t *testing.T) {
	now := t0
	j := NewJar(func() time.Time { return now })
	api := sessiontest.MustURL(t, "https://api.example.com/login")
	j.Set(api, "host=1; Path=/", false)
	j.Set(api, "dom=2; Domain=example.com; Path=/", false)
	j.Set(api, "deep=3; Path=/api", false)
	j.Set(api, "lax=4; Path=/; SameSite=Lax", false)
	j.Set(api, "none=5; Path=/; SameSite=None; Secure", false)
	j.Set(api, "short=6; Path=/; Max-Age=10", false)
	j.Set(api, "sec=7; Path=/; Secure", false)
	j.Set(api, "rel=8", false) // default path: /

	names := func(u string, cross bool) string {
		var n []string
		for _, c := range j.Cookies(sessiontest.MustURL(t, u), cross) {
			n = append(n, c.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names("https://api.example.com/api/user", false); got != "deep,host,dom,lax,none,short,sec,rel" {
		t.Fatalf("same-site request: %s", got)
	}
	if got := names("https://www.example.com/", false); got != "dom" {
		t.Fatalf("other subdomain gets only the domain cookie: %s", got)
	}
	if got := names("http://api.example.com/", false); strings.Contains(got, "sec") || strings.Contains(got, "none") {
		t.Fatalf("Secure cookies must not go over http: %s", got)
	}
	if got := names("https://api.example.com/apix", false); strings.Contains(got, "deep") {
		t.Fatalf("Path=/api must not match /apix: %s", got)
	}
	if got := names("https://api.example.com/", true); got != "" {
		t.Fatalf("cross-site fetch sends no cookie (Lax: SameSite; None: third-party, as Chromium): %s", got)
	}
	now = now.Add(time.Minute)
	if got := names("https://api.example.com/", false); strings.Contains(got, "short") {
		t.Fatalf("expired cookie sent: %s", got)
	}
	// Deletion with the same path removes; with another path does not.
	j.Set(api, "host=; Path=/x; Max-Age=0", false)
	if !strings.Contains(names("https://api.example.com/", false), "host") {
		t.Fatal("a deletion with another Path must not remove the cookie")
	}
	j.Set(api, "host=; Path=/; Max-Age=0", false)
	if strings.Contains(names("https://api.example.com/", false), "host") {
		t.Fatal("deletion did not remove the cookie")
	}
	// A cross-site fetch's response sets only SameSite=None cookies.
	if v := j.Set(api, "x=1; Path=/; SameSite=Lax", true); v.Stored || !v.Has("samesite-cross-site") {
		t.Fatalf("Lax cookie from a cross-site response: %+v", v)
	}
	if v := j.Set(api, "y=1; Path=/; SameSite=None; Secure", true); v.Stored || !v.Has("third-party") || v.Has("samesite-cross-site") {
		t.Fatalf("None cookie from a cross-site response is a blocked third-party cookie: %+v", v)
	}
	// A rejected header changes nothing.
	j.Set(sessiontest.MustURL(t, "http://api.example.com/"), "dom=evil; Domain=example.com; Path=/; Secure", false)
	if h := j.Header(sessiontest.MustURL(t, "https://api.example.com/"), false); !strings.Contains(h, "dom=2") {
		t.Fatalf("rejected cookie replaced a stored one: %s", h)
	}
}

func TestSite(t *testing.T) {
	tests := []struct{ host, site string }{
		{"api.example.com", "example.com"},
		{"example.com", "example.com"},
		{"a.b.example.co.uk", "example.co.uk"},
		{"myapp.vercel.app", "myapp.vercel.app"},
		{"localhost", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
	}
	for _, tt := range tests {
		if got := Site(tt.host); got != tt.site {
			t.Errorf("Site(%s) = %s, want %s", tt.host, got, tt.site)
		}
	}
	if !SameSite(sessiontest.MustURL(t, "http://localhost:5173"), sessiontest.MustURL(t, "http://localhost:3000")) {
		t.Error("ports must not matter")
	}
	if SameSite(sessiontest.MustURL(t, "https://web.vercel.app"), sessiontest.MustURL(t, "https://api.vercel.app")) {
		t.Error("two vercel.app apps are different sites")
	}
}
