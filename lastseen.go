package sessionkit

import (
	"encoding/json"
	"strconv"
	"time"
)

// lastSeen returns the later of the session's seenKey and legacy, the
// "seen" of its MetaKey object.
func lastSeen(values map[string]json.RawMessage, legacy int64) int64 {
	if v, ok := plainInt(values[seenKey]); ok && v > legacy {
		return v
	}
	return legacy
}

// seenPatch returns the seenKey value now when the session is bound to a
// user and was last seen at least the touch interval ago, or nil: last seen
// is coarse, so a read inside the window writes nothing.
func (s *Session) seenPatch(now time.Time) json.RawMessage {
	if _, changed := s.set[MetaKey]; changed {
		return nil
	}
	if _, deleted := s.del[MetaKey]; deleted {
		return nil
	}
	if _, changed := s.set[seenKey]; changed {
		return nil
	}
	raw, ok := s.values[MetaKey]
	if !ok {
		return nil
	}
	seen, ok := s.storedSeen(raw)
	if !ok || now.Sub(time.Unix(lastSeen(s.values, seen), 0)) < s.m.seenInterval() {
		return nil
	}
	if _, ok := metaOf(s.values); !ok {
		return nil
	}
	return strconv.AppendInt(nil, now.Unix(), 10)
}

// seenInterval is how stale last seen may grow: the touch interval, or
// maxTouchInterval without an idle timeout.
func (m *Manager) seenInterval() time.Duration {
	if m.cfg.Expiry.TouchInterval > 0 {
		return m.cfg.Expiry.TouchInterval
	}
	return maxTouchInterval
}
