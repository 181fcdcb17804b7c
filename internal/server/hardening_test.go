package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/internal/server"
)

// serveReal runs the server the way `sessionkit serve` does (Serve on a
// listener, with its http.Server settings), not behind httptest's.
func serveReal(t *testing.T, cfg server.Config) *harness {
	t.Helper()
	srv, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return")
		}
		srv.Close()
	})
	return &harness{t: t, cfg: cfg, srv: srv, url: "http://" + ln.Addr().String()}
}

// post sends body to path with exactly the Content-Type given ("" for
// none) and no Origin, as curl or a script would.
func (h *harness) post(path, contentType, body string) reply {
	h.t.Helper()
	req, err := http.NewRequestWithContext(h.t.Context(), "POST", h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply{resp, string(b)}
}

// TestLoginBodyIsStrict: the log-in accepts application/json only, and an
// object whose keys are exactly "email" and "password", each once, so a
// body means the same to every parser on its way.
func TestLoginBodyIsStrict(t *testing.T) {
	h := start(t, baseConfig(t))
	h.addUser(testEmail, testPassword)
	good := loginBody(testEmail, testPassword)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"text/plain, as a cross-site form or a no-preflight fetch sends", "text/plain", good, 415, "application/json"},
		{"form-encoded", "application/x-www-form-urlencoded", good, 415, "application/json"},
		{"no Content-Type", "", good, 415, "application/json"},
		{"JSON look-alike type", "application/jsonp", good, 415, "application/json"},
		{"duplicate key, the last one right", "application/json", `{"email":"eve@example.com","email":"` + testEmail + `","password":"` + testPassword + `"}`, 400, `duplicate key "email"`},
		{"case-folded key", "application/json", `{"EMAIL":"` + testEmail + `","password":"` + testPassword + `"}`, 400, `unknown key "EMAIL"`},
		{"unknown key", "application/json", `{"email":"` + testEmail + `","password":"` + testPassword + `","admin":true}`, 400, `unknown key "admin"`},
		{"application/json with a charset", "application/json; charset=utf-8", good, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.post("/api/login", tc.contentType, tc.body)
			if r.StatusCode != tc.status {
				t.Fatalf("status = %d %s, want %d", r.StatusCode, r.body, tc.status)
			}
			if e, _ := r.json(t)["error"].(string); tc.want != "" && !strings.Contains(e, tc.want) {
				t.Fatalf("error %q; want it to say %s", e, tc.want)
			}
			if tc.status != 200 && r.cookie() != nil {
				t.Fatal("a refused log-in set a cookie")
			}
		})
	}
}

// TestHeaderSize: serve refuses 900 KiB of headers with 431 before any
// handler runs, and still takes a browser's worth of same-name cookies
// in front of the real one.
func TestHeaderSize(t *testing.T) {
	h := serveReal(t, baseConfig(t))
	h.addUser(testEmail, testPassword)
	c := h.login(testEmail, testPassword, nil)

	r := h.do("GET", "/api/user", "", c, "X-Padding", strings.Repeat("a", 900<<10))
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("900 KiB of headers: %d, want 431", r.StatusCode)
	}

	junk := strings.Repeat("sessionkit.sid=s%3Ajunk.AAAA; ", 150)
	r = h.do("GET", "/api/user", "", nil, "Cookie", junk+c.Name+"="+c.Value)
	expectStatus(t, r, 200, "")
}
