package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Security events are logged one line each, with event=<name>, so that an
// operator can alert on them: refusals and failures at Warn, log-ins,
// log-outs and revocations at Info (LOG_LEVEL's default keeps both). A line
// carries the client's network (a /24 or /48, not the address), the email
// redacted to its first character and domain, and never a password, a
// cookie or a session id.
const (
	eventLoginFailed      = "login_failed"
	eventLoginRateLimited = "login_rate_limited"
	eventLogin            = "login"
	eventLogout           = "logout"
	// eventRevoked: sessions of a user ended by that user (one session,
	// "everywhere else", or by a password change).
	eventRevoked = "sessions_revoked"
	// eventSessionUnmapped: a session this server did not make names a
	// user it does not know; it is left alone (Info: expected mid-move).
	eventSessionUnmapped = "session_unmapped"
)

// securityEvent logs event for request r at level, with attrs (key, value
// pairs) after the common ones, through the server's one log throttle
// (logThrottle): a refusal (Warn) at most once a minute per client network
// and event, a success (Info) a few dozen times. A line let through after
// some were held back says how many in suppressed_since_last.
func (s *Server) securityEvent(r *http.Request, level slog.Level, event string, attrs ...any) {
	s.securityEventAs(r, level, event, event, attrs...)
}

// securityEventAs is securityEvent throttled under key instead of the
// event's name, for an event whose kinds should each leave a line.
func (s *Server) securityEventAs(r *http.Request, level slog.Level, event, key string, attrs ...any) {
	b := successBudget
	if level >= slog.LevelWarn {
		b = refusalBudget
	}
	attrs = append([]any{"method", r.Method, "path", r.URL.Path}, attrs...)
	s.logSecurity(context.WithoutCancel(r.Context()), level, event, key, s.proxies().ClientNetwork(r), b, attrs...)
}

// logSecurity writes one line of the security stream for event from client
// (a network), if the throttle lets key through under b.
func (s *Server) logSecurity(ctx context.Context, level slog.Level, event, key, client string, b budget, attrs ...any) {
	ok, held := s.logs.allow(key, client, b)
	if !ok {
		return
	}
	common := []any{"event", event, "client", client}
	if held > 0 {
		common = append(common, "suppressed_since_last", held)
	}
	s.log.Log(ctx, level, "security: "+strings.ReplaceAll(event, "_", " "), append(common, attrs...)...)
}

// redactEmail keeps an email's first character and its domain
// ("a…@example.com"): enough to tell a targeted account from a spray,
// not enough to list the accounts.
func redactEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	_, n := utf8.DecodeRuneInString(local)
	first := strings.ToValidUTF8(local[:n], "?")
	if !ok {
		return first + "…"
	}
	if len(domain) > 64 { // a 60 KiB "email" must not make a 60 KiB log line
		domain = strings.ToValidUTF8(domain[:64], "") + "…"
	}
	return first + "…@" + domain
}
