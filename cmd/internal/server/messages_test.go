package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestSecureOverHTTPWarningNamesSettings: production's Secure cookie set over
// plain HTTP is said once, in the settings a serve user changes
// (TRUSTED_PROXIES, APP_ENV), not in the library's Config field names.
func TestSecureOverHTTPWarningNamesSettings(t *testing.T) {
	var logs syncBuffer
	cfg := baseConfig(t)
	cfg.Production = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	h := start(t, cfg)
	h.addUser("ada@example.com", "correct horse battery staple")
	h.login("ada@example.com", "correct horse battery staple", nil)
	h.login("ada@example.com", "correct horse battery staple", nil)
	out := logs.String()
	if n := strings.Count(out, "not HTTPS"); n != 1 {
		t.Fatalf("warned %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "TRUSTED_PROXIES") || !strings.Contains(out, "APP_ENV=production") || strings.Contains(out, "TrustedProxies") {
		t.Fatalf("the warning does not name the serve settings:\n%s", out)
	}
}

// TestProductionDebugIs404JSON: with the debug endpoint off, as in
// production, its 404 is JSON like every other /api answer, and says which
// setting turns it on; an unknown /api path is a JSON 404 too.
func TestProductionDebugIs404JSON(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Debug = false
	h := start(t, cfg)
	for path, want := range map[string]string{"/api/_debug/session": "SESSION_DEBUG=1", "/api/nope": "not found"} {
		r := h.do("GET", path, "", nil)
		if r.StatusCode != http.StatusNotFound || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %q %q; want a JSON 404", path, r.StatusCode, r.Header.Get("Content-Type"), r.body)
		}
		if msg, _ := r.json(t)["error"].(string); !strings.Contains(msg, want) {
			t.Fatalf("GET %s: error %q lacks %q", path, msg, want)
		}
	}
}
