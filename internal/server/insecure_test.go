package server_test

import (
	"log/slog"
	"strings"
	"testing"
)

// String returns what was logged so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

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
