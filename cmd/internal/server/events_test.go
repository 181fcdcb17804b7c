package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit/cmd/internal/server"
	"github.com/sessionkit/sessionkit/internal/testkit/poll"
)

// TestASVS_16_3_1_SessionEventsAreLogged: each session event serve sees is one line of
// the security stream, event=session_<kind>, with its reason, the user and
// the session's handle (never its id), and is counted in /metrics by kind
// and reason.
func TestASVS_16_3_1_SessionEventsAreLogged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		edit          func(*server.Config)
		event, reason string
		level         string
		run           func(t *testing.T, h *harness) *http.Cookie
	}{
		{"authenticated", nil, "session_authenticated", "", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			return h.login(testEmail, testPassword, nil)
		}},
		{"refreshed", func(c *server.Config) { c.IdleTimeout = time.Second }, "session_refreshed", "", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			c := h.login(testEmail, testPassword, nil)
			time.Sleep(150 * time.Millisecond) // past the touch interval, a tenth of the idle timeout
			r := h.do("GET", "/api/user", "", c)
			expectStatus(t, r, 200, "")
			if r.cookie() == nil {
				t.Fatal("the read past the touch interval did not re-issue the cookie")
			}
			return c
		}},
		{"ended by log-out", nil, "session_ended", "logout", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			c := h.login(testEmail, testPassword, nil)
			expectStatus(t, h.do("POST", "/api/logout", "", c), 200, "")
			return c
		}},
		{"ended by revocation", nil, "session_ended", "revoked", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			c := h.login(testEmail, testPassword, nil)
			expectStatus(t, h.do("POST", "/api/sessions/revoke-others", "", h.login(testEmail, testPassword, nil)), 200, "")
			return c
		}},
		{"ended by a password change", nil, "session_ended", "password_change", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			c := h.login(testEmail, testPassword, nil)
			body := `{"current":"` + testPassword + `","new":"another good password"}`
			expectStatus(t, h.do("POST", "/api/password", body, h.login(testEmail, testPassword, nil)), 200, "")
			return c
		}},
		{"ended by disabling", nil, "session_ended", "disabled", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			// Disabled between the password check and the session's save:
			// the log-in's re-check ends the session.
			server.SetAfterPasswordCheck(h.srv, func() {
				if _, err := h.srv.DB().DisableUser(t.Context(), testEmail); err != nil {
					t.Error(err)
				}
			})
			return h.login(testEmail, testPassword, nil)
		}},
		{"ended by expiry", func(c *server.Config) { c.SessionTTL = 300 * time.Millisecond }, "session_ended", "expired", "INFO", func(t *testing.T, h *harness) *http.Cookie {
			c := h.login(testEmail, testPassword, nil)
			time.Sleep(400 * time.Millisecond) // past the lifetime
			expectStatus(t, h.do("GET", "/api/user", "", c), 401, "")
			return c
		}},
		{"cookie rejected", nil, "session_cookie_rejected", "bad-signature", "WARN", func(t *testing.T, h *harness) *http.Cookie {
			forged := "sessionkit.sid=s%3Aforged.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			expectStatus(t, h.do("GET", "/api/user", "", nil, "Cookie", forged), 401, "")
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			cfg := baseConfig(t)
			cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			h := start(t, cfg)
			h.addUser(testEmail, testPassword)
			c := tc.run(t, h)
			var line map[string]any
			poll.Until(t, tc.event+" "+tc.reason+" in the log", func() bool {
				for _, e := range logs.events(t) {
					if e["event"] == tc.event && (tc.reason == "" || e["reason"] == tc.reason) {
						line = e
						return true
					}
				}
				return false
			})
			if line["level"] != tc.level || line["client"] != "127.0.0.0/24" {
				t.Errorf("line %v: want level %s and the client's /24", line, tc.level)
			}
			if _, ok := line["handle"].(string); !ok && tc.event != "session_cookie_rejected" {
				t.Errorf("line %v names no session handle", line)
			}
			if _, ok := line["user"].(string); !ok && tc.reason != "expired" && tc.event != "session_cookie_rejected" {
				t.Errorf("line %v names no user", line)
			}
			if c != nil && strings.Contains(logs.String(), idOf(c)) {
				t.Error("the log holds the session id")
			}
			series := `sessionkit_server_session_events_total{kind="` + strings.TrimPrefix(tc.event, "session_") + `",reason="` + tc.reason + `"} `
			m := h.do("GET", "/metrics", "", nil, "Authorization", "Bearer "+metricsToken)
			if !strings.Contains(m.body, series) || strings.Contains(m.body, series+"0\n") {
				t.Errorf("/metrics does not count the event as %s", series)
			}
		})
	}
}
