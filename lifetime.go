package sessionkit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// MaxLifetime is the longest lifetime SetLifetime accepts: browsers cap a
// cookie's Max-Age and Expires at 400 days (RFC 6265bis), so a longer
// stored expiry would outlive the cookie that names it.
const MaxLifetime = 400 * 24 * time.Hour

// SetLifetime gives this session its own absolute lifetime d, counted from
// its creation, in place of Config.Expiry.Lifetime: the "remember me" of a log-in
// form, a short session unless the user asks for a long one. d is kept to
// the millisecond and must be between a millisecond and MaxLifetime; any
// other d is refused with an error and changes nothing.
//
// The session's stored expiry, the cookie's Max-Age and Expires and, under
// Config.ExpressSessionCookie, the stored cookie object's originalMaxAge
// and expires all name creation + d (or earlier, see below), and later
// requests keep it: an IdleTimeout touch and a re-issued cookie are capped
// at creation + d, not at creation + Config.Expiry.Lifetime. Config.Expiry.IdleTimeout
// still applies: an unused session ends after it, remembered or not. A d
// the session has already outlived ends it when the response is saved.
//
// The lifetime is kept under a session key of its own (see MetaKey), which
// no other change rewrites, so it survives Regenerate and concurrent
// requests, and Authenticate keeps it; a log-in regenerates the session,
// so the lifetime counts from the log-in. At log-in, call it before or
// after Authenticate: both orders give the same lifetime. It reads the
// store like Get and marks the session changed; after the response headers
// were written it returns ErrCommitted, like every change.
func (s *Session) SetLifetime(d time.Duration) error {
	if d < time.Millisecond || d > MaxLifetime {
		return fmt.Errorf("sessionkit: SetLifetime needs a lifetime between 1ms and %v, got %v", MaxLifetime, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLoaded(); err != nil {
		return err
	}
	if s.set == nil {
		s.set = make(map[string]json.RawMessage)
	}
	s.set[lifetimeKey] = strconv.AppendInt(nil, d.Milliseconds(), 10)
	delete(s.del, lifetimeKey)
	s.lifetimeSet = true
	return nil
}

// lifetime is the session's absolute lifetime as this request sees it: its
// own (SetLifetime), express-session's (expressLifetime), or
// Config.Expiry.Lifetime. s.mu is held.
func (s *Session) lifetime() time.Duration {
	if ms := s.ownLifetime(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if d, ok := s.expressLifetime(); ok {
		return d
	}
	return s.m.cfg.Expiry.Lifetime
}

// ownLifetime is the session's own lifetime in milliseconds as this request
// sees it, or 0: its lifetimeKey, or else the "lifetimeMs" of a MetaKey
// object saved before that key existed. s.mu is held.
func (s *Session) ownLifetime() int64 {
	raw, ok := s.set[lifetimeKey]
	if !ok {
		if _, deleted := s.del[lifetimeKey]; deleted {
			return 0
		}
		raw, ok = s.values[lifetimeKey]
	}
	if ok {
		if ms, ok := plainInt(raw); ok && ms > 0 {
			return ms
		}
		return 0
	}
	if m, ok := s.currentMetaAnyUser(); ok {
		return m.Lifetime
	}
	return 0
}

// expressLifetime returns, under Config.ExpressSessionCookie without an
// IdleTimeout, the originalMaxAge of the session's express-session cookie
// object: the cookie.maxAge the Node app gave the session (or the lifetime
// sessionkit wrote there), which is its lifetime on Node, so a session
// regenerated at a log-in on Go keeps the lifetime Node gave it. With an
// IdleTimeout, originalMaxAge is the idle period of Node's rolling
// sessions (or the idle deadline sessionkit wrote), not a lifetime, and is
// not read. s.mu is held.
func (s *Session) expressLifetime() (time.Duration, bool) {
	if !s.m.cfg.ExpressSessionCookie || s.m.cfg.Expiry.IdleTimeout > 0 {
		return 0, false
	}
	raw, ok := s.set[ExpressCookieKey]
	if !ok {
		raw, ok = s.values[ExpressCookieKey]
	}
	if !ok {
		return 0, false
	}
	var c struct {
		OriginalMaxAge *float64 `json:"originalMaxAge"`
	}
	if json.Unmarshal(raw, &c) != nil || c.OriginalMaxAge == nil {
		return 0, false
	}
	d := time.Duration(*c.OriginalMaxAge * float64(time.Millisecond))
	if d < time.Millisecond || d > MaxLifetime {
		return 0, false
	}
	return d, true
}

// currentMetaAnyUser is currentMeta for a session bound to a user or not:
// an anonymous session saved before lifetimeKey existed kept its own
// lifetime in a MetaKey object without a user.
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
// creation + lifetime, once it moved at least the touch interval, either
// way (a request that read the session before SetLifetime shortened it
// may have stored a later expiry: the next touch brings it back); after
// SetLifetime in this request, creation + lifetime (capped likewise)
// whenever it differs from the stored one. s.mu is held.
func (s *Session) touchExpiry(now time.Time) (time.Time, bool) {
	idle := s.m.cfg.Expiry.IdleTimeout
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
	return target, target.Sub(s.expiry).Abs() >= s.m.cfg.Expiry.TouchInterval
}
