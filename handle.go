package sessionkit

import (
	"crypto/sha256"
	"encoding/base64"
)

// handleOf returns the public handle of the session with this id: a name
// for it that may be shown, sent to the browser and logged, and that cannot
// be turned back into the id (it is a hash of the 256-bit id).
//
// It is computed from HashID(id), so a session listed by a store that keeps
// hashed ids has the handle its cookie's id gives.
func handleOf(id string) string {
	sum := sha256.Sum256([]byte("sessionkit session handle\x00" + HashID(id)))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Handle returns the public handle of the session (see SessionInfo.Handle),
// or "" when the session has no id yet. The handle is the session's name
// for people and logs: it may be shown, sent to the browser and logged,
// marks "this device" in ListSessions, and is what RevokeSession and
// EndOtherSessions take; it cannot be turned into the id. It reads the
// cookie, not the store.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	if s.id == "" {
		return ""
	}
	return handleOf(s.id)
}
