package sessionkit

import (
	"encoding/json"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// MetaKey is the session key under which the library keeps what it knows
// about a logged-in session from its log-in: the user it is bound to, when
// the user last fully authenticated, and the browser and coarse address it
// was created from. It is written by Session.Authenticate, once per session
// id (a log-in regenerates the id), as one JSON object:
//
//	{"user":"42","auth":1764500000,"ua":"Mozilla/5.0 …","addr":"203.0.113.0/24"}
//
// What changes later lives under keys of its own, each written whole by the
// one request that changes it: "sessionkit:seen", when the session was last
// seen (Unix seconds, refreshed at most once per touch interval), and
// "sessionkit:lifetimeMs", the session's own lifetime in milliseconds when
// Session.SetLifetime gave it one. A patch replaces whole keys, so a request
// that read the session before another changed it cannot undo that change
// by writing its own. (Sessions saved before this split may still carry
// "seen" and "lifetimeMs" inside the MetaKey object; they are read, and the
// separate keys win.)
//
// Stores that implement UserIndex index its "user" field (in SQL: the
// expression sess->'sessionkit'->>'user'). Applications should not write
// these keys.
const MetaKey = "sessionkit"

// The keys of what changes after log-in (see MetaKey).
const (
	seenKey     = MetaKey + ":seen"       // Unix seconds
	lifetimeKey = MetaKey + ":lifetimeMs" // milliseconds
)

// MaxUserAgent is how many bytes of the User-Agent header a session keeps
// for display; the rest is cut (at a character boundary).
const MaxUserAgent = 200

// sessionMeta is the MetaKey value.
type sessionMeta struct {
	// User is empty, and left out so that no store indexes it, in the
	// object of an anonymous session saved with a lifetime of its own
	// before lifetimeKey existed.
	User string `json:"user,omitempty"`
	// Auth is Unix seconds.
	Auth int64  `json:"auth,omitempty"`
	UA   string `json:"ua,omitempty"`
	Addr string `json:"addr,omitempty"`
	// Seen and Lifetime are read from sessions saved before they moved to
	// seenKey and lifetimeKey, and never written here again.
	Seen     int64 `json:"seen,omitempty"`
	Lifetime int64 `json:"lifetimeMs,omitempty"`
}

// UserOf returns the user a session's values are bound to, or "" for a
// session nobody authenticated (or whose MetaKey value is not one this
// library wrote). Stores implementing UserIndex use it to index the binding.
func UserOf(values map[string]json.RawMessage) string {
	m, _ := metaOf(values)
	return m.User
}

func metaOf(values map[string]json.RawMessage) (sessionMeta, bool) {
	raw, ok := values[MetaKey]
	if !ok {
		return sessionMeta{}, false
	}
	m, err := decodeMeta(raw)
	if err != nil || m.User == "" {
		return sessionMeta{}, false
	}
	return m, true
}

func unixOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// coarseAddr returns the /24 (IPv4) or /48 (IPv6) network of addr: enough to
// tell "home" from "a hotel abroad", not enough to locate anyone.
func coarseAddr(addr netip.Addr) string {
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.WithZone("").Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// truncateUA cuts ua to MaxUserAgent bytes at a character boundary and drops
// control characters, so that a client cannot make its sessions unreadable.
func truncateUA(ua string) string {
	ua = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, ua)
	if len(ua) <= MaxUserAgent {
		return ua
	}
	cut := MaxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}

// currentMeta returns the session's MetaKey value as this request sees it.
func (s *Session) currentMeta() (sessionMeta, bool) {
	if raw, ok := s.set[MetaKey]; ok {
		return metaOf(map[string]json.RawMessage{MetaKey: raw})
	}
	if _, ok := s.del[MetaKey]; ok {
		return sessionMeta{}, false
	}
	raw, ok := s.values[MetaKey]
	if !ok {
		return sessionMeta{}, false
	}
	m, err := s.decodeStoredMeta(raw)
	if err != nil || m.User == "" {
		return sessionMeta{}, false
	}
	return m, true
}

// decodeStoredMeta is decodeMeta(raw) for raw, the stored MetaKey value
// (s.values's), decoded once per request: a logged-in read asks twice (the
// user, then the commit's last-seen check, storedSeen). s.mu is held.
func (s *Session) decodeStoredMeta(raw json.RawMessage) (sessionMeta, error) {
	if s.storedMeta.holds(raw) {
		return s.storedMeta.m, s.storedMeta.err
	}
	m, err := decodeMeta(raw)
	s.storedMeta = metaMemo{raw, m, err}
	return m, err
}

// storedSeen is seenOf(raw) for the stored MetaKey value, from the memo
// when this request decoded it already. s.mu is held.
func (s *Session) storedSeen(raw json.RawMessage) (int64, bool) {
	if s.storedMeta.holds(raw) {
		return s.storedMeta.m.Seen, s.storedMeta.err == nil
	}
	return seenOf(raw)
}

// metaMemo is a MetaKey value and what decodeMeta made of it.
type metaMemo struct {
	raw json.RawMessage
	m   sessionMeta
	err error
}

// holds reports whether the memo is of raw: the same bytes, by address and
// length, which name the same value because stored values are never
// written in place (the session cache shares them).
func (mm *metaMemo) holds(raw json.RawMessage) bool {
	return len(raw) > 0 && len(raw) == len(mm.raw) && &raw[0] == &mm.raw[0]
}
