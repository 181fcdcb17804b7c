package sessionkit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"
)

// ErrNoUserIndex is returned by the Manager's user-session methods
// (ListSessions, RevokeSession, EndOtherSessions, EndAllSessions), and by
// New for Config.MaxSessionsPerUser, when the store does not implement
// UserIndex.
var ErrNoUserIndex = errors.New("sessionkit: the store cannot find a user's sessions. " +
	"It does not implement sessionkit.UserIndex (pgstore, sqlitestore, memstore and redisstore do)")

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

// SessionInfo describes one of a user's sessions, for display. It holds no
// session id.
type SessionInfo struct {
	// Handle names the session for RevokeSession; it is not the id and cannot
	// be turned into it.
	Handle string `json:"handle"`
	// Created is when the session was created (its last log-in, since a
	// log-in regenerates the session).
	Created time.Time `json:"created"`
	// LastSeen is when the session was last used, coarsely: it is refreshed
	// at most once per touch interval (see Config.Expiry.TouchInterval; one minute
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

// endStored deletes the session with this id and tells ended of it and of
// the outcome (the cache, so that its next read does not wait for the
// store's announcement, and the events).
func (m *Manager) endStored(ctx context.Context, id string, ended func(id string, err error)) (err error) {
	defer func() { ended(id, err) }()
	if err := m.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("%w: end session %s: %w", ErrStore, shortID(id), err)
	}
	return nil
}

// ListSessions returns user's live sessions, newest first. It costs one
// indexed store query (see UserIndex), never a scan of every session. It
// fails with ErrNoUserIndex when the store cannot do that, and with ErrStore
// when the store is down.
func (m *Manager) ListSessions(ctx context.Context, user string) ([]SessionInfo, error) {
	list, err := userSessions(ctx, m.store, user)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, len(list))
	for i, st := range list {
		out[i] = infoOf(st)
	}
	return out, nil
}

// RevokeSession ends the one session of user whose handle is handle
// (SessionInfo.Handle), and reports whether there was one. A handle of
// another user's session is not found: a user can only end their own
// sessions. The session is gone at once: its next request finds no session.
func (m *Manager) RevokeSession(ctx context.Context, user, handle string) (bool, error) {
	list, err := userSessions(ctx, m.store, user)
	if err != nil {
		return false, err
	}
	for _, st := range list {
		if handleOf(st.ID) == handle {
			return true, m.endStored(ctx, st.ID, m.endedBy(ctx, user))
		}
	}
	return false, nil
}

// ErrNoKeepHandle is returned by EndOtherSessions for an empty keepHandle:
// the call would end the caller's own session too, which is EndAllSessions.
var ErrNoKeepHandle = errors.New("sessionkit: EndOtherSessions needs the handle of the session to keep " +
	"(Session.Handle); use EndAllSessions to end every session")

// EndOtherSessions ends every live session of user except the one whose
// handle is keepHandle (usually the current one, Session.Handle: "log out
// my other devices", or after a password change), and reports how many it
// ended. The sessions are gone at once: their next request finds no
// session.
func (m *Manager) EndOtherSessions(ctx context.Context, user, keepHandle string) (int, error) {
	if keepHandle == "" {
		return 0, ErrNoKeepHandle
	}
	return m.endSessions(ctx, user, keepHandle)
}

// EndAllSessions ends every live session of user (for disabling or
// deleting an account, or for an operator), and reports how many it ended.
// The sessions are gone at once: their next request finds no session.
func (m *Manager) EndAllSessions(ctx context.Context, user string) (int, error) {
	return m.endSessions(ctx, user, "")
}

// endSessions ends user's sessions but the one whose handle is keep, if any.
func (m *Manager) endSessions(ctx context.Context, user, keep string) (int, error) {
	list, err := userSessions(ctx, m.store, user)
	if err != nil {
		return 0, err
	}
	ended := m.endedBy(ctx, user)
	n := 0
	for _, st := range list {
		if keep != "" && handleOf(st.ID) == keep {
			continue
		}
		if err := m.endStored(ctx, st.ID, ended); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// endOldest ends user's oldest sessions beyond Config.MaxSessionsPerUser.
// It runs after the create of a log-in's session, so that of log-ins
// running at once the last to list sees every session they created. Every
// instance orders the sessions alike (userSessions: by creation, then id)
// and keeps the newest limit of what it sees, so none ends a session that
// another keeps, and the user is left with exactly the limit: the newest
// ones, which are the log-ins' own unless more than the limit raced. Each
// session it ends is reported as an EventEnded with ReasonSessionLimit.
func (m *Manager) endOldest(ctx context.Context, r *http.Request, user string) error {
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
	if err := m.deleteMany(ctx, ended); err != nil {
		return err
	}
	if m.events != nil {
		for _, id := range ended {
			m.requestEvent(r, Event{Kind: EventEnded, Handle: handleOf(id), User: user, Reason: ReasonSessionLimit})
		}
	}
	return nil
}
