package server

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessionkit/sessionkit"
)

// sessionEventCounts counts the library's session events by kind and
// reason for /metrics.
type sessionEventCounts struct {
	byKind *prometheus.CounterVec
}

func newSessionEvents() sessionEventCounts {
	return sessionEventCounts{byKind: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessionkit_server_session_events_total",
		Help: "Session events (sessionkit.Config.OnEvent) by kind and reason.",
	}, []string{"kind", "reason"})}
}

// register adds the counters to reg, with the events the library's queue
// dropped (a hook that fell behind) read from m.
func (c sessionEventCounts) register(reg prometheus.Registerer, m *sessionkit.Manager) {
	reg.MustRegister(c.byKind, prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sessionkit_server_session_events_dropped_total",
		Help: "Session events dropped because the event queue was full.",
	}, func() float64 { return float64(m.Stats().EventsDropped) }))
}

// sessionEvent is the server's Config.OnEvent: each event is counted, and
// logged as one line of the security stream, event=session_<kind>, through
// the same throttle as the other security lines. It runs on the library's
// event goroutine, never on a request's.
func (s *Server) sessionEvent(ev sessionkit.Event) {
	s.sessionEvents.byKind.WithLabelValues(ev.Kind.String(), ev.Reason).Inc()
	event := "session_" + ev.Kind.String()
	// What a client can repeat at request rate at no cost, a refused cookie
	// or a dead session's, is throttled as a refusal; the rest needed a
	// password or a live session. A dead session's cookie is routine (a
	// browser after an expiry, or after Node ended a shared session), so
	// it is Info; a refused cookie is Warn.
	level, b := slog.LevelInfo, successBudget
	switch {
	case ev.Kind == sessionkit.EventCookieRejected:
		level, b = slog.LevelWarn, refusalBudget
	case ev.Reason == sessionkit.ReasonExpired:
		b = refusalBudget
	}
	attrs := []any{"at", ev.Time}
	if ev.User != "" {
		attrs = append(attrs, "user", ev.User)
	}
	if ev.Handle != "" {
		attrs = append(attrs, "handle", ev.Handle)
	}
	if ev.Previous != "" {
		attrs = append(attrs, "previous", ev.Previous)
	}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	if ev.Kind == sessionkit.EventCookieRejected && ev.Reason == sessionkit.CookieBadSignature.String() {
		attrs = append(attrs, "hint", "signed by a secret this instance does not hold: compare the signing fingerprint each instance logs at start",
			"signing_fingerprint", sessionkit.Fingerprint(s.cfg.Secrets[0]))
	}
	s.logSecurity(context.Background(), level, event, event+" "+ev.Reason, networkOf(ev.ClientAddr), b, attrs...)
}

// networkOf is addr's /24 (IPv4) or /48 (IPv6), as the library's
// ClientNetwork gives a request's, or "unknown".
func networkOf(addr netip.Addr) string {
	if !addr.IsValid() {
		return "unknown"
	}
	addr = addr.Unmap().WithZone("")
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}
