package server_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEWalkThrough plays the README's walk-through (log in, read the
// user, log out, read again) against serve's defaults and compares each
// response the README shows with the real one: the status line, every
// header name in order, and each header's value, with only what differs on
// every run (dates, the cookie's id and signature) masked. The README
// cannot drift from what serve sends.
func TestREADMEWalkThrough(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Walk-through\n")
	if !ok {
		t.Fatal("README has no Walk-through section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var shown []string
	for _, block := range strings.Split(section, "```") {
		if block = strings.TrimLeft(block, "\n"); strings.HasPrefix(block, "HTTP/1.1 ") {
			shown = append(shown, block)
		}
	}
	if len(shown) != 4 {
		t.Fatalf("README's walk-through shows %d responses, want 4 (log-in, user, log-out, user)", len(shown))
	}

	cfg := baseConfig(t)
	cfg.Debug = false
	h := start(t, cfg)
	h.addUser("ada@example.com", "correct horse battery staple")
	login := h.do("POST", "/api/login", loginBody("ada@example.com", "correct horse battery staple"), nil)
	cookie := login.cookie()
	if cookie == nil {
		t.Fatalf("log-in set no cookie: %d %s", login.StatusCode, login.body)
	}
	got := []reply{
		login,
		h.do("GET", "/api/user", "", cookie),
		h.do("POST", "/api/logout", "", cookie),
		h.do("GET", "/api/user", "", cookie),
	}
	for i, r := range got {
		want, have := normalize(shown[i]), normalize(dump(r))
		if !slices.Equal(want, have) {
			t.Errorf("README's response %d (%s %s) differs from serve's:\nREADME:\n%s\nserve:\n%s",
				i+1, r.Request.Method, r.Request.URL.Path, strings.Join(want, "\n"), strings.Join(have, "\n"))
		}
	}
}

// dump writes r as curl -i shows it: status line, headers in the order
// net/http writes them (the handler's sorted, then Date and Content-Length),
// a blank line, the body.
func dump(r reply) string {
	var sb strings.Builder
	sb.WriteString("HTTP/1.1 " + r.Status + "\n")
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if k != "Date" && k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	keys = append(keys, "Date", "Content-Length")
	for _, k := range keys {
		for _, v := range r.Header[k] {
			sb.WriteString(k + ": " + v + "\n")
		}
	}
	sb.WriteString("\n" + r.body)
	return sb.String()
}

var (
	httpDate    = regexp.MustCompile(`[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT`)
	cookieValue = regexp.MustCompile(`=s%3A[^;]+`)
)

// normalize masks what differs on every run: dates, and the cookie's id
// and signature.
func normalize(s string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			out = append(out, line)
			continue
		}
		line = httpDate.ReplaceAllString(line, "<date>")
		line = cookieValue.ReplaceAllString(line, "=s%3A<id>.<signature>")
		out = append(out, line)
	}
	return out
}
