package sessionkit

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Record is what a store keeps for one session.
type Record struct {
	// Values holds the session's keys, each value JSON-encoded. A store keeps
	// them as one JSON object (PostgreSQL: the sess jsonb column).
	Values map[string]json.RawMessage
	// Created is when the session was first saved. Stores set it from their
	// own clock on Create when it is zero. A store that has nowhere to keep
	// it (pgstore on a connect-pg-simple table) reports it zero on Load; an
	// IdleTimeout touch then cannot cap the session at Lifetime, and extends
	// it as express-session's rolling sessions are extended.
	Created time.Time
	// Expiry is the instant after which the session is dead. A store never
	// returns a record whose Expiry has passed.
	Expiry time.Time
}

// Patch is a change to an existing session: the keys to set, the keys to
// remove and, optionally, a new expiry. It is applied atomically, so two
// patches that touch different keys of one session both survive.
type Patch struct {
	// Set maps keys to their new JSON-encoded values.
	Set map[string]json.RawMessage
	// Delete lists keys to remove. A key in both Set and Delete is set.
	Delete []string
	// Expiry, when not zero, replaces the session's expiry.
	Expiry time.Time
}

// Empty reports whether the patch changes nothing.
func (p Patch) Empty() bool {
	return len(p.Set) == 0 && len(p.Delete) == 0 && p.Expiry.IsZero()
}

// ErrExists is returned by Store.Create when the id is already taken.
var ErrExists = errors.New("sessionkit: session id already exists")

// Store keeps sessions. Implementations are safe for concurrent use by many
// goroutines and, for shared stores such as PostgreSQL, by many processes.
//
// The contract, checked for every store by the storetest package:
//   - not found is not an error: Load reports it with found == false;
//   - expired means not found, for every method, even before the row is pruned;
//   - Create never overwrites: an existing id (live or expired but not yet
//     pruned) gives ErrExists;
//   - Update changes only a live session and reports whether it found one; it
//     never creates a row, so a save cannot bring back a session that was
//     destroyed or regenerated meanwhile;
//   - deleting a missing id is a no-op;
//   - every error other than ErrExists means the store could not answer
//     (it is down, or the context ended) and is returned wrapped with context.
type Store interface {
	// Load returns the live session with this id.
	Load(ctx context.Context, id string) (rec Record, found bool, err error)
	// Create saves a new session.
	Create(ctx context.Context, id string, rec Record) error
	// Update applies p to the live session with this id and reports whether
	// there was one. An empty patch is a pure existence check.
	Update(ctx context.Context, id string, p Patch) (found bool, err error)
	// Delete removes the session with this id, live or expired.
	Delete(ctx context.Context, id string) error
	// Prune deletes at most limit expired sessions and reports how many it
	// deleted. Callers loop until it returns fewer than limit.
	Prune(ctx context.Context, limit int) (deleted int, err error)
}

// BatchStore is the optional Store capability of reading and deleting
// several sessions in one round trip. A request may carry several validly
// signed session cookies (see Session); the Manager looks their ids up, and
// a log-in or log-out deletes them, through it, found by type assertion on
// Config.Store. Without it the Manager makes one Load or Delete per id.
type BatchStore interface {
	// LoadMany returns the live sessions among ids, by id. An id that is
	// missing or expired is absent from the map, as Load reports it not
	// found; an id given twice is looked up once.
	LoadMany(ctx context.Context, ids []string) (map[string]Record, error)
	// DeleteMany removes the sessions with these ids, live or expired, as
	// Delete does for each, in one step. Missing ids are no-ops.
	DeleteMany(ctx context.Context, ids []string) error
}
