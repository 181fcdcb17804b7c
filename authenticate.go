package sessionkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrNoUser is returned by Session.Authenticate for an empty user.
var ErrNoUser = errors.New("sessionkit: Authenticate needs a non-empty user")

// Authenticate records a full authentication of user on this session (call
// it at log-in, once the password or other credentials were checked): it
// regenerates the session id like Regenerate, binds the session to user so
// that Manager.ListSessions and EndAllSessions find it, and records the time
// (AuthTime), the browser's User-Agent (cut to MaxUserAgent bytes) and the
// client's coarse address (/24 or /48, see TrustedProxies.ClientAddr) for display.
// With Config.MaxSessionsPerUser set, the save that creates this session
// then ends the user's oldest sessions beyond the limit, so the limit holds
// however many log-ins run at once. It reads the store and marks the session
// changed. Calling it again on a logged-in session (after a password change)
// renews the id and the authentication time. A lifetime set by SetLifetime
// is kept, and counts from the new id's creation.
func (s *Session) Authenticate(user string) error {
	if user == "" {
		return ErrNoUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.changeLoaded(); err != nil {
		return err
	}
	// The session's own lifetime survives a log-in: regenerate carries its
	// key over, and one kept in the old MetaKey object moves to it.
	ownLifetime := s.ownLifetime()
	s.noteNewID(EventAuthenticated)
	s.regenerate()
	s.boundSessionEnds()
	now := time.Now().Unix()
	meta := sessionMeta{User: user, Auth: now, UA: truncateUA(s.req.UserAgent())}
	if addr, ok := s.m.cfg.TrustedProxies.ClientAddr(s.req); ok {
		meta.Addr = coarseAddr(addr)
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("sessionkit: encode session metadata: %w", err)
	}
	s.set[MetaKey] = raw
	s.set[seenKey] = strconv.AppendInt(nil, now, 10)
	s.authUser = user
	if ownLifetime > 0 {
		s.set[lifetimeKey] = strconv.AppendInt(nil, ownLifetime, 10)
	}
	return nil
}

// User returns the user the session is bound to by Authenticate, or "" for
// a session nobody authenticated. It reads the store like Get.
func (s *Session) User() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return "", err
	}
	m, _ := s.currentMeta()
	return m.User, nil
}

// AuthTime returns when the user last fully authenticated on this session
// (the last Authenticate), to the second, or the zero time for a session
// nobody authenticated. Check it before sensitive changes: ASVS asks for a
// recent authentication before, for example, ending other sessions. It
// reads the store like Get.
func (s *Session) AuthTime() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return time.Time{}, err
	}
	m, _ := s.currentMeta()
	return unixOrZero(m.Auth), nil
}
