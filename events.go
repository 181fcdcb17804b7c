package sessionkit

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind is what happened to a session (see Event).
type EventKind int

// The kinds of Event.
const (
	// EventCreated: a new session was saved, without a log-in or a
	// regeneration in the request (an anonymous session, a cart).
	EventCreated EventKind = iota + 1
	// EventAuthenticated: Session.Authenticate's session was saved under its
	// new id; Previous is the handle it replaced, if any.
	EventAuthenticated
	// EventRefreshed: a read moved the session's expiry forward (an
	// IdleTimeout touch); the cookie was re-issued with it.
	EventRefreshed
	// EventRotated: Session.Regenerate's session was saved under its new id;
	// Previous is the handle it replaced.
	EventRotated
	// EventEnded: a session ended; Reason says how (ReasonLogout, …).
	EventEnded
	// EventCookieRejected: a request's session cookie was refused; Reason
	// is the CookieStatus ("bad-signature", "malformed") or ReasonConflict.
	EventCookieRejected
)

// String returns the kind's name as logs and metrics show it: "created",
// "authenticated", "refreshed", "rotated", "ended", "cookie_rejected".
func (k EventKind) String() string {
	switch k {
	case EventCreated:
		return "created"
	case EventAuthenticated:
		return "authenticated"
	case EventRefreshed:
		return "refreshed"
	case EventRotated:
		return "rotated"
	case EventEnded:
		return "ended"
	case EventCookieRejected:
		return "cookie_rejected"
	}
	return "unknown"
}

// Reasons an EventEnded or EventCookieRejected carries. An application may
// pass its own to WithEndReason.
const (
	// ReasonLogout: Session.Destroy.
	ReasonLogout = "logout"
	// ReasonRevoked: Manager.RevokeSession, EndOtherSessions or
	// EndAllSessions without another reason in their context.
	ReasonRevoked = "revoked"
	// ReasonPasswordChange and ReasonDisabled are for WithEndReason.
	ReasonPasswordChange = "password_change"
	ReasonDisabled       = "disabled"
	// ReasonExpired: a request presented the cookie of a session the store
	// no longer holds. Stores treat an expired session as not found, so the
	// library cannot tell an expiry from an ending it did not see (another
	// instance's, an admin command's): after an EventEnded for the same
	// handle, it is a dead session's cookie being replayed. Emitted on
	// every such request.
	ReasonExpired = "expired"
	// ReasonConflict: the request's cookies named several live sessions
	// (see Session.Get on same-name cookies).
	ReasonConflict = "conflict"
	// ReasonSessionLimit: a log-in took the user past
	// Config.MaxSessionsPerUser, and this older session made room.
	ReasonSessionLimit = "session_limit"
)

// Event is one session event, as Config.OnEvent receives it. It holds no
// session id.
type Event struct {
	Kind EventKind
	// Time is when the event happened.
	Time time.Time
	// User is the user the session is bound to (Session.Authenticate), or
	// "" for an anonymous session or one the request did not read.
	User string
	// Handle names the session as SessionInfo.Handle does; "" when the
	// request had no session (a rejected cookie).
	Handle string
	// Previous is the handle the session had before EventAuthenticated or
	// EventRotated gave it a new id; "" otherwise.
	Previous string
	// Reason says why, for EventEnded and EventCookieRejected.
	Reason string
	// ClientAddr is the request's client address
	// (TrustedProxies.ClientAddr); the zero Addr when the event has no
	// request or the address is unknown.
	ClientAddr netip.Addr
}

// DefaultEventQueue is Config.EventQueue's default.
const DefaultEventQueue = 1024

type endReasonKey struct{}

// WithEndReason returns ctx carrying reason for the EventEnded that
// Manager.RevokeSession, EndOtherSessions and EndAllSessions emit with it
// (ReasonRevoked without one): an application says why it ends a user's
// sessions, e.g. ReasonPasswordChange.
func WithEndReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, endReasonKey{}, reason)
}

func endReason(ctx context.Context) string {
	if r, ok := ctx.Value(endReasonKey{}).(string); ok && r != "" {
		return r
	}
	return ReasonRevoked
}

// events is a Manager's queue to Config.OnEvent: one goroutine calls the
// hook, in order, so a slow hook delays only the events behind it, never a
// request; when the queue is full an event is dropped and counted.
type events struct {
	hook    func(Event)
	queue   chan Event
	dropped atomic.Uint64

	mu     sync.RWMutex // held for reading to send, for writing to close
	closed bool
	done   chan struct{}
}

// newEvents starts the queue for cfg.OnEvent, or returns nil without one.
func newEvents(cfg Config) *events {
	if cfg.OnEvent == nil {
		return nil
	}
	e := &events{hook: cfg.OnEvent, queue: make(chan Event, cfg.EventQueue), done: make(chan struct{})}
	go e.run()
	return e
}

func (e *events) run() {
	defer close(e.done)
	for ev := range e.queue {
		e.hook(ev)
	}
}

// close delivers the events already queued, then stops. Later events are
// dropped without being counted.
func (e *events) close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.queue)
	}
	e.mu.Unlock()
	<-e.done
}

// emit queues ev without waiting. A nil Manager queue (no OnEvent) costs
// nothing.
func (m *Manager) emit(ev Event) {
	e := m.events
	if e == nil {
		return
	}
	ev.Time = time.Now()
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return
	}
	select {
	case e.queue <- ev:
	default:
		e.dropped.Add(1)
	}
}

// requestEvent emits kind for request r.
func (m *Manager) requestEvent(r *http.Request, ev Event) {
	if m.events == nil {
		return
	}
	if r != nil {
		ev.ClientAddr, _ = m.cfg.TrustedProxies.ClientAddr(r)
	}
	m.emit(ev)
}

// ctxEvent emits ev for the request whose session ctx carries, if any.
func (m *Manager) ctxEvent(ctx context.Context, ev Event) {
	if m.events == nil {
		return
	}
	var r *http.Request
	if s, ok := ctx.Value(sessionContextKey).(*Session); ok {
		r = s.req
	}
	m.requestEvent(r, ev)
}

// sessionEvents is what a request did to its session that an event reports
// when the session is saved.
type sessionEvents struct {
	// kind is EventAuthenticated or EventRotated when the request gave the
	// session a new id; previous is the id it replaced.
	kind     EventKind
	previous string
	// ended are the ids Destroy ended, user their user.
	ended []string
	user  string
}

// noteNewID records a Regenerate (kind EventRotated) or Authenticate
// (EventAuthenticated) of the loaded session. s.mu is held.
func (s *Session) noteNewID(kind EventKind) {
	if s.m.events == nil {
		return
	}
	if s.ev.kind == 0 && !s.isNew {
		s.ev.previous = s.id
	}
	if kind == EventAuthenticated || s.ev.kind == 0 {
		s.ev.kind = kind
	}
}

// noteDestroy records the ids Destroy ends, before it forgets them. s.mu is
// held.
func (s *Session) noteDestroy(ids []string) {
	if s.m.events == nil {
		return
	}
	if s.loaded {
		m, _ := s.currentMeta()
		s.ev.user = m.User
	}
	s.ev.ended = append(s.ev.ended, ids...)
}

// reportCreated emits the event of a session saved under a new id. s.mu is
// held.
func (s *Session) reportCreated() {
	if s.m.events == nil {
		return
	}
	kind := s.ev.kind
	if kind == 0 {
		kind = EventCreated
	}
	ev := Event{Kind: kind, Handle: handleOf(s.id)}
	if s.ev.previous != "" {
		ev.Previous = handleOf(s.ev.previous)
	}
	if m, ok := s.currentMeta(); ok {
		ev.User = m.User
	}
	s.m.requestEvent(s.req, ev)
}

// reportRefreshed emits EventRefreshed for the saved session. s.mu is held.
func (s *Session) reportRefreshed() {
	if s.m.events == nil {
		return
	}
	m, _ := s.currentMeta()
	s.m.requestEvent(s.req, Event{Kind: EventRefreshed, Handle: handleOf(s.id), User: m.User})
}

// reportEnded emits EventEnded for each session Destroy ended, once they
// are deleted. s.mu is held.
func (s *Session) reportEnded() {
	if s.m.events == nil {
		return
	}
	for _, id := range s.ev.ended {
		s.m.requestEvent(s.req, Event{Kind: EventEnded, Handle: handleOf(id), User: s.ev.user, Reason: ReasonLogout})
	}
	s.ev.ended = nil
}

// reportGone emits EventEnded with ReasonExpired for a request whose
// validly signed cookie named no live session. s.mu is held.
func (s *Session) reportGone() {
	if s.m.events == nil || len(s.candidates) == 0 {
		return
	}
	s.m.requestEvent(s.req, Event{Kind: EventEnded, Handle: handleOf(s.candidates[0]), Reason: ReasonExpired})
}

// endedBy returns the callback the Manager's user-session methods give the
// store calls: the cache forgets the id, and an EventEnded is emitted with
// ctx's reason.
func (m *Manager) endedBy(ctx context.Context, user string) func(id string, err error) {
	if m.events == nil {
		return func(id string, _ error) { m.changed(id) }
	}
	reason := endReason(ctx)
	return func(id string, err error) {
		m.changed(id)
		if err == nil {
			m.ctxEvent(ctx, Event{Kind: EventEnded, Handle: handleOf(id), User: user, Reason: reason})
		}
	}
}
