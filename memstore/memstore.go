// Package memstore is an in-memory sessionkit.Store for tests and for
// single-process programs that can afford to lose every session on restart.
//
// Sessions live in a map guarded by one mutex, keyed by the hash of their
// id (sessionkit.HashID), never the id itself. Values are copied on the way in
// and on the way out, so a caller can never change stored state by mutating a
// map or byte slice it passed in or got back. Expired sessions are never
// served; a background loop (see Config.CleanupInterval) removes them so the
// map does not grow without bound.
package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/pruneloop"
)

// DefaultCleanupInterval is how often New's background loop removes expired
// sessions when Config.CleanupInterval is zero.
const DefaultCleanupInterval = time.Minute

// cleanupBatch bounds how many entries one locked pass deletes, so a large
// cleanup does not hold the lock long enough to stall requests.
const cleanupBatch = pruneloop.DefaultBatch

// Config configures New. The zero value is valid.
type Config struct {
	// CleanupInterval is how often expired sessions are removed in the
	// background, with ±20% jitter. Zero means DefaultCleanupInterval (one
	// minute); a negative value disables the background loop, leaving
	// expired entries in memory (still never served) until Prune or Delete.
	CleanupInterval time.Duration
	// Logger receives background cleanup failures. Nil discards them.
	Logger *slog.Logger
}

type entry struct {
	values  map[string]json.RawMessage
	created time.Time
	expiry  time.Time
}

// Store is an in-memory sessionkit.Store, safe for concurrent use.
//
// The zero value is an empty, usable store without background cleanup;
// prefer New, which starts it.
type Store struct {
	mu      sync.Mutex
	entries map[string]entry
	// byUser indexes the entries by the user they are bound to
	// (sessionkit.UserOf), for UserSessions.
	byUser map[string]map[string]struct{}
	loop   *pruneloop.Loop // nil when background cleanup is off
	// changes announces every update and delete, for the session cache.
	changes sessionkit.ChangeHub
}

var (
	_ sessionkit.Store      = (*Store)(nil)
	_ sessionkit.BatchStore = (*Store)(nil)
	_ sessionkit.UserIndex  = (*Store)(nil)
	_ sessionkit.ChangeFeed = (*Store)(nil)
)

// New returns an empty store and, unless cfg.CleanupInterval is negative,
// starts its background cleanup. Call Close to stop it.
func New(cfg Config) *Store {
	s := &Store{entries: make(map[string]entry)}
	interval := cfg.CleanupInterval
	if interval == 0 {
		interval = DefaultCleanupInterval
	}
	if interval > 0 {
		s.loop = pruneloop.Start(interval, cfg.Logger, "memstore", s.pruneAll)
	}
	return s
}

// Close stops the background cleanup and waits for a pass in progress to
// finish. It is safe to call more than once. The store keeps answering after
// Close, without background cleanup: its contents are plain memory with
// nothing to release.
func (s *Store) Close() error {
	s.loop.Close() // idempotent, and a no-op on nil (cleanup off, zero Store)
	return nil
}

// Len reports how many entries the store holds, expired ones included. It is
// meant for tests and metrics.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// now is the store's clock; times are stripped of their monotonic reading so
// that expiry compares wall-clock instants, as a database would.
func now() time.Time { return time.Now().Round(0) }

// live reports whether an entry with this expiry may be served at t: the
// expiry is the last instant the session is alive.
func live(expiry, t time.Time) bool { return !t.After(expiry) }

func copyValues(in map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(in))
	for k, v := range in {
		out[k] = json.RawMessage(bytes.Clone(v))
	}
	return out
}

// Load returns a copy of the live session with this id; an expired or missing
// one is reported with found == false and a nil error.
func (s *Store) Load(ctx context.Context, id string) (sessionkit.Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return sessionkit.Record{}, false, fmt.Errorf("memstore: load: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[sessionkit.HashID(id)]
	if !ok || !live(e.expiry, now()) {
		return sessionkit.Record{}, false, nil
	}
	return sessionkit.Record{Values: copyValues(e.values), Created: e.created, Expiry: e.expiry}, true, nil
}

// LoadMany returns copies of the live sessions among ids, by id, under one
// lock.
func (s *Store) LoadMany(ctx context.Context, ids []string) (map[string]sessionkit.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load many: %w", err)
	}
	t := now()
	out := make(map[string]sessionkit.Record, len(ids))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if e, ok := s.entries[sessionkit.HashID(id)]; ok && live(e.expiry, t) {
			out[id] = sessionkit.Record{Values: copyValues(e.values), Created: e.created, Expiry: e.expiry}
		}
	}
	return out, nil
}

// Create saves a copy of rec under id, setting Created to now when it is
// zero. An existing id, live or expired, gives sessionkit.ErrExists.
func (s *Store) Create(ctx context.Context, id string, rec sessionkit.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	e := entry{values: copyValues(rec.Values), created: rec.Created.Round(0), expiry: rec.Expiry.Round(0)}
	if e.created.IsZero() {
		e.created = now()
	}
	key := sessionkit.HashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[key]; ok {
		return fmt.Errorf("memstore: create: %w", sessionkit.ErrExists)
	}
	if s.entries == nil {
		s.entries = make(map[string]entry)
	}
	s.entries[key] = e
	s.index(key, "", sessionkit.UserOf(e.values))
	return nil
}

// index moves the session keyed key from user from to user to in byUser.
// s.mu is held.
func (s *Store) index(key, from, to string) {
	if from == to {
		return
	}
	if ids := s.byUser[from]; from != "" {
		delete(ids, key)
		if len(ids) == 0 {
			delete(s.byUser, from)
		}
	}
	if to != "" {
		if s.byUser == nil {
			s.byUser = make(map[string]map[string]struct{})
		}
		if s.byUser[to] == nil {
			s.byUser[to] = make(map[string]struct{})
		}
		s.byUser[to][key] = struct{}{}
	}
}

// remove deletes the entry keyed key and its index entry. s.mu is held.
func (s *Store) remove(key string) {
	if e, ok := s.entries[key]; ok {
		s.index(key, sessionkit.UserOf(e.values), "")
		delete(s.entries, key)
	}
}

// UserSessions returns copies of the live sessions bound to user, found
// through the store's per-user map.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sessionkit.StoredSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user sessions: %w", err)
	}
	t := now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sessionkit.StoredSession
	for key := range s.byUser[user] {
		e := s.entries[key]
		if live(e.expiry, t) {
			out = append(out, sessionkit.StoredSession{ID: key, Record: sessionkit.Record{
				Values: copyValues(e.values), Created: e.created, Expiry: e.expiry}})
		}
	}
	return out, nil
}

// Update applies p to the live session with this id, under the store's lock
// so concurrent patches never lose each other's keys. It reports false, and
// changes nothing, when there is no live session.
func (s *Store) Update(ctx context.Context, id string, p sessionkit.Patch) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("memstore: update: %w", err)
	}
	if !p.Empty() {
		defer s.changes.Announce(id) // after the unlock
	}
	key := sessionkit.HashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok || !live(e.expiry, now()) {
		return false, nil
	}
	if p.Empty() {
		return true, nil
	}
	// Deletes first, so a key in both Set and Delete ends up set. The entry's
	// map is owned by the store, so it is changed in place.
	user := sessionkit.UserOf(e.values)
	for _, k := range p.Delete {
		delete(e.values, k)
	}
	for k, v := range p.Set {
		e.values[k] = json.RawMessage(bytes.Clone(v))
	}
	if !p.Expiry.IsZero() {
		e.expiry = p.Expiry.Round(0)
	}
	s.entries[key] = e
	s.index(key, user, sessionkit.UserOf(e.values))
	return true, nil
}

// Delete removes the session with this id, live or expired. A missing id is
// not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	defer s.changes.Announce(id) // after the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(sessionkit.HashID(id))
	return nil
}

// DeleteMany removes the sessions with these ids, live or expired, under one
// lock. Missing ids are not an error.
func (s *Store) DeleteMany(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete many: %w", err)
	}
	defer func() { // after the unlock
		for _, id := range ids {
			s.changes.Announce(id)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.remove(sessionkit.HashID(id))
	}
	return nil
}

// Prune deletes at most limit expired sessions and reports how many it
// deleted. A limit below one deletes nothing.
func (s *Store) Prune(ctx context.Context, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: prune: %w", err)
	}
	if limit < 1 {
		return 0, nil
	}
	t := now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, e := range s.entries {
		if n == limit {
			break
		}
		if !live(e.expiry, t) {
			s.remove(id)
			n++
		}
	}
	return n, nil
}

// pruneAll is the background pass: batches until the expired entries run out,
// releasing the lock between batches.
func (s *Store) pruneAll(ctx context.Context) error {
	_, err := pruneloop.Drain(ctx, cleanupBatch, s.Prune, nil)
	return err
}

// WatchChanges implements sessionkit.ChangeFeed for the session cache
// (sessionkit.Config.Cache.Entries): it reports the updates and deletes made
// through this Store, in this process, as they commit.
func (s *Store) WatchChanges(ctx context.Context, w sessionkit.ChangeWatcher) {
	s.changes.WatchChanges(ctx, w)
}
