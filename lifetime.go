package sessionkit

import (
	"encoding/json"
	"fmt"
	"time"
)

// MaxLifetime is the longest lifetime SetLifetime accepts: browsers cap a
// cookie's Max-Age and Expires at 400 days (RFC 6265bis), so a longer
// stored expiry would outlive the cookie that names it.
const MaxLifetime = 400 * 24 * time.Hour

// SetLifetime gives this session its own absolute lifetime d, counted from
// its creation, in place of Config.Lifetime: the "remember me" of a log-in
// form, a short session unless the user asks for a long one. d is kept to
// the millisecond and must be between a millisecond and MaxLifetime; any
// other d is refused with an error and changes nothing.
//
// The session's stored expiry, the cookie's Max-Age and Expires and, under
// Config.ExpressSessionCookie, the stored cookie object's originalMaxAge
// and expires all name creation + d (or earlier, see below), and later
// requests keep it: an IdleTimeout touch and a re-issued cookie are capped
// at creation + d, not at creation + Config.Lifetime. Config.IdleTimeout
// still applies: an unused session ends after it, remembered or not. A d
// the session has already outlived ends it when the response is saved.
//
// The lifetime is kept in the session's MetaKey value, so it survives
// Regenerate, and Authenticate keeps it; a log-in regenerates the session,
// so the lifetime counts from the log-in. At log-in, call it before or
// after Authenticate: both orders give the same lifetime. It reads the store like
// Get and marks the session changed; after the response headers were
// written it returns ErrCommitted, like every change.
func (s *Session) SetLifetime(d time.Duration) error {
	if d < time.Millisecond || d > MaxLifetime {
		return fmt.Errorf("sessionkit: SetLifetime needs a lifetime between 1ms and %v, got %v", MaxLifetime, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLoaded(); err != nil {
		return err
	}
	m, _ := s.currentMetaAnyUser()
	m.Lifetime = d.Milliseconds()
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sessionkit: encode session metadata: %w", err)
	}
	if s.set == nil {
		s.set = make(map[string]json.RawMessage)
	}
	s.set[MetaKey] = raw
	delete(s.del, MetaKey)
	s.lifetimeSet = true
	return nil
}

// lifetime is the session's absolute lifetime as this request sees it: its
// own (SetLifetime) or Config.Lifetime. s.mu is held.
func (s *Session) lifetime() time.Duration {
	if m, ok := s.currentMetaAnyUser(); ok && m.Lifetime > 0 {
		return time.Duration(m.Lifetime) * time.Millisecond
	}
	return s.m.cfg.Lifetime
}

// currentMetaAnyUser is currentMeta for a session bound to a user or not:
// an anonymous session may have a lifetime of its own.
func (s *Session) currentMetaAnyUser() (sessionMeta, bool) {
	raw, ok := s.set[MetaKey]
	if !ok {
		if _, deleted := s.del[MetaKey]; deleted {
			return sessionMeta{}, false
		}
		raw, ok = s.values[MetaKey]
	}
	if !ok {
		return sessionMeta{}, false
	}
	m, err := decodeMeta(raw)
	if err != nil {
		return sessionMeta{}, false
	}
	return m, true
}

// touchExpiry returns the new expiry of an existing session at now, and
// whether to write it: with IdleTimeout, now + IdleTimeout capped at
// creation + lifetime, once it moved at least the touch interval; after
// SetLifetime in this request, creation + lifetime (capped likewise)
// whenever it differs from the stored one. s.mu is held.
func (s *Session) touchExpiry(now time.Time) (time.Time, bool) {
	idle := s.m.cfg.IdleTimeout
	if idle <= 0 && !s.lifetimeSet {
		return time.Time{}, false
	}
	var target time.Time
	switch {
	case !s.created.IsZero():
		target = s.created.Add(s.lifetime())
		if idle > 0 {
			target = earliest(target, now.Add(idle))
		}
	case idle > 0:
		// The store cannot say when the session was created (see
		// Record.Created): extend it as express-session's rolling
		// sessions are extended.
		target = now.Add(idle)
	default:
		target = now.Add(s.lifetime())
	}
	target = s.m.expressInstant(target)
	if s.lifetimeSet {
		return target, !target.Equal(s.expiry)
	}
	return target, target.Sub(s.expiry) >= s.m.cfg.TouchInterval
}
