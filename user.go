package sessionkit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
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

// ErrNoUserIndex is returned by the user-session functions (ListSessions,
// EndSession, EndSessions, and Config.MaxSessionsPerUser at New) when the store does not implement UserIndex.
var ErrNoUserIndex = errors.New("sessionkit: the store cannot find a user's sessions: it does not implement sessionkit.UserIndex (pgstore, sqlitestore, memstore and redisstore do)")

// ErrNoUser is returned by Session.Authenticate for an empty user.
var ErrNoUser = errors.New("sessionkit: Authenticate needs a non-empty user")

// UserIndex is the optional Store capability behind a user's session list:
// finding the live sessions bound to one user (the "user" field of the
// MetaKey value, see UserOf) through an index, so that it costs the sessions
// of that user, never a scan of every session. The Manager finds it by type
// assertion on Config.Store. Ending sessions uses Store.Delete.
type UserIndex interface {
	// UserSessions returns the live sessions bound to user, in any order.
	// Expired sessions are left out, as Load leaves them out; a user with
	// no session is not an error.
	UserSessions(ctx context.Context, user string) ([]StoredSession, error)
}

// StoredSession is one session as a UserIndex returns it. The id never
// leaves the library: Manager.ListSessions hands out a Handle instead.
type StoredSession struct {
	ID     string
	Record Record
}

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

// handleOf returns the public handle of the session with this id: a name
// for it that may be shown, sent to the browser and logged, and that cannot
// be turned back into the id (it is a hash of the 256-bit id).
func handleOf(id string) string {
	sum := sha256.Sum256([]byte("sessionkit session handle\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// SessionInfo describes one of a user's sessions, for display. It holds no
// session id.
type SessionInfo struct {
	// Handle names the session for EndSession; it is not the id and cannot
	// be turned into it.
	Handle string `json:"handle"`
	// Created is when the session was created (its last log-in, since a
	// log-in regenerates the session).
	Created time.Time `json:"created"`
	// LastSeen is when the session was last used, coarsely: it is refreshed
	// at most once per touch interval (see Config.TouchInterval; one minute
	// without IdleTimeout), so a read within that window writes nothing.
	LastSeen time.Time `json:"lastSeen"`
	// AuthTime is the session's last full authentication (Authenticate).
	AuthTime time.Time `json:"authTime"`
	// Expiry is when the session ends unless it is ended earlier.
	Expiry time.Time `json:"expiry"`
	// UserAgent is the browser's User-Agent at log-in, cut to MaxUserAgent
	// bytes.
	UserAgent string `json:"userAgent"`
	// Address is the client address at log-in, coarsened to its /24 (IPv4)
	// or /48 (IPv6) network; "" when unknown.
	Address string `json:"address"`
	// DeviceBound reports whether the browser bound the session to a key
	// (Config.DeviceBound), so that its session cookie alone is not enough.
	DeviceBound bool `json:"deviceBound"`
}

func infoOf(st StoredSession) SessionInfo {
	m, _ := metaOf(st.Record.Values)
	return SessionInfo{
		Handle:    handleOf(st.ID),
		Created:   createdOf(st),
		LastSeen:  unixOrZero(lastSeen(st.Record.Values, m.Seen)),
		AuthTime:  unixOrZero(m.Auth),
		Expiry:    st.Record.Expiry,
		UserAgent: m.UA,
		Address:   m.Addr,

		DeviceBound: isBound(st.Record.Values),
	}
}

// createdOf is the session's creation time, or, from a store that keeps
// none (pgstore on a connect-pg-simple table), its authentication time:
// Authenticate regenerates the session, so the two are the same instant.
func createdOf(st StoredSession) time.Time {
	if !st.Record.Created.IsZero() {
		return st.Record.Created
	}
	m, _ := metaOf(st.Record.Values)
	return unixOrZero(m.Auth)
}

// lastSeen returns the later of the session's seenKey and legacy, the
// "seen" of its MetaKey object.
func lastSeen(values map[string]json.RawMessage, legacy int64) int64 {
	if v, ok := plainInt(values[seenKey]); ok && v > legacy {
		return v
	}
	return legacy
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

// userSessions lists user's sessions in store through its UserIndex, newest
// first, keeping only those really bound to user (a store may match loosely:
// a hash bucket, a set that lags a delete).
func userSessions(ctx context.Context, store Store, user string) ([]StoredSession, error) {
	ix, ok := store.(UserIndex)
	if !ok {
		return nil, ErrNoUserIndex
	}
	list, err := ix.UserSessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("%w: list the sessions of a user: %w", ErrStore, err)
	}
	kept := list[:0]
	for _, st := range list {
		if UserOf(st.Record.Values) == user {
			kept = append(kept, st)
		}
	}
	// Ties (stores keep milliseconds) break by id, so that every instance
	// trimming one user's sessions at once agrees on which are oldest.
	sort.Slice(kept, func(i, j int) bool {
		a, b := createdOf(kept[i]), createdOf(kept[j])
		if !a.Equal(b) {
			return a.After(b)
		}
		return kept[i].ID > kept[j].ID
	})
	return kept, nil
}

// endStored deletes the session with this id; ended, when not nil, hears of
// it and of the outcome (the Manager's cache, so that its next read does not
// wait for the store's announcement, and its events).
func endStored(ctx context.Context, store Store, id string, ended func(id string, err error)) (err error) {
	if ended != nil {
		defer func() { ended(id, err) }()
	}
	if err := store.Delete(ctx, id); err != nil {
		return fmt.Errorf("%w: end session %s: %w", ErrStore, shortID(id), err)
	}
	return nil
}

// ListSessions returns user's live sessions in store, newest first. It costs
// one indexed store query (see UserIndex), never a scan of every session. It
// fails with ErrNoUserIndex when the store cannot do that, and with ErrStore
// when the store is down. Manager.ListSessions is the same on the manager's
// store; this form serves programs without a Manager (an admin command).
func ListSessions(ctx context.Context, store Store, user string) ([]SessionInfo, error) {
	list, err := userSessions(ctx, store, user)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, len(list))
	for i, st := range list {
		out[i] = infoOf(st)
	}
	return out, nil
}

// EndSession ends user's session with this handle in store and reports
// whether there was one. A handle of another user's session is not found: a
// user can only end their own sessions.
func EndSession(ctx context.Context, store Store, user, handle string) (bool, error) {
	return endSession(ctx, store, user, handle, nil)
}

func endSession(ctx context.Context, store Store, user, handle string, ended func(id string, err error)) (bool, error) {
	list, err := userSessions(ctx, store, user)
	if err != nil {
		return false, err
	}
	for _, st := range list {
		if handleOf(st.ID) == handle {
			return true, endStored(ctx, store, st.ID, ended)
		}
	}
	return false, nil
}

// EndSessions ends every live session of user in store except the one whose
// handle is keep ("" ends them all: for disabling or deleting an account, or
// for an operator), and reports how many it ended. The sessions are gone at
// once: their next request finds no session.
func EndSessions(ctx context.Context, store Store, user, keep string) (int, error) {
	return endSessions(ctx, store, user, keep, nil)
}

func endSessions(ctx context.Context, store Store, user, keep string, ended func(id string, err error)) (int, error) {
	list, err := userSessions(ctx, store, user)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range list {
		if keep != "" && handleOf(st.ID) == keep {
			continue
		}
		if err := endStored(ctx, store, st.ID, ended); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// ListSessions is the package-level ListSessions on the manager's store.
func (m *Manager) ListSessions(ctx context.Context, user string) ([]SessionInfo, error) {
	return ListSessions(ctx, m.store, user)
}

// EndSession is the package-level EndSession on the manager's store.
func (m *Manager) EndSession(ctx context.Context, user, handle string) (bool, error) {
	return endSession(ctx, m.store, user, handle, m.endedBy(ctx, user))
}

// EndSessions is the package-level EndSessions on the manager's store.
func (m *Manager) EndSessions(ctx context.Context, user, keep string) (int, error) {
	return endSessions(ctx, m.store, user, keep, m.endedBy(ctx, user))
}

// endOldest ends user's oldest sessions beyond Config.MaxSessionsPerUser.
// It runs after the create of a log-in's session, so that of log-ins
// running at once the last to list sees every session they created. Every
// instance orders the sessions alike (userSessions: by creation, then id)
// and keeps the newest limit of what it sees, so none ends a session that
// another keeps, and the user is left with exactly the limit: the newest
// ones, which are the log-ins' own unless more than the limit raced.
func (m *Manager) endOldest(ctx context.Context, user string) error {
	limit := m.cfg.MaxSessionsPerUser
	if limit <= 0 {
		return nil
	}
	list, err := userSessions(ctx, m.store, user) // newest first
	if err != nil || len(list) <= limit {
		return err
	}
	ended := make([]string, 0, len(list)-limit)
	for _, st := range list[limit:] {
		ended = append(ended, st.ID)
	}
	return m.deleteMany(ctx, ended)
}

// Authenticate records a full authentication of user on this session (call
// it at log-in, once the password or other credentials were checked): it
// regenerates the session id like Regenerate, binds the session to user so
// that Manager.ListSessions and EndSessions find it, and records the time
// (AuthTime), the browser's User-Agent (cut to MaxUserAgent bytes) and the
// client's coarse address (/24 or /48, see Manager.ClientAddr) for display.
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
	if addr, ok := s.m.ClientAddr(s.req); ok {
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

// currentMeta returns the session's MetaKey value as this request sees it.
func (s *Session) currentMeta() (sessionMeta, bool) {
	if raw, ok := s.set[MetaKey]; ok {
		return metaOf(map[string]json.RawMessage{MetaKey: raw})
	}
	if _, ok := s.del[MetaKey]; ok {
		return sessionMeta{}, false
	}
	return metaOf(s.values)
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

// Handle returns the public handle of the session (see SessionInfo.Handle),
// to mark "this device" in ListSessions, or "" when the session has no id
// yet. It reads the cookie, not the store.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	if s.id == "" {
		return ""
	}
	return handleOf(s.id)
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
	seen, ok := seenOf(raw)
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
	if m.cfg.TouchInterval > 0 {
		return m.cfg.TouchInterval
	}
	return maxTouchInterval
}
